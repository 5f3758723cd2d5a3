// The contract's refusals: what a client is told when the server will not do what it asked. They are facts of
// the domain, not of HTTP: app.ts alone turns one into an HTTP reply or a WebSocket ERROR reason. Each is made
// by a factory below, so that its status and text are written once.
import type { PyValue } from './wire/pyjson.js'

export interface RefusalOptions {
  /** Seconds after which trying again may succeed. */
  retryAfter?: number
  /** The methods a route takes, for a method it does not. */
  allow?: readonly string[]
  /** The rest of the request was not read: the connection cannot carry another one. */
  close?: boolean
  /** The contract gives this one as its text alone, not as JSON (bad units). */
  plain?: boolean
  /** The authentication scheme a 401 asks for (WWW-Authenticate). */
  challenge?: string
}

export class Refusal extends Error {
  constructor(
    readonly status: number,
    /** The contract's text: an HTTP body's "error", a WebSocket ERROR's reason. */
    readonly reason: string,
    /** Said beside the reason in an HTTP body (which field, which sample of a batch). */
    readonly detail: Readonly<Record<string, PyValue>> = {},
    readonly options: Readonly<RefusalOptions> = {},
  ) {
    super(reason)
  }
}

export type Detail = Record<string, PyValue>

export const badRequest = (reason: string, detail?: Detail) => new Refusal(400, reason, detail)
export const valueError = (detail?: Detail) => badRequest('value error', detail)
export const incorrectDataSize = (detail?: Detail) => badRequest('incorrect data size', detail)
export const invalidJson = (cause: unknown, detail?: Detail) =>
  badRequest('invalid JSON', { ...detail, detail: cause instanceof Error ? cause.message : String(cause) })
export const invalidLineProtocol = (detail: Detail) => badRequest('invalid line protocol', detail)
export const invalidPrecision = (given: string) => badRequest('invalid precision', { detail: `${JSON.stringify(given)} is not one of ns, us, ms, s, m, h` })
export const badUnits = () => new Refusal(400, 'Bad units provided', {}, { plain: true })
export const unauthorized = () => new Refusal(401, 'authorization error')
export const adminUnauthorized = () => new Refusal(401, 'authorization error', {}, { challenge: 'Bearer' })
export const unsupportableUsername = () => new Refusal(401, 'unsupportable username')
export const notFound = () => new Refusal(404, 'not found')
export const unknownClient = () => new Refusal(404, 'no such client')
export const methodNotAllowed = (allow: readonly string[]) => new Refusal(405, 'method not allowed', {}, { allow })
export const logEmpty = () => new Refusal(406, 'log is empty')
// Each 413 names the setting that raises its limit; a body refused before it was read leaves the connection unusable.
export const bodyTooLarge = (limit: number) => new Refusal(413, `body over the limit of ${limit} bytes (MAX_BODY_BYTES)`, {}, { close: true })
export const inflatedTooLarge = (limit: number) => new Refusal(413, `inflated body over the limit of ${limit} bytes (MAX_INFLATED_BYTES)`)
export const batchTooLarge = (max: number) => new Refusal(413, `a batch holds at most ${max} samples (MAX_BATCH_SAMPLES)`)
export const bodyTimeout = (seconds: number) => new Refusal(408, `the body did not arrive within ${seconds} s (BODY_TIMEOUT_SECONDS)`, {}, { close: true })
export const unsupportedEncoding = (coding: string) => new Refusal(415, `Content-Encoding ${coding} is not supported; use gzip or none`)
export const tooManyRequests = (retryAfter: number) => new Refusal(429, 'too many failed logins, try again later', {}, { retryAfter })
export const tooManyRegistrations = (retryAfter: number) => new Refusal(429, 'too many registrations from this address, try again later', {}, { retryAfter })
export const unavailable = (reason: string, options: RefusalOptions = {}) => new Refusal(503, reason, {}, { retryAfter: 1, ...options })
