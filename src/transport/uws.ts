// uWebSockets.js adapter: the only file that knows uWS. Every request goes through one catch-all into the
// app; this file copies the request, reads the body within its limit, and writes replies corked, with
// backpressure for streamed ones.
import { STATUS_CODES } from 'node:http'
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js'
import type { App } from '../app.js'
import type { Connection, EchoSession } from '../ws/echo.js'
import { payloadTooLarge, requestHeaders, type Reply, type Request } from '../http/reply.js'

// The native module has this constant; its typings only declare it as an enum member.
const { LIBUS_LISTEN_EXCLUSIVE_PORT } = uWS as typeof uWS & { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }

/** The package silently swaps in a slow pure-JS server when its native binary fails to load. */
export const nativeLoaded = typeof uWS.SSLApp === 'function' && typeof LIBUS_LISTEN_EXCLUSIVE_PORT === 'number'

export interface ServeOptions {
  host: string
  port: number
  /** The largest request body, and the largest WebSocket message. */
  maxBodyBytes: number
  /** uWS closes a WebSocket with more than this queued (the protocol skips EVENTs well before). */
  maxSocketBackpressure: number
  /** A streamed reply whose reader has not taken data for this long is cut off. */
  stallMs: number
}

export interface Server {
  port: number
  /** Stops accepting connections; open ones finish. */
  close(): void
}

interface Exchange {
  aborted: boolean
  /** Woken on abort, while a streamed reply waits for the socket to drain. */
  onAbort?: () => void
}

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
    .any('/*', (res, req) => onRequest(app, options, res, req))
  return new Promise((resolve, reject) => {
    // Exclusive: by default uWS would share a busy port with another process without a word.
    const listen = server.listen as unknown as (host: string, port: number, options: number, cb: (t: us_listen_socket | false) => void) => TemplatedApp
    listen.call(server, options.host, options.port, LIBUS_LISTEN_EXCLUSIVE_PORT ?? 0, (token) => {
      if (!token) return reject(new Error(`cannot listen on ${options.host}:${options.port}: the port is in use or the address is not available`))
      resolve({ port: uWS.us_socket_local_port(token), close: () => uWS.us_listen_socket_close(token) })
    })
  })
}

function onRequest(app: App, options: ServeOptions, res: HttpResponse, req: HttpRequest): void {
  // HttpRequest is only valid in this synchronous call: copy what the app reads.
  const url = req.getUrl()
  // The JS fallback's getUrl keeps the query (and its getQuery throws).
  const mark = nativeLoaded ? -1 : url.indexOf('?')
  const request: Request = {
    method: req.getMethod().toUpperCase(),
    path: mark < 0 ? url : url.slice(0, mark),
    query: nativeLoaded ? (req.getQuery() ?? '') : mark < 0 ? '' : url.slice(mark + 1),
    headers: {},
    body: empty,
    // The JS fallback (ALLOW_UWS_FALLBACK) lacks this; the login throttle then keys on the username alone.
    remote: nativeLoaded ? textDecoder.decode(res.getRemoteAddressAsText()) : '',
  }
  for (const name of requestHeaders) {
    const value = req.getHeader(name)
    if (value !== '') request.headers[name] = value
  }
  const exchange: Exchange = { aborted: false }
  res.onAborted(() => {
    exchange.aborted = true
    exchange.onAbort?.()
  })
  const contentLength = req.getHeader('content-length')
  const chunked = req.getHeader('transfer-encoding') !== ''
  if (contentLength === '' && !chunked) return dispatch(app, options, res, exchange, request)
  const declared = contentLength === '' ? -1 : Number(contentLength)
  // Trust a declared length (hono's body-limit does the same): refuse without reading the body.
  if (declared > options.maxBodyBytes) return send(app, options, res, exchange, request, payloadTooLarge(options.maxBodyBytes).reply())
  readBody(res, declared, options.maxBodyBytes, (body) => {
    if (body === undefined) send(app, options, res, exchange, request, payloadTooLarge(options.maxBodyBytes).reply())
    else dispatch(app, options, res, exchange, { ...request, body })
  })
}

