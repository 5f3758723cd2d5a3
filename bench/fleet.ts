// How a generator spreads its load over many clients, as a server hears from many machines at once: each
// client belongs to one lane (process, wrk thread) and one connection, which take their clients in turn.
// bench/ingest.lua does the same for wrk.

/** Item i into pile i % piles: every client in exactly one pile, the piles as even as they can be. */
export const deal = <T>(items: readonly T[], piles: number): T[][] =>
  Array.from({ length: Math.min(piles, items.length) }, (_, pile) => items.filter((_, i) => i % piles === pile))

/**
 * Clients taken in turn, each with its own next time: a body of `step` samples is one client's consecutive
 * seconds, as an agent sends them, and no client ever sends a second twice (two samples of one second would
 * merge into one row, and the rows-equal-acks check would fail for the wrong reason).
 */
export class Rotation<T> {
  #at = -1
  readonly #times: number[]

  constructor(
    private readonly clients: readonly T[],
    firstTime: number,
    private readonly step: number,
  ) {
    if (clients.length === 0) throw new Error('a rotation needs at least one client')
    this.#times = clients.map(() => firstTime)
  }

  next(): { client: T; time: number } {
    this.#at = (this.#at + 1) % this.clients.length
    const time = this.#times[this.#at]
    this.#times[this.#at] = time + this.step
    return { client: this.clients[this.#at], time }
  }
}
