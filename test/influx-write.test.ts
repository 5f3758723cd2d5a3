// InfluxDB's write routes over real sockets: what Telegraf's standard inputs send (gzip too) becomes samples, both
// ways Telegraf authenticates, every precision, all or nothing, refusals in InfluxDB's shape with Retry-After where
// Telegraf retries, and a write from @influxdata/influxdb-client as a real client library sends it.
import { InfluxDB, Point } from '@influxdata/influxdb-client'
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { basic, client, uniqueName } from './http.js'
import { freshDatabase, startServer, type RunningServer } from './server.js'

let server: RunningServer
let http: ReturnType<typeof client>
before(async () => {
  server = await startServer({ MAX_BODY_BYTES: '65536', MAX_BATCH_SAMPLES: '1000', MAX_INFLATED_BYTES: '1048576' })
  http = client(server.url)
})
after(async () => {
  assert.equal(await server.stop(), 0)
})

async function register(password = 'pw'): Promise<{ username: string; clientId: string }> {
  const username = uniqueName('influx')
  assert.equal((await http.post('/client', JSON.stringify({ username, pass: password }))).status, 200)
  return { username, clientId: basic(username, password) }
}

type Row = { cpu: number | null; mem: number | null; storage: number | null; unix_time: number }
async function stored(clientId: string): Promise<Row[]> {
  const res = await http.get(`/client/${encodeURIComponent(clientId)}/time/report`)
  assert.equal(res.status, 200)
  return (res.json() as { payload: Row[] }).payload
}

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const text = { 'content-type': 'text/plain; charset=utf-8' }
const token = (clientId: string) => ({ ...text, authorization: `Token ${clientId}` })

/** One interval of Telegraf's cpu, mem, disk and system inputs, as its influx serializer writes them (ns). */
const telegraf = (seconds: number, host = 'box') => {
  const ns = `${seconds}000000000`
  return [
    `cpu,cpu=cpu0,host=${host} usage_user=10.5,usage_system=2,usage_idle=87.5,usage_iowait=0 ${ns}`,
    `cpu,cpu=cpu-total,host=${host} usage_user=20.25,usage_system=5,usage_idle=74.75,usage_guest=0 ${ns}`,
    `mem,host=${host} active=2000000000i,available=20000000000i,available_percent=80.5,total=25000000000i,used=${6 * GiB + 123}i,used_percent=24.1 ${ns}`,
    `disk,device=sda1,fstype=ext4,host=${host},mode=rw,path=/ free=100000000000i,inodes_used=12i,total=300000000000i,used=${200 * GiB + 5 * MiB}i,used_percent=66.7 ${ns}`,
    `disk,device=sda2,fstype=ext4,host=${host},mode=rw,path=/data free=1i,total=2i,used=${3 * GiB}i,used_percent=50 ${ns}`,
    `system,host=${host} load1=0.5,load5=0.25,load15=0.1,n_cpus=2i,n_users=1i ${ns}`,
    `system,host=${host} uptime=1234i ${ns}`,
    `system,host=${host} uptime_format="0 days,  0:20" ${ns}`,
    `processes,host=${host} running=1i,sleeping=100i,total=101i ${ns}`,
  ].join('\n') + '\n'
}

describe('Telegraf-shaped writes', () => {
  test('v2 with Token auth, gzip and the default nanoseconds: the cpu-total, mem and / lines are one sample a second', async () => {
    const { clientId } = await register()
    const body = gzipSync(telegraf(1_700_000_000) + telegraf(1_700_000_010))
    const res = await http.post('/api/v2/write?org=any&bucket=telegraf', body, { ...token(clientId), 'content-encoding': 'gzip' })
    assert.deepEqual([res.status, res.text, res.headers['x-ignored-lines']], [204, '', '12'])
    assert.deepEqual(await stored(clientId), [
      { cpu: 25.25, mem: 6 * 1024, storage: 200 * 1024 + 5, unix_time: 1_700_000_000 },
      { cpu: 25.25, mem: 6 * 1024, storage: 200 * 1024 + 5, unix_time: 1_700_000_010 },
    ])
  })

  test('v1 with Basic auth (Telegraf v1 username and password), precision, units and another disk path', async () => {
    const { clientId } = await register()
    const seconds = telegraf(1_700_000_000).replaceAll('000000000\n', '\n')
    const res = await http.post('/write?db=telegraf&precision=s&units=GB&path=/data', seconds, { ...text, authorization: `Basic ${clientId}` })
    assert.deepEqual([res.status, res.text], [204, ''])
    assert.deepEqual(await stored(clientId), [{ cpu: 25.25, mem: 6, storage: 3, unix_time: 1_700_000_000 }])
  })

  test('v1 u and p query parameters, and a Token of username:password (InfluxDB 1.8)', async () => {
    const { username, clientId } = await register('s3cr:et')
    const v1 = await http.post(`/write?db=x&precision=s&u=${username}&p=${encodeURIComponent('s3cr:et')}`, 'system mem=1i 10', text)
    assert.equal(v1.status, 204)
    const v18 = await http.post('/api/v2/write?bucket=x&precision=s', 'system mem=2i 11', { ...text, authorization: `Token ${username}:s3cr:et` })
    assert.equal(v18.status, 204)
    assert.deepEqual(await stored(clientId), [
      { cpu: null, mem: 1, storage: null, unix_time: 10 },
      { cpu: null, mem: 2, storage: null, unix_time: 11 },
    ])
  })
})

