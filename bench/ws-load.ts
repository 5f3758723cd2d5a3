// WebSocket load worker: per connection a share of the clients, HELLO once, then CLIENT_DATA pipelined with at
// most `window` unanswered, each message from the connection's next client at that client's next time. Answers
// come in order, so each one is matched to the oldest message in flight, and its echoed time must be that
// message's. When the time is up a connection sends nothing more and waits for its last answers, so that every
// message sent is accounted for.
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { clientData } from './bodies.js'
import { Rotation } from './fleet.js'
import { Histogram } from './histogram.js'
import type { WorkerResult, WsWorkerLoad } from './load.js'

const load = JSON.parse(process.argv[2]) as WsWorkerLoad
const histogram = new Histogram()
const result: Omit<WorkerResult, 'histogram' | 'seconds'> = { sent: 0, acked: 0, samples: 0, rejected: 0, lost: 0 }
// Connections that take longer than this to drain after the deadline are cut, their messages counted lost.
const drainMs = 30_000

interface Connection {
  socket: WebSocket
  start(deadline: number): Promise<void>
}

/** Resolves once the server has answered HELLO with WELCOME. */
function connect(clientIds: string[]): Promise<Connection> {
  return new Promise((welcomed, refused) => {
    const socket = new WebSocket(load.url, { perMessageDeflate: false })
    const inFlight: { time: number; sentAt: number }[] = []
    const rotation = new Rotation(clientIds, load.firstTime, 1)
    let deadline = Infinity
    let finish = () => {}

    const fill = () => {
      while (inFlight.length < load.window && performance.now() < deadline) {
        const { client, time } = rotation.next()
        inFlight.push({ time, sentAt: performance.now() })
        socket.send(clientData(client, time))
        result.sent++
      }
      if (inFlight.length === 0) socket.close()
    }

    socket.on('unexpected-response', (_req, res) => refused(new Error(`upgrade refused: HTTP ${res.statusCode}`)))
    socket.on('error', (e) => {
      result.firstError ??= e.message
      refused(e)
    })
    socket.once('open', () => socket.send('{"type": "HELLO"}'))
    socket.once('message', (data) => {
      const text = String(data)
      if (!text.startsWith('{"type": "WELCOME"')) return refused(new Error(`HELLO answered with ${text.slice(0, 200)}`))
      socket.on('message', (data) => {
        const reply = String(data)
        const sent = inFlight.shift()
        if (!sent) {
          result.rejected++
          result.firstError ??= `unexpected message ${reply.slice(0, 200)}`
          return
        }
        histogram.record((performance.now() - sent.sentAt) * 1000)
        const echoed = /"time":\s*(\d+)/.exec(reply)?.[1]
        if (reply.startsWith('{"type": "DATA_RETURN"') && echoed === String(sent.time)) {
          result.acked++
          result.samples++
        } else {
          result.rejected++
          result.firstError ??= reply.startsWith('{"type": "DATA_RETURN"') ? `answer out of order: ${reply}` : reply.slice(0, 200)
        }
        fill()
      })
      welcomed({
        socket,
        start(at) {
          deadline = at
          return new Promise((done) => {
            finish = done
            fill()
          })
        },
      })
    })
    socket.on('close', () => {
      result.lost += inFlight.length
      inFlight.length = 0
      finish()
    })
  })
}

const connections = await Promise.all(load.connections.map(connect))
const start = performance.now()
const deadline = start + load.seconds * 1000
const cut = setTimeout(() => connections.forEach((c) => c.socket.terminate()), load.seconds * 1000 + drainMs)
await Promise.all(connections.map((c) => c.start(deadline)))
clearTimeout(cut)
const seconds = (performance.now() - start) / 1000
console.log(JSON.stringify({ ...result, seconds, histogram: histogram.toJSON() } satisfies WorkerResult))
