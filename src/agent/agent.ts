// The headless agent: a sample of this host each interval, taken on the interval's boundaries of the clock (so that
// each is a second of its own on the server, and its time is that boundary), appended to the spool, then sent.
// While the server is away the spool grows; when it is back the spool is sent oldest first, in batches.
import { readLoad } from '../host/sampler.js'
import { inUnit } from '../wire/units.js'
import type { AgentOptions } from './options.js'
import type { Spool, SpooledSample } from './spool.js'
import type { Outcome, Uploader } from './uploader.js'

export interface AgentLog {
  info(line: string): void
  error(line: string): void
}

/** How the agent ends when the server refuses it for good, told what to say. */
export type Refuse = (message: string) => void

// Samples a batch upload carries at first: well inside the server's default MAX_BATCH_SAMPLES; a 413 halves it.
const batchSamples = 1000
// A Retry-After longer than this is taken as this: a confused server must not silence the agent for days.
const maxRetryAfter = 3600

/** Seconds to wait after the n-th failure in a row: doubling from 0.5 s up to `cap`, the upper half jittered. */
export function backoff(failures: number, cap: number, random = Math.random): number {
  const ceiling = Math.min(cap, 0.5 * 2 ** (failures - 1))
  return ceiling / 2 + (random() * ceiling) / 2
}

const boundaryAfter = (ms: number, intervalMs: number) => (Math.floor(ms / intervalMs) + 1) * intervalMs

export class Agent {
  #clientId?: string
  #batch = batchSamples
  #failures = 0
  #retryAt = 0
  #retryTimer?: NodeJS.Timeout
  #tickTimer?: NodeJS.Timeout
  #flushing?: Promise<void>
  #sampling = false
  #stopped = false
  /** Since when the server has been away, and how many spooled samples have gone since it came back. */
  #away?: number
  #replayed = 0
  /** The spool's drops already said, and their count when the current episode of drops began. */
  #dropsSeen = 0
  #dropsFrom?: number
  #damaged = 0
  #sampleProblem?: string

  constructor(
    private readonly options: AgentOptions,
    private readonly spool: Spool,
    private readonly uploader: Uploader,
    private readonly log: AgentLog,
    private readonly refuse: Refuse,
  ) {}

  /** Samples on every interval's boundary from the next one on, and sends what the spool already holds. */
  start(): void {
    this.#noteSpool()
    this.#schedule(boundaryAfter(Date.now(), this.options.interval * 1000))
    this.#kick()
  }

  /** One sample now, then everything the spool holds; resolves whether the spool is empty (all sent). */
  async once(): Promise<boolean> {
    await this.#sample(Math.floor(Date.now() / 1000))
    await this.#flush()
    return !this.spool.pending
  }

