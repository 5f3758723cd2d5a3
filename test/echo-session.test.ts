// The protocol's flow control without a socket: EVENTs skip a connection whose queue is over the limit,
// and a connection that stays stalled is closed.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { HostSampler } from '../src/host/sampler.js'
import { unmeasured } from '../src/metrics.js'
import { EchoSession, type EchoServices } from '../src/ws/echo.js'

let sampler: HostSampler
before(async () => {
  sampler = await HostSampler.start('/')
})
after(() => sampler.stop())

function session(buffered: () => number, stallMs: number) {
  const sent: string[] = []
  let closed!: () => void
  const closing = new Promise<void>((resolve) => (closed = resolve))
  let onSend = () => {}
  /** Resolves once `count` frames have been sent. */
  const sentCount = (count: number) => new Promise<void>((resolve) => (onSend = () => sent.length >= count && resolve()))
  // The protocol's ingest is not reached by these messages.
  const services = { sampler, errorReason: () => 'internal error', maxSubscriptions: 64, maxPending: 4096, maxBufferedBytes: 1000, stallMs, report: unmeasured } as unknown as EchoServices
  const conn = { send: (t: string) => (sent.push(t), onSend()), close: () => closed(), bufferedAmount: buffered }
  return { echo: new EchoSession(conn, services, 'test'), sent, closing, sentCount }
}

test('a stalled connection gets no EVENTs and is closed after the stall limit', async () => {
  const { echo, sent, closing } = session(() => 1_000_000, 300)
  echo.onMessage('{"type": "HELLO"}')
  echo.onMessage('{"type": "SUBSCRIBE", "request_id": "1", "data": ["CPU"], "interval": 0.1}')
  const started = Date.now()
  await closing
  echo.onClose()
  assert.ok(Date.now() - started >= 300)
  assert.deepEqual(sent, ['{"type": "WELCOME", "payload": {"welcome": "WELCOME"}}', '{"type": "SUBSCRIBED", "payload": {"request_id": "1"}}'])
})

test('EVENTs resume when the queue drains, and the stall clock restarts', async () => {
  let buffered = 1_000_000
  const { echo, sent, sentCount } = session(() => buffered, 60_000)
  echo.onMessage('{"type": "HELLO"}')
  echo.onMessage('{"type": "SUBSCRIBE", "request_id": "1", "data": [], "interval": 0.1}')
  buffered = 0
  await sentCount(4)
  echo.onClose()
  assert.equal(sent[2], '{"type": "EVENT", "payload": {"request": "1", "cpu": null, "mem": null, "storage": null}}')
})
