// Deno adapter: the only file that knows Deno's server. It puts Deno.serve and Deno.upgradeWebSocket in front
// of the same app as uws.ts, and only translates: the request with its raw target, its body fed to the shared
// reader, the reply (a streamed one pulled as the socket takes it), and /echo over Deno's WebSocket.
import type { App } from '../app.js'
import { badRequest, bodyTimeout, Refusal } from '../errors.js'
import type { BodyChunk, Reply, Request } from '../http/reply.js'
import { BodyBudget, BodyReader, clientAddress, declaredLength, Lifetimes, openSocket, requestOf, type ServeOptions, type Server } from './policy.js'

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
    /** PEM text: with both, HTTPS. */
    cert?: string
    key?: string
    onListen(addr: NetAddr): void
    onError(error: unknown): Response
    handler(request: WebRequest, info: { remoteAddr: NetAddr }): Promise<Response> | Response
  }): HttpServer
  upgradeWebSocket(request: WebRequest, options: { protocol?: string; idleTimeout: number }): { socket: WebSocket; response: Response }
}

const encoder = new TextEncoder()
const unreadable = badRequest('the request body could not be read')
/** The reason a streamed body is cut: the reader stalled, or the error was logged already. */
const cutOff = new Error('streamed reply cut off')

export async function serve(app: App, options: ServeOptions): Promise<Server> {
  const budget = new BodyBudget(options.maxBufferedBodyBytes, options.maxBufferedBodyBytesPerPeer)
  // Deno's shutdown waits for the requests under way itself: only the WebSockets are told here.
  const lifetimes = new Lifetimes()
  const addressOf = clientAddress(options.trustedProxies)
  let server: HttpServer
  try {
    server = Deno.serve({
      hostname: options.host,
      port: options.port,
      ...(options.tls && { cert: options.tls.cert, key: options.tls.key }),
      // main.ts says where it listens, once the shutdown is in place.
      onListen: () => undefined,
      // The handler never throws: what comes here is a streamed body cut off, which needs no more words.
      onError: () => new Response(null, { status: 500 }),
      handler: (request, info) => onRequest(app, options, budget, lifetimes, request, (headers) => addressOf(info.remoteAddr.hostname, headers)),
    })
  } catch (e) {
    throw new Error(`cannot listen on ${options.host}:${options.port}: ${e instanceof Error ? e.message : String(e)}`)
  }
  return {
    port: server.addr.port,
    close: async () => {
      await lifetimes.close()
      await server.shutdown()
    },
  }
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

async function onRequest(
  app: App,
  options: ServeOptions,
  budget: BodyBudget,
  lifetimes: Lifetimes,
  web: WebRequest,
  remoteOf: (headers: Request['headers']) => string,
): Promise<Response> {
  const target = rawTarget(web.url, web.headers.get('host'))
  const mark = target.indexOf('?')
  const [path, query] = mark < 0 ? [target, ''] : [target.slice(0, mark), target.slice(mark + 1)]
  const request = requestOf(
    web.method,
    path,
    query,
    (name) => web.headers.get(name),
    () => remoteOf(request.headers),
    (listener) => web.signal.addEventListener('abort', listener, { once: true }),
  )
  if (request.path === app.socketPath && request.method === 'GET' && web.headers.get('upgrade')?.toLowerCase() === 'websocket') {
    // A handshake Deno refuses goes on to the app (426), as uWS sends it.
    const upgraded = upgrade(app, options, lifetimes, web, remoteOf(request.headers))
    if (upgraded) return upgraded
  }
  return respond(app, options, request, await replyTo(app, options, budget, web, request))
}

async function replyTo(app: App, options: ServeOptions, budget: BodyBudget, web: WebRequest, request: Request): Promise<Reply> {
  // A body nobody reads is never read: Deno reads what is left of it past the reply itself.
  if (!web.body || !app.takesBody(request.method, request.path)) return app.handle(request)
  let reader: BodyReader | undefined
  try {
    reader = new BodyReader(budget, options.maxBodyBytes, declaredLength(web.headers.get('content-length'), options.maxBodyBytes), request.remote)
    request.body = await readBody(web.body, reader, options.bodyTimeoutSeconds)
  } catch (e) {
    reader?.release()
    return app.errorReply(e instanceof Refusal ? e : unreadable, request)
  }
  try {
    return await app.handle(request)
  } finally {
    reader.release()
  }
}

/** Reads the whole body through the reader, within its deadline; on a refusal the rest is not received. */
async function readBody(body: ReadableStream<Uint8Array>, reader: BodyReader, timeoutSeconds: number): Promise<Uint8Array> {
  const stream = body.getReader()
  let deadline: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(bodyTimeout(timeoutSeconds)), timeoutSeconds * 1000)))
  try {
    for (;;) {
      const { done, value } = await Promise.race([stream.read(), late])
      if (done) return reader.body()
      reader.push(value, false)
    }
  } catch (e) {
    // The rest of the body is not wanted: stop receiving it.
    void stream.cancel().catch(() => undefined)
    throw e
  } finally {
    clearTimeout(deadline)
  }
}

