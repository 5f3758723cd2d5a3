// npm run bench (issue 4): system-monitor, started as `npm start` starts it on a fresh embedded database, under
// load from separate processes, beside its ceilings (bare uWebSockets.js, PostgreSQL's own COPY), in one table.
// Options: --seconds N or BENCH_SECONDS (per load phase, default 5); --node or BENCH_GENERATOR=node (the Node
// HTTP generator even where wrk is installed). Exits 1 when a correctness check fails, not for a missed target.
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import type { BodyKind } from './bodies.js'
import { killChildren } from './child.js'
import { registerGroups, seed, settledRows, type Client } from './clients.js'
import { percentile } from './histogram.js'
import { httpGenerator, runWsLoad, wsGeneratorName, type LoadResult } from './load.js'
import { copyRate, unnestRate, type PgRate } from './pg-ceiling.js'
import { probeBatch, probeWebSocket } from './probe.js'
import { observe, peakRss } from './proc.js'
import { startBareUws, startCommand, startSystemMonitor, stopAll } from './server.js'
import { timeSlices, type SliceTimes } from './slice.js'
import { int, mark, mb, ms, rate, render } from './table.js'

const { values: flags } = parseArgs({ options: { seconds: { type: 'string' }, node: { type: 'boolean' } } })
const seconds = Number(flags.seconds ?? process.env.BENCH_SECONDS ?? 5)
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, not ${flags.seconds ?? process.env.BENCH_SECONDS}`)
const http = httpGenerator(flags.node === true || process.env.BENCH_GENERATOR === 'node')

// The loads of issue 4.
const singleConnections = 64
// Enough batches in flight to keep the server's database pool busy; more would only queue.
const batchConnections = 8
const wsConnections = 16
const wsWindow = 64
const slices = [
  { name: '4 slice of 86,400', rows: 86_400, runs: 20 },
  { name: '5 slice of 1,000,000', rows: 1_000_000, runs: 5 },
]
// Each load phase first runs this long against clients of its own, unmeasured: JIT, pools and caches warm up.
const warmupSeconds = 1
// Every phase has clients of its own, so all may start at the same time.
const firstTime = 1_700_000_000
const rssTarget = 100 * 2 ** 20

const log = (line: string) => console.error(`bench: ${line}`)

// Bounded whatever happens: a minute per load phase at most, and ten for start-up, seeding and slices.
const limitSeconds = 600 + 8 * (60 + seconds)
const abort = (code: number) => {
  killChildren()
  void stopAll().finally(() => process.exit(code))
}
setTimeout(() => {
  log(`still running after ${limitSeconds} s: stopping`)
  abort(1)
}, limitSeconds * 1000).unref()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => abort(130))

interface Measured<T> {
  value: T
  /** Of the process under test during the phase, where there is one: its peak VmRSS, its CPU (1 = a core). */
  rss?: number
  cpu?: number
}
interface Ingest {
  load: LoadResult
  /** The phase's clients' rows in the database afterwards. */
  stored: number
}
/** A phase's outcome: measured, not supported by the server (why), or failed (why). */
type Outcome<T> = Measured<T> | { unsupported: string } | { failed: string }

const notes: string[] = []

async function phase<T>(name: string, run: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  log(name)
  try {
    return await run()
  } catch (e) {
    notes.push(`${name} failed: ${(e as Error).stack ?? String(e)}`)
    return { failed: (e as Error).message.split('\n')[0].slice(0, 80) }
  }
}

// --- Measure. ---

const bare = await startBareUws()
const bareHttp = await phase('ceiling: bare uWS HTTP POST', async () => {
  const load = { url: bare.url, paths: Array.from({ length: http.lanes }, (_, i) => `/client/bare-${i}`), kind: 'form' as const, connections: singleConnections, firstTime }
  await http.run({ ...load, seconds: warmupSeconds })
  return observe(bare.pid, () => http.run({ ...load, seconds }))
})
const bareWs = await phase('ceiling: bare uWS WebSocket', async () => {
  const load = { url: bare.url.replace('http:', 'ws:') + '/echo', clientIds: Array.from({ length: wsConnections }, (_, i) => `bare-${i}`), window: wsWindow, firstTime }
  await runWsLoad({ ...load, seconds: warmupSeconds })
  return observe(bare.pid, () => runWsLoad({ ...load, seconds }))
})
await bare.stop()

log(`starting the server: ${startCommand().join(' ')}`)
const server = await startSystemMonitor()
const serverIdleRss = peakRss(server.pid)

// Every client of the run, registered before any phase: the memory of their scrypt hashing stays in the
// server's RSS, and would otherwise be counted in whichever phase registered them.
const clients = await registerGroups(server.url, {
  single: http.lanes,
  'single-warm': http.lanes,
  'batch-json': http.lanes,
  'batch-json-warm': http.lanes,
  'batch-ndjson': http.lanes,
  'batch-ndjson-warm': http.lanes,
  ws: wsConnections,
  'ws-warm': wsConnections,
  slice: slices.length,
  probe: 1,
}).catch(async (e: unknown) => {
  await server.stop()
  throw e
})
const registeredRss = peakRss(server.pid)
const registered = Object.values<Client[]>(clients).reduce((n, group) => n + group.length, 0)
const sql = postgres(server.databaseUrl, { max: 2, onnotice: () => undefined })

async function ingest(measuredClients: Client[], run: () => Promise<LoadResult>): Promise<Measured<Ingest>> {
  const { value: load, rss, cpu } = await observe(server.pid, run)
  return { value: { load, stored: await settledRows(sql, measuredClients) }, rss, cpu }
}

async function httpIngest(group: 'single' | 'batch-json' | 'batch-ndjson', kind: BodyKind, connections: number): Promise<Outcome<Ingest>> {
  if (kind !== 'form') {
    // Its two samples go to the probe client, at times of its own.
    const unsupported = await probeBatch(server.url, clients.probe[0], kind, kind === 'ndjson' ? firstTime : firstTime - 2)
    if (unsupported) return { unsupported }
  }
  const load = (cs: Client[], s: number) => http.run({ url: server.url, paths: cs.map((c) => c.path), kind, connections, seconds: s, firstTime })
  await load(clients[`${group}-warm`], warmupSeconds)
  return ingest(clients[group], () => load(clients[group], seconds))
}

let single: Outcome<Ingest> | undefined
let batchJson: Outcome<Ingest> | undefined
let batchNdjson: Outcome<Ingest> | undefined
let ws: Outcome<Ingest> | undefined
let copy: Outcome<PgRate> | undefined
let unnest: Outcome<PgRate> | undefined
const sliced: Outcome<SliceTimes>[] = []
let serverPeak = 0
try {
  single = await phase('1 HTTP single ingest', () => httpIngest('single', 'form', singleConnections))
  batchJson = await phase('2 HTTP batch ingest, JSON array', () => httpIngest('batch-json', 'json-array', batchConnections))
  batchNdjson = await phase('2 HTTP batch ingest, NDJSON', () => httpIngest('batch-ndjson', 'ndjson', batchConnections))
  ws = await phase('3 WebSocket ingest', async (): Promise<Outcome<Ingest>> => {
    const url = server.url.replace('http:', 'ws:') + '/echo'
    const unsupported = await probeWebSocket(url)
    if (unsupported) return { unsupported }
    const load = (cs: Client[], s: number) => runWsLoad({ url, clientIds: cs.map((c) => c.clientId), window: wsWindow, seconds: s, firstTime })
    await load(clients['ws-warm'], warmupSeconds)
    return ingest(clients.ws, () => load(clients.ws, seconds))
  })
  for (const [i, slice] of slices.entries()) {
    sliced.push(
      await phase(slice.name, async () => {
        const client = clients.slice[i]
        await seed(sql, client, slice.rows, firstTime)
        return observe(server.pid, () => timeSlices(server.url + client.path + '/time/report', slice.runs))
      }),
    )
  }
  // The ceilings for row 2, on the same PostgreSQL, with the server idle.
  copy = await phase('ceiling: PostgreSQL COPY', async () => ({ value: await copyRate(sql, seconds) }))
  unnest = await phase('ceiling: PostgreSQL insert … select from unnest', async () => ({ value: await unnestRate(sql, seconds) }))
  serverPeak = peakRss(server.pid)
} finally {
  await sql.end({ timeout: 5 })
  await server.stop()
}

// --- Report. ---

let checksFailed = false
const check = (ok: boolean, text: string) => {
  if (!ok) checksFailed = true
  return `${text} ${mark(ok)}`
}
const measured = <T>(o: Outcome<T> | undefined): o is Measured<T> => o !== undefined && 'value' in o
const perSecond = (o: Outcome<LoadResult | Ingest | PgRate> | undefined): number | undefined => {
  if (!measured(o)) return undefined
  const v = o.value
  if ('load' in v) return v.load.samples / v.load.seconds
  if ('acked' in v) return v.acked / v.seconds
  return v.rows / v.seconds
}
const rssCell = (bytes = 0) => `${mb(bytes)}${bytes < rssTarget ? '' : ' ✗'}`
const cpuCell = (cpu?: number) => (cpu === undefined ? '' : `${Math.round(cpu * 100)}%`)

/** The row of a phase that measured nothing. */
function absent(name: string, o: { unsupported: string } | { failed: string } | undefined): string[] {
  if (o && 'unsupported' in o) {
    notes.push(`${name}: not supported by this server: ${o.unsupported}`)
    return [name, '', 'not supported by this server']
  }
  checksFailed = true
  return [name, '', o ? `failed: ${o.failed}` : 'not run']
}

function loadRow(name: string, generator: string, o: Outcome<LoadResult> | undefined, unit: string): string[] {
  if (!measured(o)) return absent(name, o)
  const r = o.value
  if (r.firstError) notes.push(`${name}: ${int(r.rejected)} rejected, ${int(r.lost)} unanswered; the first: ${r.firstError}`)
  if (o.cpu !== undefined && o.cpu < 0.9) {
    notes.push(`${name}: uWS used ${cpuCell(o.cpu)} of a core, so the generator or the machine set this ceiling, not uWS: ratios to it are upper bounds`)
  }
  return [name, generator, rate(r.acked / r.seconds, unit), ms(r.p50Ms), ms(r.p99Ms), '', '', mb(o.rss ?? 0), cpuCell(o.cpu), '']
}

function ingestRow(name: string, generator: string, o: Outcome<Ingest> | undefined, perMessage: number, vs: string, target: string): string[] {
  if (!measured(o)) return absent(name, o)
  const { load: r, stored } = o.value
  if (r.firstError) notes.push(`${name}: ${int(r.rejected)} rejected, ${int(r.lost)} unanswered; the first: ${r.firstError}`)
  // What wrk had in flight when it stopped may be stored without its 202 having been counted.
  const inFlight = r.lost * perMessage
  const ok = stored >= r.samples && stored <= r.samples + inFlight
  const rows = stored === r.samples ? `${int(stored)} = acked` : `${int(stored)}: acked ${int(r.samples)} + ≤ ${int(inFlight)} unanswered`
  return [name, generator, rate(r.samples / r.seconds, 'samples'), ms(r.p50Ms), ms(r.p99Ms), vs, target, rssCell(o.rss), cpuCell(o.cpu), check(ok, rows)]
}

function pgRow(name: string, o: Outcome<PgRate> | undefined): string[] {
  if (!measured(o)) return absent(name, o)
  const r = o.value
  return [name, 'postgres.js, 1 conn.', rate(r.rows / r.seconds, 'rows'), ms(r.p50Ms), ms(r.p99Ms), '', '', '', '', check(r.stored === r.rows, `${int(r.stored)} = sent`)]
}

/** "0.42 of bare uWS" and "≥ 0.50 ✓" */
function versus(o: Outcome<Ingest> | undefined, ceiling: Outcome<LoadResult | PgRate> | undefined, ceilingName: string): [string, string] {
  const value = perSecond(o)
  const max = perSecond(ceiling)
  if (value === undefined || max === undefined) return ['', '≥ 0.50']
  return [`${(value / max).toFixed(2)} of ${ceilingName}`, `≥ 0.50 ${mark(value / max >= 0.5)}`]
}

const wsVsHttp = (): string => {
  const wsRate = perSecond(ws)
  const httpRate = perSecond(single)
  if (wsRate === undefined || httpRate === undefined) return '≥ HTTP single'
  return `≥ HTTP single: ×${(wsRate / httpRate).toFixed(2)} ${mark(wsRate >= httpRate)}`
}

const batchGenerator = `${http.name}, ${batchConnections} conn.`
const table = [
  loadRow('ceiling: bare uWS HTTP POST', `${http.name}, ${singleConnections} conn.`, bareHttp, 'req'),
  loadRow('ceiling: bare uWS WebSocket', `${wsGeneratorName}, ${wsConnections} conn.`, bareWs, 'msg'),
  pgRow('ceiling: PG COPY', copy),
  pgRow('ceiling: PG unnest upsert, 1,000 rows', unnest),
  ingestRow('1 HTTP single (form)', `${http.name}, ${singleConnections} conn.`, single, 1, ...versus(single, bareHttp, 'bare uWS')),
  ingestRow('2 HTTP batch (JSON array)', batchGenerator, batchJson, 1000, ...versus(batchJson, copy, 'COPY')),
  ingestRow('2 HTTP batch (NDJSON)', batchGenerator, batchNdjson, 1000, ...versus(batchNdjson, copy, 'COPY')),
  ingestRow('3 WebSocket', `${wsGeneratorName}, ${wsConnections} conn., window ${wsWindow}`, ws, 1, versus(ws, bareWs, 'bare uWS')[0], wsVsHttp()),
  ...slices.map((slice, i) => {
    const o = sliced[i]
    if (!measured(o)) return absent(slice.name, o)
    const times = o.value
    const p50 = percentile(times.ms, 50)
    const total = times.ms.reduce((a, b) => a + b, 0) / 1000
    const wrong = times.rows.filter((n) => n !== slice.rows)
    const rows = wrong.length === 0 ? `${int(slice.rows)} per slice` : `returned ${wrong.map(int).join(', ')} of ${int(slice.rows)}`
    const target = slice.rows === 86_400 ? `p50 < 100 ms ${mark(p50 < 100)}` : ''
    return [slice.name, `GET whole log ×${times.ms.length}`, rate(times.ms.length / total, 'slices'), ms(p50), ms(percentile(times.ms, 99)), '', target, rssCell(o.rss), cpuCell(o.cpu), check(wrong.length === 0, rows)]
  }),
]

console.log(
  `system-monitor bench: ${seconds} s per load phase after ${warmupSeconds} s of warm-up, ${availableParallelism()} cores, Node.js ${process.versions.node}\n` +
    `server: ${startCommand().join(' ')} (fresh embedded PostgreSQL)\n`,
)
console.log(render(['phase', 'generator', 'rate', 'p50', 'p99', 'vs ceiling', 'target', 'peak RSS', 'CPU', 'rows in database'], table))
console.log(
  '\npeak RSS and CPU are those of the process under test (CPU 100% = one core busy for the whole phase)\n' +
    `server peak RSS (VmHWM): ${mb(serverIdleRss)} once started, ${mb(registeredRss)} after registering ${registered} clients, ` +
    `${mb(serverPeak)} over the whole run; target < 100 MB ${mark(serverPeak < rssTarget)}`,
)
for (const note of notes) console.log(`note: ${note}`)
process.exit(checksFailed ? 1 : 0)
