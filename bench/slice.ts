// Log slices: whole-log GETs, one after another on one keep-alive connection, each timed to its last byte.
// Rows are counted as the reply streams by (each row is one JSON object, so one '}', plus the payload's own),
// so that a slice of a million rows is never held in memory here.
import http from 'node:http'
import { performance } from 'node:perf_hooks'

export interface SliceTimes {
  /** Milliseconds to the last byte, per run. */
  ms: number[]
  /** Rows returned, per run. */
  rows: number[]
}

const closeBrace = 0x7d
// A reply that stalls this long is a hung server, not a slow one.
const stallMs = 60_000

function getSlice(agent: http.Agent, url: string): Promise<{ ms: number; rows: number }> {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let braces = 0
      let head = ''
      res.on('data', (chunk: Buffer) => {
        if (head.length < 200) head += chunk.subarray(0, 200).toString()
        for (let i = chunk.indexOf(closeBrace); i >= 0; i = chunk.indexOf(closeBrace, i + 1)) braces++
      })
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${res.statusCode} ${head}`))
        else resolve({ ms: performance.now() - start, rows: braces - 1 })
      })
      res.on('error', reject)
    })
    req.setTimeout(stallMs, () => req.destroy(new Error(`GET ${url}: the reply stalled for ${stallMs / 1000} s`)))
    req.on('error', reject)
  })
}

/** One unmeasured run first: it sets PostgreSQL's hint bits on the freshly seeded rows and warms the caches. */
export async function timeSlices(url: string, runs: number): Promise<SliceTimes> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const times: SliceTimes = { ms: [], rows: [] }
  try {
    await getSlice(agent, url)
    for (let i = 0; i < runs; i++) {
      const { ms, rows } = await getSlice(agent, url)
      times.ms.push(ms)
      times.rows.push(rows)
    }
  } finally {
    agent.destroy()
  }
  return times
}
