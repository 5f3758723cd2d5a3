// Request bodies against an attacker: one nobody reads is never taken into memory, one address cannot hold the
// shared body budget from the others, and a body that stops arriving is refused at its deadline.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import { basic, client, uniqueName } from './http.js'
import { startServer, target, type RunningServer } from './server.js'

const skip = (target === 'bundle' || target === 'exe') && 'the same transport as the source target'

let server: RunningServer
let port: number
let clientId: string
before(async () => {
  server = await startServer({ MAX_BODY_BYTES: String(256 * 1024), MAX_BUFFERED_BODY_BYTES: String(1024 * 1024), MAX_BUFFERED_BODY_BYTES_PER_PEER: String(256 * 1024), BODY_TIMEOUT_SECONDS: '2' })
  port = server.port
  const username = uniqueName('bodies')
  await client(server.url).post('/client', JSON.stringify({ username, pass: 'pw' }))
  clientId = basic(username, 'pw')
})
after(async () => {
  assert.equal(await server.stop(), 0)
})

/** A raw connection from `from` that sends `head` (and whatever body part); resolves with what comes back. */
function raw(from: string, head: string): { socket: Socket; answer: Promise<string> } {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from })
  socket.write(head)
  let text = ''
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d) => {
      text += d
      if (/\r\n\r\n/.test(text) && /content-length: (\d+)/i.test(text)) {
        const length = Number(/content-length: (\d+)/i.exec(text)![1])
        if (text.length - text.indexOf('\r\n\r\n') - 4 >= length) resolve(text)
      }
    })
    socket.on('close', () => resolve(text))
    socket.on('error', () => resolve(text))
  })
  return { socket, answer }
}

const status = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])

test('a body for a route or method that takes none is answered without being read', { skip }, async () => {
  for (const [head, want] of [
    ['POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc', 404],
    ['DELETE /client HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc', 405],
    ['GET /api HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc', 200],
  ] as const) {
    const { socket, answer } = raw('127.0.0.1', head)
    assert.equal(status(await answer), want, head)
    socket.destroy()
  }
})

test('bodies one address leaves unfinished take its own share of the budget only; another uploads as usual', { skip }, async () => {
  // Each holds 64 KiB until its deadline: twenty are over the whole budget (1 MiB), four fill one address's share.
  const body = 64 * 1024
  const held = Array.from({ length: 20 }, () =>
    raw('127.0.0.2', `POST /client/${clientId} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body}\r\n\r\n${'['.padEnd(body - 1, ' ')}`),
  )
  const refusedAtOnce = await Promise.all(held.slice(4).map((h) => h.answer))
  for (const answer of refusedAtOnce) assert.match(answer, /^HTTP\/1\.1 503 [^]*MAX_BUFFERED_BODY_BYTES_PER_PEER/)
  const http = client(server.url, '127.0.0.3')
  const sample = (i: number) => `{"mem": ${i}, "time": ${1000 + i}}`
  for (let i = 0; i < 10; i++) {
    const batch = JSON.stringify(Array.from({ length: 600 }, (_, j) => JSON.parse(sample(i * 600 + j)) as unknown))
    const res = await http.post(`/client/${clientId}`, batch, { 'content-type': 'application/json' })
    assert.deepEqual([res.status, res.json()], [202, { accepted: 600 }])
  }
  // The four held ones reach their deadline: 408, and their memory comes back.
  for (const h of held.slice(0, 4)) assert.match(await h.answer, /^HTTP\/1\.1 408 [^]*BODY_TIMEOUT_SECONDS/)
  const after = raw('127.0.0.2', `POST /client/${clientId} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]`)
  assert.equal(status(await after.answer), 400) // an empty batch: read, and judged on its content
  for (const h of [...held, after]) h.socket.destroy()
})
