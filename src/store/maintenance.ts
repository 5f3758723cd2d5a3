// The store's background work: a rollup pass every interval. Failures are logged and the loop goes on; a
// database that is down is only waited for.
import type { Sql } from 'postgres'
import { isDatabaseUnavailable } from './db.js'
import { rollupPass } from './rollup.js'

export interface MaintenanceOptions {
  rollupIntervalMs: number
  logError: (message: string, error: unknown) => void
}

export class Maintenance {
  #stopped = false
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #wakers = new Set<() => void>()
  readonly #loops: Promise<void>[]

  constructor(sql: Sql, { rollupIntervalMs, logError }: MaintenanceOptions) {
    const attempt = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work()
      } catch (e) {
        if (!this.#stopped && !isDatabaseUnavailable(e)) logError(what, e)
      }
    }
    this.#loops = [this.#loop(rollupIntervalMs, () => attempt('rollup pass', () => rollupPass(sql)))]
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
        this.#timers.delete(timer)
        this.#wakers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#timers.add(timer)
      this.#wakers.add(wake)
    })
  }

  /** Ends the loops, waiting for the work in progress. */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const wake of this.#wakers) wake()
    await Promise.all(this.#loops)
  }
}
