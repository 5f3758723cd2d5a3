// The /echo WebSocket protocol, row by row of the contract, comparing whole strings as its clients do.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { basic, client, uniqueName } from './http.js'
import { scrape, scrapeUntil } from './metrics.js'
import { startServer, target, type RunningServer } from './server.js'
import { connect, type Socket } from './ws.js'

let server: RunningServer
const open: Socket[] = []

before(async () => {
  server = await startServer()
})
after(async () => {
  for (const s of open) s.close()
  assert.equal(await server.stop(), 0)
})

const welcome = '{"type": "WELCOME", "payload": {"welcome": "WELCOME"}}'
const notJson = '{"type": "ERROR", "reason": "Data type incorrect, please use json"}'
const error = (reason: string) => `{"type": "ERROR", "reason": "${reason}"}`

async function socket(greet = true): Promise<Socket> {
  const s = await connect(server.url)
  open.push(s)
  if (greet) {
    s.send({ type: 'HELLO' })
    assert.equal(await s.next(), welcome)
  }
  return s
}

async function register(): Promise<string> {
  const username = uniqueName('ws')
  const res = await client(server.url).post('/client', JSON.stringify({ username, pass: 'pw' }))
  assert.equal(res.status, 200)
  return basic(username, 'pw')
}

/** The EVENTs of one request id, skipping others'. */
async function nextEvent(s: Socket, request: string): Promise<Record<string, unknown>> {
  for (;;) {
    const text = await s.next()
    const message = JSON.parse(text) as { type: string; payload: Record<string, unknown> }
    assert.equal(message.type, 'EVENT', text)
    if (JSON.stringify(message.payload.request) === request) return message.payload
  }
}

describe('greeting and errors', () => {
  test('HELLO is answered WELCOME, any number of times', async () => {
    const s = await socket()
    for (let i = 0; i < 3; i++) {
      s.send('{"type": "HELLO"}')
      assert.equal(await s.next(), welcome)
    }
  })

  test('anything but HELLO before the first HELLO is refused', async () => {
    const s = await socket(false)
    for (const m of ['{"type": "WORK_TIME"}', '{"type": "SUBSCRIBE", "request_id": "1", "data": ["CPU"], "interval": 1}', '{"type": "CLIENT_DATA"}']) {
      s.send(m)
      assert.equal(await s.next(), notJson)
    }
    s.send('{"type": "HELLO"}')
    assert.equal(await s.next(), welcome)
  })

  for (const [name, frame] of [
    ['not JSON', 'hello there'],
    ['truncated JSON', '{"type": "HELLO"'],
    ['a JSON array', '["HELLO"]'],
    ['a JSON string', '"HELLO"'],
    ['no type', '{"request_id": "1"}'],
    ['an unknown type', '{"type": "GOODBYE"}'],
    ['a type that is not a string', '{"type": 5}'],
    ['lower-case hello after the greeting', '{"type": "hello"}'],
  ]) {
    test(`${name} is answered with the JSON error`, async () => {
      const s = await socket()
      s.send(frame)
      assert.equal(await s.next(), notJson)
      // The connection is still usable.
      s.send('{"type": "HELLO"}')
      assert.equal(await s.next(), welcome)
    })
  }

  test('a binary frame is answered with the JSON error', async () => {
    const s = await socket()
    s.ws.send(Buffer.from('{"type": "HELLO"}'), { binary: true })
    assert.equal(await s.next(), notJson)
  })

  test('a frame over the size limit closes that connection only', async () => {
    const s = await socket()
    s.send(JSON.stringify({ type: 'HELLO', pad: 'x'.repeat(1_100_000) }))
    // uWS drops the connection (1006); Deno cannot drop a WebSocket, and closes it with 1009 (message too big).
    assert.equal(await s.closed, target === 'deno' ? 1009 : 1006)
    const other = await socket()
    other.send({ type: 'HELLO' })
    assert.equal(await other.next(), welcome)
  })
})

describe('WORK_TIME', () => {
  test('the connection open time and now, in the original formats', async () => {
    const s = await socket()
    s.send({ type: 'WORK_TIME' })
    const text = await s.next()
    assert.match(
      text,
      /^\{"type": "WORK_TIME", "payload": \{"start_work": "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}", "actual_time": "\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}"\}\}$/,
    )
    const { start_work, actual_time } = (JSON.parse(text) as { payload: Record<string, string> }).payload
    assert.equal(start_work.length, 25)
    assert.equal(actual_time.length, 20)
  })
})