  /** Stops sampling and sending; what is not acknowledged stays in the spool for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#tickTimer)
    clearTimeout(this.#retryTimer)
    // A request in flight ends at once; had the server committed it, the next start sends it again (merged).
    this.uploader.close()
    await this.#flushing
    this.#noteSpool()
  }

  #schedule(at: number): void {
    this.#tickTimer = setTimeout(() => this.#tick(at), Math.max(0, at - Date.now()))
  }

  #tick(at: number): void {
    const intervalMs = this.options.interval * 1000
    // The next boundary: never this one again (a timer may fire a little early); the first one still to come after
    // the process was stopped, or the clock set forward; from now after the clock was set back.
    const now = Date.now()
    let next = at + intervalMs
    if (next <= now || next - now > 2 * intervalMs) next = boundaryAfter(now, intervalMs)
    this.#schedule(next)
    // A read that hangs (a stale network filesystem) costs its intervals their samples rather than piling up.
    if (this.#sampling) return
    this.#sampling = true
    this.#sample(Math.floor(at / 1000))
      .then(() => this.#kick())
      .finally(() => (this.#sampling = false))
  }

  async #sample(time: number): Promise<void> {
    const { metrics, units, storagePath } = this.options
    try {
      const load = await readLoad(storagePath)
      const sample: SpooledSample = { time }
      if (metrics.includes('cpu')) sample.cpu_load = load.cpu
      if (metrics.includes('mem')) sample.mem = inUnit(load.memory.used, units)
      if (metrics.includes('storage')) sample.storage = inUnit(load.storage.used, units)
      this.spool.append(sample)
      if (this.#sampleProblem !== undefined) this.log.info('sampling and spooling again')
      this.#sampleProblem = undefined
    } catch (e) {
      const problem = (e as Error).message
      // Said when it starts or changes, not every interval.
      if (problem !== this.#sampleProblem) this.log.error(`the sample of ${new Date(time * 1000).toISOString()} is lost: ${problem}`)
      this.#sampleProblem = problem
    }
    this.#noteSpool()
  }

  #kick(): void {
    if (this.#stopped || this.#flushing || Date.now() < this.#retryAt) return
    this.#flushing = this.#flush().finally(() => (this.#flushing = undefined))
  }

  async #flush(): Promise<void> {
    let fresh = false
    while (!this.#stopped) {
      if (this.#clientId === undefined) {
        const login = await this.uploader.login(this.options.user, this.options.password)
        if (!('ok' in login)) return 'retry' in login ? this.#later(login) : this.#refused(login)
        const clientId = clientIdOf(login.text)
        if (clientId === undefined) return this.#refused({ refused: `200 ${login.text.slice(0, 200)} (not a system-monitor server?)` })
        this.#clientId = clientId
        fresh = true
        this.log.info(`${login.text.includes('"registration"') ? 'registered' : 'logged in as'} ${this.options.user}`)
      }
      const batch = this.spool.read(this.#batch)
      if (batch.lines.length === 0) {
        // What was read was damage only: past it.
        this.spool.acknowledge(batch.end)
        return this.#drained()
      }
      const sent = await this.uploader.send(this.options.user, this.#clientId, batch.lines)
      if ('ok' in sent) {
        this.spool.acknowledge(batch.end)
        this.#failures = 0
        if (this.#away !== undefined) this.#replayed += batch.lines.length
      } else if ('tooLarge' in sent && this.#batch > 1) this.#batch = Math.ceil(this.#batch / 2)
      // The password changed since the login: log in again, once.
      else if ('unauthorized' in sent && !fresh) this.#clientId = undefined
      else return 'retry' in sent ? this.#later(sent) : this.#refused(sent)
    }
  }

  /** The server is away or busy: the next try after the backoff, and not before its Retry-After. */
  #later({ retry, after }: { retry: string; after?: number }): void {
    this.#failures++
    // A Retry-After of 0 from a server that keeps failing must not make a storm of tries: the backoff still holds.
    const seconds = Math.max(Math.min(after ?? 0, maxRetryAfter), backoff(this.#failures, this.options.maxRetryDelay))
    this.#retryAt = Date.now() + seconds * 1000
    if (this.#away === undefined) {
      this.#away = Date.now()
      this.#replayed = 0
      this.log.info(`${retry}: samples wait in the spool, sent once it answers`)
    }
    clearTimeout(this.#retryTimer)
    // Unref'd: with --once nothing else is pending, and the process then ends with the sample spooled.
    this.#retryTimer = setTimeout(() => this.#kick(), seconds * 1000).unref()
  }

  #refused(outcome: Exclude<Outcome, { ok: true } | { retry: string }>): void {
    const [said] = Object.values(outcome)
    const hint = 'unauthorized' in outcome ? ' (a wrong password for this username?)' : ''
    this.#stopped = true
    this.refuse(`the server refused ${this.options.user}: ${said}${hint}; nothing more is sent, the spool is kept`)
  }

  /** The spool is empty: an outage (and an episode of drops) is over. */
  #drained(): void {
    if (this.#away !== undefined) {
      this.log.info(`the server answers again after ${Math.round((Date.now() - this.#away) / 1000)} s: ${this.#replayed} spooled samples sent`)
      this.#away = undefined
    }
    if (this.#dropsFrom !== undefined) {
      this.log.info(`${this.spool.dropped - this.#dropsFrom} of the oldest samples were dropped while the spool was full`)
      this.#dropsFrom = undefined
    }
  }

  /** Says, once an episode, that the spool has reached its cap; and any damage found in it. */
  #noteSpool(): void {
    if (this.#dropsFrom === undefined && this.spool.dropped > this.#dropsSeen) {
      this.#dropsFrom = this.#dropsSeen
      this.log.info(`the spool is full (--spool-max-bytes ${this.options.spoolMaxBytes}): the oldest samples are dropped until the server has the rest`)
    }
    this.#dropsSeen = this.spool.dropped
    if (this.spool.damaged > this.#damaged) this.log.info(`${this.spool.damaged - this.#damaged} damaged line(s) in the spool skipped (a torn write)`)
    this.#damaged = this.spool.damaged
  }
}

/** The client_id of a login's answer. */
function clientIdOf(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { client_id?: unknown }).client_id
    return typeof id === 'string' && id !== '' ? id : undefined
  } catch {
    return undefined
  }
}