test('the system measurement, every precision truncated to the second, and the server clock without a timestamp', async () => {
  const { clientId } = await register()
  for (const [precision, timestamp] of [
    ['ns', '1000000001999999999'],
    ['us', '1000000002999999'],
    ['ms', '1000000003999'],
    ['s', '1000000004'],
    ['m', '16666667'],
    ['h', '277778'],
  ]) {
    const res = await http.post(`/api/v2/write?bucket=b&precision=${precision}`, `system cpu_load=12.5,mem=6172i,storage=95888 ${timestamp}`, token(clientId))
    assert.equal(res.status, 204, precision)
  }
  const before = Math.floor(Date.now() / 1000)
  assert.equal((await http.post('/api/v2/write?bucket=b', 'system cpu_load=1\r\nsystem storage=2\r\n', token(clientId))).status, 204)
  const after = Math.floor(Date.now() / 1000)
  const rows = await stored(clientId)
  const sample = { cpu: 12.5, mem: 6172, storage: 95888 }
  assert.deepEqual(rows.slice(0, 6), [
    { ...sample, unix_time: 1_000_000_001 },
    { ...sample, unix_time: 1_000_000_002 },
    { ...sample, unix_time: 1_000_000_003 },
    { ...sample, unix_time: 1_000_000_004 },
    { ...sample, unix_time: 1_000_000_020 },
    { ...sample, unix_time: 1_000_000_800 },
  ])
  assert.equal(rows.length, 7)
  assert.deepEqual({ ...rows[6], unix_time: 0 }, { cpu: 1, mem: null, storage: 2, unix_time: 0 })
  assert.ok(rows[6].unix_time >= before && rows[6].unix_time <= after)
})