describe('SUBSCRIBE and UNSUBSCRIBE', () => {
  test('SUBSCRIBED, then EVENTs with the subscribed metrics in the contract layout', async () => {
    const s = await socket()
    s.send({ type: 'SUBSCRIBE', request_id: '1', data: ['CPU', 'MEM', 'STORAGE'], interval: '0.1' })
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": "1"}}')
    const text = await s.next()
    assert.match(
      text,
      new RegExp(
        '^\\{"type": "EVENT", "payload": \\{"request": "1", "cpu": \\d+\\.\\d+, ' +
          '"mem": \\{"total": \\d+, "available": \\d+, "percent": \\d+\\.\\d+, "used": \\d+, "free": \\d+, "active": \\d+, ' +
          '"inactive": \\d+, "buffers": \\d+, "cached": \\d+, "shared": \\d+, "slab": \\d+\\}, ' +
          '"storage": \\{"total": \\d+, "percent": \\d+\\.\\d+, "used": \\d+, "free": \\d+\\}\\}\\}$',
      ),
    )
    const mem = (JSON.parse(text) as { payload: { mem: { total: number } } }).payload.mem
    const meminfoTotalMb = Math.floor((Number(/MemTotal:\s+(\d+)/.exec(await import('node:fs').then((fs) => fs.readFileSync('/proc/meminfo', 'utf8')))![1]) * 1024) / 1048576)
    assert.equal(mem.total, meminfoTotalMb)
  })

  test('metrics not subscribed are null; the request id is echoed as given', async () => {
    const s = await socket()
    s.send('{"type": "SUBSCRIBE", "request_id": 5.0, "data": ["CPU"], "interval": 0.1}')
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": 5.0}}')
    assert.match(await s.next(), /^\{"type": "EVENT", "payload": \{"request": 5\.0, "cpu": \d+\.\d+, "mem": null, "storage": null\}\}$/)
    s.send('{"type": "SUBSCRIBE", "request_id": "ü", "data": ["STORAGE"], "interval": 0.1}')
    // EVENTs of id 5.0 may come first; SUBSCRIBED for "ü" comes, escaped as Python escapes it.
    for (;;) {
      const text = await s.next()
      if (text.startsWith('{"type": "EVENT"')) continue
      assert.equal(text, '{"type": "SUBSCRIBED", "payload": {"request_id": "\\u00fc"}}')
      break
    }
    const event = await nextEvent(s, '"ü"')
    assert.deepEqual([event.cpu, event.mem], [null, null])
  })

  test('the same request id again while subscribed is a collision; "5" and 5 are different ids', async () => {
    const s = await socket()
    s.send({ type: 'SUBSCRIBE', request_id: '5', data: ['CPU'], interval: 60 })
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": "5"}}')
    s.send({ type: 'SUBSCRIBE', request_id: '5', data: ['MEM'], interval: 60 })
    assert.equal(await s.next(), error('request id collision'))
    s.send({ type: 'SUBSCRIBE', request_id: 5, data: ['MEM'], interval: 60 })
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": 5}}')
    s.send({ type: 'UNSUBSCRIBE', request_id: '5' })
    assert.equal(await s.next(), '{"type": "UNSUBSCRIBED", "payload": {"request_id": "5"}}')
    s.send({ type: 'SUBSCRIBE', request_id: '5', data: ['MEM'], interval: 60 })
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": "5"}}')
  })

  test('two connections use the same request id independently', async () => {
    const a = await socket()
    const b = await socket()
    for (const s of [a, b]) {
      s.send({ type: 'SUBSCRIBE', request_id: '1', data: ['CPU'], interval: 0.1 })
      assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": "1"}}')
    }
    a.send({ type: 'UNSUBSCRIBE', request_id: '1' })
    await nextEvent(b, '"1"')
    await nextEvent(b, '"1"')
  })

  test('UNSUBSCRIBE stops the EVENTs of that id, and only those', async () => {
    const s = await socket()
    s.send({ type: 'SUBSCRIBE', request_id: 'stop', data: ['CPU'], interval: 0.1 })
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": "stop"}}')
    await nextEvent(s, '"stop"')
    s.send({ type: 'UNSUBSCRIBE', request_id: 'stop' })
    for (;;) {
      const text = await s.next()
      if (text === '{"type": "UNSUBSCRIBED", "payload": {"request_id": "stop"}}') break
      assert.match(text, /"request": "stop"/)
    }
    // A second subscription is the clock: by its fifth EVENT, "stop" would have sent several more.
    s.send({ type: 'SUBSCRIBE', request_id: 'clock', data: [], interval: 0.1 })
    assert.equal(await s.next(), '{"type": "SUBSCRIBED", "payload": {"request_id": "clock"}}')
    for (let i = 0; i < 5; i++) {
      const text = await s.next()
      assert.equal(text, '{"type": "EVENT", "payload": {"request": "clock", "cpu": null, "mem": null, "storage": null}}')
    }
  })

  test('intervals: numbers and numeric strings, clamped to at least 0.1 s', async () => {
    const s = await socket()
    // "0.3" fires about three times per second, "1" once: count "0.3"s before the first "1".
    s.send({ type: 'SUBSCRIBE', request_id: 'slow', data: [], interval: 1 })
    s.send({ type: 'SUBSCRIBE', request_id: 'fast', data: [], interval: '0.3' })
    s.send({ type: 'SUBSCRIBE', request_id: 'zero', data: [], interval: 0 })
    const counts: Record<string, number> = { fast: 0, zero: 0 }
    for (let subscribed = 0; subscribed < 3; ) if ((await s.next()).includes('SUBSCRIBED')) subscribed++
    for (;;) {
      const request = (JSON.parse(await s.next()) as { payload: { request: string } }).payload.request
      if (request === 'slow') break
      counts[request]++
    }
    assert.ok(counts.fast >= 2 && counts.fast <= 4, `"0.3" fired ${counts.fast} times in a second`)
    assert.ok(counts.zero >= 7, `0 (clamped to 0.1) fired ${counts.zero} times in a second`)
  })

  for (const [name, message] of [
    ['a word for interval', { type: 'SUBSCRIBE', request_id: 'x', data: ['CPU'], interval: 'soon' }],
    ['an empty interval', { type: 'SUBSCRIBE', request_id: 'x', data: ['CPU'], interval: '' }],
    ['a list for interval', { type: 'SUBSCRIBE', request_id: 'x', data: ['CPU'], interval: [1] }],
    ['an unknown metric', { type: 'SUBSCRIBE', request_id: 'x', data: ['GPU'], interval: 1 }],
    ['data not a list', { type: 'SUBSCRIBE', request_id: 'x', data: 'CPU', interval: 1 }],
    ['no request id', { type: 'SUBSCRIBE', data: ['CPU'], interval: 1 }],
  ] as const) {
    test(`SUBSCRIBE with ${name} is a value error`, async () => {
      const s = await socket()
      s.send(message)
      assert.equal(await s.next(), error('value error'))
    })
  }
})

