// The transport-neutral request and reply values, and the one error type that carries its own reply.
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
}

export const requestHeaders = ['authorization', 'content-type', 'content-encoding'] as const
export type RequestHeader = (typeof requestHeaders)[number]

/** A piece of a streamed body: text, or bytes already encoded (UTF-8). */
export type Chunk = string | Uint8Array

export interface Reply {
  status: number
  headers: Record<string, string>
  /** A string or bytes, or chunks streamed as they come (a log slice) with no size known before. */
  body: string | Uint8Array | AsyncIterable<Chunk>
  /** Close the connection after this reply, for a request whose body was not read. */
  close?: boolean
}

const json = { 'content-type': 'application/json' }

export const jsonReply = (status: number, value: PyValue, headers?: Record<string, string>): Reply => jsonTextReply(status, dumps(value), headers)

/** A reply of JSON text already rendered. */
export const jsonTextReply = (status: number, text: string, headers?: Record<string, string>): Reply => ({
  status,
  headers: headers ? { ...json, ...headers } : json,
  body: text,
})

export const streamReply = (status: number, chunks: AsyncIterable<Chunk>): Reply => ({ status, headers: json, body: chunks })

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly payload: { error: string } & Record<string, PyValue>,
    readonly headers: Record<string, string> = {},
    readonly close = false,
  ) {
    super(payload.error)
  }
  reply(): Reply {
    return { ...jsonReply(this.status, this.payload, this.headers), close: this.close }
  }
}

export const badRequest = (error: string, detail: Record<string, PyValue> = {}) => new HttpError(400, { error, ...detail })
export const unauthorized = () => new HttpError(401, { error: 'authorization error' })
export const unsupportableUsername = () => new HttpError(401, { error: 'unsupportable username' })
export const notFound = () => new HttpError(404, { error: 'not found' })
export const methodNotAllowed = (allow: readonly string[]) =>
  new HttpError(405, { error: 'method not allowed' }, { allow: allow.join(', ') })
export const logEmpty = () => new HttpError(406, { error: 'log is empty' })
export const payloadTooLarge = (limit: number) =>
  new HttpError(413, { error: `body over the limit of ${limit} bytes` }, { connection: 'close' }, true)
export const tooManyRequests = (retryAfterSeconds: number) =>
  new HttpError(429, { error: 'too many failed logins, try again later' }, { 'retry-after': String(retryAfterSeconds) })
export const unavailable = (error: string, retryAfterSeconds = 1) =>
  new HttpError(503, { error }, { 'retry-after': String(retryAfterSeconds) })
