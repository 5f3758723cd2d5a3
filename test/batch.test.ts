// Batch uploads (JSON arrays, NDJSON, gzip) and the write path's promises: all or nothing, nothing
// acknowledged before it is committed, and 503 instead of unbounded memory when PostgreSQL falls behind.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import postgres from 'postgres'
import { mergeBatch } from '../src/ingest/writer.js'
import { basic, client, uniqueName } from './http.js'
import { freshDatabase, startServer, type FreshDatabase, type RunningServer } from './server.js'
import { connect } from './ws.js'

let server: RunningServer
let http: ReturnType<typeof client>
before(async () => {
  server = await startServer({ MAX_BATCH_SAMPLES: '5000' })
  http = client(server.url)
})
after(async () => {
  assert.equal(await server.stop(), 0)
})

async function register(on = http) {
  const username = uniqueName('batch')
  assert.equal((await on.post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 200)
  return basic(username, 'pw')
}

const samples = (n: number, from = 1_000_000) =>
  Array.from({ length: n }, (_, i) => ({ cpu_load: (i % 1000) / 10, mem: i, storage: 2 * i, time: from + i }))
const json = { 'content-type': 'application/json' }
const ndjson = { 'content-type': 'application/x-ndjson' }

async function stored(clientId: string): Promise<{ cpu: number; mem: number; storage: number; unix_time: number }[]> {
  const res = await http.get(`/client/${clientId}/time/report`)
  assert.equal(res.status, 200)
  return (res.json() as { payload: { cpu: number; mem: number; storage: number; unix_time: number }[] }).payload
}

describe('batch uploads', () => {
  test('a JSON array of 1,000 samples is answered {"accepted": 1000} and stored exactly', async () => {
    const clientId = await register()
    const batch = samples(1000)
    const res = await http.post(`/client/${clientId}`, JSON.stringify(batch), json)
    assert.deepEqual([res.status, res.text], [202, '{"accepted": 1000}'])
    const rows = await stored(clientId)
    assert.equal(rows.length, 1000)
    assert.deepEqual(rows[999], { cpu: 99.9, mem: 999, storage: 1998, unix_time: 1_000_999 })
    assert.deepEqual(
      rows.map((r) => r.unix_time),
      batch.map((s) => s.time),
    )
  })

  test('NDJSON, with blank lines and a final newline, and with the form content type for arrays', async () => {
    const clientId = await register()
    const body = samples(3).map((s) => JSON.stringify(s)).join('\n\n') + '\n'
    assert.deepEqual([(await http.post(`/client/${clientId}`, body, ndjson)).text], ['{"accepted": 3}'])
    const curlStyle = await http.post(`/client/${clientId}`, JSON.stringify(samples(2, 2_000_000)))
    assert.deepEqual([curlStyle.status, curlStyle.text], [202, '{"accepted": 2}'])
    assert.equal((await stored(clientId)).length, 5)
  })

  test('gzip-encoded arrays and NDJSON', async () => {
    const clientId = await register()
    const array = await http.post(`/client/${clientId}`, gzipSync(JSON.stringify(samples(500))), { ...json, 'content-encoding': 'gzip' })
    assert.deepEqual([array.status, array.text], [202, '{"accepted": 500}'])
    const lines = gzipSync(samples(10, 3_000_000).map((s) => JSON.stringify(s)).join('\n'))
    const nd = await http.post(`/client/${clientId}`, lines, { ...ndjson, 'content-encoding': 'gzip' })
    assert.deepEqual([nd.status, nd.text], [202, '{"accepted": 10}'])
    const one = await http.post(`/client/${clientId}`, gzipSync('cpu_load=5&time=7'), { 'content-encoding': 'gzip' })
    assert.deepEqual([one.status, one.text], [202, '{"cpu_load": 5.0, "time": 7}'])
    assert.equal((await stored(clientId)).length, 511)
  })

  test('gzip that inflates past the limit is 413; broken gzip 400; another encoding 415', async () => {
    const clientId = await register()
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, ' '))
    assert.ok(bomb.length < 64 * 1024)
    assert.equal((await http.post(`/client/${clientId}`, bomb, { 'content-encoding': 'gzip' })).status, 413)
    assert.equal((await http.post(`/client/${clientId}`, 'not gzip', { 'content-encoding': 'gzip' })).status, 400)
    assert.equal((await http.post(`/client/${clientId}`, 'mem=1', { 'content-encoding': 'br' })).status, 415)
    assert.equal((await http.get(`/client/${clientId}/time`)).status, 406)
  })

  test('all or nothing: one bad sample rejects the batch, naming its index', async () => {
    const clientId = await register()
    const batch: unknown[] = samples(10)
    batch[3] = { cpu_load: 250, time: 5 }
    const res = await http.post(`/client/${clientId}`, JSON.stringify(batch), json)
    assert.deepEqual([res.status, res.json()], [400, { error: 'value error', index: 3, field: 'cpu_load', detail: 'from 0 to 100' }])
    const nd = await http.post(`/client/${clientId}`, '{"mem": 1}\n{"mem": 2\n{"mem": 3}', ndjson)
    assert.equal(nd.status, 400)
    assert.deepEqual([(nd.json() as { error: string }).error, (nd.json() as { index: number }).index], ['invalid JSON', 1])
    const empty = await http.post(`/client/${clientId}`, '[{"mem": 1}, {}]', json)
    assert.deepEqual([empty.status, empty.json()], [400, { error: 'incorrect data size', index: 1 }])
    for (const body of ['[]', '[1, 2]', '[[{"mem": 1}]]']) assert.equal((await http.post(`/client/${clientId}`, body, json)).status, 400, body)
    assert.equal((await http.get(`/client/${clientId}/time`)).status, 406)
  })

  test('a batch over MAX_BATCH_SAMPLES is 413', async () => {
    const clientId = await register()
    const res = await http.post(`/client/${clientId}`, JSON.stringify(samples(5001)), json)
    assert.equal(res.status, 413)
    assert.match((res.json() as { error: string }).error, /MAX_BATCH_SAMPLES/)
  })

  test('a gzip batch of millions of samples is refused before they are read, in bounded memory', async () => {
    const clientId = await register()
    // About 60 KB each, inflating to 15 MiB (under MAX_INFLATED_BYTES): 5 million samples of the smallest kind.
    const bodies = [
      ['json', gzipSync(`[${'{},'.repeat(5_000_000)}{}]`), json],
      ['ndjson', gzipSync('{}\n'.repeat(5_000_000)), { 'content-type': 'application/x-ndjson' }],
    ] as const
    const before = server.memory().peak
    for (const [name, body, headers] of bodies) {
      const res = await http.post(`/client/${clientId}`, body, { ...headers, 'content-encoding': 'gzip' })
      assert.deepEqual([res.status, (res.json() as { error: string }).error], [413, 'a batch holds at most 5000 samples (MAX_BATCH_SAMPLES)'], name)
    }
    // Building them took the server past a gigabyte; the inflated text alone is 15 MiB (30 MB as a string at most).
    const grown = server.memory().peak - before
    assert.ok(grown < 150 * 2 ** 20, `the server's peak memory grew by ${Math.round(grown / 2 ** 20)} MB`)
  })

  test('samples for one second inside a batch merge like re-sent ones', async () => {
    const clientId = await register()
    const batch = [{ cpu_load: 1, mem: 1, time: 9 }, { mem: 2, time: 9 }, { storage: 3, time: 9 }, { cpu_load: 4, time: 10 }]
    assert.equal((await http.post(`/client/${clientId}`, JSON.stringify(batch), json)).text, '{"accepted": 4}')
    assert.deepEqual(await stored(clientId), [
      { cpu: 1, mem: 2, storage: 3, unix_time: 9 },
      { cpu: 4, mem: null, storage: null, unix_time: 10 },
    ])
  })

  test('a batch overlapping stored seconds merges into them, and so do the batches after it', async () => {
    const clientId = await register()
    const post = async (batch: object[]) => (await http.post(`/client/${clientId}`, JSON.stringify(batch), json)).text
    const seconds = (from: number, to: number, field: string) => Array.from({ length: to - from + 1 }, (_, i) => ({ [field]: from + i, time: from + i }))
    assert.equal(await post(seconds(1, 5, 'cpu_load')), '{"accepted": 5}')
    assert.equal(await post(seconds(4, 7, 'mem')), '{"accepted": 4}')
    assert.equal(await post(seconds(8, 9, 'storage')), '{"accepted": 2}')
    assert.equal(await post(seconds(9, 10, 'mem')), '{"accepted": 2}')
    const row = (t: number, cpu: number | null, mem: number | null, storage: number | null) => ({ cpu, mem, storage, unix_time: t })
    assert.deepEqual(await stored(clientId), [
      row(1, 1, null, null), row(2, 2, null, null), row(3, 3, null, null), row(4, 4, 4, null), row(5, 5, 5, null),
      row(6, null, 6, null), row(7, null, 7, null), row(8, null, null, 8), row(9, null, 9, 9), row(10, null, 10, null),
    ])
  })

  test('a slice prints stored floats as Python does, across the notations PostgreSQL writes differently', async () => {
    const clientId = await register()
    // [value sent, Python's repr of it]: PostgreSQL drops ".0" from integral floats and uses exponents from 1e15.
    const cases: [string, string][] = [
      ['1500000', '1500000.0'], ['123456789', '123456789.0'], ['0', '0.0'], ['-0.0', '-0.0'], ['1.5', '1.5'],
      ['1e15', '1000000000000000.0'], ['1.5e15', '1500000000000000.0'], ['1234567890123456.5', '1234567890123456.5'],
      ['9999999999999998', '9999999999999998.0'], ['1e16', '1e+16'], ['1e22', '1e+22'], ['123456789012345678901', '1.2345678901234568e+20'],
      ['0.0001', '0.0001'], ['0.00001', '1e-05'], ['2.5e-7', '2.5e-07'], ['0.1', '0.1'], ['1e300', '1e+300'], ['9.999999999999999e299', '9.999999999999999e+299'],
    ]
    const body = `[${cases.map(([sent], i) => `{"mem": ${sent}, "storage": ${i}.25, "time": ${i + 1}}`).join(', ')}]`
    assert.equal((await http.post(`/client/${clientId}`, body, json)).text, `{"accepted": ${cases.length}}`)
    const res = await http.get(`/client/${clientId}/time/report`)
    const rows = cases.map(([, repr], i) => `{"cpu": null, "mem": ${repr}, "storage": ${i}.25, "unix_time": ${i + 1}}`)
    assert.equal(res.text, `{"payload": [${rows.join(', ')}]}`)
  })

  test('WebSocket CLIENT_DATA with an array of samples', async () => {
    const clientId = await register()
    const ws = await connect(server.url)
    ws.send({ type: 'HELLO' })
    await ws.next()
    ws.send({ type: 'CLIENT_DATA', data: samples(100), interval: 1, client_id: clientId })
    assert.equal(await ws.next(), '{"type": "DATA_RETURN", "payload": {"accepted": 100}}')
    ws.send({ type: 'CLIENT_DATA', data: [{ mem: 1 }, { mem: -1 }], interval: 1, client_id: clientId })
    assert.equal(await ws.next(), '{"type": "ERROR", "reason": "value error"}')
    ws.close()
    assert.equal((await stored(clientId)).length, 100)
  })
})