describe('CLIENT_DATA', () => {
  const clientData = (data: unknown, clientId: string) => ({ type: 'CLIENT_DATA', data, interval: 1, client_id: clientId })

  test('answered after commit with the data echoed as received', async () => {
    const clientId = await register()
    const s = await socket()
    s.send('{"type": "CLIENT_DATA", "data": {"cpu_load": 26, "mem": 6172.0, "storage": 95888, "time": 1646650624}, "interval": 1, "client_id": "' + clientId + '"}')
    assert.equal(await s.next(), '{"type": "DATA_RETURN", "payload": {"data": {"cpu_load": 26, "mem": 6172.0, "storage": 95888, "time": 1646650624}}}')
    const slice = await client(server.url).get(`/client/${clientId}/time/report`)
    assert.equal(slice.text, '{"payload": [{"cpu": 26.0, "mem": 6172.0, "storage": 95888.0, "unix_time": 1646650624}]}')
  })

  test('the echo is json.dumps of the data as parsed: keys in the order sent, other keys too, numbers as Python reads them', async () => {
    const clientId = await register()
    const s = await socket()
    s.send(`{"type": "CLIENT_DATA", "client_id": "${clientId}", "data": {"storage":2E3, "note":"caf\u00e9", "mem" : 1e3, "time":1646650625, "cpu_load":-0}}`)
    assert.equal(await s.next(), '{"type": "DATA_RETURN", "payload": {"data": {"storage": 2000.0, "note": "caf\\u00e9", "mem": 1000.0, "time": 1646650625, "cpu_load": 0}}}')
  })

  test('the GUI client: HELLO before every sample, its json.dumps(indent=4) frames, time first and echoed first', async () => {
    const clientId = await register()
    const s = await socket(false)
    for (let t = 1700000000; t < 1700000003; t++) {
      s.send('{"type": "HELLO"}')
      assert.equal(await s.next(), welcome)
      const data = { time: t, cpu_load: 12.5, mem: 5600 }
      s.send(JSON.stringify({ type: 'CLIENT_DATA', data, interval: 2, client_id: clientId }, null, 4))
      assert.equal(await s.next(), `{"type": "DATA_RETURN", "payload": {"data": {"time": ${t}, "cpu_load": 12.5, "mem": 5600}}}`)
    }
    const span = await client(server.url).get(`/client/${clientId}/time`)
    assert.deepEqual(span.json(), { start: 1700000000, end: 1700000002 })
  })

  test('errors: empty data, bad values, credentials that do not authenticate; nothing stored', async () => {
    const clientId = await register()
    const s = await socket()
    const cases: [unknown, string, string][] = [
      [{}, clientId, 'incorrect data size'],
      [{ foo: 1 }, clientId, 'incorrect data size'],
      [[], clientId, 'incorrect data size'],
      ['cpu', clientId, 'incorrect data size'],
      [{ cpu_load: 101 }, clientId, 'value error'],
      [{ mem: -1 }, clientId, 'value error'],
      [{ mem: '5' }, clientId, 'value error'],
      [{ mem: 5, time: 1.5 }, clientId, 'value error'],
      [{ mem: 5 }, basic('nobody', 'x'), 'authorization error'],
      [{ mem: 5 }, 'garbage', 'authorization error'],
      [{ mem: 5 }, clientId.slice(0, -4), 'authorization error'],
    ]
    for (const [data, id, reason] of cases) {
      s.send(clientData(data, id))
      assert.equal(await s.next(), error(reason), JSON.stringify(data))
    }
    s.send({ type: 'CLIENT_DATA', data: { mem: 5 } })
    assert.equal(await s.next(), error('authorization error'))
    assert.equal((await client(server.url).get(`/client/${clientId}/time`)).status, 406)
  })

  test('replies keep the order of the requests while samples wait for their commit', async () => {
    const clientId = await register()
    const s = await socket()
    const expected: string[] = []
    for (let i = 0; i < 50; i++) {
      s.send(clientData({ mem: i, time: 1000 + i }, clientId))
      expected.push(`{"type": "DATA_RETURN", "payload": {"data": {"mem": ${i}, "time": ${1000 + i}}}}`)
      s.send({ type: 'HELLO' })
      expected.push(welcome)
      if (i % 10 === 0) {
        s.send(clientData({}, clientId))
        expected.push(error('incorrect data size'))
      }
    }
    for (const want of expected) assert.equal(await s.next(), want)
    assert.deepEqual((await client(server.url).get(`/client/${clientId}/time`)).json(), { start: 1000, end: 1049 })
  })
})

