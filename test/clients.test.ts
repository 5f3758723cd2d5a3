// The contract's "Clients" section, row by row, over real HTTP against the real server and PostgreSQL.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { basic, client, uniqueLoopback, uniqueName } from './http.js'
import { startServer, target, type RunningServer } from './server.js'

let server: RunningServer
let http: ReturnType<typeof client>

before(async () => {
  server = await startServer()
  http = client(server.url)
})
after(async () => {
  assert.equal(await server.stop(), 0, server.output())
})

async function register(username = uniqueName(), password = 'secret') {
  const res = await http.post('/client', JSON.stringify({ username, pass: password }), { 'content-type': 'application/json' })
  assert.equal(res.status, 200, res.text)
  return { username, password, clientId: basic(username, password) }
}

const report = async (path: string, headers: Record<string, string> = {}) => {
  const res = await http.get(path, headers)
  assert.equal(res.status, 200, res.text)
  return (res.json() as { payload: unknown[] }).payload
}

describe('POST /client: register or log in', () => {
  test('a new username registers and gets base64(username:password)', async () => {
    const username = uniqueName('wood')
    const res = await http.post('/client', JSON.stringify({ username, pass: '123' }), { 'content-type': 'application/json' })
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.deepEqual(res.json(), { registration: username, client_id: basic(username, '123') })
  })

  test('the README form {"username", "password"} works the same, also on /client/', async () => {
    const username = uniqueName()
    const res = await http.post('/client/', JSON.stringify({ username, password: '123' }))
    assert.deepEqual([res.status, res.json()], [200, { registration: username, client_id: basic(username, '123') }])
  })

  test('a known username with the right password logs in', async () => {
    const { username, password } = await register()
    const res = await http.post('/client', JSON.stringify({ username, pass: password }))
    assert.deepEqual([res.status, res.json()], [200, { client_id: basic(username, password) }])
  })

  test('a known username with a wrong password is refused', async () => {
    const { username } = await register()
    const res = await http.post('/client', JSON.stringify({ username, pass: 'wrong' }))
    assert.deepEqual([res.status, res.json()], [401, { error: 'authorization error' }])
  })

  for (const username of ['', '1abc', '_x', '-', ' wood', '../x', 'a/b', 'a:b', 'a%2Fb', 'wood\u0000', 'x'.repeat(10_000), 'e\u0301t\u00e9']) {
    test(`unsupportable username ${JSON.stringify(username.slice(0, 20))}${username.length > 20 ? '…' : ''}`, async () => {
      const res = await http.post('/client', JSON.stringify({ username, pass: 'p' }))
      assert.deepEqual([res.status, res.json()], [401, { error: 'unsupportable username' }])
    })
  }

  test('unicode letters make a username, usable in a percent-encoded path', async () => {
    const { username, clientId } = await register(`Ωmega${uniqueName('')}`)
    const res = await http.post(`/client/${encodeURIComponent(username)}`, 'cpu_load=1.5&time=100', { authorization: clientId })
    assert.deepEqual([res.status, res.json()], [202, { cpu_load: 1.5, time: 100 }])
  })

  for (const [name, body] of [
    ['empty body', ''],
    ['not JSON', '{"username": '],
    ['a JSON array', '[1, 2]'],
    ['a JSON string', '"wood"'],
    ['no pass', '{"username": "wood"}'],
    ['no username', '{"pass": "123"}'],
    ['a number for username', '{"username": 5, "pass": "123"}'],
    ['a number for pass', '{"username": "wood", "pass": 123}'],
    ['null pass', '{"username": "wood", "pass": null}'],
  ]) {
    test(`400 for ${name}`, async () => {
      const res = await http.post('/client', body, { 'content-type': 'application/json' })
      assert.equal(res.status, 400, res.text)
      const error = (res.json() as { error: unknown }).error
      assert.equal(typeof error, 'string')
    })
  }

  test('other methods get 405', async () => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      const res = await http.send('/client', { method })
      assert.equal(res.status, 405, method)
    }
  })

  test('concurrent registrations of one new username: exactly one registers', async () => {
    const username = uniqueName('race')
    const results = await Promise.all(
      Array.from({ length: 12 }, () => http.post('/client', JSON.stringify({ username, pass: 'same' }))),
    )
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 200),
    )
    const registered = results.filter((r) => 'registration' in (r.json() as object))
    assert.equal(registered.length, 1)
    for (const r of results) assert.equal((r.json() as { client_id: string }).client_id, basic(username, 'same'))
  })

  test('concurrent registrations with different passwords: one wins, the others are refused', async () => {
    const username = uniqueName('race')
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((pass) => http.post('/client', JSON.stringify({ username, pass }))),
    )
    const winners = results.filter((r) => r.status === 200)
    assert.equal(winners.length, 1)
    assert.equal(Object.keys(winners[0].json() as object).includes('registration'), true)
    for (const r of results) if (r.status !== 200) assert.deepEqual([r.status, r.json()], [401, { error: 'authorization error' }])
  })
})

