// The /echo WebSocket protocol (contract, "WebSocket: /echo"): one session per connection, replies in the
// order the requests came, subscriptions owned by their connection. It sees only the Connection interface.
import type { Authenticator } from '../auth/authenticator.js'
import { memoryFigures, workTime } from '../host/report.js'
import type { HostSampler, Snapshot } from '../host/sampler.js'
import { parseJson } from '../ingest/body.js'
import { echoJson, toSample, toSamples } from '../ingest/sample.js'
import type { Writer } from '../ingest/writer.js'
import { dumps, float, Num, type PyValue } from '../wire/pyjson.js'
import { inUnit } from '../wire/units.js'

/** What a transport gives the protocol: each transport (uWS, Deno) implements it over its own socket. */
export interface Connection {
  /** Sends a text frame; does nothing once the connection is closed. */
  send(text: string): void
  close(): void
  /** Bytes queued for the peer and not yet sent. */
  bufferedAmount(): number
}

export interface EchoServices {
  sampler: HostSampler
  auth: Authenticator
  writer: Writer
  now: () => number
  maxBatchSamples: number
  /** What an ERROR says of a failed CLIENT_DATA: the contract's reason, or "internal error" (logged). */
  errorReason: (error: unknown) => string
  /** EVENTs are skipped while more than this is queued for a connection... */
  maxBufferedBytes: number
  /** ...and a connection that has taken nothing for this long is closed. */
  stallMs: number
}

const error = (reason: string) => dumps({ type: 'ERROR', reason })
const notJson = error('Data type incorrect, please use json')
const welcome = dumps({ type: 'WELCOME', payload: { welcome: 'WELCOME' } })
const metrics = ['CPU', 'MEM', 'STORAGE'] as const
const maxSubscriptions = 64
// A client that sends faster than its replies can be produced is cut off rather than queued without end.
const maxPending = 4096
const maxClientsPerConnection = 16

interface Outcome {
  text: string
  /** Runs once the reply is on its way, e.g. to start a subscription's EVENTs after SUBSCRIBED. */
  sent?: () => void
}

interface Subscription {
  timer?: NodeJS.Timeout
}

type Message = Record<string, unknown>

export class EchoSession {
  readonly #openedAt = new Date()
  #greeted = false
  #closed = false
  #pending = 0
  #tail: Promise<void> = Promise.resolve()
  #stalledSince: number | undefined
  readonly #subscriptions = new Map<string, Subscription>()
  /** client_id -> client, so a connection authenticates each client_id once. */
  readonly #clients = new Map<string, number>()

  constructor(
    private readonly conn: Connection,
    private readonly services: EchoServices,
    private readonly remote: string,
  ) {}