/** Whether the server's process still holds the TCP connection whose other end is this process's `port`. */
function serverHolds(port: number): boolean {
  const hex = (n: number) => `:${n.toString(16).toUpperCase().padStart(4, '0')}`
  const sockets = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, remote, , , , , , , inode] = line.trim().split(/\s+/)
      if (local?.endsWith(hex(server.port)) && remote?.endsWith(hex(port))) sockets.add(`socket:[${inode}]`)
    }
  }
  return readdirSync(`/proc/${server.pid}/fd`).some((fd) => {
    try {
      return sockets.has(readlinkSync(`/proc/${server.pid}/fd/${fd}`))
    } catch {
      return false // closed meanwhile
    }
  })
}

test('a WebSocket that never reads is dropped: its connection closed at once, without a close frame, and no longer counted', async () => {
  const connections = async () => (await scrape(server.url)).value('system_monitor_websocket_connections')!
  const s = await socket()
  const counted = await connections()
  const tcp = (s.ws as unknown as { _socket: { localPort: number; pause(): void; resume(): void } })._socket
  const port = tcp.localPort
  assert.ok(serverHolds(port))
  // Stop reading, and ask for replies that echo a big request id, many times what the kernel and the server buffer:
  // the server drops the connection once more than 4 × WS_MAX_BUFFERED_BYTES waits for it.
  tcp.pause()
  const id = 'x'.repeat(512 * 1024)
  for (let i = 0; i < 24; i++) {
    s.send({ type: 'SUBSCRIBE', request_id: id, data: ['CPU'], interval: 3600 })
    s.send({ type: 'UNSUBSCRIBE', request_id: id })
  }
  await scrapeUntil(server.url, (m) => m.value('system_monitor_websocket_connections') === counted - 1)
  // Dropped, not told: a close frame would wait behind all that the peer does not read, and the connection with it.
  assert.ok(!serverHolds(port), 'the server still holds the connection')
  // The connection ends with no close frame (1006).
  tcp.resume()
  assert.equal(await s.closed, 1006)
  assert.equal(await connections(), counted - 1)
})

test('a subscriber that never reads does not grow the server beyond a bound', async () => {
  const s = await socket()
  for (let i = 0; i < 64; i++) s.send({ type: 'SUBSCRIBE', request_id: i, data: ['CPU', 'MEM', 'STORAGE'], interval: 0.1 })
  // The first subscriptions' EVENTs may come before the last ones' SUBSCRIBED.
  for (let confirmed = 0; confirmed < 64; ) {
    const frame = await s.next()
    if (/SUBSCRIBED/.test(frame)) confirmed++
    else assert.match(frame, /^\{"type": "EVENT"/)
  }
  // Stop reading: the kernel's buffers fill, then the server must skip EVENTs rather than queue them.
  ;(s.ws as unknown as { _socket: { pause(): void } })._socket.pause()
  const before = server.memory().current
  let peak = before
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 100))
    peak = Math.max(peak, server.memory().current)
  }
  assert.ok(peak - before < 24 * 1024 * 1024, `server RSS grew by ${((peak - before) / 1048576).toFixed(1)} MB`)
})