describe('refusals, in InfluxDB shape', () => {
  test('all or nothing: a bad line, or a bad value, refuses the batch and names its line', async () => {
    const { clientId } = await register()
    const bad = await http.post('/api/v2/write?precision=s', 'system mem=1i 1\n# fine\nsystem mem=2i 2\nsystem mem= 3\nsystem mem=4i 4', token(clientId))
    assert.equal(bad.status, 400)
    assert.deepEqual(bad.json(), { code: 'invalid', message: "invalid line protocol, line 4: unable to parse 'system mem= 3': missing field value" })
    const value = await http.post('/api/v2/write?precision=s', 'system mem=1i 1\nsystem cpu_load=150 2\n', token(clientId))
    assert.deepEqual([value.status, value.json()], [400, { code: 'invalid', message: 'value error, line 2, field cpu_load: from 0 to 100' }])
    const time = await http.post('/api/v2/write?precision=s', 'system mem=1i 1\nmem used=1i -5\n', token(clientId))
    assert.deepEqual([time.status, time.json()], [400, { code: 'invalid', message: 'value error, line 2, field time: whole unix seconds from 0 to 253402300799' }])
    const type = await http.post('/api/v2/write?precision=s', 'system mem="lots" 1\n', token(clientId))
    assert.deepEqual([type.status, type.json()], [400, { code: 'invalid', message: 'value error, line 1, field mem: not a number' }])
    assert.equal((await http.get(`/client/${encodeURIComponent(clientId)}/time`)).status, 406)
  })

  test('lines of nothing stored are accepted and counted; an empty body is refused', async () => {
    const { clientId } = await register()
    const ignored = await http.post('/write?db=x', 'cpu,cpu=cpu1 usage_idle=1\nnet bytes_recv=1i\ndisk,path=/boot used=1i\n', token(clientId))
    assert.deepEqual([ignored.status, ignored.headers['x-ignored-lines']], [204, '3'])
    assert.equal((await http.get(`/client/${encodeURIComponent(clientId)}/time`)).status, 406)
    const empty = await http.post('/write?db=x', '# nothing\n', token(clientId))
    assert.deepEqual([empty.status, empty.json()], [400, { code: 'invalid', message: 'incorrect data size' }])
  })

  test('bad precision and units are 400; GET is 405', async () => {
    const { clientId } = await register()
    const precision = await http.post('/write?db=x&precision=x', 'system mem=1i', token(clientId))
    assert.deepEqual([precision.status, precision.json()], [400, { code: 'invalid', message: 'invalid precision: "x" is not one of ns, us, ms, s, m, h' }])
    // Names an object inherits are no precision either.
    for (const name of ['constructor', '__proto__', 'toString']) {
      const inherited = await http.post(`/write?db=x&precision=${name}`, 'system mem=1i 1700000000', token(clientId))
      assert.equal(inherited.status, 400, name)
    }
    const units = await http.post('/write?db=x&units=PB', 'system mem=1i', token(clientId))
    assert.deepEqual([units.status, units.json()], [400, { code: 'invalid', message: 'Bad units provided' }])
    const get = await http.get('/api/v2/write')
    assert.deepEqual([get.status, get.json(), get.headers.allow], [405, { code: 'method not allowed', message: 'method not allowed' }, 'POST'])
  })

  test('401 without credentials or with wrong ones, 429 once an address keeps guessing: each with Retry-After', async () => {
    const { username } = await register()
    const none = await http.post('/api/v2/write?bucket=b', 'system mem=1i', text)
    assert.deepEqual([none.status, none.json(), none.headers['retry-after']], [401, { code: 'unauthorized', message: 'authorization error' }, '10'])
    const wrong = basic(username, 'nope')
    // Another address than the other tests', so that only these guesses count (the login throttle).
    const guesser = client(server.url, '127.0.0.7')
    for (let i = 0; i < 5; i++) assert.equal((await guesser.post('/api/v2/write?bucket=b', 'system mem=1i', token(wrong))).status, 401)
    const locked = await guesser.post('/api/v2/write?bucket=b', 'system mem=1i', token(wrong))
    assert.deepEqual([locked.status, locked.json(), locked.headers['retry-after']], [429, { code: 'too many requests', message: 'too many failed logins, try again later' }, '60'])
  })

  test('413 for a body, an inflated body or a batch over its limit', async () => {
    const { clientId } = await register()
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `system mem=${i}i ${i}`).join('\n')
    const large = await http.post('/api/v2/write?precision=s', 'x'.repeat(70_000), token(clientId))
    assert.equal(large.status, 413)
    assert.equal(large.headers['retry-after'], '10')
    assert.deepEqual(large.json(), { code: 'request too large', message: 'body over the limit of 65536 bytes (MAX_BODY_BYTES)' })
    const bomb = await http.post('/api/v2/write?precision=s', gzipSync(`system mem=1i ${' '.repeat(2 * MiB)}`), { ...token(clientId), 'content-encoding': 'gzip' })
    assert.deepEqual([bomb.status, (bomb.json() as { message: string }).message], [413, 'inflated body over the limit of 1048576 bytes (MAX_INFLATED_BYTES)'])
    const batch = await http.post('/api/v2/write?precision=s', gzipSync(lines(1001)), { ...token(clientId), 'content-encoding': 'gzip' })
    assert.deepEqual([batch.status, (batch.json() as { message: string }).message], [413, 'a batch holds at most 1000 samples (MAX_BATCH_SAMPLES)'])
    assert.equal((await http.post('/api/v2/write?precision=s', gzipSync(lines(1000)), { ...token(clientId), 'content-encoding': 'gzip' })).status, 204)
    assert.equal((await stored(clientId)).length, 1000)
  })

  test('503 with Retry-After while the database is away', async () => {
    const fresh = await freshDatabase('influx_away')
    const away = await startServer({ DATABASE_URL: fresh.url })
    let dropped = false
    try {
      const on = client(away.url, undefined, true)
      const username = uniqueName('away')
      assert.equal((await on.post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 200)
      await fresh.drop()
      dropped = true
      const res = await on.post('/api/v2/write?precision=s', 'system mem=1i 1', token(basic(username, 'pw')))
      assert.deepEqual([res.status, res.json(), res.headers['retry-after']], [503, { code: 'unavailable', message: 'database unavailable' }, '1'])
    } finally {
      await away.stop()
      if (!dropped) await fresh.drop()
    }
  })
})

test('@influxdata/influxdb-client writes points as a client library does, plain and gzip', async () => {
  const { clientId } = await register()
  const influx = new InfluxDB({ url: server.url, token: clientId })
  for (const gzipThreshold of [1_000_000, 1]) {
    const writer = influx.getWriteApi('my-org', 'my-bucket', 's', { gzipThreshold, maxRetries: 0, defaultTags: { host: 'box' } })
    const t = gzipThreshold === 1 ? 1_700_000_100 : 1_700_000_000
    writer.writePoint(new Point('system').floatField('cpu_load', 33.5).intField('mem', 4096).timestamp(t))
    writer.writePoint(new Point('cpu').tag('cpu', 'cpu-total').floatField('usage_idle', 90).timestamp(t + 1))
    writer.writePoint(new Point('disk').tag('path', '/').intField('used', 10 * MiB).stringField('note', 'a "quoted", spaced=string').timestamp(t + 1))
    await writer.close()
  }
  assert.deepEqual(await stored(clientId), [
    { cpu: 33.5, mem: 4096, storage: null, unix_time: 1_700_000_000 },
    { cpu: 10, mem: null, storage: 10, unix_time: 1_700_000_001 },
    { cpu: 33.5, mem: 4096, storage: null, unix_time: 1_700_000_100 },
    { cpu: 10, mem: null, storage: 10, unix_time: 1_700_000_101 },
  ])
})
