// Whether the database can serve, known within a second: a heartbeat on a connection of its own, so that a
// database stopped, killed or hung (SIGSTOP) is noticed whether or not anything else is asking. While it is
// away every database operation is refused at once (503) instead of waiting in the driver's reconnect queue,
// and what was out when it went is refused as it goes; the heartbeat notices when it is back.
import { databaseUnavailable } from '../errors.js'

export interface HealthOptions {
  /** A database that has not answered the heartbeat for this long is away. */
  timeoutMs: number
  log: (line: string) => void
}

export interface Health {
  readonly up: boolean
  /** Statements under way (each on a pool connection, or waiting for one), also those whose caller was refused meanwhile. */
  readonly statements: number
  /** Throws the 503 at once while the database is away. */
  check(): void
  /** Runs database work: refused at once while the database is away, and as soon as it goes away meanwhile. */
  guard<T>(work: () => PromiseLike<T>): Promise<T>
  /** A failure that may mean the database went away: the heartbeat asks now rather than at its next beat. */
  suspect(): void
  /** The database's process is known to be gone (the embedded one died): away at once. */
  lost(reason: string): void
  stop(): void
}

/** `probe` asks the database something trivial on a connection of its own. */
export function watchHealth(probe: () => Promise<void>, { timeoutMs, log }: HealthOptions): Health {
  let up = true
  let since = 0
  let stopped = false
  let statements = 0
  /** The heartbeat in flight: a hung database leaves it out, and no second one is sent behind it. */
  let beating: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined
  const refusals = new Set<(e: Error) => void>()

  const goAway = (reason: string) => {
    if (!up) return
    up = false
    since = Date.now()
    log(`database unavailable: ${reason}`)
    const refusal = databaseUnavailable()
    for (const refuse of refusals) refuse(refusal)
    refusals.clear()
  }
  const comeBack = () => {
    if (up) return
    up = true
    log(`database is back after ${((Date.now() - since) / 1000).toFixed(1)} s`)
  }

  const beat = () => {
    if (stopped || beating) return
    let settled = false
    const deadline = setTimeout(() => settled || goAway(`no answer within ${timeoutMs} ms`), timeoutMs)
    beating = probe().then(
      () => {
        settled = true
        comeBack()
      },
      (e: unknown) => {
        settled = true
        goAway(e instanceof Error ? e.message : String(e))
      },
    )
    void beating.finally(() => {
      clearTimeout(deadline)
      beating = undefined
    })
  }
  const schedule = () => {
    if (stopped) return
    beat()
    // A beat a third of the timeout apart: a hung database misses one within the timeout, however it is timed.
    timer = setTimeout(schedule, Math.max(50, Math.floor(timeoutMs / 3)))
    timer.unref()
  }
  schedule()

  return {
    get up() {
      return up
    },
    get statements() {
      return statements
    },
    check() {
      if (!up) throw databaseUnavailable()
    },
    guard<T>(work: () => PromiseLike<T>): Promise<T> {
      if (!up) return Promise.reject(databaseUnavailable())
      return new Promise<T>((resolve, reject) => {
        refusals.add(reject)
        const running = Promise.resolve(work())
        statements++
        running.then(
          (value) => {
            statements--
            refusals.delete(reject)
            resolve(value)
          },
          (e: unknown) => {
            statements--
            refusals.delete(reject)
            if (isDatabaseUnavailable(e)) beat()
            reject(e)
          },
        )
      })
    },
    suspect: beat,
    lost: goAway,
    stop() {
      stopped = true
      clearTimeout(timer)
      const refusal = databaseUnavailable()
      for (const refuse of refusals) refuse(refusal)
      refusals.clear()
    },
  }
}

const unreachable = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']

/**
 * Errors that mean the database cannot serve now, as opposed to a bug in a query: a client is told to come back
 * (503), not that the server failed. By SQLSTATE class: 08 connection, 53 insufficient resources (too many
 * connections, disk full, out of memory), 57 operator intervention and statements cancelled past their deadline,
 * 58 system errors (I/O), 40001 and 40P01 (serialization, deadlock: retrying succeeds), 3D000 a database dropped
 * under a running server. ENOTFOUND and EAI_AGAIN: a host whose name is not resolvable yet (compose starting up).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return false
  return unreachable.includes(code) || /^(08|53|57|58)/.test(code) || code === '40001' || code === '40P01' || code === '3D000'
}