describe('authentication of /client/{S}', () => {
  const sample = 'cpu_load=10&time=1000'

  test('S is the username and Authorization the client_id, bare or as Basic', async () => {
    const { username, clientId } = await register()
    assert.equal((await http.post(`/client/${username}`, sample, { authorization: clientId })).status, 202)
    assert.equal((await http.post(`/client/${username}`, sample, { authorization: `Basic ${clientId}` })).status, 202)
    assert.equal((await http.post(`/client/${username}`, sample, { authorization: `basic  ${clientId} ` })).status, 202)
  })

  test('S is the client_id, with no header or with that same client_id', async () => {
    const { clientId } = await register()
    assert.equal((await http.post(`/client/${clientId}`, sample)).status, 202)
    assert.equal((await http.post(`/client/${clientId}`, sample, { authorization: clientId })).status, 202)
    assert.equal((await http.post(`/client/${encodeURIComponent(clientId)}`, sample)).status, 202)
  })

  test('a client_id holding "/" and "+" works percent-encoded', async () => {
    const username = uniqueName()
    // Some pair of characters, at one of three alignments, encodes to both '+' and '/'.
    const candidates = function* () {
      for (const pad of ['', 'a', 'aa']) for (let a = 32; a < 127; a++) for (let b = 32; b < 127; b++) yield pad + String.fromCharCode(a, b, a, b, a)
    }
    let password = ''
    for (const p of candidates()) {
      if (basic(username, p).includes('/') && basic(username, p).includes('+')) {
        password = p
        break
      }
    }
    assert.notEqual(password, '')
    const { clientId } = await register(username, password)
    const res = await http.post(`/client/${encodeURIComponent(clientId)}`, sample)
    assert.equal(res.status, 202, res.text)
    assert.deepEqual(await report(`/client/${encodeURIComponent(clientId)}/time/report`), [{ cpu: 10.0, mem: null, storage: null, unix_time: 1000 }])
  })

  test('everything else is 401 and reads or writes nothing', async () => {
    const a = await register()
    const b = await register()
    // Each wrong password goes to a client of its own, so the login throttle (tested below) stays out of it.
    const c = await register()
    const d = await register()
    await http.post(`/client/${a.username}`, sample, { authorization: a.clientId })
    const attempts: [string, Record<string, string>][] = [
      [`/client/${a.username}`, {}], // username without credentials
      [`/client/${a.username}`, { authorization: b.clientId }], // another client's header
      [`/client/${a.clientId}`, { authorization: b.clientId }],
      [`/client/${b.username}`, { authorization: a.clientId }],
      [`/client/${c.username}`, { authorization: basic(c.username, 'wrong') }],
      [`/client/${basic(d.username, 'wrong')}`, {}],
      [`/client/${basic(uniqueName('nobody'), 'x')}`, {}],
      [`/client/${a.username}`, { authorization: 'not base64!' }],
      [`/client/${a.username}`, { authorization: Buffer.from(a.username).toString('base64') }], // no colon
      [`/client/..%2F${a.username}`, { authorization: a.clientId }],
    ]
    for (const [path, headers] of attempts) {
      for (const res of [
        await http.post(path, 'cpu_load=99&time=1001', headers),
        await http.get(`${path}/time`, headers),
        await http.get(`${path}/time/report`, headers),
      ]) {
        assert.deepEqual([res.status, res.json()], [401, { error: 'authorization error' }], `${path} ${JSON.stringify(headers)}`)
      }
    }
    assert.deepEqual(await report(`/client/${a.clientId}/time/report`), [{ cpu: 10.0, mem: null, storage: null, unix_time: 1000 }])
    assert.equal((await http.get(`/client/${b.clientId}/time`)).status, 406)
  })

  test('repeated failed logins lock that address out of that username with 429, and only that address', async () => {
    const { username, password, clientId } = await register()
    assert.equal((await http.post(`/client/${username}`, sample, { authorization: clientId })).status, 202)
    // The attacker comes from another loopback address than the client.
    const attacker = client(server.url, '127.0.0.2')
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await attacker.post('/client', JSON.stringify({ username, pass: `wrong${i}` }))).status)
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429])
    const locked = await attacker.post('/client', JSON.stringify({ username, pass: password }))
    assert.equal(locked.status, 429)
    assert.match(String(locked.headers['retry-after']), /^\d+$/)
    // Even a right (and cached) client_id tells the locked-out address nothing.
    assert.equal((await attacker.post(`/client/${username}`, sample, { authorization: clientId })).status, 429)
    assert.equal((await http.post(`/client/${username}`, sample, { authorization: clientId })).status, 202)
    assert.equal((await http.post('/client', JSON.stringify({ username, pass: password }))).status, 200)
  })
})

