// uWebSockets.js adapter: the only file that knows uWS. Every request goes through one catch-all into the
// app; this file copies the request, feeds the body to the shared reader, and writes replies corked, with
// backpressure for streamed ones. What it shares with deno.ts is in policy.ts; which binary it runs on,
// uws-native.ts.
import { STATUS_CODES } from 'node:http'
import { bodyTimeout } from '../errors.js'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import type { App } from '../app.js'
import type { BodyChunk, Reply, Request } from '../http/reply.js'
import { BodyBudget, BodyReader, clientAddress, declaredLength, Lifetimes, openSocket, requestOf, type Serve, type ServeOptions, type Server, type SocketEvents } from './policy.js'
import { loadNative, type Binary, type Uws } from './uws-native.js'

/** This transport on the binary that loaded, or why none did: main.ts refuses to start then. */
export function loadUws(maxHeadBytes: number): { serve: Serve; binary: Binary } | { problem: string } {
  const native = loadNative(maxHeadBytes)
  return 'problem' in native ? native : { serve: (app, options) => serve(native.uws, app, options), binary: native.binary }
}

const statusLines = new Map<number, string>()
const statusLine = (status: number) => {
  let line = statusLines.get(status)
  if (!line) statusLines.set(status, (line = `${status} ${STATUS_CODES[status] ?? ''}`))
  return line
}
const textDecoder = new TextDecoder()

interface SocketData {
  /** The client's address, taken at the upgrade (its forwarding headers are gone once it is open). */
  remote: string
  events?: SocketEvents
}

type AddressOf = ReturnType<typeof clientAddress>

function serve(uWS: Uws, app: App, options: ServeOptions): Promise<Server> {
  // The binary has this constant; the typings only declare it as an enum member.
  const { LIBUS_LISTEN_EXCLUSIVE_PORT } = uWS as Uws & { LIBUS_LISTEN_EXCLUSIVE_PORT: number }
  const budget = new BodyBudget(options.maxBufferedBodyBytes, options.maxBufferedBodyBytesPerPeer)
  const lifetimes = new Lifetimes()
  const addressOf = clientAddress(options.trustedProxies)
  const tls = options.tls
  const server = (tls ? uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }) }) : uWS.App())
    .ws<SocketData>(app.socketPath, {
      maxPayloadLength: options.maxBodyBytes,
      idleTimeout: options.socketIdleSeconds,
      sendPingsAutomatically: true,
      // Past this uWS drops what is sent; policy.ts closes the socket when it sees it that far behind.
      maxBackpressure: options.maxSocketBackpressure,
      upgrade: (res, req, context) => {
        const forwarded = { 'x-forwarded-for': req.getHeader('x-forwarded-for'), forwarded: req.getHeader('forwarded') }
        res.upgrade<SocketData>(
          { remote: addressOf(textDecoder.decode(res.getRemoteAddressAsText()), forwarded) },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        )
      },
      open: (ws) => {
        const data = ws.getUserData()
        data.events = openSocket(
          app,
          options,
          lifetimes,
          {
            // Sends come from timers and commits, outside uWS's callbacks: cork them into one write each.
            send: (text) => void ws.cork(() => ws.send(text, false)),
            end: (code, reason) => ws.end(code, reason),
            terminate: () => ws.close(),
            bufferedAmount: () => ws.getBufferedAmount(),
          },
          data.remote,
        )
      },
      // The message's memory is reused once this returns: decode it now.
      message: (ws, message, isBinary) => ws.getUserData().events?.message(isBinary ? message : textDecoder.decode(message)),
      close: (ws) => ws.getUserData().events?.closed(),
    })
    .any('/*', (res, req) => onRequest(app, options, budget, lifetimes, addressOf, res, req))
  return new Promise((resolve, reject) => {
    // Exclusive: by default uWS would share a busy port with another process without a word.
    const listen = server.listen as unknown as (host: string, port: number, options: number, cb: (t: us_listen_socket | false) => void) => TemplatedApp
    listen.call(server, options.host, options.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
      if (!token) return reject(new Error(`cannot listen on ${options.host}:${options.port}: the port is in use or the address is not available`))
      resolve({
        port: uWS.us_socket_local_port(token),
        close: () => {
          uWS.us_listen_socket_close(token)
          return lifetimes.close()
        },
      })
    })
  })
}

function onRequest(app: App, options: ServeOptions, budget: BodyBudget, lifetimes: Lifetimes, addressOf: AddressOf, res: HttpResponse, req: HttpRequest): void {
  // HttpRequest is only valid in this synchronous call: copy what the app reads. Both releases answer
  // getQuery() with undefined when there is no query, and getMethod() in lower case.
  const request = requestOf(
    req.getMethod(),
    req.getUrl(),
    req.getQuery() ?? '',
    (name) => req.getHeader(name),
    () => addressOf(exchange.remote(), request.headers),
    (listener) => exchange.onGone(listener),
  )
  const exchange = new Exchange(app, options, lifetimes, res, request)
  const contentLength = req.getHeader('content-length')
  if ((contentLength === '' || contentLength === '0') && req.getHeader('transfer-encoding') === '') return exchange.dispatch()
  // A body nobody reads is not taken into memory: the reply goes out at once, and the connection with it.
  if (!app.takesBody(request.method, request.path)) return exchange.dispatch(true)
  let declared: number
  try {
    declared = declaredLength(contentLength, options.maxBodyBytes)
  } catch (e) {
    return exchange.send(app.errorReply(e, request))
  }
  exchange.readBody(new BodyReader(budget, options.maxBodyBytes, declared, request.remote))
}