function respond(app: App, options: ServeOptions, request: Request, reply: Reply): Response {
  // reply.close needs nothing here: Deno reads the rest of a body left unread itself, and the connection stays usable.
  const init = { status: reply.status, headers: reply.headers }
  const body = reply.body
  // A 204 (a line-protocol write's answer) and a 304 (a dashboard file revalidated) have no body: the fetch API
  // refuses one, even an empty one.
  if (reply.status === 204 || reply.status === 304) return new Response(null, init)
  // Bytes, not a string: Deno would add a text/plain content-type to a string that came without one.
  if (typeof body === 'string') return new Response(encoder.encode(body), init)
  if (body instanceof Uint8Array) return new Response(body as Uint8Array<ArrayBuffer>, init)
  return new Response(streamed(app, options, request, body[Symbol.asyncIterator]()), init)
}

/**
 * A streamed reply that Deno pulls as the socket takes it: the next chunk is fetched only then, a reader that
 * takes nothing for stallMs is cut off, and a reader that goes away cancels it, which closes the cursor.
 */
function streamed(app: App, options: ServeOptions, request: Request, chunks: AsyncIterator<BodyChunk>): ReadableStream<Uint8Array> {
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
          const next = await chunks.next()
          if (ended) return
          if (next.done) return controller.close()
          controller.enqueue(typeof next.value === 'string' ? encoder.encode(next.value) : next.value)
        } catch (e) {
          app.streamFailed(e, request)
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
function upgrade(app: App, options: ServeOptions, lifetimes: Lifetimes, web: WebRequest, remote: string): Response | undefined {
  let socket: WebSocket
  let response: Response
  try {
    // uWS answers with the protocols the client offers; Deno takes one of them, as it splits the offer (at ', ').
    const protocol = web.headers.get('sec-websocket-protocol')?.split(', ')[0]
    ;({ socket, response } = Deno.upgradeWebSocket(web, { protocol, idleTimeout: options.socketIdleSeconds }))
  } catch {
    return undefined
  }
  socket.binaryType = 'arraybuffer'
  socket.onopen = () => {
    const events = openSocket(
      app,
      options,
      lifetimes,
      {
        // Closing already (the peer's close frame is in, its event not yet): nothing more goes out.
        send: (text) => void (socket.readyState === WebSocket.OPEN && socket.send(text)),
        end: (code, reason) => socket.close(code, reason),
        // Deno has no way to drop a WebSocket without its close handshake.
        terminate: () => socket.close(1008, 'not keeping up'),
        bufferedAmount: () => socket.bufferedAmount,
      },
      remote,
    )
    socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => events.message(event.data)
    socket.onclose = () => events.closed()
  }
  return response
}
