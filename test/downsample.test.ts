// Downsampled slices (issue 13) over HTTP against known data, checked against the plain computation from the
// samples sent (test/buckets.ts): before any rollup pass (the rollup queue), after passes (the tiers), after
// merges into rolled-up minutes and late samples into rolled-up hours, and the refusals. The rollup interval
// is set per server: a slow server never runs a pass during a test, a fast one is waited for by watching the
// queue empty. Source only: the store and its SQL are the same on every target, and the README's examples run
// the route on each of them.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import postgres from 'postgres'
import { assertRows, expected, Log, type Values } from './buckets.js'
import { basic, client, uniqueName } from './http.js'
import { freshDatabase, startServer, target, type FreshDatabase, type RunningServer } from './server.js'

const skip = target === 'source' ? false : 'the store and its SQL are the same on every target; the README examples run the route there'

// An hour's first second.
const H = 1_699_999_200
const username = uniqueName('buckets')
const clientId = basic(username, 'pw')
const log = new Log()

let fresh: FreshDatabase
let db: postgres.Sql
let server: RunningServer | undefined

const slow = { ROLLUP_INTERVAL_MS: '3600000' }
const fast = { ROLLUP_INTERVAL_MS: '10' }

async function use(env: Record<string, string>): Promise<ReturnType<typeof client>> {
  if (server) assert.equal(await server.stop(), 0, server.output())
  server = await startServer({ DATABASE_URL: fresh.url, ...env })
  return client(server.url)
}

/** Until every queued write is in the tiers (the fast server's passes), at most 20 s. */
async function rolledUp(): Promise<void> {
  const deadline = Date.now() + 20_000
  while ((await db<{ n: number }[]>`select count(*)::int4 as n from rollup_queue`)[0].n > 0) {
    assert.ok(Date.now() < deadline, 'the rollup queue did not empty within 20 s')
    await new Promise((r) => setTimeout(r, 20))
  }
}

const json = (items: unknown) => JSON.stringify(items)
const sample = (t: number, v: Partial<Values>) => ({ time: t, ...(v.cpu != null && { cpu_load: v.cpu }), ...(v.mem != null && { mem: v.mem }), ...(v.storage != null && { storage: v.storage }) })

async function send(http: ReturnType<typeof client>, items: { t: number; v: Partial<Values> }[]): Promise<void> {
  const res = await http.post(`/client/${clientId}`, json(items.map(({ t, v }) => sample(t, v))), { 'content-type': 'application/json' })
  assert.equal(res.status, 202, res.text)
  for (const { t, v } of items) log.add(t, v)
}

async function sendOne(http: ReturnType<typeof client>, t: number, v: Partial<Values>): Promise<void> {
  const form = Object.entries(sample(t, v)).map(([k, x]) => `${k === 'time' ? 'time' : k}=${x}`).join('&')
  const res = await http.post(`/client/${clientId}`, form)
  assert.equal(res.status, 202, res.text)
  log.add(t, v)
}

const aggSets = [[], ['avg'], ['min'], ['max'], ['last'], ['avg', 'min', 'max'], ['last', 'avg'], ['max', 'last', 'min', 'avg']]
const steps = [1, 7, 59, 60, 120, 600, 2592, 3600, 7200, 86400, 31_536_000]
const ranges: [number | undefined, number | undefined][] = [
  [undefined, undefined],
  [H + 30, H + 150],
  [H + 3599, undefined],
  [undefined, H + 3600],
  [H - 100, H + 4 * 3600 + 17],
]

