// A view's task run every period while the view is open, and the mark that tells an answer that came back after
// the view moved on (another range, another client, closed) from one still wanted.
export class Poller {
  #timer?: number
  #generation = 0

  constructor(
    private readonly periodMs: number,
    private readonly task: () => Promise<void>,
  ) {}

  get running(): boolean {
    return this.#timer !== undefined
  }

  /** Runs the task every period from now on (and at once unless told). */
  start(runNow = true): void {
    window.clearInterval(this.#timer)
    this.#timer = window.setInterval(() => void this.task(), this.periodMs)
    if (runNow) void this.task()
  }

  stop(): void {
    window.clearInterval(this.#timer)
    this.#timer = undefined
    this.renew()
  }

  /** The mark of what is shown now. */
  mark(): number {
    return this.#generation
  }

  /** A new mark: what was asked for before it no longer counts. */
  renew(): number {
    return ++this.#generation
  }

  stale(mark: number): boolean {
    return mark !== this.#generation
  }
}
