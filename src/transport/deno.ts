// Deno adapter: the only file that knows Deno's server. It puts Deno.serve and Deno.upgradeWebSocket in front
// of the same app as uws.ts, and only translates: the request with its raw path and its body read within the
// limits, the reply (a streamed one pulled as the socket takes it), and /echo over Deno's WebSocket.
import type { App } from '../app.js'
import { badRequest, HttpError, payloadTooLarge, requestHeaders, type Chunk, type Reply, type Request } from '../http/reply.js'
import type { Connection, EchoSession } from '../ws/echo.js'
import { BodyBudget, budgetExceeded, grownSize, type ServeOptions, type Server } from './server.js'

// The little of Deno's API used here: this is a Node project, without Deno's own type declarations.
interface NetAddr {
  hostname: string
  port: number
}
interface HttpServer {
  addr: NetAddr
  shutdown(): Promise<void>
}
type WebRequest = globalThis.Request
declare const Deno: {
  serve(options: {
    hostname: string
    port: number
    onListen(addr: NetAddr): void
    onError(error: unknown): Response
    handler(request: WebRequest, info: { remoteAddr: NetAddr }): Promise<Response> | Response
  }): HttpServer
  upgradeWebSocket(request: WebRequest, options: { protocol?: string; idleTimeout: number }): { socket: WebSocket; response: Response }
}

const empty = new Uint8Array(0)
const encoder = new TextEncoder()
const unreadable = badRequest('the request body could not be read')
/** The reason a streamed body is cut: the reader stalled, or the error was logged already. */
const cutOff = new Error('streamed reply cut off')

export async function serve(app: App, options: ServeOptions): Promise<Server> {
  const budget = new BodyBudget(options.maxBufferedBodyBytes)
  let server: HttpServer
  try {
    server = Deno.serve({
      hostname: options.host,
      port: options.port,
      // main.ts says where it listens, once the shutdown is in place.
      onListen: () => undefined,
      // The handler never throws: what comes here is a streamed body cut off, which needs no more words.
      onError: () => new Response(null, { status: 500 }),
      handler: (request, info) => onRequest(app, options, budget, request, info.remoteAddr.hostname),
    })
  } catch (e) {
    throw new Error(`cannot listen on ${options.host}:${options.port}: ${e instanceof Error ? e.message : String(e)}`)
  }
  return { port: server.addr.port, close: () => void server.shutdown() }
}

/**
 * The request-target as sent, unnormalised: Deno's request.url is the scheme, the authority and that target.
 * The authority is the Host header verbatim when there is one, and a Host can hold '/' (and '?') itself.
 */
function rawTarget(url: string, host: string | null): string {
  const scheme = url.indexOf('://')
  if (scheme < 0) return url // CONNECT: the authority alone
  const from = scheme + 3
  if (host?.includes('/') && url.startsWith(host, from)) return url.slice(from + host.length)
  const slash = url.indexOf('/', from)
  return slash < 0 ? '' : url.slice(slash)
}

async function onRequest(app: App, options: ServeOptions, budget: BodyBudget, web: WebRequest, remote: string): Promise<Response> {
  const target = rawTarget(web.url, web.headers.get('host'))
  const mark = target.indexOf('?')
  const request: Request = {
    method: web.method.toUpperCase(),
    path: mark < 0 ? target : target.slice(0, mark),
    query: mark < 0 ? '' : target.slice(mark + 1),
    headers: {},
    body: empty,
    remote: () => remote,
  }
  for (const name of requestHeaders) {
    const value = web.headers.get(name)
    if (value !== null) request.headers[name] = value
  }
  if (request.path === app.socketPath && request.method === 'GET' && web.headers.get('upgrade')?.toLowerCase() === 'websocket') {
    // A handshake Deno refuses goes on to the app (426), as uWS sends it.
    const upgraded = upgrade(app, options, web, remote)
    if (upgraded) return upgraded
  }
  // Bytes of the body budget this request holds until its reply is ready.
  let reserved = 0
  const hold = (size: number) => {
    if (budget.take(size - reserved)) {
      reserved = size
      return true
    }
    // Refused: what it held goes back at once, as uws.ts does, not after the reply is made. Another upload's
    // next chunk could otherwise be judged meanwhile and refused too (seen in the MAX_BUFFERED_BODY_BYTES test).
    budget.give(reserved)
    reserved = 0
    return false
  }
  let reply: Reply
  try {
    reply = await replyTo(app, options, web, request, hold)
  } finally {
    budget.give(reserved)
  }
  return respond(app, options, request, reply)
}

async function replyTo(app: App, options: ServeOptions, web: WebRequest, request: Request, hold: (size: number) => boolean): Promise<Reply> {
  if (web.body) {
    const contentLength = web.headers.get('content-length')
    const declared = contentLength === null ? -1 : Number(contentLength)
    // Trust a declared length (hono's body-limit does the same): refuse without reading the body.
    if (declared > options.maxBodyBytes) return payloadTooLarge(options.maxBodyBytes).reply()
    try {
      request.body = await readBody(web.body, declared, options.maxBodyBytes, hold)
    } catch (e) {
      return (e instanceof HttpError ? e : unreadable).reply()
    }
  }
  return app.handle(request).catch((e: unknown) => app.errorReply(e, request))
}