describe('POST /client/{S}: send a sample', () => {
  test("the GUI client's form body, with the client_id in Authorization", async () => {
    const { username, clientId } = await register()
    const res = await http.post(`/client/${username}`, 'time=1646650624&cpu_load=25.9&mem=6172&storage=95888', { authorization: clientId })
    assert.equal(res.status, 202)
    assert.equal(res.text, '{"cpu_load": 25.9, "mem": 6172, "storage": 95888, "time": 1646650624}')
  })

  test('a JSON body with its content type, and with curl -d form content type', async () => {
    const { clientId } = await register()
    const body = '{"cpu_load": 25.9, "mem": 6172, "storage": 95888, "time": 1646650624}'
    for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
      const res = await http.post(`/client/${clientId}`, body, { authorization: clientId, 'content-type': type })
      assert.deepEqual([res.status, res.text], [202, body], type)
    }
  })

  test('cpu_load is echoed as a float, other values as they were sent', async () => {
    const { clientId } = await register()
    const json = await http.post(`/client/${clientId}`, '{"cpu_load": 26, "mem": 6172.0, "storage": 1e3, "time": 10}')
    assert.equal(json.text, '{"cpu_load": 26.0, "mem": 6172.0, "storage": 1000.0, "time": 10}')
    const form = await http.post(`/client/${clientId}`, 'cpu_load=0&mem=12.50&storage=7&time=11')
    assert.equal(form.text, '{"cpu_load": 0.0, "mem": 12.5, "storage": 7, "time": 11}')
    // Python's int() drops a plus sign and leading zeros, and prints any zero as 0.
    const ints = await http.post(`/client/${clientId}`, `mem=%2B${'0'.repeat(50)}7&storage=-000&time=0012`)
    assert.equal(ints.text, '{"mem": 7, "storage": 0, "time": 12}')
  })

  test('a sample without time gets the server clock', async () => {
    const { clientId } = await register()
    const before = Math.floor(Date.now() / 1000)
    const res = await http.post(`/client/${clientId}`, '{"mem": 5}')
    const after = Math.floor(Date.now() / 1000)
    assert.equal(res.status, 202)
    const { time } = res.json() as { time: number }
    assert.ok(time >= before && time <= after, `${time} not in [${before}, ${after}]`)
    assert.deepEqual(await report(`/client/${clientId}/time/report`), [{ cpu: null, mem: 5.0, storage: null, unix_time: time }])
  })

  test('a re-sent second merges: fields it carries replace, fields it lacks stay', async () => {
    const { clientId } = await register()
    await http.post(`/client/${clientId}`, 'cpu_load=10&mem=5&time=500')
    await http.post(`/client/${clientId}`, 'mem=7&time=500')
    await http.post(`/client/${clientId}`, '{"storage": 3, "cpu_load": null, "time": 500}')
    assert.deepEqual(await report(`/client/${clientId}/time/report`), [{ cpu: 10.0, mem: 7.0, storage: 3.0, unix_time: 500 }])
  })

  test('HEAD of a streamed slice: its status and content type, no length (as GET, which is chunked) and no body', async () => {
    const { clientId } = await register()
    await http.post(`/client/${clientId}`, 'cpu_load=10&time=500')
    for (const path of [`/client/${clientId}/time/report`, `/client/${clientId}/time/report?step=60`]) {
      const [get, head] = [await http.get(path), await http.send(path, { method: 'HEAD' })]
      assert.deepEqual([get.status, get.headers['content-length'], get.headers['transfer-encoding']], [200, undefined, 'chunked'], path)
      assert.deepEqual([head.status, head.headers['content-type'], head.headers['content-length'], head.text], [200, get.headers['content-type'], undefined, ''], path)
    }
  })

  describe('bad input gets 4xx and stores nothing', () => {
    let victim: Awaited<ReturnType<typeof register>>
    before(async () => {
      victim = await register()
    })
    after(async () => {
      const res = await http.get(`/client/${victim.clientId}/time`)
      assert.deepEqual([res.status, res.json()], [406, { error: 'log is empty' }])
    })

    const cases: [string, string, string | undefined, number, string][] = [
      ['empty body', '', undefined, 400, 'incorrect data size'],
      ['blank body', '  \n', undefined, 400, 'incorrect data size'],
      ['empty object', '{}', 'application/json', 400, 'incorrect data size'],
      ['no known field', '{"foo": 1}', 'application/json', 400, 'incorrect data size'],
      ['no known form field', 'foo=1&bar=2', undefined, 400, 'incorrect data size'],
      ['only time', 'time=5', undefined, 400, 'incorrect data size'],
      ['JSON string', '"cpu_load"', 'application/json', 400, 'incorrect data size'],
      ['JSON number', '42', 'application/json', 400, 'incorrect data size'],
      ['cpu_load over 100', '{"cpu_load": 100.5}', 'application/json', 400, 'value error'],
      ['negative cpu_load', 'cpu_load=-1', undefined, 400, 'value error'],
      ['negative mem', '{"mem": -5}', 'application/json', 400, 'value error'],
      ['negative storage', 'storage=-0.1', undefined, 400, 'value error'],
      ['mem past 1e300 (a sum of them would overflow the tiers)', '{"mem": 1.7e308}', 'application/json', 400, 'value error'],
      ['storage past 1e300', 'storage=1.1e300', undefined, 400, 'value error'],
      ['cpu_load as a string', '{"cpu_load": "25"}', 'application/json', 400, 'value error'],
      ['cpu_load as a boolean', '{"cpu_load": true}', 'application/json', 400, 'value error'],
      ['mem as an object', '{"mem": {"a": 1}}', 'application/json', 400, 'value error'],
      ['mem as an array', '{"mem": [1]}', 'application/json', 400, 'value error'],
      ['form NaN', 'cpu_load=NaN', undefined, 400, 'value error'],
      ['form nan', 'mem=nan', undefined, 400, 'value error'],
      ['form Infinity', 'mem=Infinity', undefined, 400, 'value error'],
      ['form inf', 'storage=inf', undefined, 400, 'value error'],
      ['form 1e309', 'mem=1e309', undefined, 400, 'value error'],
      ['JSON 1e309', '{"mem": 1e309}', 'application/json', 400, 'value error'],
      ['JSON -1e309', '{"storage": -1e309}', 'application/json', 400, 'value error'],
      ['form empty value', 'cpu_load=', undefined, 400, 'value error'],
      ['form word', 'cpu_load=high', undefined, 400, 'value error'],
      ['fractional time', '{"mem": 1, "time": 1.5}', 'application/json', 400, 'value error'],
      ['negative time', 'mem=1&time=-1', undefined, 400, 'value error'],
      ['time as a word', 'mem=1&time=now', undefined, 400, 'value error'],
      ['time past year 9999', 'mem=1&time=253402300800', undefined, 400, 'value error'],
      ['huge integer time', '{"mem": 1, "time": 123456789012345678901234567890}', 'application/json', 400, 'value error'],
      ['one bad field among good ones', 'cpu_load=5&mem=-1&time=10', undefined, 400, 'value error'],
      ['JSON NaN literal', '{"cpu_load": NaN}', 'application/json', 400, 'invalid JSON'],
      ['JSON Infinity literal', '{"mem": Infinity}', 'application/json', 400, 'invalid JSON'],
      ['truncated JSON', '{"cpu_load": ', 'application/json', 400, 'invalid JSON'],
      ['trailing garbage', '{"cpu_load": 1} x', 'application/json', 400, 'invalid JSON'],
      ['duplicate keys', '{"mem": 1, "mem": 2}', 'application/json', 400, 'invalid JSON'],
      ['deep nesting', '['.repeat(30_000), 'application/json', 400, 'invalid JSON'],
      ['JSON with the form type', '{"cpu_load": 25.9,', undefined, 400, 'invalid JSON'],
    ]
    for (const [name, body, type, status, error] of cases) {
      test(`${name} -> ${status} ${error}`, async () => {
        const headers: Record<string, string> = { authorization: victim.clientId }
        if (type) headers['content-type'] = type
        const res = await http.post(`/client/${victim.username}`, body, headers)
        assert.equal(res.status, status, res.text)
        assert.equal((res.json() as { error: string }).error, error)
      })
    }

    test('a value error names the field', async () => {
      const res = await http.post(`/client/${victim.clientId}`, '{"cpu_load": 5, "storage": -3}')
      const body = res.json() as Record<string, unknown>
      assert.equal(body.error, 'value error')
      assert.equal(body.field, 'storage')
    })

    test('a body that is not UTF-8 is refused', async () => {
      const res = await http.post(`/client/${victim.clientId}`, Buffer.from([0x6d, 0x65, 0x6d, 0x3d, 0xff, 0xfe]))
      assert.equal(res.status, 400)
    })

    test('a body over the limit (1 MiB) gets 413 without being read to the end', async () => {
      const body = JSON.stringify({ mem: 1, pad: 'x'.repeat(1_100_000) })
      // A client that means to keep the connection is told it will close (one that says close is not told);
      // Deno instead reads the rest of the body itself, and the connection stays usable.
      const res = await http.post(`/client/${victim.clientId}`, body, { connection: 'keep-alive' })
      assert.equal(res.status, 413)
      assert.equal(res.headers.connection, target === 'deno' ? undefined : 'close')
      assert.equal(typeof (res.json() as { error: unknown }).error, 'string')
    })

    test('a chunked body that grows past the limit gets 413', async () => {
      const res = await http.send(`/client/${victim.clientId}`, {
        method: 'POST',
        headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/json' },
        body: JSON.stringify({ mem: 1, pad: 'y'.repeat(1_200_000) }),
      })
      assert.equal(res.status, 413)
    })

    test('a body just under the limit is read and judged on its content', async () => {
      const body = JSON.stringify({ pad: 'z'.repeat(1_048_576 - 20) })
      assert.ok(body.length <= 1_048_576)
      const res = await http.post(`/client/${victim.clientId}`, body)
      assert.deepEqual([res.status, (res.json() as { error: string }).error], [400, 'incorrect data size'])
    })

    test('GET, PUT, PATCH and DELETE get 405', async () => {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
        const res = await http.send(`/client/${victim.clientId}`, { method, headers: { authorization: victim.clientId } })
        assert.equal(res.status, 405, method)
        assert.equal((res.json() as { error: string }).error, 'method not allowed')
        assert.equal(res.headers.allow, 'POST')
      }
    })
  })
})

