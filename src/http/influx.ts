// InfluxDB's write routes, so that Telegraf (or any client of InfluxDB 1.x or 2.x) can push here with a config
// change: `POST /write?db=...` (v1) and `POST /api/v2/write?org=...&bucket=...` (v2), line protocol, gzip or not.
// The database, org and bucket are not ours to keep: they are accepted and not read. Refusals take InfluxDB's
// shape (the route's error style, written in app.ts).
import { makeClientId, tokenOfHeader } from '../auth/client-id.js'
import { badUnits, invalidPrecision } from '../errors.js'
import { readText } from '../ingest/decode.js'
import type { Ingest } from '../ingest/entry.js'
import { parseInflux, type InfluxOptions } from '../ingest/formats/influx.js'
import { parsePrecision } from '../ingest/formats/line-protocol.js'
import { parseUnit } from '../wire/units.js'
import type { Reply, Request } from './reply.js'
import type { Router } from './router.js'

export interface InfluxServices {
  ingest: Ingest
  maxInflatedBytes: number
  maxBatchSamples: number
}

/** `precision`, `units` (mem and storage; MB unless said, as the GUI client sends them) and `path` (the disk). */
function writeOptions(query: URLSearchParams): InfluxOptions {
  const precision = parsePrecision(query.get('precision'))
  if (precision === undefined) throw invalidPrecision(query.get('precision')!)
  const unit = parseUnit(query.get('units') ?? 'MB')
  if (unit === undefined) throw badUnits()
  return { precision, unit, storagePath: query.get('path') ?? '/' }
}

/**
 * The client_id a write acts as: its Authorization header's token (Basic, from Telegraf v1's username and password;
 * Token, from v2's token), else InfluxDB v1's `u` and `p` query parameters; '' (no one) without either.
 */
function tokenOf(req: Request, query: URLSearchParams): string {
  if (req.headers.authorization?.trim()) return tokenOfHeader(req.headers.authorization)
  const username = query.get('u')
  const password = query.get('p')
  return username !== null && password !== null ? makeClientId(username, password) : ''
}

/** InfluxDB's answer to a committed write; the lines set aside are counted in a header of ours. */
const written = (ignored: number): Reply => ({ status: 204, headers: ignored > 0 ? { 'x-ignored-lines': String(ignored) } : {}, body: '' })

export function influxRoutes(router: Router, { ingest, maxInflatedBytes, maxBatchSamples }: InfluxServices): void {
  const write = (req: Request) => {
    const query = new URLSearchParams(req.query)
    let ignored = 0
    const parse = () =>
      readText(req.headers['content-encoding'], req.body, maxInflatedBytes, (text) => {
        const batch = parseInflux(text, writeOptions(query), maxBatchSamples)
        ignored = batch.ignored
        return batch
      })
    const answer = () => written(ignored)
    // The token alone authenticates, as a client_id in the path does: these routes name no client.
    return ingest({ transport: 'http', segment: tokenOf(req, query), remote: req.remote }, parse, { one: answer, many: answer })
  }
  router.add('/write', { POST: write }, { body: ['POST'], errors: 'influx' })
  router.add('/api/v2/write', { POST: write }, { body: ['POST'], errors: 'influx' })
}
