// What every transport shares: its options, the running server it gives back, and the memory budget for
// request bodies. main.ts loads one transport (uws.ts, or deno.ts under Deno) and sees only this shape.
import type { App } from '../app.js'
import { unavailable } from '../http/reply.js'

export interface ServeOptions {
  host: string
  port: number
  /** The largest request body, and the largest WebSocket message. */
  maxBodyBytes: number
  /** Request bodies held at once across all connections. */
  maxBufferedBodyBytes: number
  /** A WebSocket with more than this queued is closed (the protocol skips EVENTs well before). */
  maxSocketBackpressure: number
  /** A streamed reply whose reader has not taken data for this long is cut off. */
  stallMs: number
}

export interface Server {
  port: number
  /** Stops accepting connections; open ones finish. */
  close(): void
}

export type Serve = (app: App, options: ServeOptions) => Promise<Server>

/** Request bodies held in memory across all connections, so that many large uploads cannot exhaust it. */
export class BodyBudget {
  #used = 0
  constructor(private readonly max: number) {}
  take(bytes: number): boolean {
    if (this.#used + bytes > this.max) return false
    this.#used += bytes
    return true
  }
  give(bytes: number): void {
    this.#used -= bytes
  }
}

export const budgetExceeded = unavailable('too many request bodies in memory at once (MAX_BUFFERED_BODY_BYTES)')

/** How a body buffer grows: to what has arrived, at least doubling, never past the declared length or the limit. */
export const grownSize = (current: number, needed: number, declared: number, limit: number) =>
  Math.min(limit, declared >= 0 ? declared : limit, Math.max(current * 2, needed, 64 * 1024))