test('bodies past MAX_BUFFERED_BODY_BYTES in memory at once get 503, and the memory comes back', async () => {
  const small = await startServer({ MAX_BUFFERED_BODY_BYTES: String(1024 * 1024) })
  try {
    // Two uploads of 900 kB, each paused after 600 kB: both cannot be held in 1 MiB, so one is refused.
    const uploads = [partialUpload(small.port, 900_000, 600_000), partialUpload(small.port, 900_000, 600_000)]
    for (let i = 0; uploads.every((u) => u.answer() === ''); i++) {
      assert.ok(i < 100, 'no answer to the upload past the budget')
      await new Promise((r) => setTimeout(r, 20))
    }
    const [refused, held] = uploads[0].answer() === '' ? [uploads[1], uploads[0]] : uploads
    assert.match(refused.answer(), /^HTTP\/1\.1 503 [^]*retry-after: \d+[^]*MAX_BUFFERED_BODY_BYTES/i)
    refused.destroy()
    // The other is read to the end and judged on its content, and so is the next once that memory is given back.
    assert.equal(held.answer(), '')
    assert.equal(await held.finish(), 401)
    assert.equal(await partialUpload(small.port, 900_000, 0).finish(), 401)
  } finally {
    assert.equal(await small.stop(), 0)
  }
})

