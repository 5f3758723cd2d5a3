// uWebSockets.js adapter: the only file that knows uWS. Every request goes through one catch-all into the
// app; this file copies the request, reads the body within its limit, and writes replies corked, with
// backpressure for streamed ones.
import { STATUS_CODES } from 'node:http'
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js'
import type { App } from '../app.js'
import type { Connection, EchoSession } from '../ws/echo.js'
import { payloadTooLarge, requestHeaders, type Chunk, type Reply, type Request } from '../http/reply.js'
import { BodyBudget, budgetExceeded, grownSize, type ServeOptions, type Server } from './server.js'

// The native module has this constant; its typings only declare it as an enum member.
const { LIBUS_LISTEN_EXCLUSIVE_PORT } = uWS as typeof uWS & { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }

/** The package silently swaps in a slow pure-JS server when its native binary fails to load. */
export const nativeLoaded = typeof uWS.SSLApp === 'function' && typeof LIBUS_LISTEN_EXCLUSIVE_PORT === 'number'

const statusLines = new Map<number, string>()
const statusLine = (status: number) => {
  let line = statusLines.get(status)
  if (!line) statusLines.set(status, (line = `${status} ${STATUS_CODES[status] ?? ''}`))
  return line
}
const empty = new Uint8Array(0)
const textDecoder = new TextDecoder()

interface SocketData {
  session?: EchoSession
  closed: boolean
}

export function serve(app: App, options: ServeOptions): Promise<Server> {
  const budget = new BodyBudget(options.maxBufferedBodyBytes)
  const server = uWS.App()
    .ws<SocketData>(app.socketPath, {
      maxPayloadLength: options.maxBodyBytes,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      maxBackpressure: options.maxSocketBackpressure,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => {
        res.upgrade<SocketData>(
          { closed: false },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        )
      },
      open: (ws) => {
        const data = ws.getUserData()
        const conn: Connection = {
          // Sends come from timers and commits, outside uWS's callbacks: cork them into one write each.
          send: (text) => void (data.closed || ws.cork(() => ws.send(text, false))),
          close: () => void (data.closed || ws.end(1008, 'not keeping up')),
          bufferedAmount: () => (data.closed ? 0 : ws.getBufferedAmount()),
        }
        data.session = app.openSocket(conn, nativeLoaded ? textDecoder.decode(ws.getRemoteAddressAsText()) : '')
      },
      // The message's memory is reused once this returns: decode it now.
      message: (ws, message, isBinary) => ws.getUserData().session?.onMessage(isBinary ? undefined : textDecoder.decode(message)),
      close: (ws) => {
        const data = ws.getUserData()
        data.closed = true
        data.session?.onClose()
      },
    })
    .any('/*', (res, req) => onRequest(app, options, budget, res, req))
  return new Promise((resolve, reject) => {
    // Exclusive: by default uWS would share a busy port with another process without a word.
    const listen = server.listen as unknown as (host: string, port: number, options: number, cb: (t: us_listen_socket | false) => void) => TemplatedApp
    listen.call(server, options.host, options.port, LIBUS_LISTEN_EXCLUSIVE_PORT ?? 0, (token) => {
      if (!token) return reject(new Error(`cannot listen on ${options.host}:${options.port}: the port is in use or the address is not available`))
      resolve({ port: uWS.us_socket_local_port(token), close: () => uWS.us_listen_socket_close(token) })
    })
  })
}

function onRequest(app: App, options: ServeOptions, budget: BodyBudget, res: HttpResponse, req: HttpRequest): void {
  const url = req.getUrl()
  // The JS fallback's getUrl keeps the query (and its getQuery throws).
  const mark = nativeLoaded ? -1 : url.indexOf('?')
  const request: Request = {
    method: req.getMethod().toUpperCase(),
    path: mark < 0 ? url : url.slice(0, mark),
    query: nativeLoaded ? (req.getQuery() ?? '') : mark < 0 ? '' : url.slice(mark + 1),
    headers: {},
    body: empty,
    remote: () => exchange.remote(),
  }
  // HttpRequest is only valid in this synchronous call: copy what the app reads.
  for (const name of requestHeaders) {
    const value = req.getHeader(name)
    if (value !== '') request.headers[name] = value
  }
  const exchange = new Exchange(app, options, res, request)
  const contentLength = req.getHeader('content-length')
  if (contentLength === '' && req.getHeader('transfer-encoding') === '') return exchange.dispatch()
  const declared = contentLength === '' ? -1 : Number(contentLength)
  // Trust a declared length (hono's body-limit does the same): refuse without reading the body.
  if (declared > options.maxBodyBytes) return exchange.send(payloadTooLarge(options.maxBodyBytes).reply())
  exchange.readBody(declared, budget)
}

