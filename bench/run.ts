// npm run bench (issue 4): system-monitor, started as `npm start` starts it on a fresh embedded database, under
// load from separate processes, beside its ceilings (bare uWebSockets.js, PostgreSQL's own COPY), in one table.
// Each ingest phase spreads its load over a fleet of clients, as a server hears from many machines at once, and
// the old case of one client a lane or connection is kept beside it as a line for comparison.
// Options: --seconds N or BENCH_SECONDS (per load phase, default 5); --clients N or BENCH_CLIENTS (the fleet,
// default 1000); --node or BENCH_GENERATOR=node (the Node HTTP generator even where wrk is installed); --year
// (a year of one client at 1 Hz, and its chart, after the month: several minutes more); --retention (only
// single-sample ingest with and without retention removing 10 million samples, bench/retention.ts). Exits 1
// when a correctness check fails, not for a missed target.
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { samplesPerBody, type BodyKind } from './bodies.js'
import { killChildren } from './child.js'
import { create, fleet, registerGroups, seed, settledRows, touch, type Client } from './clients.js'
import { percentile } from './histogram.js'
import { httpGenerator, runWsLoad, wsGeneratorName, type LoadResult } from './load.js'
import { charts, checkChart, diskBytes, load, settle, timeChart, type Chart, type Loaded } from './history.js'
import { copyRate, unnestRate, type PgRate } from './pg-ceiling.js'
import { retentionBench } from './retention.js'
import { probeBatch, probeWebSocket } from './probe.js'
import { observe, peakRss, treeCpu } from './proc.js'
import { startBareUws, startCommand, startSystemMonitor, stopAll } from './server.js'
import { timeSlices, type SliceTimes } from './slice.js'
import { int, mark, mb, ms, rate, render, us } from './table.js'

