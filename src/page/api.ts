// The server's API as the page uses it: the contract's login, a client's span and downsampled slices (as the
// client, or through the fleet API with the admin token), and the fleet's list. Every answer is checked with valibot
// before the page reads it.
import * as v from 'valibot'
import type { Bounds } from './range.js'
import type { Metric } from './snapshot.js'

/** The server answered with a refusal: its status, its reason, and when to try again if it said. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly retryAfter?: number,
  ) {
    super(reason)
  }
}

/** The server could not be reached (down, restarting, the network gone). */
export class Unreachable extends Error {}

/**
 * What keeps the server from answering for now, to say so while a view keeps asking: unreachable, or a 5xx (its
 * database away, a log changing under a read); undefined for anything that asking again will not change.
 */
export function passingTrouble(e: unknown): string | undefined {
  if (e instanceof Unreachable) return 'cannot be reached'
  if (e instanceof ApiError && e.status >= 500) return `cannot answer for now (${e.reason})`
  return undefined
}

const errorBody = v.object({ error: v.string() })

async function ask(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response
  try {
    res = await fetch(path, { cache: 'no-store', ...init })
  } catch {
    throw new Unreachable('the server cannot be reached')
  }
  if (res.ok) return res
  const retry = Number(res.headers.get('retry-after'))
  const body = v.safeParse(errorBody, await res.json().catch(() => undefined))
  throw new ApiError(res.status, body.success ? body.output.error : `HTTP ${res.status}`, retry > 0 ? retry : undefined)
}

const answer = async <S extends v.GenericSchema>(schema: S, path: string, init?: RequestInit): Promise<v.InferOutput<S>> =>
  v.parse(schema, await (await ask(path, init)).json())

export const metrics: readonly Metric[] = ['cpu', 'mem', 'storage']
/** What the history asks for: agg=avg,min,max, in this order (the API's keys follow it). */
export const aggregates = ['avg', 'min', 'max'] as const

const value = v.nullable(v.number())
const bucketRow = v.object({
  unix_time: v.number(),
  samples: v.number(),
  cpu_avg: value,
  cpu_min: value,
  cpu_max: value,
  mem_avg: value,
  mem_min: value,
  mem_max: value,
  storage_avg: value,
  storage_min: value,
  storage_max: value,
})
export type BucketRow = v.InferOutput<typeof bucketRow>
/** The API's keys of a bucket row, in its order: the CSV's header. */
export const bucketColumns = ['unix_time', 'samples', ...metrics.flatMap((m) => aggregates.map((a) => `${m}_${a}`))]

const sliceRow = v.object({ cpu: value, mem: value, storage: value, unix_time: v.number() })
export type SliceRow = v.InferOutput<typeof sliceRow>

const span = v.object({ start: v.number(), end: v.number() })
export type Span = v.InferOutput<typeof span>

/** How the page reads one client's log: as that client, or with the admin token through the fleet API. */
export interface Access {
  username: string
  admin: boolean
  base: string
  authorization: string
}

export const asClient = (username: string, clientId: string): Access => ({
  username,
  admin: false,
  base: `/client/${encodeURIComponent(username)}`,
  authorization: clientId,
})

export const asAdmin = (username: string, token: string): Access => ({
  username,
  admin: true,
  base: `/api/clients/${encodeURIComponent(username)}`,
  authorization: `Bearer ${token}`,
})

/** The log's span, undefined while it is empty (406). */
export async function logSpan(access: Access): Promise<Span | undefined> {
  try {
    return await answer(span, `${access.base}/time`, { headers: { authorization: access.authorization } })
  } catch (e) {
    if (e instanceof ApiError && e.status === 406) return undefined
    throw e
  }
}

const report = <S extends v.GenericSchema>(row: S, access: Access, query: Record<string, string>) =>
  answer(v.object({ payload: v.array(row) }), `${access.base}/time/report?${new URLSearchParams(query)}`, { headers: { authorization: access.authorization } }).then(
    (r) => r.payload,
  )

/** The buckets of `step` seconds overlapping the bounds, each with its average, lowest and highest value. */
export const buckets = (access: Access, { start, end }: Bounds, step: number): Promise<BucketRow[]> =>
  report(bucketRow, access, { start: String(start), end: String(end), step: String(step), agg: aggregates.join(',') })

/** Averages of `step` seconds over the bounds (rows of a log slice's shape). */
export const averages = (access: Access, { start, end }: Bounds, step: number): Promise<SliceRow[]> =>
  report(sliceRow, access, { start: String(start), end: String(end), step: String(step) })

const loggedIn = v.object({ client_id: v.string(), registration: v.optional(v.string()) })

/** The contract's POST /client: logs in, or registers a username not known yet. */
export async function logIn(username: string, password: string): Promise<{ clientId: string; registered: boolean }> {
  const body = JSON.stringify({ username, password })
  const { client_id, registration } = await answer(loggedIn, '/client', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  return { clientId: client_id, registered: registration !== undefined }
}

const summary = v.object({ username: v.string(), start: value, end: value, cpu: value, mem: value, storage: value })
export type Summary = v.InferOutput<typeof summary>

/** Every client, with its span and latest sample (the fleet API). */
export const fleetList = (token: string): Promise<Summary[]> =>
  answer(v.object({ clients: v.array(summary) }), '/api/clients', { headers: { authorization: `Bearer ${token}` } }).then((r) => r.clients)