/** A form POST to /client/x of `total` bytes on a connection of its own, of which only `sent` go out until finish(). */
function partialUpload(port: number, total: number, sent: number) {
  const socket = connect(port, '127.0.0.1')
  let answer = ''
  socket.setEncoding('latin1')
  socket.on('data', (d: string) => (answer += d))
  socket.on('error', () => undefined)
  socket.write(`POST /client/x HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${total}\r\n\r\n${'m'.repeat(sent)}`)
  return {
    answer: () => answer,
    /** Sends the rest and resolves with the status. */
    finish: async () => {
      socket.write('m'.repeat(total - sent))
      while (!/^HTTP\/1\.1 \d+/.test(answer)) await new Promise((r) => setTimeout(r, 10))
      socket.destroy()
      return Number(answer.slice(9, 12))
    },
    destroy: () => socket.destroy(),
  }
}

describe('log span and slice', () => {
  test('span: 406 while the log is empty, then first and last time, by GET and POST', async () => {
    const { username, clientId } = await register()
    const empty = await http.get(`/client/${clientId}/time`)
    assert.deepEqual([empty.status, empty.json()], [406, { error: 'log is empty' }])
    for (const t of [1646650626, 1646650624, 1646650625]) await http.post(`/client/${clientId}`, `mem=1&time=${t}`)
    for (const res of [await http.get(`/client/${clientId}/time`), await http.post(`/client/${username}/time`, '', { authorization: clientId })]) {
      assert.deepEqual([res.status, res.json()], [200, { start: 1646650624, end: 1646650626 }])
    }
  })

  test('slice: samples in time order, null for metrics never sent, floats with a point', async () => {
    const { username, clientId } = await register()
    await http.post(`/client/${clientId}`, '{"cpu_load": 20.5, "mem": 8516, "storage": 81708, "time": 1651155431}')
    await http.post(`/client/${clientId}`, '{"cpu_load": 18, "mem": 8513, "storage": 81720, "time": 1651155333}')
    await http.post(`/client/${clientId}`, '{"mem": 8490, "time": 1651155387}')
    const res = await http.post(`/client/${username}/time/report?start=1651155333&end=1651155431`, '', { authorization: clientId })
    assert.equal(res.status, 200)
    assert.equal(
      res.text,
      '{"payload": [{"cpu": 18.0, "mem": 8513.0, "storage": 81720.0, "unix_time": 1651155333}, ' +
        '{"cpu": null, "mem": 8490.0, "storage": null, "unix_time": 1651155387}, ' +
        '{"cpu": 20.5, "mem": 8516.0, "storage": 81708.0, "unix_time": 1651155431}]}',
    )
  })

  test('slice bounds: inclusive, open when absent or empty, empty when nothing matches', async () => {
    const { clientId } = await register()
    for (const t of [10, 20, 30, 40]) await http.post(`/client/${clientId}`, `mem=${t}&time=${t}`)
    const times = async (query: string) =>
      ((await report(`/client/${clientId}/time/report${query}`)) as { unix_time: number }[]).map((r) => r.unix_time)
    assert.deepEqual(await times(''), [10, 20, 30, 40])
    assert.deepEqual(await times('?start=&end='), [10, 20, 30, 40])
    assert.deepEqual(await times('?start=20&end=30'), [20, 30])
    assert.deepEqual(await times('?start=25'), [30, 40])
    assert.deepEqual(await times('?end=25'), [10, 20])
    assert.deepEqual(await times('?start=&end=20'), [10, 20])
    assert.deepEqual(await times('?start=-5&end=10'), [10])
    assert.deepEqual(await times('?start=31&end=39'), [])
    assert.deepEqual(await times('?start=40&end=10'), [])
    const empty = await http.get(`/client/${clientId}/time/report?start=41`)
    assert.equal(empty.text, '{"payload": []}')
  })

  for (const query of ['start=abc', 'end=1.5', 'start=1e3', 'start=0x10', 'end=99999999999999999999', 'start=%20']) {
    test(`slice with ${query} -> 400 value error, exactly (the original's tests compare the whole body)`, async () => {
      const { clientId } = await register()
      const res = await http.get(`/client/${clientId}/time/report?${query}`)
      assert.equal(res.status, 400)
      assert.equal(res.text, '{"error": "value error"}')
    })
  }

  test('span and slice refuse PUT and DELETE', async () => {
    const { clientId } = await register()
    for (const path of [`/client/${clientId}/time`, `/client/${clientId}/time/report`]) {
      for (const method of ['PUT', 'DELETE', 'PATCH']) assert.equal((await http.send(path, { method })).status, 405)
    }
  })
})

