// The transport-neutral request and reply values: what a transport hands the app, and what it writes back.
import { dumps, type PyValue } from '../wire/pyjson.js'

export interface Request {
  method: string
  /** The path as sent, still percent-encoded, without the query. */
  path: string
  /** The raw query string, without '?'. */
  query: string
  /** Only the headers the app reads, lower-case names. */
  headers: Partial<Record<RequestHeader, string>>
  body: Uint8Array
  /** The peer's address, which the login throttle keys on; asked for only then (under uWS, a system call). */
  remote: () => string
  /** Calls `listener` if the client goes away before its reply is out: what waits for it can be forgotten. */
  onGone: (listener: () => void) => void
}

// The forwarding headers are believed only from a trusted proxy (transport/policy.ts, TRUSTED_PROXIES).
export const requestHeaders = ['authorization', 'content-type', 'content-encoding', 'x-forwarded-for', 'forwarded'] as const
/**
 * The dashboard's files' (http/dashboard.ts: revalidation and gzip), read for their paths alone: a header lookup
 * costs uWS about 90 ns, and ingest would pay for two on every sample.
 */
export const pageRequestHeaders = ['if-none-match', 'accept-encoding'] as const
export const readsPageHeaders = (path: string) => path.startsWith('/dashboard') && (path.length === 10 || path[10] === '/')
export type RequestHeader = (typeof requestHeaders)[number] | (typeof pageRequestHeaders)[number]

/** A piece of a streamed body: text, or bytes already encoded (UTF-8). */
export type BodyChunk = string | Uint8Array

export interface Reply {
  status: number
  headers: Record<string, string>
  /** A string or bytes, or chunks streamed as they come (a log slice) with no size known before. */
  body: string | Uint8Array | AsyncIterable<BodyChunk>
  /** Close the connection after this reply: the request's body was not read to its end. */
  close?: boolean
}

const json = { 'content-type': 'application/json' }
const text = { 'content-type': 'text/plain; charset=utf-8' }

export const jsonReply = (status: number, value: PyValue, headers?: Record<string, string>): Reply => jsonTextReply(status, dumps(value), headers)

/** A reply of JSON text already rendered. */
export const jsonTextReply = (status: number, body: string, headers?: Record<string, string>): Reply => ({
  status,
  headers: headers ? { ...json, ...headers } : json,
  body,
})

export const textReply = (status: number, body: string, headers?: Record<string, string>): Reply => ({
  status,
  headers: headers ? { ...text, ...headers } : text,
  body,
})

export const streamReply = (status: number, chunks: AsyncIterable<BodyChunk>): Reply => ({ status, headers: json, body: chunks })

export const isStreamed = (body: Reply['body']): body is AsyncIterable<BodyChunk> => typeof body !== 'string' && !(body instanceof Uint8Array)

/**
 * The reply with the first chunk of a streamed body already in hand: a stream that fails at once (a query that
 * cannot run) fails here, before its status is settled, and so gets a status of its own. The rest is pulled as it
 * would have been, and giving up on the stream gives up on the source.
 */
export async function withFirstChunk(reply: Reply, body: AsyncIterable<BodyChunk>): Promise<Reply> {
  const source = body[Symbol.asyncIterator]()
  let first: IteratorResult<BodyChunk> | undefined = await source.next()
  const chunks: AsyncIterator<BodyChunk> = {
    next() {
      const taken = first
      first = undefined
      return taken ? Promise.resolve(taken) : source.next()
    },
    async return(value?: unknown) {
      first = undefined
      return (await source.return?.(value)) ?? { done: true, value: undefined }
    },
  }
  return { ...reply, body: { [Symbol.asyncIterator]: () => chunks } }
}