/** Calls back once with the whole body, or with undefined as soon as it passes the limit. */
function readBody(res: HttpResponse, declared: number, limit: number, done: (body: Uint8Array | undefined) => void): void {
  let buffer = new Uint8Array(declared >= 0 ? declared : 1024)
  let length = 0
  let finished = false
  res.onData((chunk, isLast) => {
    if (finished) return
    // The chunk's memory is reused once this callback returns: copy it.
    const bytes = new Uint8Array(chunk)
    if (length + bytes.length > limit) {
      finished = true
      return done(undefined)
    }
    if (length + bytes.length > buffer.length) {
      const grown = new Uint8Array(Math.min(limit, Math.max(buffer.length * 2, length + bytes.length)))
      grown.set(buffer.subarray(0, length))
      buffer = grown
    }
    buffer.set(bytes, length)
    length += bytes.length
    if (isLast) {
      finished = true
      done(buffer.subarray(0, length))
    }
  })
}

function dispatch(app: App, options: ServeOptions, res: HttpResponse, exchange: Exchange, request: Request): void {
  app.handle(request)
    .then((reply) => send(app, options, res, exchange, request, reply))
    .catch((e) => {
      app.errorReply(e, request) // for its log line
      if (!exchange.aborted) res.close()
    })
}

function send(app: App, options: ServeOptions, res: HttpResponse, exchange: Exchange, request: Request, reply: Reply): void {
  const body = reply.body
  if (typeof body === 'string' || body instanceof Uint8Array) {
    if (exchange.aborted) return
    res.cork(() => {
      writeHead(res, reply)
      res.end(body, reply.close)
    })
  } else {
    void stream(app, options, res, exchange, request, reply, body[Symbol.asyncIterator]())
  }
}

function writeHead(res: HttpResponse, reply: Reply): void {
  res.writeStatus(statusLine(reply.status))
  for (const name in reply.headers) res.writeHeader(name, reply.headers[name])
}

async function stream(
  app: App,
  options: ServeOptions,
  res: HttpResponse,
  exchange: Exchange,
  request: Request,
  reply: Reply,
  chunks: AsyncIterator<string>,
): Promise<void> {
  let next: IteratorResult<string>
  try {
    // The status is written only once the first chunk exists, so an early failure still gets its own status.
    next = await chunks.next()
  } catch (e) {
    return send(app, options, res, exchange, request, app.errorReply(e, request))
  }
  let headWritten = false
  try {
    while (!exchange.aborted) {
      if (next.done) {
        res.cork(() => {
          if (!headWritten) writeHead(res, reply)
          res.end()
        })
        return
      }
      let ok = true
      const chunk = next.value
      res.cork(() => {
        if (!headWritten) writeHead(res, reply)
        ok = res.write(chunk)
      })
      headWritten = true
      // The JS fallback has no onWritable; Node's own stream buffers for it.
      if (!ok && nativeLoaded && !(await writable(res, exchange, options.stallMs))) break
      if (exchange.aborted) break
      next = await chunks.next()
    }
  } catch (e) {
    app.errorReply(e, request) // for its log line: the status is already out
  }
  // Aborted, stalled or failed mid-stream: the status is out, so the only honest end is a cut connection.
  await chunks.return?.()
  if (!exchange.aborted) res.close()
}

/** Resolves true when the socket drained, false when the client went away or stalled past `stallMs`. */
function writable(res: HttpResponse, exchange: Exchange, stallMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      clearTimeout(timer)
      exchange.onAbort = undefined
      resolve(ok)
    }
    const timer = setTimeout(() => finish(false), stallMs)
    exchange.onAbort = () => finish(false)
    res.onWritable(() => {
      finish(true)
      return true
    })
  })
}
