// Guessing throttled per username from one address, and per username from everywhere, and registrations per
// address; the counts and locks live in the database (store/logins.ts), shared by every server on it, and each
// server keeps the locks in force in memory, so that a verified client's every sample is checked without a query.
//
// - LOGIN_MAX_FAILURES wrong passwords of one username from one address lock that address out of that username
//   for LOGIN_LOCK_SECONDS: its password checks, and its requests with a client_id that did check (a lock that let a
//   right guess through would tell the guesser it was right).
// - LOGIN_MAX_FAILURES_PER_USERNAME wrong passwords of one username from anywhere lock the username for that long
//   for every address it has not logged in from (an address its right password came from within 30 days is
//   spared): an attacker at many addresses gets no more guesses, and an attacker elsewhere locks nobody out.
// - Failures of a username that does not exist are not counted: there is nothing to guess, and a flood of them
//   costs no password check and leaves nothing to evict.
import { tooManyRegistrations, tooManyRequests } from '../errors.js'
import { wholeUsername, type Lock, type LoginStore } from '../store/logins.js'

/** Which limit refused a request: an address's lock on a username, the whole username's, or registrations. */
export type ThrottleLimit = 'address' | 'username' | 'registrations'

export interface ThrottleOptions {
  maxFailures: number
  maxFailuresPerUsername: number
  lockSeconds: number
  registerMax: number
  registerWindowSeconds: number
  /** Told of each request refused (429), for the metrics. */
  refused?: (limit: ThrottleLimit) => void
}

interface Locks {
  /** Until when the whole username is locked (ms); 0 for not. */
  all: number
  /** The addresses a lock of the whole username spares. */
  known: Set<string>
  byAddress: Map<string, number>
}

// Old counts are forgotten this often.
const purgeMs = 60_000

export class LoginThrottle {
  readonly #locks = new Map<string, Locks>()
  /** Password checks under way on this server, by `${address} ${username}`. */
  readonly #checking = new Map<string, number>()
  #purger?: NodeJS.Timeout
  #unlisten?: () => Promise<void>

  private constructor(
    private readonly store: LoginStore,
    private readonly options: ThrottleOptions,
    private readonly now = Date.now,
  ) {}

  /** The throttle, with the locks in force now and those any server sets from now on. */
  static async start(store: LoginStore, options: ThrottleOptions, now = Date.now): Promise<LoginThrottle> {
    const throttle = new LoginThrottle(store, options, now)
    throttle.#unlisten = await store.onLock((lock) => void throttle.#apply(lock))
    for (const lock of await store.locks()) await throttle.#apply(lock)
    throttle.#purger = setInterval(() => {
      throttle.#forgetExpired()
      void store.purge(options.lockSeconds * 1000, options.registerWindowSeconds * 1000).catch(() => undefined)
    }, purgeMs)
    throttle.#purger.unref()
    return throttle
  }

  /** Stops purging and listening; not awaited, so that a database that does not answer cannot hold a shutdown. */
  stop(): void {
    clearInterval(this.#purger)
    void this.#unlisten?.().catch(() => undefined)
  }

  /** Throws 429 while the address may not act as the username; the address is asked for only if a lock exists. */
  check(username: string, remote: () => string): void {
    const locks = this.#locks.get(username)
    if (!locks) return
    const now = this.now()
    const address = remote()
    const own = locks.byAddress.get(address) ?? 0
    const byAddress = own > now ? own : 0
    const byUsername = locks.all > now && !locks.known.has(address) ? locks.all : 0
    if (byAddress > 0 || byUsername > 0) {
      this.options.refused?.(byAddress >= byUsername ? 'address' : 'username')
      throw tooManyRequests(Math.max(1, Math.ceil((Math.max(byAddress, byUsername) - now) / 1000)))
    }
  }

  /**
   * Before a password check: throws 429 like `check`, and while LOGIN_MAX_FAILURES checks of the username from the
   * address are under way here (a burst of guesses is not all checked before the first failures count). Pair with `done`.
   */
  begin(username: string, address: string): void {
    this.check(username, () => address)
    const key = `${address} ${username}`
    const under = this.#checking.get(key) ?? 0
    if (under >= this.options.maxFailures) {
      this.options.refused?.('address')
      throw tooManyRequests(1)
    }
    this.#checking.set(key, under + 1)
  }

  done(username: string, address: string): void {
    const key = `${address} ${username}`
    const under = (this.#checking.get(key) ?? 1) - 1
    if (under > 0) this.#checking.set(key, under)
    else this.#checking.delete(key)
  }

  async failed(username: string, address: string): Promise<void> {
    const { maxFailures, maxFailuresPerUsername, lockSeconds } = this.options
    const locks = await this.store.failed(username, address, { maxPerAddress: maxFailures, maxPerUsername: maxFailuresPerUsername, lockMs: lockSeconds * 1000 })
    for (const lock of locks) await this.#apply(lock)
  }

  /**
   * After a right password, before it counts: throws 429 for a lock in force in the database, so that one another
   * server set a moment ago holds here too, whether or not its NOTIFY has arrived yet.
   */
  async confirm(username: string, address: string): Promise<void> {
    this.check(username, () => address)
    const until = await this.store.lockedUntil(username, address)
    const now = this.now()
    if (until > now) throw tooManyRequests(Math.max(1, Math.ceil((until - now) / 1000)))
  }

  async succeeded(username: string, address: string): Promise<void> {
    this.#locks.get(username)?.known.add(address)
    await this.store.succeeded(username, address)
  }

  /** Counts a registration from the address; throws 429 past REGISTER_MAX_PER_ADDRESS in the window. */
  async register(address: string): Promise<void> {
    const { allowed, retryAfterSeconds } = await this.store.register(address, this.options.registerMax, this.options.registerWindowSeconds * 1000)
    if (!allowed) {
      this.options.refused?.('registrations')
      throw tooManyRegistrations(retryAfterSeconds)
    }
  }

  /** Drops the locks that have ended: those of usernames never asked for again would otherwise stay for ever. */
  #forgetExpired(): void {
    const now = this.now()
    for (const [username, locks] of this.#locks) {
      for (const [address, until] of locks.byAddress) if (until <= now) locks.byAddress.delete(address)
      if (locks.all <= now && locks.byAddress.size === 0) this.#locks.delete(username)
    }
  }

  async #apply({ username, address, until }: Lock): Promise<void> {
    const now = this.now()
    if (until <= now) return
    // The addresses a lock of the whole username spares are known before it holds, so none of them is refused;
    // a database that cannot say which leaves the lock holding for all of them.
    const held = this.#locks.get(username)
    const known = address === wholeUsername && !(held && held.all > now) ? await this.store.knownAddresses(username).catch(() => []) : []
    const locks = this.#locks.get(username) ?? { all: 0, known: new Set<string>(), byAddress: new Map<string, number>() }
    for (const a of known) locks.known.add(a)
    if (address === wholeUsername) locks.all = Math.max(locks.all, until)
    else locks.byAddress.set(address, Math.max(locks.byAddress.get(address) ?? 0, until))
    this.#locks.set(username, locks)
  }
}