  /** A text frame's content, or undefined for a binary frame. */
  onMessage(text: string | undefined): void {
    if (this.#closed) return
    if (this.#pending >= maxPending) return this.conn.close()
    this.#reply(this.#handle(text))
  }

  onClose(): void {
    this.#closed = true
    for (const s of this.#subscriptions.values()) clearInterval(s.timer)
    this.#subscriptions.clear()
  }

  #handle(text: string | undefined): Outcome | Promise<Outcome> {
    let message: unknown
    try {
      message = text === undefined ? undefined : parseJson(text)
    } catch {
      return { text: notJson }
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return { text: notJson }
    const type = (message as Message).type
    if (type === 'HELLO') {
      this.#greeted = true
      return { text: welcome }
    }
    if (!this.#greeted) return { text: notJson }
    switch (type) {
      case 'SUBSCRIBE':
        return this.#subscribe(message as Message)
      case 'UNSUBSCRIBE':
        return this.#unsubscribe(message as Message)
      case 'WORK_TIME':
        return { text: dumps(workTime(this.#openedAt)) }
      case 'CLIENT_DATA':
        return this.#clientData(message as Message)
      default:
        return { text: notJson }
    }
  }

  /** Sends at once when nothing is waiting, else after everything before it. */
  #reply(outcome: Outcome | Promise<Outcome>): void {
    if (this.#pending === 0 && !(outcome instanceof Promise)) return this.#send(outcome)
    this.#pending++
    const ready = Promise.resolve(outcome).catch((e: unknown) => ({ text: this.#errorText(e) }))
    this.#tail = this.#tail.then(async () => {
      const result = await ready
      this.#pending--
      this.#send(result)
    })
  }

  #send(outcome: Outcome): void {
    if (this.#closed) return
    this.conn.send(outcome.text)
    outcome.sent?.()
  }

  #errorText(e: unknown): string {
    return error(this.services.errorReason(e))
  }

  #subscribe(message: Message): Outcome {
    const id = message.request_id as PyValue | undefined
    const wanted = message.data ?? []
    const interval = intervalSeconds(message.interval)
    if (
      id === undefined ||
      interval === undefined ||
      !Array.isArray(wanted) ||
      !wanted.every((m) => (metrics as readonly unknown[]).includes(m))
    ) {
      return { text: error('value error') }
    }
    const key = dumps(id)
    if (this.#subscriptions.has(key)) return { text: error('request id collision') }
    if (this.#subscriptions.size >= maxSubscriptions) return { text: error('too many subscriptions') }
    const subscription: Subscription = {}
    this.#subscriptions.set(key, subscription)
    const want = new Set(wanted as string[])
    return {
      text: dumps({ type: 'SUBSCRIBED', payload: { request_id: id } }),
      sent: () => {
        // Unsubscribed (or closed) before SUBSCRIBED went out: nothing to start.
        if (this.#subscriptions.get(key) !== subscription) return
        subscription.timer = setInterval(() => this.#event(key, want), interval * 1000)
      },
    }
  }

  #unsubscribe(message: Message): Outcome {
    const id = message.request_id as PyValue | undefined
    if (id === undefined) return { text: error('value error') }
    const key = dumps(id)
    clearInterval(this.#subscriptions.get(key)?.timer)
    this.#subscriptions.delete(key)
    return { text: dumps({ type: 'UNSUBSCRIBED', payload: { request_id: id } }) }
  }

  async #clientData(message: Message): Promise<Outcome> {
    const clientId = message.client_id
    if (typeof clientId !== 'string' || clientId === '') return { text: error('authorization error') }
    let id = this.#clients.get(clientId)
    if (id === undefined) {
      id = await this.services.auth.authenticate(clientId, undefined, () => this.remote)
      // A connection normally speaks for one client; one cycling through many only loses this shortcut.
      if (this.#clients.size >= maxClientsPerConnection) this.#clients.clear()
      this.#clients.set(clientId, id)
    }
    if (Array.isArray(message.data)) {
      const batch = toSamples(message.data, this.services.now(), this.services.maxBatchSamples)
      await this.services.writer.write(id, batch)
      return { text: dumps({ type: 'DATA_RETURN', payload: { accepted: batch.length } }) }
    }
    const { sample, echo } = toSample(message.data, this.services.now())
    await this.services.writer.write(id, [sample])
    return { text: `{"type": "DATA_RETURN", "payload": {"data": ${echoJson(echo, false)}}}` }
  }

  #event(key: string, want: Set<string>): void {
    if (this.#closed) return
    // A reader that does not keep up misses EVENTs instead of making the server queue them.
    if (this.conn.bufferedAmount() > this.services.maxBufferedBytes) {
      this.#stalledSince ??= Date.now()
      if (Date.now() - this.#stalledSince > this.services.stallMs) this.conn.close()
      return
    }
    this.#stalledSince = undefined
    const parts = eventParts(this.services.sampler.latest())
    this.conn.send(
      `{"type": "EVENT", "payload": {"request": ${key}, "cpu": ${want.has('CPU') ? parts.cpu : 'null'}, ` +
        `"mem": ${want.has('MEM') ? parts.mem : 'null'}, "storage": ${want.has('STORAGE') ? parts.storage : 'null'}}}`,
    )
  }
}

/** A number or a numeric string, clamped to [0.1, 3600]; 1 when absent; undefined when not a number. */
function intervalSeconds(value: unknown): number | undefined {
  if (value === undefined) return 1
  const n = value instanceof Num ? value.value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isFinite(n)) return undefined
  return Math.min(3600, Math.max(0.1, n))
}

// An EVENT's figures are rendered once per snapshot, however many subscriptions send them.
let rendered: { snapshot: Snapshot; cpu: string; mem: string; storage: string } | undefined

function eventParts(snapshot: Snapshot) {
  if (rendered?.snapshot !== snapshot) {
    const s = snapshot.storage
    rendered = {
      snapshot,
      cpu: dumps(float(snapshot.cpu)),
      mem: dumps(memoryFigures(snapshot.memory, 'MB')),
      storage: dumps({ total: inUnit(s.total, 'GB'), percent: float(s.percent), used: inUnit(s.used, 'GB'), free: inUnit(s.free, 'GB') }),
    }
  }
  return rendered
}