describe('the GUI client over HTTP, request by request', () => {
  test('login, samples with the ticked metrics, run time, log slice with empty bounds', async () => {
    const username = uniqueName('gui')
    const login = await http.post('/client', JSON.stringify({ username, pass: 'pw' }), { 'content-type': 'application/json' })
    const clientId = (login.json() as { client_id: string }).client_id
    const headers = { authorization: clientId }
    const sent = [
      'time=1700000000&cpu_load=3.2&mem=5600&storage=81594',
      'time=1700000001&cpu_load=4.0',
      'time=1700000002&mem=5601',
    ]
    for (const body of sent) assert.equal((await http.post(`/client/${username}`, body, headers)).status, 202)
    const span = await http.post(`/client/${username}/time`, '', headers)
    assert.deepEqual(span.json(), { start: 1700000000, end: 1700000002 })
    const slice = await http.post(`/client/${username}/time/report?start=&end=`, '', headers)
    assert.deepEqual(slice.json(), {
      payload: [
        { cpu: 3.2, mem: 5600, storage: 81594, unix_time: 1700000000 },
        { cpu: 4, mem: null, storage: null, unix_time: 1700000001 },
        { cpu: null, mem: 5601, storage: null, unix_time: 1700000002 },
      ],
    })
    const bad = await http.post(`/client/${username}/time/report?start=2022-01-01&end=`, '', headers)
    assert.equal((bad.json() as { payload?: unknown }).payload, undefined)
  })
})

