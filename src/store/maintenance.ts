// The store's background work: a rollup pass every interval, and retention rounds every check period, each
// its own loop so that a long retention round never holds back the rollups. Failures are logged and the
// loops go on; a database that is down is only waited for.
import type { Sql } from 'postgres'
import { isDatabaseUnavailable } from './health.js'
import { retentionRound, type RetentionLimits } from './retention.js'
import { rollupPass } from './rollup.js'

export interface MaintenanceOptions {
  rollupIntervalMs: number
  retention: { limits: RetentionLimits; checkMs: number; unitRows: number }
  now: () => number
  logError: (message: string, error: unknown) => void
}

export class Maintenance {
  #stopped = false
  readonly #wakers = new Set<() => void>()
  readonly #loops: Promise<void>[]

  constructor(sql: Sql, { rollupIntervalMs, retention, now, logError }: MaintenanceOptions) {
    const attempt = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work()
      } catch (e) {
        if (!this.#stopped && !isDatabaseUnavailable(e)) logError(what, e)
      }
    }
    this.#loops = [this.#loop(rollupIntervalMs, () => attempt('rollup pass', () => rollupPass(sql)))]
    if (retention.limits.some((l) => l !== undefined)) {
      const pause = async (unitMs: number) => (await this.#sleep(unitMs), !this.#stopped)
      this.#loops.push(this.#loop(retention.checkMs, () => attempt('retention', () => retentionRound(sql, { ...retention, now, pause }))))
    }
  }

  async #loop(intervalMs: number, work: () => Promise<void>): Promise<void> {
    while (!this.#stopped) {
      await this.#sleep(intervalMs)
      if (!this.#stopped) await work()
    }
  }

  /** Resolves after `ms`, or at once when stopped. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.#wakers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#wakers.add(wake)
    })
  }

  /** Ends the loops, waiting for the work in progress (a retention round stops after its current unit). */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const wake of this.#wakers) wake()
    await Promise.all(this.#loops)
  }
}
