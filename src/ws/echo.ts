// The /echo WebSocket protocol (contract, "WebSocket: /echo"): one session per connection, replies in the
// order the requests came, subscriptions owned by their connection. It sees only the Connection interface.
import type { HostSampler } from '../host/sampler.js'
import type { Answer, Ingest } from '../ingest/entry.js'
import { parsePyJson } from '../ingest/formats/json.js'
import { dataReturn, dataReturnAccepted, errorFrame, eventFrame, metrics, notJson, subscribed, unsubscribed, welcome, workTimeFrame, type Metric } from '../wire/frames.js'
import { dumps, Num, type PyValue } from '../wire/pyjson.js'

/** What a transport gives the protocol: each transport (uWS, Deno) implements it over its own socket. */
export interface Connection {
  /** Sends a text frame; does nothing once the connection is closed. */
  send(text: string): void
  /** Closes a connection that does not keep up. */
  close(): void
  /** Bytes queued for the peer and not yet sent. */
  bufferedAmount(): number
}

/** What sessions tell the metrics: connections opened and closed, subscriptions taken and ended (as changes). */
export interface SessionReport {
  connections(change: number): void
  subscriptions(change: number): void
}

export interface EchoServices {
  sampler: HostSampler
  ingest: Ingest
  /** What an ERROR says of a failed CLIENT_DATA: the contract's reason, or "internal error" (logged). */
  errorReason: (error: unknown) => string
  /** Subscriptions one connection may hold at once. */
  maxSubscriptions: number
  /** Requests waiting for their replies, at most: a client that sends faster than they are made is cut off. */
  maxPending: number
  /** EVENTs are skipped while more than this is queued for a connection... */
  maxBufferedBytes: number
  /** ...and a connection that has taken nothing for this long is closed. */
  stallMs: number
  report: SessionReport
}

interface Outcome {
  text: string
  /** Runs once the reply is on its way, e.g. to start a subscription's EVENTs after SUBSCRIBED. */
  sent?: () => void
}

interface Subscription {
  timer?: NodeJS.Timeout
}

type Message = { readonly [key: string]: PyValue | undefined }

const valueError = { text: errorFrame('value error') }
// A single sample is echoed as it came (contract, WebSocket table): the message's own data.
const stored: Answer<Outcome, PyValue> = { one: (_, data) => ({ text: dataReturn(data) }), many: (count) => ({ text: dataReturnAccepted(count) }) }

export class EchoSession {
  readonly #openedAt = new Date()
  #greeted = false
  #closed = false
  #pending = 0
  #tail: Promise<void> = Promise.resolve()
  #stalledSince: number | undefined
  readonly #subscriptions = new Map<string, Subscription>()
  readonly #remote: () => string

  constructor(
    private readonly conn: Connection,
    private readonly services: EchoServices,
    remote: string,
  ) {
    this.#remote = () => remote
    services.report.connections(1)
  }

  /** A text frame's content, or undefined for a binary frame. */
  onMessage(text: string | undefined): void {
    if (this.#closed) return
    if (this.#pending >= this.services.maxPending) return this.conn.close()
    this.#reply(this.#handle(text))
  }

  onClose(): void {
    if (this.#closed) return
    this.#closed = true
    for (const s of this.#subscriptions.values()) clearInterval(s.timer)
    this.services.report.subscriptions(-this.#subscriptions.size)
    this.#subscriptions.clear()
    this.services.report.connections(-1)
  }

  #handle(text: string | undefined): Outcome | Promise<Outcome> {
    let message: PyValue
    try {
      if (text === undefined) return { text: notJson }
      message = parsePyJson(text)
    } catch {
      return { text: notJson }
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message) || message instanceof Num) return { text: notJson }
    const fields = message as Message
    const type = fields.type
    if (type === 'HELLO') {
      this.#greeted = true
      return { text: welcome }
    }
    if (!this.#greeted) return { text: notJson }
    switch (type) {
      case 'SUBSCRIBE':
        return this.#subscribe(fields)
      case 'UNSUBSCRIBE':
        return this.#unsubscribe(fields)
      case 'WORK_TIME':
        return { text: workTimeFrame(this.#openedAt) }
      case 'CLIENT_DATA':
        return this.#clientData(fields)
      default:
        return { text: notJson }
    }
  }

  /** Sends at once when nothing is waiting, else after everything before it. */
  #reply(outcome: Outcome | Promise<Outcome>): void {
    if (this.#pending === 0 && !(outcome instanceof Promise)) return this.#send(outcome)
    this.#pending++
    const ready = Promise.resolve(outcome).catch((e: unknown) => ({ text: errorFrame(this.services.errorReason(e)) }))
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

  #subscribe(message: Message): Outcome {
    const id = message.request_id
    const wanted = message.data ?? []
    const interval = intervalSeconds(message.interval)
    if (id === undefined || interval === undefined || !Array.isArray(wanted) || !wanted.every(isMetric)) return valueError
    const key = dumps(id)
    if (this.#subscriptions.has(key)) return { text: errorFrame('request id collision') }
    if (this.#subscriptions.size >= this.services.maxSubscriptions) return { text: errorFrame('too many subscriptions') }
    const subscription: Subscription = {}
    this.#subscriptions.set(key, subscription)
    this.services.report.subscriptions(1)
    const want = new Set(wanted)
    return {
      text: subscribed(id),
      sent: () => {
        // Unsubscribed (or closed) before SUBSCRIBED went out: nothing to start.
        if (this.#subscriptions.get(key) !== subscription) return
        subscription.timer = setInterval(() => this.#event(key, want), interval * 1000)
      },
    }
  }

  #unsubscribe(message: Message): Outcome {
    const id = message.request_id
    if (id === undefined) return valueError
    const key = dumps(id)
    clearInterval(this.#subscriptions.get(key)?.timer)
    if (this.#subscriptions.delete(key)) this.services.report.subscriptions(-1)
    return { text: unsubscribed(id) }
  }

  #clientData(message: Message): Promise<Outcome> {
    const { data = null, client_id: clientId } = message
    const sender = { transport: 'ws' as const, segment: typeof clientId === 'string' ? clientId : '', remote: this.#remote }
    return this.services.ingest(sender, () => (Array.isArray(data) ? { many: data, format: 'json' } : { one: data, format: 'json' }), stored)
  }

  #event(key: string, want: ReadonlySet<Metric>): void {
    if (this.#closed) return
    // A reader that does not keep up misses EVENTs instead of making the server queue them.
    if (this.conn.bufferedAmount() > this.services.maxBufferedBytes) {
      this.#stalledSince ??= Date.now()
      if (Date.now() - this.#stalledSince > this.services.stallMs) this.conn.close()
      return
    }
    this.#stalledSince = undefined
    this.conn.send(eventFrame(key, want, this.services.sampler.latest()))
  }
}

const isMetric = (m: PyValue): m is Metric => (metrics as readonly PyValue[]).includes(m)

/** A number or a numeric string, clamped to [0.1, 3600]; 1 when absent; undefined when not a number. */
function intervalSeconds(value: PyValue | undefined): number | undefined {
  if (value === undefined) return 1
  const n = value instanceof Num ? value.value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isFinite(n)) return undefined
  return Math.min(3600, Math.max(0.1, n))
}