describe('other routes', () => {
  test('GET / and GET /api', async () => {
    const home = await http.get('/')
    assert.deepEqual([home.status, home.text], [200, '<p>Welcome</p>'])
    assert.match(String(home.headers['content-type']), /^text\/html/)
    for (const path of ['/api', '/api/']) {
      const api = await http.get(path)
      assert.deepEqual([api.status, api.text], [200, '{"name": "system monitor", "version": "0.0.1"}'])
    }
    assert.equal((await http.post('/api', '')).status, 405)
  })

  for (const path of ['/nope', '/client/x/y/z/w', '/api/nope', '/..', '/%', '/client//time', '/%00', `/${'a'.repeat(5000)}`]) {
    test(`404 with a JSON body for ${path.slice(0, 30)}`, async () => {
      const res = await http.get(path)
      assert.deepEqual([res.status, res.json()], [404, { error: 'not found' }])
    })
  }

  test('a 10 kB username in the path or client_id in the header is a 401', async () => {
    const long = 'a'.repeat(10_000)
    for (const res of [
      await http.post(`/client/${long}`, 'mem=1'),
      await http.post(`/client/${long}`, 'mem=1', { authorization: basic(long, 'x') }),
      await http.get(`/client/${basic(long, 'x')}/time`),
    ]) {
      assert.deepEqual([res.status, res.json()], [401, { error: 'authorization error' }])
    }
  })

  test('headers past what the server reads are refused, and it keeps serving', async () => {
    const outcome = await http.post('/client/x', 'mem=1', { 'x-pad': 'p'.repeat(200_000) }).then(
      (res) => res.status,
      (e: NodeJS.ErrnoException) => e.code,
    )
    // Any 4xx is right (RFC 9110, 15.5): uWS answers 431, and Deno's HTTP server 400.
    assert.ok(outcome === (target === 'deno' ? 400 : 431) || outcome === 'ECONNRESET' || outcome === 'EPIPE', String(outcome))
    assert.equal((await http.get('/api')).status, 200)
  })

  test('a malformed percent-encoding in S is a 400, not a crash', async () => {
    const res = await http.post('/client/%E0%A4%A', 'mem=1')
    assert.equal(res.status, 400)
  })
})

