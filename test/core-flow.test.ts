// The contract's core flow as one client meets it, each step on what the one before left: register, send
// a sample and a batch, send one over the WebSocket, read the span and a slice; and the dashboard is there. It
// runs on every target, and alone on each Node.js in the chroot (test/run.ts), where it shows the server working on those Node.js lines
// and that C library; so it first checks which runtime and uWebSockets.js binary the server says it runs on.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { basic, client, uniqueName } from './http.js'
import { serverRuntime, startServer, target, type NodeRuntime, type RunningServer } from './server.js'
import { connect } from './ws.js'

/** uWebSockets.js 20.57's binary where it has one for the ABI and glibc is 2.38 or newer (or not glibc), else 20.30's. */
function expectedBinary({ abi, glibc }: NodeRuntime): string {
  const [major, minor] = (glibc ?? '2.38').split('.').map(Number)
  const release = ['115', '127', '137'].includes(abi) && (major > 2 || (major === 2 && minor >= 38)) ? '20.57.0' : '20.30.0'
  return `uWebSockets.js ${release} (uws_${process.platform}_${process.arch}_${abi}.node)`
}

describe('the core flow', () => {
  let server: RunningServer
  let http: ReturnType<typeof client>
  const username = uniqueName('flow')
  const clientId = basic(username, 'pw')
  before(async () => {
    server = await startServer()
    http = client(server.url)
  })
  after(async () => {
    assert.equal(await server.stop(), 0)
  })

  test('the server names the runtime it runs on, and which uWebSockets.js binary it loaded', () => {
    const runtime = serverRuntime()
    const expected = target === 'deno' ? /runtime: Deno \d+\.\d+\.\d+ \(Deno\.serve\)\n/ : `runtime: Node.js ${runtime.node} on ${process.platform}-${process.arch}, ${expectedBinary(runtime)}\n`
    assert.ok(typeof expected === 'string' ? server.output().includes(expected) : expected.test(server.output()), `${String(expected)} not in:\n${server.output()}`)
  })

  test('a new client registers', async () => {
    const res = await http.post('/client', JSON.stringify({ username, password: 'pw' }))
    assert.deepEqual([res.status, res.text], [200, `{"registration": "${username}", "client_id": "${clientId}"}`])
  })

  test('it sends a sample, and a batch', async () => {
    const single = await http.post(`/client/${clientId}`, 'cpu_load=25.9&mem=6172&storage=95888&time=1646650624')
    assert.deepEqual([single.status, single.text], [202, '{"cpu_load": 25.9, "mem": 6172, "storage": 95888, "time": 1646650624}'])
    const batch = JSON.stringify([{ cpu_load: 20, time: 1646650625 }, { storage: 95890, time: 1646650626 }])
    const sent = await http.post(`/client/${username}`, batch, { authorization: clientId, 'content-type': 'application/json' })
    assert.deepEqual([sent.status, sent.text], [202, '{"accepted": 2}'])
  })

  test('over the WebSocket it is welcomed and sends a sample', async () => {
    const ws = await connect(server.url)
    ws.send('{"type": "HELLO"}')
    assert.equal(await ws.next(), '{"type": "WELCOME", "payload": {"welcome": "WELCOME"}}')
    ws.send(`{"type": "CLIENT_DATA", "data": {"time": 1646650627, "cpu_load": 26, "mem": 6180.0}, "interval": 1, "client_id": "${clientId}"}`)
    assert.equal(await ws.next(), '{"type": "DATA_RETURN", "payload": {"data": {"time": 1646650627, "cpu_load": 26, "mem": 6180.0}}}')
    ws.close()
    assert.equal(await ws.closed, 1005)
  })

  test('the dashboard is served, with the script and style sheet its page names', async () => {
    const page = await http.get('/dashboard')
    assert.deepEqual([page.status, page.headers['content-type']], [200, 'text/html; charset=utf-8'])
    const assets = [...page.text.matchAll(/(?:src|href)="(\/dashboard\/app-[\w-]+\.(js|css))"/g)]
    assert.deepEqual(assets.map((m) => m[2]).sort(), ['css', 'js'])
    for (const [, path, kind] of assets) {
      const asset = await http.get(path)
      assert.deepEqual([asset.status, asset.headers['content-type']], [200, `text/${kind === 'js' ? 'javascript' : 'css'}; charset=utf-8`])
      assert.ok(asset.text.length > 1000, path)
    }
  })

  test('it reads the span of its log, and a slice of it', async () => {
    const span = await http.get(`/client/${clientId}/time`)
    assert.deepEqual([span.status, span.text], [200, '{"start": 1646650624, "end": 1646650627}'])
    const slice = await http.get(`/client/${clientId}/time/report?start=1646650625&end=1646650627`)
    assert.deepEqual(
      [slice.status, slice.text],
      [
        200,
        '{"payload": [{"cpu": 20.0, "mem": null, "storage": null, "unix_time": 1646650625}, ' +
          '{"cpu": null, "mem": null, "storage": 95890.0, "unix_time": 1646650626}, ' +
          '{"cpu": 26.0, "mem": 6180.0, "storage": null, "unix_time": 1646650627}]}',
      ],
    )
  })
})