/** One request and its reply: abort tracking, body reading, and every write to the response. */
class Exchange {
  aborted = false
  /** Woken on abort, while a streamed reply waits for the socket to drain. */
  onAbort?: () => void
  /** Bytes of the body budget this request holds until its reply is out. */
  #reserved = 0
  #budget?: BodyBudget
  #remote?: string

  constructor(
    private readonly app: App,
    private readonly options: ServeOptions,
    private readonly res: HttpResponse,
    private readonly request: Request,
  ) {
    res.onAborted(() => {
      this.aborted = true
      this.#release()
      this.onAbort?.()
    })
  }

  /**
   * The peer's address: none once the client has gone (the response may no longer be touched), nor under the
   * JS fallback, which lacks it; the login throttle then keys on the username alone.
   */
  remote(): string {
    if (this.#remote === undefined && !this.aborted && nativeLoaded) this.#remote = textDecoder.decode(this.res.getRemoteAddressAsText())
    return this.#remote ?? ''
  }

  /** Reads the body into a buffer that grows with what arrives (not with what is declared), then dispatches. */
  readBody(declared: number, budget: BodyBudget): void {
    const limit = this.options.maxBodyBytes
    this.#budget = budget
    let buffer = empty
    let length = 0
    let finished = false
    this.res.onData((chunk, isLast) => {
      if (finished) return
      if (length + chunk.byteLength > limit) {
        finished = true
        return this.send(payloadTooLarge(limit).reply())
      }
      if (length + chunk.byteLength > buffer.length) {
        const size = grownSize(buffer.length, length + chunk.byteLength, declared, limit)
        if (!budget.take(size - this.#reserved)) {
          finished = true
          return this.send({ ...budgetExceeded.reply(), close: true })
        }
        this.#reserved = size
        // A small body that came whole in one chunk (the hot path) is carved from Node's shared pool rather
        // than getting memory of its own; one still arriving does get its own, so that a slow sender cannot
        // hold a pool slab. Only the bytes written are ever handed on (the body is the written prefix).
        const grown = isLast && length === 0 ? Buffer.allocUnsafe(size) : new Uint8Array(size)
        grown.set(buffer.subarray(0, length))
        buffer = grown
      }
      // The chunk's memory is reused once this callback returns: copy it.
      buffer.set(new Uint8Array(chunk), length)
      length += chunk.byteLength
      if (isLast) {
        finished = true
        this.request.body = buffer.subarray(0, length)
        this.dispatch()
      }
    })
  }

  dispatch(): void {
    this.app
      .handle(this.request)
      .then((reply) => this.send(reply))
      .catch((e) => {
        this.app.errorReply(e, this.request) // for its log line
        if (!this.aborted) this.res.close()
      })
  }

  send(reply: Reply): void {
    const body = reply.body
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) return void this.#stream(reply, body[Symbol.asyncIterator]())
    this.#release()
    if (this.aborted) return
    this.res.cork(() => {
      this.#writeHead(reply)
      this.res.end(body, reply.close)
    })
  }

  #release(): void {
    this.#budget?.give(this.#reserved)
    this.#reserved = 0
  }

  #writeHead(reply: Reply): void {
    this.res.writeStatus(statusLine(reply.status))
    for (const name in reply.headers) this.res.writeHeader(name, reply.headers[name])
  }

  async #stream(reply: Reply, chunks: AsyncIterator<Chunk>): Promise<void> {
    this.#release()
    let next: IteratorResult<Chunk>
    try {
      // The status is written only once the first chunk exists, so an early failure still gets its own status.
      next = await chunks.next()
    } catch (e) {
      return this.send(this.app.errorReply(e, this.request))
    }
    let headWritten = false
    try {
      while (!this.aborted) {
        if (next.done) {
          this.res.cork(() => {
            if (!headWritten) this.#writeHead(reply)
            this.res.end()
          })
          return
        }
        let ok = true
        const chunk = next.value
        this.res.cork(() => {
          if (!headWritten) this.#writeHead(reply)
          ok = this.res.write(chunk)
        })
        headWritten = true
        // The JS fallback has no onWritable; Node's own stream buffers for it.
        if (!ok && nativeLoaded && !(await this.#writable())) break
        if (this.aborted) break
        next = await chunks.next()
      }
    } catch (e) {
      this.app.errorReply(e, this.request) // for its log line: the status is already out
    }
    // Aborted, stalled or failed mid-stream: the status is out, so the only honest end is a cut connection.
    await chunks.return?.()
    if (!this.aborted) this.res.close()
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
