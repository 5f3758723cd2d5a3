// HTTP load worker for machines without wrk: keep-alive connections on raw sockets (node:http's client costs
// several times more CPU per request than the server under test), each POSTing one request after another until
// the time is up and then waiting for its last answer, so that every request sent is accounted for. The
// lane's connections share one rotation: each request is from the lane's next client.
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { accepted, body, contentTypes, samplesPerBody, target } from './bodies.js'
import { Rotation } from './fleet.js'
import { Histogram } from './histogram.js'
import type { HttpLoad, WorkerResult } from './load.js'

const load = JSON.parse(process.argv[2]) as HttpLoad
const { hostname, port } = new URL(load.url)
const perBody = samplesPerBody[load.kind]
const histogram = new Histogram()
const result: Omit<WorkerResult, 'histogram' | 'seconds'> = { sent: 0, acked: 0, samples: 0, rejected: 0, lost: 0 }
const rotation = new Rotation(load.paths.map((path) => target(load.kind, path)), load.firstTime, perBody)

interface Reply {
  status: number
  body: string
}

/** One keep-alive connection, one request at a time. */
class Connection {
  readonly #socket: Socket
  #buffer = Buffer.alloc(0)
  #waiting?: { resolve(reply: Reply): void; reject(error: Error): void }
  closed = false

  constructor() {
    this.#socket = connect(Number(port), hostname)
    this.#socket.setNoDelay(true)
    this.#socket.on('data', (data) => {
      this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data])
      this.#parse()
    })
    const fail = (error: Error) => {
      this.closed = true
      this.#waiting?.reject(error)
      this.#waiting = undefined
    }
    this.#socket.on('error', fail)
    this.#socket.on('close', () => fail(new Error('connection closed by the server')))
  }

  post({ path, authorization }: { path: string; authorization?: string }, text: string): Promise<Reply> {
    this.#socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: ${contentTypes[load.kind]}\r\n` +
        (authorization ? `Authorization: ${authorization}\r\n` : '') +
        `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    )
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }))
  }

  close(): void {
    this.#socket.destroy()
  }

  #parse(): void {
    const headEnd = this.#buffer.indexOf('\r\n\r\n')
    if (headEnd < 0 || !this.#waiting) return
    const head = this.#buffer.subarray(0, headEnd).toString('latin1')
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
    const framed = length !== undefined ? fixed(this.#buffer, headEnd + 4, Number(length)) : chunked(this.#buffer, headEnd + 4)
    if (!framed) return
    this.#buffer = this.#buffer.subarray(framed.end)
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting.resolve({ status: Number(head.slice(9, 12)), body: framed.body })
  }
}

interface Framed {
  body: string
  /** Where the next reply starts. */
  end: number
}

/** A Content-Length body, or undefined while it is incomplete. */
function fixed(buffer: Buffer, start: number, length: number): Framed | undefined {
  return buffer.length < start + length ? undefined : { body: buffer.subarray(start, start + length).toString(), end: start + length }
}

/** A chunked body (no trailers), or undefined while it is incomplete. */
function chunked(buffer: Buffer, start: number): Framed | undefined {
  let body = ''
  for (let at = start; ; ) {
    const lineEnd = buffer.indexOf('\r\n', at)
    if (lineEnd < 0) return undefined
    const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16)
    if (buffer.length < lineEnd + 2 + size + 2) return undefined
    if (size === 0) return { body, end: lineEnd + 4 }
    body += buffer.subarray(lineEnd + 2, lineEnd + 2 + size).toString()
    at = lineEnd + 2 + size + 2
  }
}

async function run(deadline: number): Promise<void> {
  let connection = new Connection()
  while (performance.now() < deadline) {
    const { client, time } = rotation.next()
    const text = body(load.kind, time)
    result.sent++
    const start = performance.now()
    try {
      const { status, body: reply } = await connection.post(client, text)
      histogram.record((performance.now() - start) * 1000)
      const stored = accepted(load.kind, status, reply)
      if (stored !== undefined) {
        result.acked++
        result.samples += stored
      } else {
        result.rejected++
        result.firstError ??= `${status} ${reply.slice(0, 200)}`
      }
    } catch (e) {
      result.lost++
      result.firstError ??= (e as Error).message
    }
    if (connection.closed) connection = new Connection()
  }
  connection.close()
}

const start = performance.now()
const deadline = start + load.seconds * 1000
await Promise.all(Array.from({ length: load.connections }, () => run(deadline)))
const seconds = (performance.now() - start) / 1000
console.log(JSON.stringify({ ...result, seconds, histogram: histogram.toJSON() } satisfies WorkerResult))