describe('the login throttle against attackers', () => {
  const sample = 'mem=1'
  const registerOn = async (url: string, from = '127.0.0.1') => {
    const username = uniqueName('guarded')
    const res = await client(url, from).post('/client', JSON.stringify({ username, pass: 'right' }))
    assert.equal(res.status, 200)
    return { username, clientId: basic(username, 'right') }
  }
  const guess = (url: string, from: string, username: string, headers: Record<string, string> = {}) =>
    client(url, from).post('/client', JSON.stringify({ username, pass: 'wrong' }), headers)

  test('guesses from many addresses lock the username, but not for the addresses it logs in from', async () => {
    const server = await startServer({ LOGIN_MAX_FAILURES_PER_USERNAME: '6' })
    try {
      const { username, clientId } = await registerOn(server.url)
      for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
        for (let i = 0; i < 2; i++) assert.equal((await guess(server.url, from, username)).status, 401, from)
      }
      const refused = await guess(server.url, '127.0.0.5', username)
      assert.deepEqual([refused.status, typeof refused.headers['retry-after']], [429, 'string'])
      const home = client(server.url)
      assert.equal((await home.post('/client', JSON.stringify({ username, pass: 'right' }))).status, 200)
      assert.equal((await home.post(`/client/${clientId}`, `${sample}&time=1`)).status, 202)
      // What a user sees from an address it never logged in from, while the lock lasts (README, "Login throttle").
      assert.equal((await client(server.url, '127.0.0.6').post('/client', JSON.stringify({ username, pass: 'right' }))).status, 429)
    } finally {
      await server.stop()
    }
  })

  test('registrations are limited per address', async () => {
    const server = await startServer({ REGISTER_MAX_PER_ADDRESS: '3' })
    try {
      const [from, other] = [uniqueLoopback(), uniqueLoopback()]
      for (let i = 0; i < 3; i++) await registerOn(server.url, from)
      const refused = await client(server.url, from).post('/client', JSON.stringify({ username: uniqueName('flood'), pass: 'x' }))
      assert.deepEqual([refused.status, refused.json(), typeof refused.headers['retry-after']], [429, { error: 'too many registrations from this address, try again later' }, 'string'])
      await registerOn(server.url, other)
    } finally {
      await server.stop()
    }
  })

  test("a flood of registrations does not hold back a known client's first check", async () => {
    const { clientId } = await registerOn(server.url)
    // A server of its own has not checked this client yet: its first sample needs a password check.
    const fresh = await startServer()
    try {
      const order: string[] = []
      const flood = Array.from({ length: 16 }, async (_, i) => {
        const res = await client(fresh.url, '127.0.0.9').post('/client', JSON.stringify({ username: uniqueName(`flood${i}`), pass: 'x' }))
        assert.equal(res.status, 200)
        order.push('registration')
      })
      const known = client(fresh.url)
        .post(`/client/${clientId}`, `${sample}&time=2`)
        .then((res) => {
          assert.equal(res.status, 202)
          order.push('known client')
        })
      await Promise.all([...flood, known])
      assert.ok(order.indexOf('known client') < order.length - 4, order.join(', '))
    } finally {
      await fresh.stop()
    }
  })

  test('behind a trusted proxy the forwarded address is the one throttled; from anyone else the header is ignored', async () => {
    const server = await startServer({ TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8', LOGIN_MAX_FAILURES: '2' })
    try {
      const { username } = await registerOn(server.url)
      const via = (address: string, from = '127.0.0.1') => guess(server.url, from, username, { 'x-forwarded-for': `${address}, 10.1.2.3` })
      assert.deepEqual([(await via('198.51.100.7')).status, (await via('198.51.100.7')).status, (await via('198.51.100.7')).status], [401, 401, 429])
      assert.equal((await via('198.51.100.8')).status, 401)
      const forwarded = await guess(server.url, '127.0.0.1', username, { forwarded: 'for=198.51.100.7;proto=http, for=10.1.2.3' })
      assert.equal(forwarded.status, 429)
      // An untrusted peer's header names nobody: the peer itself is throttled.
      assert.deepEqual([(await via('198.51.100.20', '127.0.0.2')).status, (await via('198.51.100.21', '127.0.0.2')).status, (await via('198.51.100.22', '127.0.0.2')).status], [401, 401, 429])
    } finally {
      await server.stop()
    }
  })
})
