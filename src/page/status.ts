// What the page says of its connection: connecting, live, or lost (from the first failure of the WebSocket or of
// a request until the next success), while it reconnects by itself.
export type Source = 'socket' | 'requests'

export class ConnectionStatus {
  readonly #lost = new Set<Source>()
  #live = false

  constructor(private readonly el: HTMLElement) {}

  ok(source: Source): void {
    if (source === 'socket') this.#live = true
    this.#lost.delete(source)
    this.#render()
  }

  lost(source: Source): void {
    if (source === 'socket') this.#live = false
    this.#lost.add(source)
    this.#render()
  }

  #render(): void {
    const lost = this.#lost.size > 0
    this.el.textContent = lost ? 'Connection to the server lost: reconnecting…' : this.#live ? 'Live' : 'Connecting…'
    this.el.classList.toggle('lost', lost)
    this.el.classList.toggle('ok', !lost && this.#live)
  }
}