/** Every step with every aggregate set over the whole log, and every range with some steps. */
async function checkAll(http: ReturnType<typeof client>, phase: string): Promise<void> {
  const cases: [number, string[], number | undefined, number | undefined][] = []
  for (const step of steps) for (const aggs of aggSets) cases.push([step, aggs, undefined, undefined])
  for (const [start, end] of ranges) for (const step of [7, 60, 2592, 3600]) for (const aggs of [['avg', 'min', 'max', 'last'], ['last']]) cases.push([step, aggs, start, end])
  for (const [step, aggs, start, end] of cases) {
    const query = `step=${step}${aggs.length ? `&agg=${aggs.join(',')}` : ''}${start === undefined ? '' : `&start=${start}`}${end === undefined ? '' : `&end=${end}`}`
    const res = await http.get(`/client/${clientId}/time/report?${query}`)
    assert.equal(res.status, 200, `${phase} ${query}: ${res.text}`)
    const functions = aggs.length ? aggs : ['avg']
    assertRows(res.text, expected(log, step, functions, start, end), functions, `${phase} ${query}`)
  }
}

describe('downsampled slices', { skip }, () => {
  before(async () => {
    if (skip) return
    fresh = await freshDatabase('buckets')
    db = postgres(fresh.url, { max: 1, onnotice: () => undefined })
  })
  after(async () => {
    if (skip) return
    if (server) assert.equal(await server.stop(), 0, server.output())
    await db.end()
    await fresh.drop()
  })

  test('before any rollup pass: batches, single samples, missing metrics, bucket edges', async () => {
    const http = await use(slow)
    assert.equal((await http.post('/client', json({ username, pass: 'pw' }))).status, 200)
    // Ten dense minutes (queued as minute statistics), mem missing on every seventh second, storage on every fifth
    // of the first five minutes only: the last five have none at all.
    const dense = Array.from({ length: 600 }, (_, i) => {
      const t = H + i
      return { t, v: { cpu: (t % 97) / 4, mem: t % 7 === 0 ? null : (t % 1000) + 0.1, storage: t % 5 === 0 && i < 300 ? t % 13 : null } }
    })
    for (let i = 0; i < dense.length; i += 200) await send(http, dense.slice(i, i + 200))
    // A sparse batch (queued as samples), one a minute.
    await send(http, Array.from({ length: 30 }, (_, i) => ({ t: H + 900 + 60 * i + (i % 3), v: { cpu: 50 + i / 8, storage: 1e15 + i } })))
    // Single samples on hour edges, and far away: buckets between are empty and left out.
    for (const t of [H + 3599, H + 3600, H + 3659, H + 7199, H + 7200, H + 2 * 86400 + 5]) await sendOne(http, t, { cpu: (t % 10) + 0.5, mem: t % 2 ? 7 : null })
    await checkAll(http, 'queued')
  })

  test('a bucket edge: samples at b and b + step - 1 make one bucket, b + step the next, of one sample', async () => {
    const http = client(server!.url)
    const other = uniqueName('edge')
    const id = basic(other, 'pw')
    assert.equal((await http.post('/client', json({ username: other, pass: 'pw' }))).status, 200)
    const b = 600 * 3_000_000
    const res = await http.post(`/client/${id}`, json([sample(b, { cpu: 1 }), sample(b + 599, { cpu: 2, mem: 4 }), sample(b + 600, { cpu: 3.5 })]), { 'content-type': 'application/json' })
    assert.equal(res.status, 202, res.text)
    const got = await http.get(`/client/${id}/time/report?step=600&agg=avg,last`)
    assert.equal(
      got.text,
      `{"payload": [{"unix_time": ${b}, "samples": 2, "cpu_avg": 1.5, "cpu_last": 2.0, "mem_avg": 4.0, "mem_last": 4.0, "storage_avg": null, "storage_last": null}, ` +
        `{"unix_time": ${b + 600}, "samples": 1, "cpu_avg": 3.5, "cpu_last": 3.5, "mem_avg": null, "mem_last": null, "storage_avg": null, "storage_last": null}]}`,
    )
    assert.equal((await http.get(`/client/${id}/time/report?step=600&agg=max`)).text, `{"payload": [{"cpu": 2.0, "mem": 4.0, "storage": null, "unix_time": ${b}}, {"cpu": 3.5, "mem": null, "storage": null, "unix_time": ${b + 600}}]}`)
    // Without step, today's raw answer.
    assert.equal(
      (await http.get(`/client/${id}/time/report?agg=max`)).text,
      `{"payload": [{"cpu": 1.0, "mem": null, "storage": null, "unix_time": ${b}}, {"cpu": 2.0, "mem": 4.0, "storage": null, "unix_time": ${b + 599}}, {"cpu": 3.5, "mem": null, "storage": null, "unix_time": ${b + 600}}]}`,
    )
    assert.equal((await http.get(`/client/${id}/time/report?step=600&start=${b + 1200}`)).text, '{"payload": []}')
  })

  test('after rollup passes: the same answers from the tiers', async () => {
    const http = await use(fast)
    await rolledUp()
    assert.ok((await db`select 1 from samples_1h limit 1`).length === 1, 'no hour was rolled up')
    await checkAll(http, 'rolled up')
  })

  test('a re-sent second merges into a rolled-up minute: its old values no longer count', async () => {
    const http = await use(slow)
    // New extremes, a value that was the minimum replaced, a metric added, and new seconds in the same batch.
    await send(http, [
      { t: H + 5, v: { cpu: 99.75 } },
      { t: H + 97, v: { cpu: 0.125, storage: 3 } },
      { t: H + 130, v: { mem: 1e6 } },
      { t: H + 700, v: { cpu: 1, mem: 2, storage: 3 } },
    ])
    await send(http, [{ t: H + 0, v: { cpu: 42.5 } }])
    await checkAll(http, 'merged, queued')
  })

  test('a late sample for a rolled-up hour counts', async () => {
    const http = client(server!.url)
    await sendOne(http, H + 1801, { cpu: 100, mem: 0, storage: 0 })
    await checkAll(http, 'late, queued')
    const fastHttp = await use(fast)
    await rolledUp()
    await checkAll(fastHttp, 'merged and late, rolled up')
    // And while passes run: a merge and a late sample, asked about at once.
    await send(fastHttp, [{ t: H + 3600, v: { cpu: 0.5 } }, { t: H + 2500, v: { mem: 3.25 } }])
    await checkAll(fastHttp, 'merged, passes running')
    await rolledUp()
    await checkAll(fastHttp, 'merged again, rolled up')
  })

  test('ROLLUP_QUEUE_SAMPLES: a pass starts once the server has written that many samples, before its interval', async () => {
    const http = await use({ ...slow, ROLLUP_QUEUE_SAMPLES: '3' })
    const queued = async () => (await db<{ n: number }[]>`select count(*)::int4 as n from rollup_queue`)[0].n
    await sendOne(http, H + 4000, { cpu: 1 })
    await sendOne(http, H + 4001, { cpu: 2, mem: 5 })
    // Two of three, and the interval is an hour: both statements are still queued.
    assert.equal(await queued(), 2)
    await sendOne(http, H + 4002, { storage: 7 })
    await rolledUp()
    await checkAll(http, 'rolled up once three were written')
  })

  test('bad step and agg values are value errors', async () => {
    const http = client(server!.url)
    for (const query of ['step=0', 'step=-60', 'step=1.5', 'step=60s', 'step=', 'step=31536001', 'step=99999999999', 'step=1e3', 'step=60&agg=', 'step=60&agg=mean', 'step=60&agg=avg,', 'step=60&agg=avg,avg', 'step=60&agg=AVG']) {
      const res = await http.get(`/client/${clientId}/time/report?${query}`)
      assert.deepEqual([res.status, res.json()], [400, { error: 'value error' }], query)
    }
    assert.equal((await http.get(`/client/${clientId}/time/report?step=31536000`)).status, 200)
    const wrong = await http.get(`/client/${basic(username, 'nope')}/time/report?step=60`)
    assert.deepEqual([wrong.status, wrong.json()], [401, { error: 'authorization error' }])
  })
})