/** Reads a body into a buffer that grows with what arrives (not with what is declared), held against the budget. */
async function readBody(body: ReadableStream<Uint8Array>, declared: number, limit: number, hold: (size: number) => boolean): Promise<Uint8Array> {
  const reader = body.getReader()
  let buffer = empty
  let length = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return buffer.subarray(0, length)
      if (length + value.byteLength > limit) throw payloadTooLarge(limit)
      if (length + value.byteLength > buffer.length) {
        const size = grownSize(buffer.length, length + value.byteLength, declared, limit)
        if (!hold(size)) throw budgetExceeded
        const grown = new Uint8Array(size)
        grown.set(buffer.subarray(0, length))
        buffer = grown
      }
      buffer.set(value, length)
      length += value.byteLength
    }
  } catch (e) {
    // The rest of the body is not wanted: stop receiving it.
    void reader.cancel().catch(() => undefined)
    throw e
  }
}

async function respond(app: App, options: ServeOptions, request: Request, reply: Reply): Promise<Response> {
  // Connection is hop-by-hop, and Deno's own: after a reply whose request body was left unread it closes the
  // connection and says so. One of ours would be sent as well, and not acted on.
  const headers = new Headers(reply.headers)
  headers.delete('connection')
  const init = { status: reply.status, headers }
  const body = reply.body
  // Bytes, not a string: Deno would add a text/plain content-type to a string that came without one.
  if (typeof body === 'string') return new Response(encoder.encode(body), init)
  if (body instanceof Uint8Array) return new Response(body as Uint8Array<ArrayBuffer>, init)
  const chunks = body[Symbol.asyncIterator]()
  let first: IteratorResult<Chunk>
  try {
    // The status goes out only once the first chunk exists, so an early failure still gets its own status.
    first = await chunks.next()
  } catch (e) {
    return respond(app, options, request, app.errorReply(e, request))
  }
  return new Response(streamed(app, options, request, chunks, first), init)
}

/**
 * A streamed reply that Deno pulls as the socket takes it: the next chunk is fetched only then, a reader that
 * takes nothing for stallMs is cut off, and a reader that goes away cancels it, which closes the cursor.
 */
function streamed(app: App, options: ServeOptions, request: Request, chunks: AsyncIterator<Chunk>, first: IteratorResult<Chunk>): ReadableStream<Uint8Array> {
  let pending: IteratorResult<Chunk> | undefined = first
  let stall: ReturnType<typeof setTimeout> | undefined
  let ended = false
  const end = () => {
    ended = true
    clearTimeout(stall)
    return chunks.return?.()
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        clearTimeout(stall)
        try {
          const next = pending ?? (await chunks.next())
          pending = undefined
          if (ended) return
          if (next.done) return controller.close()
          controller.enqueue(typeof next.value === 'string' ? encoder.encode(next.value) : next.value)
        } catch (e) {
          app.errorReply(e, request) // for its log line: the status is already out
          // Erroring the body is how Deno cuts the connection, the only honest end once the status is out.
          controller.error(cutOff)
          return void end()
        }
        stall = setTimeout(() => {
          controller.error(cutOff)
          void end()
        }, options.stallMs)
      },
      cancel: async () => {
        await end()
      },
    },
    // Nothing is fetched ahead of what Deno asks for.
    { highWaterMark: 0 },
  )
}

/** The /echo WebSocket, or undefined for a handshake Deno refuses. */
function upgrade(app: App, options: ServeOptions, web: WebRequest, remote: string): Response | undefined {
  let socket: WebSocket
  let response: Response
  try {
    // uWS answers with the protocols the client offers; Deno takes one of them, as it splits the offer (at ', ').
    const protocol = web.headers.get('sec-websocket-protocol')?.split(', ')[0]
    ;({ socket, response } = Deno.upgradeWebSocket(web, { protocol, idleTimeout: 120 }))
  } catch {
    return undefined
  }
  socket.binaryType = 'arraybuffer'
  const open = () => socket.readyState === WebSocket.OPEN
  const conn: Connection = {
    send: (text) => {
      if (!open()) return
      socket.send(text)
      // As uWS's closeOnBackpressureLimit: a peer this far behind is dropped rather than queued for.
      if (socket.bufferedAmount > options.maxSocketBackpressure) socket.close(1008, 'not keeping up')
    },
    close: () => void (open() && socket.close(1008, 'not keeping up')),
    bufferedAmount: () => (open() ? socket.bufferedAmount : 0),
  }
  let session: EchoSession | undefined
  socket.onopen = () => (session = app.openSocket(conn, remote))
  socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    if (!open()) return
    // uWS's maxPayloadLength. Deno has read the whole message by now, but the protocol never sees it.
    if (overLimit(event.data, options.maxBodyBytes)) return socket.close(1009, 'message too big')
    session?.onMessage(typeof event.data === 'string' ? event.data : undefined)
  }
  socket.onclose = () => session?.onClose()
  return response
}

/** Over the limit in bytes? A string's UTF-8 size is 1 to 3 times its length: it is encoded only when in doubt. */
function overLimit(data: string | ArrayBuffer, limit: number): boolean {
  if (typeof data !== 'string') return data.byteLength > limit
  if (data.length > limit) return true
  return data.length * 3 > limit && encoder.encode(data).byteLength > limit
}
