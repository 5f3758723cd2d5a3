// The operator's token (ADMIN_TOKEN): `Authorization: Bearer <token>` reads every client's log (http/fleet.ts).
// Compared in constant time, and guessed no faster than a password: its failures count in the login throttle, under
// a name no client can have (usernames begin with a letter).
import { createHash, timingSafeEqual } from 'node:crypto'
import { adminUnauthorized } from '../errors.js'
import type { LoginThrottle } from './throttle.js'

const adminName = '#admin'
// Addresses whose success is on record, so that a page polling the fleet writes it once, not every few seconds.
const maxRemembered = 1000

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest()

export class AdminGate {
  readonly #digest: Buffer
  readonly #recorded = new Set<string>()

  constructor(
    token: string,
    private readonly throttle: LoginThrottle,
  ) {
    this.#digest = digest(token)
  }

  /** Resolves if the header carries the token; throws 401, or 429 while the address is locked out. */
  async authorize(header: string | undefined, remote: () => string): Promise<void> {
    const given = /^bearer\s+(\S+)\s*$/i.exec(header?.trim() ?? '')?.[1]
    const address = remote()
    // Also before a request without a token: a locked address learns nothing, not even that it is locked by its guesses.
    this.throttle.begin(adminName, address)
    try {
      // Digests of equal length: neither the token's length nor its bytes show in the time taken.
      if (given === undefined || !timingSafeEqual(digest(given), this.#digest)) {
        if (given !== undefined) {
          this.#recorded.delete(address)
          await this.throttle.failed(adminName, address)
        }
        throw adminUnauthorized()
      }
      if (this.#recorded.has(address)) return
      // A lock of every address after many failures spares the ones the token came from.
      await this.throttle.succeeded(adminName, address)
      if (this.#recorded.size >= maxRemembered) this.#recorded.clear()
      this.#recorded.add(address)
    } finally {
      this.throttle.done(adminName, address)
    }
  }
}
