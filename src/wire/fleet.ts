// The fleet's list (README, "The fleet API"): `{"clients": [...]}`, a client a row, its latest sample's metrics as
// floats as in a log slice.
import type { ClientSummary } from '../store/clients.js'
import { dumps, float } from './pyjson.js'
import { listFrame } from './slice.js'

const metric = (n: number | null) => (n === null ? null : float(n))

export const fleetRows = (rows: ClientSummary[]): string =>
  rows.map((r) => dumps({ username: r.username, start: r.start, end: r.end, cpu: metric(r.cpu), mem: metric(r.mem), storage: metric(r.storage) })).join(', ')

export const fleetFrame = (chunks: AsyncIterable<ClientSummary[]>) => listFrame('clients', chunks, fleetRows)