test('mergeBatch: one row per client and second, later fields winning, sorted by client then time', () => {
  const s = (t: number, cpu: number | null, mem: number | null) => ({ t, cpu, mem, storage: null })
  assert.deepEqual(
    mergeBatch([
      { clientId: 2, samples: [s(5, 1, null), s(3, 1, 1)] },
      { clientId: 1, samples: [s(5, null, 7)] },
      { clientId: 2, samples: [s(5, null, 9), s(5, 4, null)] },
    ]),
    { clientIds: [1, 2, 2], samples: [s(5, null, 7), s(3, 1, 1), s(5, 4, 9)] },
  )
  // Already in order: the same rows; a second repeated at the end of otherwise ordered rows still merges.
  const ordered = [{ clientId: 1, samples: [s(1, 1, 1), s(2, 2, 2)] }, { clientId: 2, samples: [s(1, 3, 3)] }]
  assert.deepEqual(mergeBatch(ordered), { clientIds: [1, 1, 2], samples: [s(1, 1, 1), s(2, 2, 2), s(1, 3, 3)] })
  assert.deepEqual(mergeBatch([{ clientId: 1, samples: [s(1, 1, 1), s(2, 2, 2), s(2, null, 5)] }]), {
    clientIds: [1, 1],
    samples: [s(1, 1, 1), s(2, 2, 5)],
  })
})