const { values: flags } = parseArgs({ options: { seconds: { type: 'string' }, clients: { type: 'string' }, node: { type: 'boolean' }, year: { type: 'boolean' }, retention: { type: 'boolean' } } })
const seconds = Number(flags.seconds ?? process.env.BENCH_SECONDS ?? 5)
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, not ${flags.seconds ?? process.env.BENCH_SECONDS}`)
const fleetSize = Number(flags.clients ?? process.env.BENCH_CLIENTS ?? 1000)
if (!Number.isInteger(fleetSize) || fleetSize < 1) throw new Error(`--clients must be a whole number from 1, not ${flags.clients ?? process.env.BENCH_CLIENTS}`)
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
// Each load phase first runs this long, unmeasured, against its own clients: JIT, pools and caches warm up.
const warmupSeconds = 1
// Every phase has clients of its own, so all may start at the same time. A phase's warm-up sends its clients
// seconds from warmupFirstTime on, ten million before firstTime (far more than a warm-up second sends any
// client), so the rows of the measured load are those from firstTime on.
const firstTime = 1_700_000_000
const warmupFirstTime = firstTime - 10_000_000
const rssTarget = 100 * 2 ** 20
// The server's default AUTH_CACHE_SIZE: a larger fleet would have it rerun scrypt during the measured load.
const authCacheSize = Number(process.env.AUTH_CACHE_SIZE ?? 10_000)

const log = (line: string) => console.error(`bench: ${line}`)

interface Measured<T> {
  value: T
  /** Of the process under test during the phase, where there is one: its peak VmRSS, its CPU (1 = a core). */
  rss?: number
  cpu?: number
}
interface Ingest {
  load: LoadResult
  /** The phase's clients' rows from firstTime on, in the database afterwards. */
  stored: number
  /** CPU seconds a stored row of the server's process and of its database, the rollup passes of the rows included. */
  perRow: { server: number; database: number }
}
/** A phase's outcome: measured, not supported by the server (why), or failed (why). */
type Outcome<T> = Measured<T> | { unsupported: string } | { failed: string }

/** An ingest phase: its fleet row, and the row of one client a lane or connection, run right after it. */
interface IngestSpec {
  name: string
  /** The prefix of its clients' usernames. */
  group: string
  generator: string
  /** Samples a request or message carries: what one left unanswered may have stored. */
  perMessage: number
  /** Clients of the comparison row (one a lane or connection: the bench before fleets); none, no such row. */
  comparison?: { clients: number; each: 'lane' | 'connection' }
  run(clients: Client[]): Promise<Outcome<Ingest>>
  /** Its ratio to its ceiling, and the target (judged on the fleet row only). */
  versus(o: Outcome<Ingest> | undefined): [string, string]
}

interface IngestRow {
  spec: IngestSpec
  name: string
  clients: Client[]
  /** The fleet row, whose target counts; else the comparison row. */
  judged: boolean
  outcome?: Outcome<Ingest>
}

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

const clientCount = (n: number) => `${int(n)} client${n === 1 ? '' : 's'}`

let copy: Outcome<PgRate> | undefined
let unnest: Outcome<PgRate> | undefined
/** An HTTP phase; `ceiling` is read once the run is over (the COPY ceiling is measured last). */
const httpSpec = (
  name: string,
  group: string,
  kind: BodyKind,
  connections: number,
  compared: boolean,
  ceiling: () => [Outcome<LoadResult | PgRate> | undefined, string],
): IngestSpec => ({
  name,
  group,
  generator: `${http.name}, ${connections} conn.`,
  perMessage: samplesPerBody[kind],
  comparison: compared ? { clients: http.lanes, each: 'lane' } : undefined,
  run: (cs) => httpIngest(cs, kind, connections),
  versus: (o) => versus(o, ...ceiling()),
})
const specs: IngestSpec[] = [
  httpSpec('1 HTTP single (form)', 'single', 'form', singleConnections, true, () => [bareHttp, 'bare uWS']),
  httpSpec('2 HTTP batch (JSON array)', 'batch-json', 'json-array', batchConnections, true, () => [copy, 'COPY']),
  httpSpec('2 HTTP batch (NDJSON)', 'batch-ndjson', 'ndjson', batchConnections, false, () => [copy, 'COPY']),
  httpSpec('2 HTTP batch (line protocol)', 'batch-lp', 'line-protocol', batchConnections, false, () => [copy, 'COPY']),
  {
    name: '3 WebSocket',
    group: 'ws',
    generator: `${wsGeneratorName}, ${wsConnections} conn., window ${wsWindow}`,
    perMessage: 1,
    comparison: { clients: wsConnections, each: 'connection' },
    run: wsIngest,
    versus: (o) => [versus(o, bareWs, 'bare uWS')[0], wsVsHttp(o)],
  },
]
const ingestRows: IngestRow[] = specs.flatMap((spec) => [
  { spec, name: spec.name, clients: fleet(spec.group, fleetSize), judged: true },
  ...(spec.comparison
    ? [{ spec, name: `${spec.name}, 1 client${spec.comparison.clients === 1 ? '' : ` a ${spec.comparison.each}`}`, clients: fleet(`${spec.group}-one`, spec.comparison.clients), judged: false }]
    : []),
])
const fleetOutcome = (group: string) => ingestRows.find((r) => r.judged && r.spec.group === group)?.outcome

// Bounded whatever happens: a minute per load phase at most, and ten for start-up, seeding and slices.
// The history phases (bench/history.ts): a month of one client and a day of nine others, and with --year a
// year of one more, each ending at a multiple of every chart's step so that charts have whole buckets.
const historyEnd = Math.floor(firstTime / 64_800) * 64_800
const histories = [
  { clients: fleet('history', 10), days: 30, end: historyEnd },
  ...(flags.year ? [{ clients: fleet('year', 1), days: 365, end: Math.floor(historyEnd / 31_536) * 31_536 }] : []),
]
const chartRuns = 20

const limitSeconds = 600 + (2 + ingestRows.length) * (60 + seconds) + (flags.year ? 1800 : 0)
const abort = (code: number) => {
  killChildren()
  void stopAll().finally(() => process.exit(code))
}
setTimeout(() => {
  log(`still running after ${limitSeconds} s: stopping`)
  abort(1)
}, limitSeconds * 1000).unref()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => abort(130))

if (flags.retention) process.exit((await retentionBench(http, seconds, fleetSize, log)) ? 0 : 1)

// --- Measure. ---

// The ceilings' generators rotate over a fleet's worth of paths and client_ids too (bare uWS ignores them), so
// that they do the generator's work of the fleet rows.
const bareClients = fleet('bare', fleetSize)
const bare = await startBareUws()
const bareHttp = await phase('ceiling: bare uWS HTTP POST', async () => {
  const load = { url: bare.url, paths: bareClients.map((c) => c.path), kind: 'form' as const, connections: singleConnections, firstTime }
  await http.run({ ...load, seconds: warmupSeconds })
  return observe(bare.pid, () => http.run({ ...load, seconds }))
})
const bareWs = await phase('ceiling: bare uWS WebSocket', async () => {
  const load = { url: bare.url.replace('http:', 'ws:') + '/echo', clientIds: bareClients.map((c) => c.clientId), connections: wsConnections, window: wsWindow, firstTime }
  await runWsLoad({ ...load, seconds: warmupSeconds })
  return observe(bare.pid, () => runWsLoad({ ...load, seconds }))
})
await bare.stop()

log(`starting the server: ${startCommand().join(' ')}`)
const server = await startSystemMonitor()
const serverIdleRss = peakRss(server.pid)

// The clients registered as any client is, before any phase: the memory of their scrypt hashing stays in the
// server's RSS, and would otherwise be counted in whichever phase registered them.
const clients = await registerGroups(server.url, { slice: slices.length, probe: 1 }).catch(async (e: unknown) => {
  await server.stop()
  throw e
})
const registeredRss = peakRss(server.pid)
const registered = Object.values<Client[]>(clients).reduce((n, group) => n + group.length, 0)
const sql = postgres(server.databaseUrl, { max: 2, onnotice: () => undefined })

async function ingest(phaseClients: Client[], run: (cs: Client[], seconds: number, firstTime: number) => Promise<LoadResult>): Promise<Measured<Ingest>> {
  // The warm-up first sends one sample from each client, so that the measured load finds every one in the
  // server's auth cache: it measures ingest, not each client's first password check.
  await touch(server.url, phaseClients, warmupFirstTime - 1)
  await run(phaseClients, warmupSeconds, warmupFirstTime)
  // The phase's CPU is counted from when what came before it is in the tiers until its own rows are: a pass that
  // folds in one phase's rows does not run in the next one.
  await settle(sql)
  const before = treeCpu(server.pid)
  const { value: load, rss, cpu } = await observe(server.pid, () => run(phaseClients, seconds, firstTime))
  const stored = await settledRows(sql, phaseClients, firstTime)
  await settle(sql)
  const after = treeCpu(server.pid)
  const perRow = { server: (after.own - before.own) / stored, database: (after.descendants - before.descendants) / stored }
  return { value: { load, stored, perRow }, rss, cpu }
}

// Asked once a body kind (a fleet row and its comparison row share it): its two samples go to the probe client,
// at seconds of the kind's own.
const batchProbes = new Map<BodyKind, Promise<string | undefined>>()
const probeTimes: Record<BodyKind, number> = { form: firstTime - 4, 'json-array': firstTime - 2, ndjson: firstTime, 'line-protocol': firstTime + 2 }
const probeOnce = (kind: BodyKind) => {
  if (!batchProbes.has(kind)) batchProbes.set(kind, probeBatch(server.url, clients.probe[0], kind, probeTimes[kind]))
  return batchProbes.get(kind)!
}

async function httpIngest(phaseClients: Client[], kind: BodyKind, connections: number): Promise<Outcome<Ingest>> {
  const unsupported = kind === 'form' ? undefined : await probeOnce(kind)
  if (unsupported) return { unsupported }
  return ingest(phaseClients, (cs, s, t) => http.run({ url: server.url, paths: cs.map((c) => c.path), kind, connections, seconds: s, firstTime: t }))
}

async function wsIngest(phaseClients: Client[]): Promise<Outcome<Ingest>> {
  const url = server.url.replace('http:', 'ws:') + '/echo'
  const unsupported = await probeWebSocket(url)
  if (unsupported) return { unsupported }
  return ingest(phaseClients, (cs, s, t) => runWsLoad({ url, clientIds: cs.map((c) => c.clientId), connections: wsConnections, window: wsWindow, seconds: s, firstTime: t }))
}

const sliced: Outcome<SliceTimes>[] = []
const historyResults: { name: string; loaded: Outcome<Loaded>; settledMs?: number; timed: { chart: Chart; o: Outcome<SliceTimes> }[]; wrong?: string }[] = []
let disk: Awaited<ReturnType<typeof diskBytes>> | void = undefined
let serverPeak = 0
let serverExit: string | undefined
try {
  // Straight into the server's database: registering thousands through POST /client would take minutes of scrypt.
  await create(sql, [...ingestRows.flatMap((r) => r.clients), ...histories.flatMap((h) => h.clients)])
  for (const row of ingestRows) row.outcome = await phase(row.name, () => row.spec.run(row.clients))
  for (const [i, slice] of slices.entries()) {
    sliced.push(
      await phase(slice.name, async () => {
        const client = clients.slice[i]
        await seed(sql, client, slice.rows, firstTime)
        return observe(server.pid, () => timeSlices(server.url + client.path + '/time/report', slice.runs))
      }),
    )
  }
  for (const h of histories) {
    const name = `6 history: ${h.days} days of 1 client${h.clients.length > 1 ? ` and 1 day of ${h.clients.length - 1} others` : ''}, batch route`
    const loaded = await phase(name, () => observe(server.pid, () => load(server.url, h.clients[0], h.clients.slice(1), h.end - h.days * 86_400, h.days)))
    const settledMs = 'value' in loaded ? await settle(sql) : undefined
    const timed: { chart: Chart; o: Outcome<SliceTimes> }[] = []
    for (const chart of charts(h.end, h.days)) {
      timed.push({ chart, o: await phase(`7 ${chart.name}`, () => observe(server.pid, () => timeChart(server.url, h.clients[0], chart, chartRuns))) })
    }
    const wrong = 'value' in loaded ? await checkChart(server.url, h.clients[0], h.end - h.days * 86_400, h.days) : 'not loaded'
    historyResults.push({ name, loaded, settledMs, timed, wrong })
  }
  disk = await diskBytes(sql).catch((e: unknown) => void notes.push(`disk bytes: ${(e as Error).message}`))
  // The ceilings for row 2, on the same PostgreSQL, with the server idle.
  copy = await phase('ceiling: PostgreSQL COPY', async () => ({ value: await copyRate(sql, seconds) }))
  unnest = await phase('ceiling: PostgreSQL insert … select from unnest', async () => ({ value: await unnestRate(sql, seconds) }))
  // A server that dies mid-run fails the phases after it; its own last output says why.
  if (existsSync(`/proc/${server.pid}`)) serverPeak = peakRss(server.pid)
  else serverExit = server.output().slice(-2000)
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

function sliceRow(name: string, generator: string, o: Outcome<SliceTimes> | undefined, expectedRows: number, targetMs: number | undefined, sign: '<' | '≤'): string[] {
  if (!measured(o)) return absent(name, o)
  const times = o.value
  const p50 = percentile(times.ms, 50)
  const total = times.ms.reduce((a, b) => a + b, 0) / 1000
  const wrong = times.rows.filter((n) => n !== expectedRows)
  const rows = wrong.length === 0 ? `${int(expectedRows)} per answer` : `returned ${wrong.map(int).join(', ')} of ${int(expectedRows)}`
  const target = targetMs === undefined ? '' : `p50 ${sign} ${targetMs} ms ${mark(sign === '<' ? p50 < targetMs : p50 <= targetMs)}`
  return [name, `${generator} ×${times.ms.length}`, rate(times.ms.length / total, 'answers'), ms(p50), ms(percentile(times.ms, 99)), '', target, rssCell(o.rss), cpuCell(o.cpu), check(wrong.length === 0, rows)]
}

/** "0.42 of bare uWS" and "≥ 0.50 ✓" */
function versus(o: Outcome<Ingest> | undefined, ceiling: Outcome<LoadResult | PgRate> | undefined, ceilingName: string): [string, string] {
  const value = perSecond(o)
  const max = perSecond(ceiling)
  if (value === undefined || max === undefined) return ['', '≥ 0.50']
  return [`${(value / max).toFixed(2)} of ${ceilingName}`, `≥ 0.50 ${mark(value / max >= 0.5)}`]
}

const wsVsHttp = (o: Outcome<Ingest> | undefined): string => {
  const wsRate = perSecond(o)
  const httpRate = perSecond(fleetOutcome('single'))
  if (wsRate === undefined || httpRate === undefined) return '≥ HTTP single'
  return `≥ HTTP single: ×${(wsRate / httpRate).toFixed(2)} ${mark(wsRate >= httpRate)}`
}

/** What the fleet costs each phase that has a comparison row: the fleet's rate over the one client's. */
function fleetVersusOne(): string | undefined {
  const ratios = specs.flatMap((spec) => {
    const [fleetRate, oneRate] = ingestRows.filter((r) => r.spec === spec).map((r) => perSecond(r.outcome))
    return fleetRate === undefined || oneRate === undefined ? [] : [`${spec.name} ×${(fleetRate / oneRate).toFixed(2)}`]
  })
  if (ratios.length === 0) return undefined
  return `${clientCount(fleetSize)} against 1 client a lane or connection (the fleet's rate over the one client's): ${ratios.join(', ')}`
}

const table = [
  loadRow('ceiling: bare uWS HTTP POST', `${http.name}, ${singleConnections} conn., ${clientCount(fleetSize)}`, bareHttp, 'req'),
  loadRow('ceiling: bare uWS WebSocket', `${wsGeneratorName}, ${wsConnections} conn., ${clientCount(fleetSize)}`, bareWs, 'msg'),
  pgRow('ceiling: PG COPY', copy),
  pgRow('ceiling: PG unnest upsert, 1,000 rows', unnest),
  ...ingestRows.map((row) => {
    const [vs, target] = row.spec.versus(row.outcome)
    return ingestRow(row.name, `${row.spec.generator}, ${clientCount(row.clients.length)}`, row.outcome, row.spec.perMessage, vs, row.judged ? target : '')
  }),
  ...slices.map((slice, i) => sliceRow(slice.name, 'GET whole log', sliced[i], slice.rows, slice.rows === 86_400 ? 100 : undefined, '<')),
  ...historyResults.flatMap(({ name, loaded, settledMs, timed, wrong }) => [
    measured(loaded)
      ? [name, `node http, 8 conn., ${int(loaded.value.samples / 1000)} bodies`, rate(loaded.value.samples / loaded.value.seconds, 'samples'), ms(loaded.value.p50Ms), ms(loaded.value.p99Ms), '', '', rssCell(loaded.rss), cpuCell(loaded.cpu), `the rest in the tiers ${ms(settledMs)} after the last 202 (one pass)`]
      : absent(name, loaded),
    ...timed.map(({ chart, o }, i) => {
      const row = sliceRow(`7 ${chart.name}`, 'GET', o, chart.rows, chart.targetMs, '≤')
      if (i === 0) row[9] = check(wrong === undefined, `${row[9]}, ${wrong ?? 'as computed from the samples'}`)
      return row
    }),
  ]),
]

console.log(
  `system-monitor bench: ${seconds} s per load phase after ${warmupSeconds} s of warm-up, ${availableParallelism()} cores, Node.js ${process.versions.node}\n` +
    `server: ${startCommand().join(' ')} (fresh embedded PostgreSQL)\n`,
)
console.log(render(['phase', 'generator', 'rate', 'p50', 'p99', 'vs ceiling', 'target', 'peak RSS', 'CPU', 'rows in database'], table))
console.log(
  '\npeak RSS and CPU are those of the process under test (CPU 100% = one core busy for the whole phase)\n' +
    `server peak RSS (VmHWM): ${mb(serverIdleRss)} once started, ${mb(registeredRss)} after registering ${registered} clients over HTTP ` +
    `(the fleets' ${int(ingestRows.reduce((n, r) => n + r.clients.length, 0))} are created in its database), ` +
    (serverExit === undefined ? `${mb(serverPeak)} over the whole run; target < 100 MB ${mark(serverPeak < rssTarget)}` : 'unknown over the whole run'),
)
if (serverExit !== undefined) {
  checksFailed = true
  notes.push(`the server exited during the run; the end of its output:\n${serverExit}`)
}
const comparison = fleetVersusOne()
if (comparison) notes.unshift(comparison)
const perRow = ingestRows.flatMap((r) => (measured(r.outcome) ? [`${r.name} ${us(r.outcome.value.perRow.server + r.outcome.value.perRow.database)} (${us(r.outcome.value.perRow.server)} + ${us(r.outcome.value.perRow.database)})`] : []))
if (perRow.length > 0) notes.push(`CPU a stored row, server + its PostgreSQL (the rollup passes of the rows included): ${perRow.join(', ')}`)
if (fleetSize > authCacheSize) {
  notes.push(`${clientCount(fleetSize)} do not fit the server's auth cache (AUTH_CACHE_SIZE ${int(authCacheSize)}): the fleet rows include password checks`)
}
if (disk) {
  notes.push(`bytes on disk (pg_total_relation_size over rows): ${disk.map((d) => `${d.table} ${d.bytesPerRow.toFixed(0)} a row (${int(d.rows)} rows)`).join(', ')}`)
}
for (const note of notes) console.log(`note: ${note}`)
process.exit(checksFailed ? 1 : 0)
