// The one write path: every sample from every transport is stored here, and write() resolves only after
// its rows are committed. Samples from all senders are grouped into one multi-row statement per batch
// (group commit); a few statements run at once, so one batch commits while the next is collected.
import { ingestQueueFull } from '../errors.js'
import type { Sample } from '../sample.js'

export interface Writer {
  /** Resolves once every sample is committed; rejects (503) when the queue stays full or the database fails. */
  write(clientId: number, samples: Sample[]): Promise<void>
  /** Waits for everything accepted so far to be committed or failed. */
  drain(): Promise<void>
}

/** What the writer needs of storage: commit these rows in one statement, (client, t) pairs unique. */
export type StoreRows = (clientIds: number[], samples: Sample[]) => Promise<void>

export interface WriterOptions {
  /** Samples waiting for a statement, at most; past it senders wait up to `queueWaitMs`, then get 503. */
  maxQueued: number
  queueWaitMs: number
  /** Rows per statement, at most (a single larger request still goes as one statement). */
  maxBatchRows: number
  /** Statements in flight at once; each holds one database connection. */
  concurrency: number
  /** Told of each statement committed: its rows and how long it took. */
  committed?: (rows: number, seconds: number) => void
}

/** The queue as it is now. */
export interface WriterStats {
  /** Samples waiting for a statement, and how many may (INGEST_MAX_QUEUED). */
  queued: number
  capacity: number
  /** Statements under way: each holds one of the write connections. */
  inFlight: number
}

interface Entry {
  clientId: number
  samples: Sample[]
  resolve: () => void
  reject: (e: unknown) => void
}

export class GroupWriter implements Writer {
  /**
   * Entries not yet in a statement, oldest first, from `#head` on: taken by moving the index, as
   * porsager/postgres's queue.js does, and the taken ones cut off only once they are half of the array, so
   * that each entry is copied a bounded number of times; `#queued` counts the samples not yet taken.
   */
  #queue: Entry[] = []
  #head = 0
  #queued = 0
  #inFlight = 0
  #scheduled = false
  /** Senders waiting for queue space, woken as each statement starts (its rows leave the queue). */
  readonly #waitingForSpace = new Set<() => void>()
  readonly #idle = new Set<() => void>()

  constructor(
    private readonly store: StoreRows,
    private readonly options: WriterOptions,
  ) {}

  async write(clientId: number, samples: Sample[]): Promise<void> {
    if (this.#queued > 0 && this.#queued + samples.length > this.options.maxQueued) await this.#space(samples.length)
    return new Promise((resolve, reject) => {
      this.#queue.push({ clientId, samples, resolve, reject })
      this.#queued += samples.length
      this.#schedule()
    })
  }

  get stats(): WriterStats {
    return { queued: this.#queued, capacity: this.options.maxQueued, inFlight: this.#inFlight }
  }

  drain(): Promise<void> {
    if (this.#queued === 0 && this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.add(resolve))
  }

  async #space(needed: number): Promise<void> {
    const deadline = Date.now() + this.options.queueWaitMs
    while (this.#queued > 0 && this.#queued + needed > this.options.maxQueued) {
      const left = deadline - Date.now()
      if (left <= 0 || !(await this.#wakeWithin(left))) {
        throw ingestQueueFull()
      }
    }
  }

  #wakeWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.#waitingForSpace.delete(wake)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.#waitingForSpace.delete(wake)
        resolve(false)
      }, ms)
      this.#waitingForSpace.add(wake)
    })
  }

  #schedule(): void {
    // Everything that arrives in this turn of the event loop joins the same statement; a lone sample waits
    // for nothing else.
    if (this.#scheduled || this.#inFlight >= this.options.concurrency) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      while (this.#waiting() && this.#inFlight < this.options.concurrency) void this.#flush(this.#nextBatch())
    })
  }

  #waiting(): boolean {
    return this.#head < this.#queue.length
  }

  /** The oldest entries, up to maxBatchRows samples (at least one entry, however large). */
  #nextBatch(): Entry[] {
    const from = this.#head
    let rows = 0
    while (this.#waiting() && (this.#head === from || rows + this.#queue[this.#head].samples.length <= this.options.maxBatchRows)) {
      rows += this.#queue[this.#head++].samples.length
    }
    const batch = this.#queue.slice(from, this.#head)
    this.#queued -= rows
    if (this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    return batch
  }

  async #flush(batch: Entry[]): Promise<void> {
    this.#inFlight++
    for (const wake of this.#waitingForSpace) wake()
    try {
      const { clientIds, samples } = mergeBatch(batch)
      const started = performance.now()
      await this.store(clientIds, samples)
      this.options.committed?.(samples.length, (performance.now() - started) / 1000)
      for (const e of batch) e.resolve()
    } catch (e) {
      for (const entry of batch) entry.reject(e)
    } finally {
      this.#inFlight--
      if (this.#waiting()) this.#schedule()
      else if (this.#inFlight === 0) {
        for (const resolve of this.#idle) resolve()
        this.#idle.clear()
      }
    }
  }
}

/**
 * One row per (client, second), later samples' fields replacing earlier ones (PostgreSQL refuses to update a
 * row twice in one statement), sorted so that concurrent statements lock rows in one order and never deadlock.
 */
export function mergeBatch(batch: { clientId: number; samples: Sample[] }[]): { clientIds: number[]; samples: Sample[] } {
  // Most batches already are in order, each second once (one client's samples as they come): kept as they are.
  const clientIds: number[] = []
  const samples: Sample[] = []
  for (const { clientId, samples: sent } of batch) {
    for (const sample of sent) {
      const last = samples.length - 1
      if (last >= 0 && (clientIds[last] > clientId || (clientIds[last] === clientId && samples[last].t >= sample.t))) return sortAndMerge(batch)
      clientIds.push(clientId)
      samples.push(sample)
    }
  }
  return { clientIds, samples }
}

function sortAndMerge(batch: { clientId: number; samples: Sample[] }[]): { clientIds: number[]; samples: Sample[] } {
  const rows: { clientId: number; sample: Sample }[] = []
  for (const { clientId, samples } of batch) for (const sample of samples) rows.push({ clientId, sample })
  // The sort is stable: a client's samples of one second stay in the order they came, so the later one wins.
  rows.sort((a, b) => a.clientId - b.clientId || a.sample.t - b.sample.t)
  const clientIds: number[] = []
  const samples: Sample[] = []
  for (const { clientId, sample } of rows) {
    const last = samples.length - 1
    const prev = samples[last]
    if (last < 0 || clientIds[last] !== clientId || prev.t !== sample.t) {
      clientIds.push(clientId)
      samples.push(sample)
    } else {
      samples[last] = { t: sample.t, cpu: sample.cpu ?? prev.cpu, mem: sample.mem ?? prev.mem, storage: sample.storage ?? prev.storage }
    }
  }
  return { clientIds, samples }
}
