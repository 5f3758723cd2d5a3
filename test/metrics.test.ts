// GET /metrics against the real server: the samples committed are the rows stored, by transport and format; the
// uploads refused are counted by kind; requests by route pattern, never by a path that holds a client_id; the levels
// (queue, pools, WebSockets, subscriptions), the login throttle's refusals and the runtime's own figures; and
// METRICS=off, where /metrics is a route like no other (404).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import postgres from 'postgres'
import { basic, client, uniqueName } from './http.js'
import { scrape, scrapeUntil } from './metrics.js'
import { databaseUrl, startServer, type RunningServer } from './server.js'
import { connect, type Socket } from './ws.js'

let server: RunningServer
let http: ReturnType<typeof client>
const sql = postgres(databaseUrl(), { max: 1, onnotice: () => undefined })
before(async () => {
  server = await startServer({ MAX_BATCH_SAMPLES: '100', LOGIN_MAX_FAILURES: '2', INGEST_MAX_QUEUED: '54321', DB_POOL_SIZE: '3' })
  http = client(server.url)
})
after(async () => {
  assert.equal(await server.stop(), 0)
  await sql.end()
})

let registrations = 0
async function register(): Promise<{ username: string; clientId: string }> {
  const username = uniqueName('metrics')
  assert.equal((await http.post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 200)
  registrations++
  return { username, clientId: basic(username, 'pw') }
}

async function rowsOf(username: string): Promise<number> {
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from samples s join clients c on c.id = s.client_id where c.username = ${username}`
  return n
}

const json = { 'content-type': 'application/json' }
const samples = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ cpu_load: i % 100, mem: i, time: from + i }))
const t0 = 1_600_000_000

async function socket(): Promise<Socket> {
  const s = await connect(server.url)
  s.send({ type: 'HELLO' })
  assert.match(await s.next(), /WELCOME/)
  return s
}

test('the samples committed by transport and format are the rows stored; the uploads refused are counted by kind', async () => {
  const form = await register()
  for (let i = 0; i < 3; i++) assert.equal((await http.post(`/client/${form.clientId}`, `cpu_load=1&mem=2&time=${t0 + i}`)).status, 202)

  const single = await register()
  for (let i = 0; i < 2; i++) assert.equal((await http.post(`/client/${single.clientId}`, JSON.stringify({ mem: i, time: t0 + i }), json)).status, 202)
  for (const [n, from] of [
    [50, t0 + 100],
    [7, t0 + 200],
  ]) {
    assert.equal((await http.post(`/client/${single.clientId}`, JSON.stringify(samples(n, from)), json)).text, `{"accepted": ${n}}`)
  }

  const ndjson = await register()
  const lines = samples(20, t0).map((s) => JSON.stringify(s)).join('\n')
  assert.equal((await http.post(`/client/${ndjson.clientId}`, lines, { 'content-type': 'application/x-ndjson' })).text, '{"accepted": 20}')

  const influx = await register()
  const points = Array.from({ length: 30 }, (_, i) => `system mem=${i}i ${t0 + i}\ncpu,cpu=cpu0 usage_idle=50 ${t0 + i}`).join('\n')
  const write = await http.post('/api/v2/write?precision=s', points, { authorization: `Token ${influx.clientId}` })
  assert.deepEqual([write.status, write.headers['x-ignored-lines']], [204, '30'])

  const ws = await register()
  const s = await socket()
  for (let i = 0; i < 5; i++) {
    s.send({ type: 'CLIENT_DATA', data: { mem: i, time: t0 + i }, client_id: ws.clientId })
    assert.match(await s.next(), /DATA_RETURN/)
  }
  s.send({ type: 'CLIENT_DATA', data: samples(10, t0 + 100), client_id: ws.clientId })
  assert.equal(await s.next(), '{"type": "DATA_RETURN", "payload": {"accepted": 10}}')

  // Refused, each whole: nothing of them is stored.
  const refusals: [string, Promise<number>][] = [
    ['value_error', http.post(`/client/${single.clientId}`, '{"cpu_load": 101, "time": 1}', json).then((r) => r.status)],
    ['value_error', http.post(`/client/${single.clientId}`, JSON.stringify([...samples(3, t0 + 300), { mem: -1 }]), json).then((r) => r.status)],
    ['invalid_json', http.post(`/client/${single.clientId}`, '{"mem": ', json).then((r) => r.status)],
    ['unauthorized', http.post(`/client/${basic(uniqueName('nobody'), 'pw')}`, 'mem=1').then((r) => r.status)],
    ['batch_too_large', http.post(`/client/${single.clientId}`, JSON.stringify(samples(101, t0 + 400)), json).then((r) => r.status)],
    ['invalid_line_protocol', http.post('/api/v2/write', `system mem=1i ${t0}\nsystem mem=`, { authorization: `Token ${influx.clientId}` }).then((r) => r.status)],
    ['invalid_precision', http.post('/api/v2/write?precision=d', `system mem=1i ${t0}`, { authorization: `Token ${influx.clientId}` }).then((r) => r.status)],
  ]
  assert.deepEqual(await Promise.all(refusals.map(([, status]) => status)), [400, 400, 400, 401, 413, 400, 400])
  s.send({ type: 'CLIENT_DATA', data: {}, client_id: ws.clientId })
  assert.equal(await s.next(), '{"type": "ERROR", "reason": "incorrect data size"}')
  s.send({ type: 'CLIENT_DATA', data: { mem: 1 }, client_id: 'bm9ib2R5OnB3' })
  assert.equal(await s.next(), '{"type": "ERROR", "reason": "authorization error"}')
  s.close()

  const rows = {
    form: await rowsOf(form.username),
    json: await rowsOf(single.username),
    ndjson: await rowsOf(ndjson.username),
    line_protocol: await rowsOf(influx.username),
    ws: await rowsOf(ws.username),
  }
  assert.deepEqual(rows, { form: 3, json: 59, ndjson: 20, line_protocol: 30, ws: 15 })

  const m = await scrape(server.url)
  assert.deepEqual(m.all('system_monitor_samples_committed_total'), {
    'transport=http,format=form': rows.form,
    'transport=http,format=json': rows.json,
    'transport=http,format=ndjson': rows.ndjson,
    'transport=http,format=line_protocol': rows.line_protocol,
    'transport=ws,format=json': rows.ws,
  })
  assert.deepEqual(m.all('system_monitor_uploads_refused_total'), {
    'transport=http,reason=value_error': 2,
    'transport=http,reason=invalid_json': 1,
    'transport=http,reason=unauthorized': 1,
    'transport=http,reason=batch_too_large': 1,
    'transport=http,reason=invalid_line_protocol': 1,
    'transport=http,reason=invalid_precision': 1,
    'transport=ws,reason=incorrect_data_size': 1,
    'transport=ws,reason=unauthorized': 1,
  })
  // Every second of every client came once: the statements' rows are the samples.
  const stored = Object.values(rows).reduce((a, b) => a + b)
  assert.equal(m.value('system_monitor_ingest_statement_rows_sum'), stored)
  const statements = m.value('system_monitor_ingest_statement_rows_count')!
  assert.ok(statements >= 1 && statements <= 15, `${statements} statements`)
  assert.equal(m.value('system_monitor_ingest_commit_seconds_count'), statements)
  assert.equal(m.value('system_monitor_ingest_statement_rows_bucket', { le: '+Inf' }), statements)

  assert.deepEqual(
    Object.fromEntries(Object.entries(m.all('system_monitor_http_requests_total')).filter(([labels]) => !labels.startsWith('route=/metrics,'))),
    {
      [`route=/client,status=200`]: registrations,
      'route=/client/:s,status=202': 3 + 2 + 2 + 1,
      'route=/client/:s,status=400': 3,
      'route=/client/:s,status=401': 1,
      'route=/client/:s,status=413': 1,
      'route=/api/v2/write,status=204': 1,
      'route=/api/v2/write,status=400': 2,
    },
  )
})

test('requests are counted by route pattern: no label, nor anything else scraped, holds a client_id or a username', async () => {
  const { username, clientId } = await register()
  assert.equal((await http.post(`/client/${clientId}`, `mem=1&time=${t0}`)).status, 202)
  const paths = [`/client/${clientId}/time`, `/client/${clientId}/time/report`, `/client/${username}/time`, `/client/${clientId}/nope`, `/client/${clientId}/`]
  const statuses = await Promise.all(paths.map(async (p) => (await http.get(p, { authorization: clientId })).status))
  assert.deepEqual(statuses, [200, 200, 200, 404, 405])
  const m = await scrape(server.url)
  const routes = new Set(m.series.filter((s) => s.name === 'system_monitor_http_requests_total').map((s) => s.labels.route))
  assert.deepEqual([...routes].sort(), ['(no route)', '/api/v2/write', '/client', '/client/:s', '/client/:s/time', '/client/:s/time/report', '/metrics'])
  assert.equal(m.value('system_monitor_http_requests_total', { route: '(no route)', status: '404' }), 1)
  assert.equal(m.value('system_monitor_http_requests_total', { route: '/client/:s', status: '405' }), 1)
  for (const secret of [clientId, username, encodeURIComponent(clientId)]) assert.ok(!m.text.includes(secret), secret)
})

test('the levels: the ingest queue and its capacity, statements under way, the pools', async () => {
  // Idle: every statement has come back (none is left counted).
  const m = await scrapeUntil(server.url, (s) => s.value('system_monitor_db_statements_in_flight') === 0)
  assert.equal(m.value('system_monitor_ingest_queue_samples'), 0)
  assert.equal(m.value('system_monitor_ingest_queue_capacity_samples'), 54321)
  assert.equal(m.value('system_monitor_ingest_statements_in_flight'), 0)
  assert.deepEqual(m.all('system_monitor_db_pool_connections'), { 'pool=read': 3, 'pool=write': 2 })
})

test('WebSocket connections and subscriptions are levels that go back down as they end', async () => {
  const level = (s: Awaited<ReturnType<typeof scrape>>) => [s.value('system_monitor_websocket_connections'), s.value('system_monitor_websocket_subscriptions')]
  const idle = await scrapeUntil(server.url, (s) => s.value('system_monitor_websocket_connections') === 0)
  assert.deepEqual(level(idle), [0, 0])
  const [a, b] = [await socket(), await socket()]
  for (const id of ['1', '2', '3']) {
    a.send({ type: 'SUBSCRIBE', request_id: id, data: ['CPU'], interval: 60 })
    assert.match(await a.next(), /SUBSCRIBED/)
  }
  assert.deepEqual(level(await scrape(server.url)), [2, 3])
  a.send({ type: 'UNSUBSCRIBE', request_id: '2' })
  assert.match(await a.next(), /UNSUBSCRIBED/)
  // Unsubscribing what is not held changes nothing.
  a.send({ type: 'UNSUBSCRIBE', request_id: '2' })
  assert.match(await a.next(), /UNSUBSCRIBED/)
  assert.deepEqual(level(await scrape(server.url)), [2, 2])
  a.close()
  await a.closed
  assert.deepEqual(level(await scrapeUntil(server.url, (s) => s.value('system_monitor_websocket_connections') === 1)), [1, 0])
  b.close()
  await b.closed
  assert.deepEqual(level(await scrapeUntil(server.url, (s) => s.value('system_monitor_websocket_connections') === 0)), [0, 0])
})

test("the login throttle's refusals, by the limit that refused", async () => {
  const { username, clientId } = await register()
  const before = await scrape(server.url)
  const wrong = () => http.post('/client', JSON.stringify({ username, pass: 'wrong' }))
  assert.deepEqual([(await wrong()).status, (await wrong()).status], [401, 401])
  // LOGIN_MAX_FAILURES=2: this address is locked out of this username, for the right password and its samples too.
  assert.equal((await http.post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 429)
  assert.equal((await http.post(`/client/${clientId}`, `mem=1&time=${t0}`)).status, 429)
  const m = await scrape(server.url)
  const refusals = (s: typeof m, limit: string) => s.value('system_monitor_login_throttle_refusals_total', { limit }) ?? 0
  assert.equal(refusals(m, 'address') - refusals(before, 'address'), 2)
  assert.equal(refusals(m, 'username'), 0)
  const locked = (s: typeof m) => s.value('system_monitor_uploads_refused_total', { transport: 'http', reason: 'login_locked' }) ?? 0
  assert.equal(locked(m) - locked(before), 1)
})

test("the process's CPU and memory and the event loop's lag, under the runtime's usual names", async () => {
  const m = await scrape(server.url)
  assert.ok(m.value('process_cpu_seconds_total')! > 0)
  assert.ok(m.value('process_resident_memory_bytes')! > 10 * 1024 * 1024)
  assert.ok(m.value('nodejs_heap_size_used_bytes')! > 0)
  const lag = m.value('nodejs_eventloop_lag_seconds')
  assert.ok(lag !== undefined && lag >= 0 && lag < 10, String(lag))
})

test('METRICS=off: /metrics is answered as any unknown path', async () => {
  const off = await startServer({ METRICS: 'off' })
  try {
    const res = await client(off.url).get('/metrics')
    assert.deepEqual([res.status, res.text], [404, '{"error": "not found"}'])
  } finally {
    assert.equal(await off.stop(), 0)
  }
})
