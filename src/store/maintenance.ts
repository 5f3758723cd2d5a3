// The store's background work: a rollup pass every interval, or sooner once enough samples were written since
// the last, and retention rounds every check period, each its own loop so that a long retention round never
// holds back the rollups. Failures are logged and the loops go on; a database that is down is only waited for.
// A pass costs per (client, minute) it folds, a fresh read per sample still queued: a fleet sending once a
// second is folded a minute at a time, and a heavy ingest as often as its queue fills.
import type { Sql } from 'postgres'
import { isDatabaseUnavailable } from './health.js'
import { retentionRound, type RetentionLimits } from './retention.js'
import { rollupPass } from './rollup.js'

export interface MaintenanceOptions {
  rollupIntervalMs: number
  /** Samples written since the last pass that start the next one before its interval is up. */
  rollupQueueSamples: number
  retention: { limits: RetentionLimits; checkMs: number; unitRows: number }
  now: () => number
  logError: (message: string, error: unknown) => void
}

export class Maintenance {
  #stopped = false
  readonly #wakers = new Set<() => void>()
  readonly #loops: Promise<void>[]
  #written = 0
  readonly #queueSamples: number
  /** Wakes the rollup loop's wait, while it waits. */
  #rollupDue?: () => void

  constructor(sql: Sql, { rollupIntervalMs, rollupQueueSamples, retention, now, logError }: MaintenanceOptions) {
    this.#queueSamples = rollupQueueSamples
    const attempt = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work()
      } catch (e) {
        if (!this.#stopped && !isDatabaseUnavailable(e)) logError(what, e)
      }
    }
    const fold = () => {
      this.#written = 0
      return attempt('rollup pass', () => rollupPass(sql))
    }
    // Samples written while a pass ran count for the next: if they are enough already, it starts at once.
    const due = (wake: () => void) => {
      this.#rollupDue = wake
      if (this.#written >= this.#queueSamples) wake()
    }
    this.#loops = [this.#loop(rollupIntervalMs, fold, due)]
    if (retention.limits.some((l) => l !== undefined)) {
      const pause = async (unitMs: number) => (await this.#sleep(unitMs), !this.#stopped)
      this.#loops.push(this.#loop(retention.checkMs, () => attempt('retention', () => retentionRound(sql, { ...retention, now, pause }))))
    }
  }

  /** Counts samples this server has committed: enough of them since the last pass start the next one. */
  written(samples: number): void {
    this.#written += samples
    if (this.#written >= this.#queueSamples) this.#rollupDue?.()
  }

  async #loop(intervalMs: number, work: () => Promise<void>, waiting?: (wake: () => void) => void): Promise<void> {
    while (!this.#stopped) {
      await this.#sleep(intervalMs, waiting)
      if (!this.#stopped) await work()
    }
  }

  /** Resolves after `ms`, or at once when stopped or when the wake handed to `waiting` is called. */
  #sleep(ms: number, waiting?: (wake: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.#wakers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#wakers.add(wake)
      waiting?.(wake)
    })
  }

  /** Ends the loops, waiting for the work in progress (a retention round stops after its current unit). */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const wake of this.#wakers) wake()
    await Promise.all(this.#loops)
  }
}