/** One request and its reply: abort tracking, body reading, and every write to the response. */
class Exchange {
  aborted = false
  /** Woken on abort, while a streamed reply waits for the socket to drain. */
  onAbort?: () => void
  #reader?: BodyReader
  #remote?: string
  #done = false
  #gone?: (() => void)[]

  constructor(
    private readonly app: App,
    private readonly options: ServeOptions,
    private readonly lifetimes: Lifetimes,
    private readonly res: HttpResponse,
    private readonly request: Request,
  ) {
    lifetimes.begin()
    res.onAborted(() => {
      this.aborted = true
      this.#reader?.release()
      this.onAbort?.()
      for (const listener of this.#gone ?? []) listener()
      this.#finish()
    })
  }

  onGone(listener: () => void): void {
    ;(this.#gone ??= []).push(listener)
  }

  /** The reply is out, or the client gone: this exchange no longer counts as under way. */
  #finish(): void {
    if (this.#done) return
    this.#done = true
    this.lifetimes.end()
  }

  /** The peer's address: none once the client has gone (the response may no longer be touched). */
  remote(): string {
    if (this.#remote === undefined && !this.aborted) this.#remote = textDecoder.decode(this.res.getRemoteAddressAsText())
    return this.#remote ?? ''
  }

  readBody(reader: BodyReader): void {
    this.#reader = reader
    let finished = false
    let deadline: NodeJS.Timeout | undefined
    const refuse = (e: unknown) => {
      finished = true
      clearTimeout(deadline)
      this.send(this.app.errorReply(e, this.request))
    }
    this.res.onData((chunk, isLast) => {
      if (finished) return
      try {
        reader.push(new Uint8Array(chunk), isLast)
      } catch (e) {
        return refuse(e)
      }
      if (isLast) {
        finished = true
        clearTimeout(deadline)
        this.request.body = reader.body()
        return this.dispatch()
      }
      // A body still arriving after its first chunk has a deadline: held memory is not held for ever.
      deadline ??= setTimeout(() => {
        reader.release()
        if (!this.aborted) refuse(bodyTimeout(this.options.bodyTimeoutSeconds))
      }, this.options.bodyTimeoutSeconds * 1000)
    })
    this.onAbort = () => clearTimeout(deadline)
  }

  /** `unreadBody`: the request came with a body that is not read, so the connection cannot carry another one. */
  dispatch(unreadBody = false): void {
    this.app
      .handle(this.request)
      .then((reply) => this.send(unreadBody ? { ...reply, close: true } : reply))
      .catch((e: unknown) => {
        // Only a failure to write the reply comes here.
        this.app.streamFailed(e, this.request)
        if (!this.aborted) this.res.close()
        this.#finish()
      })
  }

  send(reply: Reply): void {
    this.#reader?.release()
    const body = reply.body
    if (this.request.method === 'HEAD' || reply.status === 304) return this.#sendHead(reply)
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) return void this.#stream(reply, body[Symbol.asyncIterator]())
    if (this.aborted) return
    this.res.cork(() => {
      this.#writeHead(reply)
      // uWS says "Connection: close" itself when it is to close.
      this.res.end(body, reply.close)
    })
    this.#finish()
  }

  /**
   * GET's status and headers, its length if it has one, and no body: a streamed one is ended after the first chunk
   * the app made for its status, and has no length to tell. A 304 is sent so too: its body is the representation
   * the client holds, whose length it may tell.
   */
  #sendHead(reply: Reply): void {
    const body = reply.body
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : undefined
    if (length === undefined) void (body as AsyncIterable<BodyChunk>)[Symbol.asyncIterator]().return?.()
    if (!this.aborted) {
      this.res.cork(() => {
        this.#writeHead(reply)
        // uWebSockets.js writes an undefined length as 2^63.
        if (length === undefined) this.res.endWithoutBody()
        else this.res.endWithoutBody(length, reply.close)
      })
    }
    this.#finish()
  }

  #writeHead(reply: Reply): void {
    this.res.writeStatus(statusLine(reply.status))
    for (const name in reply.headers) this.res.writeHeader(name, reply.headers[name])
  }

  async #stream(reply: Reply, chunks: AsyncIterator<BodyChunk>): Promise<void> {
    let headWritten = false
    try {
      // The app has the first chunk in hand already: a failure to make it was a reply of its own.
      let next = await chunks.next()
      while (!this.aborted) {
        if (next.done) {
          this.res.cork(() => {
            if (!headWritten) this.#writeHead(reply)
            this.res.end()
          })
          return this.#finish()
        }
        let ok = true
        const chunk = next.value
        this.res.cork(() => {
          if (!headWritten) this.#writeHead(reply)
          ok = this.res.write(chunk)
        })
        headWritten = true
        if (!ok && !(await this.#writable())) break
        if (this.aborted) break
        next = await chunks.next()
      }
    } catch (e) {
      this.app.streamFailed(e, this.request)
    }
    // Aborted, stalled or failed mid-stream: the status is out, so the only honest end is a cut connection.
    await chunks.return?.()
    if (!this.aborted) this.res.close()
    this.#finish()
  }

  /** Resolves true when the socket drained, false when the client went away or stalled past stallMs. */
  #writable(): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer)
        this.onAbort = undefined
        resolve(ok)
      }
      const timer = setTimeout(() => finish(false), this.options.stallMs)
      this.onAbort = () => finish(false)
      this.res.onWritable(() => {
        finish(true)
        return true
      })
    })
  }
}
