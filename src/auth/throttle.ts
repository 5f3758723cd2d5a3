// Failed logins per username and remote address: after `maxFailures` (counting checks still under way), that
// address is refused with 429 for that username for `lockSeconds`. Nobody can make the server run scrypt
// for one name without end, and an attacker elsewhere cannot lock a client out.
import { tooManyRequests } from '../errors.js'

interface Entry {
  failures: number
  inFlight: number
  since: number
  lockedUntil: number
}

// Past this many entries the oldest goes; an attacker cycling names only costs itself scrypt runs.
const maxEntries = 100_000

export class LoginThrottle {
  readonly #entries = new Map<string, Entry>()
  constructor(
    private readonly maxFailures: number,
    private readonly lockMs: number,
    private readonly now = Date.now,
  ) {}

  /** Throws 429 while the address is locked out of the username; the address is asked for only if any is. */
  check(username: string, remote: () => string): void {
    if (this.#entries.size > 0) this.#entry(username, remote(), false)
  }

  /** Call before a password check (throws 429 like `check`); pair it with `end`. */
  begin(username: string, remote: string): void {
    this.#entry(username, remote, true)!.inFlight++
  }

  end(username: string, remote: string, ok: boolean): void {
    const key = `${remote} ${username}`
    const entry = this.#entries.get(key)
    if (!entry) return
    entry.inFlight--
    if (ok) {
      if (entry.inFlight === 0 && entry.lockedUntil <= this.now()) this.#entries.delete(key)
      return
    }
    entry.failures++
    if (entry.failures >= this.maxFailures) {
      entry.since = this.now()
      entry.lockedUntil = entry.since + this.lockMs
      entry.failures = 0
    }
  }

  #entry(username: string, remote: string, create: boolean): Entry | undefined {
    const key = `${remote} ${username}`
    const now = this.now()
    let entry = this.#entries.get(key)
    if (entry && entry.inFlight === 0 && entry.lockedUntil <= now && now - entry.since > this.lockMs) {
      this.#entries.delete(key)
      entry = undefined
    }
    if (entry && (entry.lockedUntil > now || entry.failures + entry.inFlight >= this.maxFailures)) {
      throw tooManyRequests(Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000)))
    }
    if (!entry && create) {
      entry = { failures: 0, inFlight: 0, since: now, lockedUntil: 0 }
      if (this.#entries.size >= maxEntries) this.#entries.delete(this.#entries.keys().next().value!)
      this.#entries.set(key, entry)
    }
    return entry
  }
}
