// What both transports do the same way, written once: their options and the server they give back, reading a
// body within its limit and the shared memory budget, the request value, and the WebSocket connection the
// protocol sees. uws.ts and deno.ts only translate their library to these.
import { BlockList, isIP } from 'node:net'
import type { App } from '../app.js'
import { bodyBudgetExceeded, bodyTooLarge } from '../errors.js'
import { pageRequestHeaders, readsPageHeaders, requestHeaders, type Request } from '../http/reply.js'
import type { Connection } from '../ws/echo.js'
import type { Tls } from './tls.js'

export interface ServeOptions {
  host: string
  port: number
  /** HTTPS and WSS with this certificate and key; plain HTTP and WS without. */
  tls?: Tls
  /** The largest request body, and the largest WebSocket message. */
  maxBodyBytes: number
  /** Request bodies held at once across all connections... */
  maxBufferedBodyBytes: number
  /** ...and by one peer address, of bodies that did not arrive whole at once. */
  maxBufferedBodyBytesPerPeer: number
  /** A body not received whole by then is refused (408). */
  bodyTimeoutSeconds: number
  /** A WebSocket with more than this queued is closed (the protocol skips EVENTs well before). */
  maxSocketBackpressure: number
  /** A WebSocket that has sent nothing, not even a pong, for this long is closed. */
  socketIdleSeconds: number
  /** A streamed reply whose reader has not taken data for this long is cut off. */
  stallMs: number
  /** Addresses and CIDR ranges of proxies whose X-Forwarded-For and Forwarded headers name the client. */
  trustedProxies: readonly string[]
}

export interface Server {
  port: number
  /**
   * Stops accepting connections, tells every WebSocket that the server is going away (1001), and resolves once
   * the requests under way have been answered (a streamed slice to its end).
   */
  close(): Promise<void>
}

/** The requests under way and the WebSockets open, for a shutdown that lets the first finish and tells the second. */
export class Lifetimes {
  #requests = 0
  #idle?: () => void
  readonly #sockets = new Set<(code: number, reason: string) => void>()

  begin(): void {
    this.#requests++
  }