describe('when PostgreSQL falls behind', () => {
  // A database of its own: this test locks its samples table.
  let fresh: FreshDatabase
  let db: ReturnType<typeof postgres>
  let slow: RunningServer
  before(async () => {
    fresh = await freshDatabase('behind')
    slow = await startServer({ DATABASE_URL: fresh.url, INGEST_MAX_QUEUED: '20', INGEST_QUEUE_WAIT_MS: '100', INGEST_CONCURRENCY: '1' })
    db = postgres(fresh.url, { max: 2, onnotice: () => undefined })
  })
  after(async () => {
    await db.end()
    assert.equal(await slow.stop(), 0)
    await fresh.drop()
  })

  test('nothing is acknowledged before it is committed, and a full queue answers 503 with Retry-After', async () => {
    const on = client(slow.url, undefined, true)
    const clientId = await register(on)
    const lock = await db.reserve()
    await lock`begin`
    await lock`lock table samples in exclusive mode`
    const answered: number[] = []
    const post = (body: string) => on.post(`/client/${clientId}`, body, json).then((r) => (answered.push(r.status), r))

    // The one statement allowed in flight waits on the lock...
    const first = post('{"mem": 1, "time": 1}')
    for (;;) {
      const [{ n }] = await db`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
      if (n > 0) break
      await new Promise((r) => setTimeout(r, 10))
    }
    // ...so the queue fills: whichever of these two arrives second finds no room for its samples.
    const [twenty, five] = [post(JSON.stringify(samples(20, 100))), post(JSON.stringify(samples(5, 500)))]
    const refused = await Promise.race([twenty, five])
    assert.equal(refused.status, 503)
    assert.match(String(refused.headers['retry-after']), /^\d+$/)
    assert.match((refused.json() as { error: string }).error, /INGEST_MAX_QUEUED/)
    assert.deepEqual(answered, [503], 'something was acknowledged while the table was locked')

    await lock`commit`
    lock.release()
    const results = await Promise.all([first, twenty, five])
    const acknowledged = [1, 20, 5].filter((_, i) => results[i].status === 202).reduce((a, b) => a + b, 0)
    assert.equal(results.filter((r) => r.status === 202).length, 2)
    const [{ n }] = await db`select count(*)::int as n from samples`
    assert.equal(n, acknowledged)
  })
})
