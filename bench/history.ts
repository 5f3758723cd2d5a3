// The history phases (issue 13): a month of one client at 1 Hz and a day of nine others, sent through the
// batch route in time order as live traffic would be (each 1,000 seconds the month's client sends its batch,
// and in the last day the others theirs), then charts of it as downsampled slices beside the raw day, the
// answers checked against the plain computation, and what the samples and rollups take on disk.
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Sql } from 'postgres'
import type { Client } from './clients.js'
import { rollupPass } from '../src/store/rollup.js'
import { tiers } from '../src/store/tiers.js'
import { Histogram } from './histogram.js'
import { timeSlices, type SliceTimes } from './slice.js'

const day = 86_400
const perBody = 1000
// Bodies in flight: as many as the batch phases use.
const senders = 8

/** A sample's values at time t: varied, and storage missing every tenth second. */
const values = (t: number) => ({ cpu: (t % 1000) / 10, mem: t % 7919, storage: t % 10 === 0 ? null : t % 104729 })

function body(first: number, count: number): string {
  let text = ''
  for (let t = first; t < first + count; t++) {
    const v = values(t)
    text += `${text ? ',' : '['}{"cpu_load":${v.cpu},"mem":${v.mem}${v.storage === null ? '' : `,"storage":${v.storage}`},"time":${t}}`
  }
  return text + ']'
}

export interface Loaded {
  samples: number
  seconds: number
  p50Ms: number
  p99Ms: number
}

/**
 * `days` of `client` from `first` on and the last day of each of `others`, 1,000 seconds a body, in time
 * order over `senders` keep-alive connections.
 */
export async function load(url: string, client: Client, others: Client[], first: number, days: number): Promise<Loaded> {
  const end = first + days * day
  const bodies: { path: string; from: number }[] = []
  for (let from = first; from < end; from += perBody) {
    bodies.push({ path: client.path, from })
    if (from >= end - day) for (const other of others) bodies.push({ path: other.path, from })
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: senders })
  const latency = new Histogram()
  let next = 0
  const send = (path: string, text: string) =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now()
      const req = http.request(url + path, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let answer = ''
        res.on('data', (d) => (answer += d))
        res.on('end', () => {
          latency.record((performance.now() - started) * 1000)
          if (res.statusCode === 202) resolve()
          else reject(new Error(`POST ${path}: HTTP ${res.statusCode} ${answer.slice(0, 200)}`))
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(text)
    })
  const started = performance.now()
  try {
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < bodies.length) {
          const { path, from } = bodies[next++]
          await send(path, body(from, Math.min(perBody, end - from)))
        }
      }),
    )
  } finally {
    agent.destroy()
  }
  const samples = days * day + others.length * day
  return { samples, seconds: (performance.now() - started) / 1000, p50Ms: latency.percentileMs(50), p99Ms: latency.percentileMs(99) }
}

/**
 * Milliseconds until every sample sent is in the tiers, by a rollup pass of the bench's own: the server's come
 * a minute apart when fewer than ROLLUP_QUEUE_SAMPLES arrive. Its PostgreSQL work is the server's database's,
 * counted in the server's CPU as a pass of its own would be.
 */
export async function settle(sql: Sql): Promise<number> {
  const started = performance.now()
  await rollupPass(sql)
  return performance.now() - started
}

export interface Chart {
  name: string
  query: string
  /** Rows the answer must have. */
  rows: number
  /** Its p50 target, in ms. */
  targetMs?: number
}

/** The charts of the month ending at `end` (exclusive), as the issue's targets name them. */
export function charts(end: number, days: number): Chart[] {
  const step = (days * day) / 1000
  return [
    { name: `${days} days at step=${step}, avg,min,max`, query: `start=${end - days * day}&end=${end - 1}&step=${step}&agg=avg,min,max`, rows: 1000, targetMs: days === 30 ? 100 : 150 },
    ...(days === 30
      ? [
          { name: '7 days at step=600', query: `start=${end - 7 * day}&end=${end - 1}&step=600`, rows: 1008 },
          { name: '1 day at step=60', query: `start=${end - day}&end=${end - 1}&step=60`, rows: 1440, targetMs: 30 },
          { name: '1 day raw', query: `start=${end - day}&end=${end - 1}`, rows: day },
        ]
      : []),
  ]
}

export const timeChart = (url: string, client: Client, chart: Chart, runs: number): Promise<SliceTimes> => timeSlices(`${url}${client.path}/time/report?${chart.query}`, runs)

/**
 * Whether the month's chart (avg, min, max per bucket of `step`) equals the plain computation from the
 * samples sent: min and max exact, avg within 1e-9 relative. Undefined when it does, else what differs.
 */
export async function checkChart(url: string, client: Client, first: number, days: number): Promise<string | undefined> {
  const step = (days * day) / 1000
  const res = await fetch(`${url}${client.path}/time/report?start=${first}&end=${first + days * day - 1}&step=${step}&agg=avg,min,max`)
  const rows = ((await res.json()) as { payload: Record<string, number | null>[] }).payload
  if (rows.length !== 1000) return `${rows.length} rows`
  for (let i = 0; i < rows.length; i++) {
    const b = first + i * step
    const want: Record<string, number | null> = { unix_time: b, samples: step }
    for (const m of ['cpu', 'mem', 'storage'] as const) {
      const vs: number[] = []
      for (let t = b; t < b + step; t++) {
        const v = values(t)[m]
        if (v !== null) vs.push(v)
      }
      want[`${m}_avg`] = vs.reduce((a, x) => a + x, 0) / vs.length
      want[`${m}_min`] = Math.min(...vs)
      want[`${m}_max`] = Math.max(...vs)
    }
    for (const [k, w] of Object.entries(want)) {
      const g = rows[i][k]
      const ok = k.endsWith('_avg') ? g !== null && w !== null && Math.abs(g - w) <= 1e-9 * Math.abs(w) : g === w
      if (!ok) return `row ${i} ${k}: ${g}, expected ${w}`
    }
  }
  return undefined
}

/** Bytes on disk (pg_total_relation_size: heap, indexes, TOAST) per row of the samples and of each tier. */
export async function diskBytes(sql: Sql): Promise<{ table: string; rows: number; bytesPerRow: number }[]> {
  const out = []
  for (const table of ['samples', ...tiers.map((t) => t.table)]) {
    await sql.unsafe(`vacuum analyze ${table}`)
    const [r] = await sql.unsafe<{ rows: number; bytes: number }[]>(`select count(*)::float8 as rows, pg_total_relation_size('${table}')::float8 as bytes from ${table}`)
    out.push({ table, rows: r.rows, bytesPerRow: r.bytes / r.rows })
  }
  return out
}
