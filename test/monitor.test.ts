// The self-monitoring routes over HTTP, under /api and at the root, against /proc/meminfo and statfs.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { client } from './http.js'
import { startServer, type RunningServer } from './server.js'

let server: RunningServer
let http: ReturnType<typeof client>
let spawnedAt: number
before(async () => {
  spawnedAt = Date.now()
  server = await startServer()
  http = client(server.url)
})
after(async () => {
  assert.equal(await server.stop(), 0)
})

const units: [string, number][] = [['TB', 4], ['GB', 3], ['MB', 2], ['KB', 1], ['B', 0]]
const meminfo = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024
/** df's figures for / in bytes: total, used, available. */
const df = () => {
  const line = execFileSync('df', ['-B1', '--output=size,used,avail', '/'], { encoding: 'utf8' }).trim().split('\n')[1]
  const [total, used, avail] = line.trim().split(/\s+/).map(Number)
  return { total, used, avail }
}

async function both(path: string) {
  const [api, root] = await Promise.all([http.get(`/api${path}`), http.get(path)])
  for (const res of [api, root]) {
    assert.equal(res.status, 200, `${path}: ${res.text}`)
    assert.match(String(res.headers['content-type']), /^application\/json/)
  }
  return [api, root]
}

describe('memory', () => {
  test('memory/info: the 11 keys in order, psutil figures, percent a float', async () => {
    for (const res of await both('/monitor/memory/info?units=KB')) {
      const body = res.json() as Record<string, number>
      assert.deepEqual(Object.keys(body), ['total', 'available', 'percent', 'used', 'free', 'active', 'inactive', 'buffers', 'cached', 'shared', 'slab'])
      assert.match(res.text, /"percent": \d+\.\d\b/)
      assert.equal(body.total, Math.floor(meminfo('MemTotal') / 1024))
      // The rest moves between the server's snapshot and this read: compare within 5% of total memory.
      const near = (key: string, bytes: number) =>
        assert.ok(Math.abs(body[key] * 1024 - bytes) < meminfo('MemTotal') * 0.05, `${key}: ${body[key]} KB vs ${bytes} B`)
      near('available', meminfo('MemAvailable'))
      near('free', meminfo('MemFree'))
      near('cached', meminfo('Cached') + meminfo('SReclaimable'))
      near('active', meminfo('Active'))
      near('shared', meminfo('Shmem'))
      near('used', meminfo('MemTotal') - meminfo('MemFree') - meminfo('Buffers') - meminfo('Cached') - meminfo('SReclaimable'))
      const percent = ((meminfo('MemTotal') - meminfo('MemAvailable')) / meminfo('MemTotal')) * 100
      assert.ok(Math.abs(body.percent - percent) < 5, `percent ${body.percent} vs ${percent}`)
    }
  })

  test('every unit, lower case too, floor-divides the same byte count', async () => {
    const total = meminfo('MemTotal')
    for (const [unit, power] of units) {
      for (const asked of [unit, unit.toLowerCase()]) {
        const [res] = await both(`/monitor/memory/total?units=${asked}`)
        assert.equal(res.text, `{"total": ${Math.floor(total / 1024 ** power)}, "units": "${unit}"}`)
      }
    }
    assert.equal((await http.get('/monitor/memory/total')).text, `{"total": ${Math.floor(total / 1024 ** 3)}, "units": "GB"}`)
  })
})

describe('storage', () => {
  test('storage/info and storage/total for / match df', async () => {
    const fs = df()
    for (const res of await both('/monitor/storage/info?units=B')) {
      const body = res.json() as Record<string, number>
      assert.deepEqual(Object.keys(body), ['total', 'used', 'percent', 'free', 'units'])
      assert.equal(body.units, 'B')
      assert.equal(body.total, fs.total)
      const slack = fs.total * 0.01
      assert.ok(Math.abs(body.used - fs.used) < slack, `used ${body.used} vs df ${fs.used}`)
      assert.ok(Math.abs(body.free - fs.avail) < slack, `free ${body.free} vs df ${fs.avail}`)
      assert.match(res.text, /"percent": \d+\.\d\b/)
      assert.ok(Math.abs(body.percent - (fs.used / (fs.used + fs.avail)) * 100) < 1)
    }
    for (const res of await both('/monitor/storage/total?units=mb')) {
      const body = res.json() as Record<string, number | string>
      assert.deepEqual(Object.keys(body), ['total', 'used', 'units'])
      assert.deepEqual([body.total, body.units], [Math.floor(fs.total / 1024 ** 2), 'MB'])
    }
  })
})

describe('units', () => {
  for (const bad of ['XB', 'gb ', 'G', '', 'bytes', '%00']) {
    test(`units=${JSON.stringify(bad)} is 400 "Bad units provided"`, async () => {
      for (const path of ['/monitor/memory/info', '/api/monitor/memory/total', '/monitor/storage/info', '/api/monitor/storage/total']) {
        const res = await http.get(`${path}?units=${encodeURIComponent(bad)}`)
        assert.deepEqual([res.status, res.text], [400, 'Bad units provided'], path)
      }
    })
  }
})

