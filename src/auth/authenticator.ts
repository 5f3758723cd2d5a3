// Who a request acts as (contract, "Authentication of /client/{S}"), and registration or login.
// Verified client_ids are cached so that ingest runs scrypt once per client, not once per sample.
import { unauthorized, unsupportableUsername } from '../errors.js'
import type { ClientStore } from '../store/clients.js'
import { isSupportedUsername, makeClientId, parseClientId, tokenOfHeader } from './client-id.js'
import { hashPassword, verifyPassword } from './password.js'
import type { LoginThrottle } from './throttle.js'

interface Verified {
  id: number
  username: string
}

export interface AuthOptions {
  cacheSize: number
}

export class Authenticator {
  /** client_id -> client; Map order is recency, the oldest entry goes first. */
  readonly #cache = new Map<string, Verified>()
  /** client_id -> its verification under way, so a burst of one client's requests runs scrypt once. */
  readonly #pending = new Map<string, Promise<Verified>>()

  constructor(
    private readonly clients: ClientStore,
    private readonly throttle: LoginThrottle,
    private readonly options: AuthOptions,
  ) {}

  /**
   * The client id for `/client/{segment}` with this Authorization header, from the remote address that
   * `remote` gives (asked for only when the throttle needs it); throws 401, or 429 while that address is
   * locked out of that username.
   */
  authenticate(segment: string, header: string | undefined, remote: () => string): number | Promise<number> {
    const token = header === undefined || header.trim() === '' ? segment : tokenOfHeader(header)
    // With a header, the segment is either that same client_id or the username it names.
    const wantUsername = token === segment ? undefined : segment
    const cached = this.#cache.get(token)
    // A verified client_id is answered without a promise: it is every sample's first step (hot path).
    if (!cached) return this.#authenticate(token, wantUsername, remote)
    if (wantUsername !== undefined && cached.username !== wantUsername) throw unauthorized()
    // A locked-out address must not learn that a guess was right just because it is cached.
    this.throttle.check(cached.username, remote)
    this.#cache.delete(token)
    this.#cache.set(token, cached)
    return cached.id
  }

  async #authenticate(token: string, wantUsername: string | undefined, remote: () => string): Promise<number> {
    const credentials = parseClientId(token)
    if (!credentials || (wantUsername !== undefined && credentials.username !== wantUsername)) throw unauthorized()
    return (await this.#check(token, credentials.username, credentials.password, remote)).id
  }

  /** Registers a new username or logs into a known one: `registered` tells which. */
  async login(username: string, password: string, remote: () => string): Promise<{ registered: boolean }> {
    if (!isSupportedUsername(username)) throw unsupportableUsername()
    const token = makeClientId(username, password)
    if (!this.#cache.has(token) && !(await this.clients.find(username))) {
      const address = remote()
      await this.throttle.register(address)
      const id = await this.clients.insert(username, await hashPassword(password))
      if (id !== undefined) {
        // The address it registered from is its own: a lock of the whole username spares it.
        await this.throttle.succeeded(username, address)
        this.#remember(token, { id, username })
        return { registered: true }
      }
      // Another request registered this username meanwhile: this one is a login to it.
    }
    await this.#check(token, username, password, remote)
    return { registered: false }
  }

  async #check(token: string, username: string, password: string, remote: () => string): Promise<Verified> {
    const known = this.#cache.get(token) ?? this.#pending.get(token)
    if (known) {
      // The same client_id verified or being verified: no second scrypt run, and no second attempt counted.
      this.throttle.check(username, remote)
      return known
    }
    const address = remote()
    this.throttle.begin(username, address)
    const pending = this.#verify(username, password, address)
    this.#pending.set(token, pending)
    try {
      const verified = await pending
      this.#remember(token, verified)
      return verified
    } finally {
      this.#pending.delete(token)
      this.throttle.done(username, address)
    }
  }

  async #verify(username: string, password: string, address: string): Promise<Verified> {
    const client = await this.clients.find(username)
    // No such username: nothing to guess, so nothing is counted (and no password is checked).
    if (!client) throw unauthorized()
    // A lock set while this check waited for its turn still holds it back.
    if (!(await verifyPassword(password, client.passwordHash, () => this.throttle.check(username, () => address)))) {
      await this.throttle.failed(username, address)
      throw unauthorized()
    }
    // So does a lock that another server set while the password was checked (asked of the database: its NOTIFY
    // may not have arrived yet).
    await this.throttle.confirm(username, address)
    await this.throttle.succeeded(username, address)
    return { id: client.id, username }
  }

  #remember(token: string, verified: Verified): void {
    if (this.options.cacheSize === 0) return
    this.#cache.set(token, verified)
    if (this.#cache.size > this.options.cacheSize) this.#cache.delete(this.#cache.keys().next().value!)
  }
}