  end(): void {
    if (--this.#requests === 0) this.#idle?.()
  }

  /** `end` closes the socket with a code and reason; returns the way to forget it once it is closed. */
  socket(end: (code: number, reason: string) => void): () => void {
    this.#sockets.add(end)
    return () => this.#sockets.delete(end)
  }

  close(): Promise<void> {
    for (const end of [...this.#sockets]) end(1001, 'server shutting down')
    if (this.#requests === 0) return Promise.resolve()
    return new Promise((resolve) => (this.#idle = resolve))
  }
}

export type Serve = (app: App, options: ServeOptions) => Promise<Server>

const empty = new Uint8Array(0)

/** The request value, from what the library says of the request; `header` gives '' or null for an absent one. */
export function requestOf(
  method: string,
  path: string,
  query: string,
  header: (name: string) => string | null,
  remote: () => string,
  onGone: (listener: () => void) => void,
): Request {
  const request: Request = { method: method.toUpperCase(), path, query, headers: {}, body: empty, remote, onGone }
  for (const name of requestHeaders) {
    const value = header(name)
    if (value) request.headers[name] = value
  }
  if (readsPageHeaders(path)) {
    for (const name of pageRequestHeaders) {
      const value = header(name)
      if (value) request.headers[name] = value
    }
  }
  return request
}

const plainAddress = (text: string) => (text.startsWith('::ffff:') && isIP(text.slice(7)) === 4 ? text.slice(7) : text)

/**
 * The client's address as the login throttle and the body budget key on it: the peer's, or behind a trusted proxy,
 * the nearest address its forwarding headers give that is not a trusted proxy itself (each proxy appends the one
 * it heard from, so only the right end of the list is to be believed).
 */
export function clientAddress(trustedProxies: readonly string[]): (peer: string, headers: Request['headers']) => string {
  if (trustedProxies.length === 0) return (peer) => peer
  const trusted = new BlockList()
  for (const entry of trustedProxies) {
    const [address, prefix] = entry.split('/')
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4'
    if (prefix === undefined) trusted.addAddress(address, family)
    else trusted.addSubnet(address, Number(prefix), family)
  }
  const isTrusted = (address: string) => {
    const family = isIP(address)
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4')
  }
  return (rawPeer, headers) => {
    const peer = plainAddress(rawPeer)
    if (!isTrusted(peer)) return peer
    const hops = forwardedHops(headers)
    for (let i = hops.length - 1; i >= 0; i--) if (!isTrusted(hops[i])) return hops[i]
    return hops[0] ?? peer
  }
}

/** The addresses a request went through, as Forwarded (RFC 7239) or else X-Forwarded-For says, the client first. */
function forwardedHops(headers: Request['headers']): string[] {
  if (headers.forwarded) {
    const hops: string[] = []
    for (const element of headers.forwarded.split(',')) {
      const match = /(?:^|;)\s*for\s*=\s*("?)\[?([^\]";]+?)\]?(?::\d+)?\1\s*(?:;|$)/i.exec(element)
      if (match && isIP(plainAddress(match[2])) !== 0) hops.push(plainAddress(match[2]))
    }
    return hops
  }
  return (headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((hop) => plainAddress(hop.trim()))
    .filter((hop) => isIP(hop) !== 0)
}

/**
 * Request bodies held in memory across all connections, so that many large uploads cannot exhaust it, and by each
 * peer address, so that one sender holding bodies that never finish cannot take it all from the others.
 */
export class BodyBudget {
  #used = 0
  readonly #byPeer = new Map<string, number>()

  constructor(
    private readonly max: number,
    private readonly maxPerPeer: number,
  ) {}

  /** `peer`: the address a body still arriving is charged to; none for one that came whole. */
  take(bytes: number, peer: string | undefined): boolean {
    if (this.#used + bytes > this.max) return false
    if (peer !== undefined) {
      const held = this.#byPeer.get(peer) ?? 0
      if (held + bytes > this.maxPerPeer) return false
      this.#byPeer.set(peer, held + bytes)
    }
    this.#used += bytes
    return true
  }

  give(bytes: number, peer: string | undefined): void {
    this.#used -= bytes
    if (peer === undefined) return
    const held = (this.#byPeer.get(peer) ?? 0) - bytes
    if (held > 0) this.#byPeer.set(peer, held)
    else this.#byPeer.delete(peer)
  }
}

const budgetExceeded = bodyBudgetExceeded()

/** The declared length of a body, -1 when none is declared; a declared length over the limit is refused unread. */
export function declaredLength(contentLength: string | null, limit: number): number {
  const declared = contentLength ? Number(contentLength) : -1
  // Trusted, as hono's body-limit trusts it: refuse without reading the body.
  if (declared > limit) throw bodyTooLarge(limit)
  return declared
}

/**
 * A request body being read: it grows with what arrives (not with what is declared, at least doubling), held
 * against the shared budget until the reply is made (`release`); one that did not come whole in its first chunk
 * is also held against its peer's share. A refusal gives back what it held at once, so that another upload is not
 * judged against it meanwhile.
 */
export class BodyReader {
  #buffer = empty
  #length = 0
  #reserved = 0
  #peer: string | undefined

  constructor(
    private readonly budget: BodyBudget,
    private readonly limit: number,
    private readonly declared: number,
    /** Asked for only for a body still arriving (under uWS, a system call). */
    private readonly peerOf: () => string,
  ) {}

  /** Copies a chunk (the caller's memory may be reused once this returns); throws the refusal that ends reading. */
  push(chunk: Uint8Array, isLast: boolean): void {
    const needed = this.#length + chunk.byteLength
    if (needed > this.limit) this.#refuse(bodyTooLarge(this.limit))
    if (needed > this.#buffer.length) {
      const size = Math.min(this.limit, this.declared >= 0 ? this.declared : this.limit, Math.max(this.#buffer.length * 2, needed, 64 * 1024))
      const whole = isLast && this.#length === 0
      // Only the first chunk can find nothing held yet: a body that goes on past it is its peer's from the start.
      if (!whole && this.#peer === undefined) this.#peer = this.peerOf()
      if (!this.budget.take(size - this.#reserved, this.#peer)) this.#refuse(budgetExceeded)
      this.#reserved = size
      // A small body that came whole in one chunk (the hot path) is carved from Node's shared pool rather than
      // getting memory of its own; one still arriving does get its own, so that a slow sender cannot hold a pool
      // slab. Only the bytes written are ever handed on (the body is the written prefix).
      const grown = whole ? Buffer.allocUnsafe(size) : new Uint8Array(size)
      grown.set(this.#buffer.subarray(0, this.#length))
      this.#buffer = grown
    }
    this.#buffer.set(chunk, this.#length)
    this.#length = needed
  }

  body(): Uint8Array {
    return this.#buffer.subarray(0, this.#length)
  }

  release(): void {
    this.budget.give(this.#reserved, this.#peer)
    this.#reserved = 0
  }

  #refuse(refusal: Error): never {
    this.release()
    throw refusal
  }
}

/** What a transport's WebSocket offers the protocol. */
export interface RawSocket {
  send(text: string): void
  /** Sends a close frame; the connection ends once the peer answers it. */
  end(code: number, reason: string): void
  /**
   * Drops the connection at once: for a peer that does not keep up, which would read a close frame no sooner
   * than the rest, while its connection and the kernel's buffers for it stayed.
   */
  terminate(): void
  bufferedAmount(): number
}

export interface SocketEvents {
  /** A message: text, or a binary one (which the protocol refuses). */
  message(data: string | ArrayBuffer): void
  closed(): void
}

/** The protocol's session over a transport's socket, with the limits both enforce the same way. */
export function openSocket(app: App, options: ServeOptions, lifetimes: Lifetimes, raw: RawSocket, remote: string): SocketEvents {
  let open = true
  const end = (code: number, reason: string) => {
    if (!open) return
    open = false
    raw.end(code, reason)
  }
  const drop = () => {
    if (!open) return
    open = false
    raw.terminate()
  }
  const forget = lifetimes.socket(end)
  const conn: Connection = {
    send(text) {
      if (!open) return
      raw.send(text)
      // A peer this far behind is dropped rather than queued for.
      if (raw.bufferedAmount() > options.maxSocketBackpressure) drop()
    },
    close: drop,
    bufferedAmount: () => (open ? raw.bufferedAmount() : 0),
  }
  const session = app.openSocket(conn, remote)
  return {
    message(data) {
      if (!open) return
      if (overLimit(data, options.maxBodyBytes)) return end(1009, 'message too big')
      session.onMessage(typeof data === 'string' ? data : undefined)
    },
    closed() {
      open = false
      forget()
      session.onClose()
    },
  }
}

const encoder = new TextEncoder()

/** Over the limit in bytes? A string's UTF-8 size is 1 to 3 times its length: it is encoded only when in doubt. */
function overLimit(data: string | ArrayBuffer, limit: number): boolean {
  if (typeof data !== 'string') return data.byteLength > limit
  if (data.length > limit) return true
  return data.length * 3 > limit && encoder.encode(data).byteLength > limit
}
