// Retention (issue 13): with limits set, each level loses exactly its rows older than its limit (samples by
// the minute, minutes by the 10 minutes, those by the hour) and nothing else, while samples keep coming; downsampled slices over the
// removed samples are answered from the tiers, for steps the tiers can answer. Source only: the store and its
// SQL are the same on every target.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import postgres from 'postgres'
import { assertRows, expected, Log } from './buckets.js'
import { basic, client, uniqueName } from './http.js'
import { exited, freshDatabase, spawnServer, startServer, target, type FreshDatabase, type RunningServer } from './server.js'

const skip = target === 'source' ? false : 'the store and its SQL are the same on every target'

const hour = 3600
let fresh: FreshDatabase
let db: postgres.Sql
let server: RunningServer

describe('retention', { skip }, () => {
  before(async () => {
    if (skip) return
    fresh = await freshDatabase('retention')
    db = postgres(fresh.url, { max: 1, onnotice: () => undefined, types: { bigint: postgres.BigInt } })
  })
  after(async () => {
    if (skip) return
    await db.end()
    await fresh.drop()
  })

  test('each level loses what is older than its limit and nothing else, while ingest goes on', async () => {
    // Units of 100 rows: the removal takes several.
    server = await startServer({
      DATABASE_URL: fresh.url,
      ROLLUP_INTERVAL_MS: '20',
      RETENTION_RAW: '1h',
      RETENTION_1M: '3h',
      RETENTION_10M: '4h',
      RETENTION_1H: '5h',
      RETENTION_CHECK_SECONDS: '1',
      RETENTION_UNIT_ROWS: '100',
    })
    try {
      const http = client(server.url)
      const username = uniqueName('retained')
      const clientId = basic(username, 'pw')
      assert.equal((await http.post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 200)
      // Everything sent, removed or not: the tiers still answer for it.
      const full = new Log()
      // Eight hours up to now, a sample every 10 s.
      const start = Math.floor(Date.now() / 1000) - 8 * hour
      const times = Array.from({ length: (8 * hour) / 10 }, (_, i) => start + 10 * i)
      for (let i = 0; i < times.length; i += 1000) {
        const items = times.slice(i, i + 1000).map((t) => ({ cpu_load: (t % 1000) / 10, mem: t % 977, time: t }))
        const res = await http.post(`/client/${clientId}`, JSON.stringify(items), { 'content-type': 'application/json' })
        assert.equal(res.status, 202, res.text)
        for (const s of items) full.add(s.time, { cpu: s.cpu_load, mem: s.mem })
      }

      // Ingest goes on meanwhile, one sample a second of now.
      let sending = true
      const sent: number[] = []
      const ingest = (async () => {
        while (sending) {
          const t = Math.floor(Date.now() / 1000)
          if (!sent.includes(t)) {
            const res = await http.post(`/client/${clientId}`, `cpu_load=1&mem=2&time=${t}`)
            assert.equal(res.status, 202, res.text)
            sent.push(t)
            full.add(t, { cpu: 1, mem: 2 })
          }
          await new Promise((r) => setTimeout(r, 100))
        }
      })()

      const [{ id }] = await db<{ id: number }[]>`select id from clients where username = ${username}`
      const oldest = async (table: string, key: string) => Number((await db.unsafe(`select min(${key}) as m from ${table} where client_id = $1`, [id]))[0].m)
      const deadline = Date.now() + 30_000
      const t0 = Date.now() / 1000
      // Each level by the buckets of the next coarser one.
      const cutsAt = (t: number) => ({
        raw: Math.floor((t - hour) / 60) * 60,
        m1: Math.floor((t - 3 * hour) / 600) * 600,
        m10: Math.floor((t - 4 * hour) / hour) * hour,
        h1: Math.floor((t - 5 * hour) / hour) * hour,
      })
      const cuts = cutsAt(t0)
      while (
        (await oldest('samples', 't')) < cuts.raw ||
        (await oldest('samples_1m', 'b')) < cuts.m1 ||
        (await oldest('samples_10m', 'b')) < cuts.m10 ||
        (await oldest('samples_1h', 'b')) < cuts.h1
      ) {
        assert.ok(Date.now() < deadline, 'retention did not remove the old rows within 30 s')
        await new Promise((r) => setTimeout(r, 50))
      }
      sending = false
      await ingest
      const t1 = Date.now() / 1000
      // Nothing newer than the limits as of now was removed: the rows from there on are all there.
      const kept = cutsAt(t1)
      const rawTimes = (await db<{ t: bigint }[]>`select t from samples where client_id = ${id} and t >= ${kept.raw} order by t`).map((r) => Number(r.t))
      assert.deepEqual(rawTimes, [...full.samples.keys()].filter((t) => t >= kept.raw).sort((a, b) => a - b))
      for (const [table, from, width] of [['samples_1m', kept.m1, 60], ['samples_10m', kept.m10, 600], ['samples_1h', kept.h1, hour]] as const) {
        const buckets = (await db.unsafe(`select b from ${table} where client_id = $1 and b >= $2 order by b`, [id, from])).map((r) => Number(r.b))
        assert.deepEqual(buckets, [...new Set([...full.samples.keys()].filter((t) => t >= from).map((t) => Math.floor(t / width) * width))].sort((a, b) => a - b), table)
      }
      for (const t of sent) assert.ok(rawTimes.includes(t), `the sample at ${t} sent meanwhile is missing`)

      // Over the removed samples, minutes and hours still answer, exactly as from the samples.
      const r = (query: string) => http.get(`/client/${clientId}/time/report?${query}`)
      const [minutesFrom, minutesTo] = [kept.m1 + 600, kept.raw - 600]
      let res = await r(`step=60&agg=avg,min,max,last&start=${minutesFrom}&end=${minutesTo}`)
      assert.equal(res.status, 200, res.text)
      assertRows(res.text, expected(full, 60, ['avg', 'min', 'max', 'last'], minutesFrom, minutesTo), ['avg', 'min', 'max', 'last'], 'minutes over removed samples')
      res = await r(`step=1200&agg=min,last&start=${kept.m10 + 600}&end=${kept.m1 - 600}`)
      assert.equal(res.status, 200, res.text)
      assertRows(res.text, expected(full, 1200, ['min', 'last'], kept.m10 + 600, kept.m1 - 600), ['min', 'last'], '10 minutes over removed minutes')
      res = await r(`step=3600&agg=max,avg&start=${kept.h1}`)
      assert.equal(res.status, 200, res.text)
      assertRows(res.text, expected(full, 3600, ['max', 'avg'], kept.h1), ['max', 'avg'], 'hours over removed 10 minutes')
      // Steps the remaining tiers cannot answer: not a multiple of a minute over removed samples, of 10
      // minutes over removed minutes, of an hour over removed 10 minutes.
      for (const query of [`step=7&start=${minutesFrom}`, 'step=90', `step=60&start=${kept.m10 + 600}`, `step=600&start=${kept.h1}`]) {
        const refused = await r(query)
        assert.deepEqual([refused.status, refused.json()], [400, { error: 'value error' }], query)
      }
      // Where the samples are kept, any step.
      res = await r(`step=7&start=${kept.raw + 600}`)
      assert.equal(res.status, 200, res.text)
      assertRows(res.text, expected(full, 7, ['avg'], kept.raw + 600), ['avg'], 'recent samples')

      // A late sample older than the samples' limit still counts in its minute, and is not kept as a sample.
      // Half an hour before the samples' horizon, between two removed samples.
      const base = kept.raw - 1800
      const late = base + ((((start + 5 - base) % 10) + 10) % 10)
      assert.equal((await http.post(`/client/${clientId}`, `cpu_load=99&mem=0&time=${late}`)).status, 202)
      full.add(late, { cpu: 99, mem: 0 })
      const minute = Math.floor(late / 60) * 60
      res = await r(`step=60&agg=max,min,last&start=${minute}&end=${minute + 59}`)
      assertRows(res.text, expected(full, 60, ['max', 'min', 'last'], minute, minute + 59), ['max', 'min', 'last'], 'a late sample')
      const waited = Date.now() + 10_000
      while ((await db`select 1 from samples where client_id = ${id} and t = ${late}`).length > 0) {
        assert.ok(Date.now() < waited, 'the late sample was not counted and removed within 10 s')
        await new Promise((r) => setTimeout(r, 20))
      }
      res = await r(`step=60&agg=max,min,last&start=${minute}&end=${minute + 59}`)
      assertRows(res.text, expected(full, 60, ['max', 'min', 'last'], minute, minute + 59), ['max', 'min', 'last'], 'a late sample, counted')
      assert.equal((await http.get('/readyz')).status, 200)
    } finally {
      assert.equal(await server.stop(), 0, server.output())
    }
  })

  test('limits that shrink towards coarser tiers, or a bad duration, stop the server at start', async () => {
    for (const [env, message] of [
      [{ RETENTION_RAW: '2d', RETENTION_1M: '1d' }, /RETENTION_1M must be at least RETENTION_RAW/],
      [{ RETENTION_1H: '30d' }, /RETENTION_1H must be at least RETENTION_10M, and 'off' unless that is set too/],
      [{ RETENTION_RAW: '1d', RETENTION_1M: '1d', RETENTION_10M: '2d', RETENTION_1H: '1d' }, /RETENTION_1H must be at least RETENTION_10M/],
      [{ RETENTION_RAW: '90 days' }, /Invalid RETENTION_RAW/],
      [{ RETENTION_RAW: '0d' }, /Invalid RETENTION_RAW/],
    ] as const) {
      const { code, output } = await exited(spawnServer([], { DATABASE_URL: fresh.url, ...env }))
      assert.equal(code, 2, output)
      assert.match(output, message)
    }
  })
})
