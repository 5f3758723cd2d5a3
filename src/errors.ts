// The contract's refusals: what a client is told when the server will not do what it asked. They are facts of
// the domain, not of HTTP: app.ts alone turns one into an HTTP reply or a WebSocket ERROR reason. Each is made
// by a factory below, so that its status and text are written once, and stamped with a stable kind (what the
// metrics count refusals by: the text can carry a client's own words).
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

export type RefusalKind =
  | 'bad_request'
  | 'value_error'
  | 'incorrect_data_size'
  | 'invalid_json'
  | 'invalid_line_protocol'
  | 'invalid_precision'
  | 'bad_units'
  | 'unauthorized'
  | 'unsupportable_username'
  | 'admin_unauthorized'
  | 'unknown_client'
  | 'not_found'
  | 'method_not_allowed'
  | 'log_empty'
  | 'body_too_large'
  | 'inflated_too_large'
  | 'batch_too_large'
  | 'body_timeout'
  | 'unsupported_encoding'
  | 'login_locked'
  | 'registrations_throttled'
  | 'database_unavailable'
  | 'ingest_queue_full'
  | 'body_budget_exceeded'
  | 'monitor_busy'
  | 'log_changing'
  | 'internal'

export class Refusal extends Error {
  constructor(
    readonly kind: RefusalKind,
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

const invalid = (kind: RefusalKind, reason: string, detail?: Detail) => new Refusal(kind, 400, reason, detail)
export const badRequest = (reason: string, detail?: Detail) => invalid('bad_request', reason, detail)
export const valueError = (detail?: Detail) => invalid('value_error', 'value error', detail)
export const incorrectDataSize = (detail?: Detail) => invalid('incorrect_data_size', 'incorrect data size', detail)
export const invalidJson = (cause: unknown, detail?: Detail) =>
  invalid('invalid_json', 'invalid JSON', { ...detail, detail: cause instanceof Error ? cause.message : String(cause) })
export const invalidLineProtocol = (detail: Detail) => invalid('invalid_line_protocol', 'invalid line protocol', detail)
export const invalidPrecision = (given: string) =>
  invalid('invalid_precision', 'invalid precision', { detail: `${JSON.stringify(given)} is not one of ns, us, ms, s, m, h` })
export const badUnits = () => new Refusal('bad_units', 400, 'Bad units provided', {}, { plain: true })
export const unauthorized = () => new Refusal('unauthorized', 401, 'authorization error')
export const adminUnauthorized = () => new Refusal('admin_unauthorized', 401, 'authorization error', {}, { challenge: 'Bearer' })
export const unsupportableUsername = () => new Refusal('unsupportable_username', 401, 'unsupportable username')
export const notFound = () => new Refusal('not_found', 404, 'not found')
export const unknownClient = () => new Refusal('unknown_client', 404, 'no such client')
export const methodNotAllowed = (allow: readonly string[]) => new Refusal('method_not_allowed', 405, 'method not allowed', {}, { allow })
export const logEmpty = () => new Refusal('log_empty', 406, 'log is empty')
// Each 413 names the setting that raises its limit; a body refused before it was read leaves the connection unusable.
export const bodyTooLarge = (limit: number) => new Refusal('body_too_large', 413, `body over the limit of ${limit} bytes (MAX_BODY_BYTES)`, {}, { close: true })
export const inflatedTooLarge = (limit: number) => new Refusal('inflated_too_large', 413, `inflated body over the limit of ${limit} bytes (MAX_INFLATED_BYTES)`)
export const batchTooLarge = (max: number) => new Refusal('batch_too_large', 413, `a batch holds at most ${max} samples (MAX_BATCH_SAMPLES)`)
export const bodyTimeout = (seconds: number) =>
  new Refusal('body_timeout', 408, `the body did not arrive within ${seconds} s (BODY_TIMEOUT_SECONDS)`, {}, { close: true })
export const unsupportedEncoding = (coding: string) => new Refusal('unsupported_encoding', 415, `Content-Encoding ${coding} is not supported; use gzip or none`)
export const tooManyRequests = (retryAfter: number) => new Refusal('login_locked', 429, 'too many failed logins, try again later', {}, { retryAfter })
export const tooManyRegistrations = (retryAfter: number) =>
  new Refusal('registrations_throttled', 429, 'too many registrations from this address, try again later', {}, { retryAfter })
// Each 503 names what to wait for, or the settings that raise its limit.
const unavailable = (kind: RefusalKind, reason: string, options: RefusalOptions = {}) => new Refusal(kind, 503, reason, {}, { retryAfter: 1, ...options })
export const databaseUnavailable = () => unavailable('database_unavailable', 'database unavailable')
export const ingestQueueFull = () => unavailable('ingest_queue_full', 'the database is behind: too many samples waiting (INGEST_MAX_QUEUED)')
export const bodyBudgetExceeded = () =>
  unavailable('body_budget_exceeded', 'too many request bodies in memory at once (MAX_BUFFERED_BODY_BYTES, MAX_BUFFERED_BODY_BYTES_PER_PEER)', { close: true })
// Merges or retention kept changing the part of a log a downsampled slice was reading: asking again reads it anew.
export const logChanging = () => unavailable('log_changing', 'the log changed while it was read, try again')
export const monitorBusy = () => unavailable('monitor_busy', 'too many requests waiting for the CPU history (MONITOR_MAX_WAITING)')