describe('cpu', () => {
  test('cpu/load is a float percent, also over an interval', async () => {
    for (const res of [...(await both('/monitor/cpu/load')), await http.get('/monitor/cpu/load?interval=0.5'), await http.get('/api/monitor/cpu/load?interval=2')]) {
      assert.equal(res.status, 200)
      assert.match(res.text, /^\{"load": \d+\.\d+\}$/)
      const { load } = res.json() as { load: number }
      assert.ok(load >= 0 && load <= 100)
    }
  })

  for (const interval of ['abc', '0', '-1', '3601', 'NaN', '1e3']) {
    test(`cpu/load?interval=${interval} is a value error`, async () => {
      const res = await http.get(`/monitor/cpu/load?interval=${interval}`)
      assert.deepEqual([res.status, (res.json() as { error: string }).error], [400, 'value error'])
    })
  }

  test('cpu/info: core counts and frequencies as floats', async () => {
    const cores = Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }))
    for (const res of await both('/monitor/cpu/info')) {
      assert.match(res.text, /^\{"physical cores count": \d+, "logical cores count": \d+, "cores frequency": \[\d+\.\d+, \d+\.\d+, \d+\.\d+\]\}$/)
      assert.equal((res.json() as Record<string, number>)['logical cores count'], cores)
    }
  })
})

test('start_time: when the server started and now, in the original formats', async () => {
  const [api, root] = await both('/start_time')
  for (const res of [api, root]) {
    assert.match(
      res.text,
      /^\{"type": "WORK_TIME", "payload": \{"start_work": "[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}", "actual_time": "\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}"\}\}$/,
    )
  }
  const { start_work, actual_time } = (api.json() as { payload: Record<string, string> }).payload
  const started = Date.parse(start_work.slice(5))
  assert.ok(Math.abs(started - spawnedAt) < 10_000, `start_work ${start_work}`)
  assert.ok(Math.abs(Date.parse(actual_time) - Date.now()) < 3000, `actual_time ${actual_time}`)
  assert.deepEqual((root.json() as { payload: Record<string, string> }).payload.start_work, start_work)
})

test('the monitoring routes refuse other methods with 405', async () => {
  for (const path of ['/monitor/cpu/load', '/api/monitor/memory/info', '/monitor/storage/total', '/api/start_time', '/start_time']) {
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await http.send(path, { method })).status, 405, `${method} ${path}`)
  }
})

test('HEAD is answered wherever GET is: the same status and headers, no body', async () => {
  for (const path of ['/', '/api', '/monitor/memory/total?units=GB', '/healthz', '/start_time']) {
    const [get, head] = [await http.get(path), await http.send(path, { method: 'HEAD' })]
    assert.deepEqual([head.status, head.headers['content-type'], head.headers['content-length'], head.text], [get.status, get.headers['content-type'], get.headers['content-length'], ''], path)
  }
  const refused = await http.send('/api', { method: 'DELETE' })
  assert.deepEqual([refused.status, refused.headers.allow], [405, 'GET, HEAD'])
})

test('a plain GET of /echo is told to upgrade', async () => {
  const res = await http.get('/echo')
  assert.equal(res.status, 426)
  assert.equal(typeof (res.json() as { error: string }).error, 'string')
})

test('cpu/load waiting for its history: a client that goes away is forgotten, and past MONITOR_MAX_WAITING one more is refused', async () => {
  const limited = await startServer({ MONITOR_MAX_WAITING: '20' })
  try {
    const url = new URL(limited.url)
    /** A request that waits for an hour of history: its socket, and its answer if one comes. */
    const waiting = () => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/monitor/cpu/load?interval=3600', agent: false })
      const answered = new Promise<number>((resolve) => req.on('response', (res) => resolve(res.statusCode!)))
      req.on('error', () => undefined)
      req.end()
      return { req, answered }
    }
    const http503 = client(limited.url, undefined, true)
    const refused = async () => {
      const res = await http503.get('/monitor/cpu/load?interval=3600')
      assert.deepEqual([res.status, typeof res.headers['retry-after']], [503, 'string'])
    }
    for (let round = 0; round < 3; round++) {
      const held = Array.from({ length: 20 }, waiting)
      // Once the server answers this, it has read the 20 requests sent before it.
      assert.equal((await http503.get('/healthz')).status, 200)
      await refused()
      for (const { req } of held) req.destroy()
      // ...and the 20 clients' going away: the next round finds all 20 places free again.
      assert.equal((await http503.get('/healthz')).status, 200)
      assert.equal(await Promise.race([...held.map((h) => h.answered), Promise.resolve(0)]), 0, 'a held request was answered')
    }
  } finally {
    await limited.stop()
  }
})
