// One sampler of the host: a snapshot about once a second that routes, WebSocket EVENTs and the CSV load
// log all read, so a thousand readers cost no more system calls than one.
import { monitorBusy } from '../errors.js'
import { readCpuInfo, readCpuMhz, readCpuTicks, readMemory, readStorage, type CpuInfo, type CpuTicks, type Memory, type Storage } from './figures.js'

/** The host's load: CPU use since the last reading (its ticks, and in percent), memory and storage in bytes. */
export interface Load {
  ticks: CpuTicks
  cpu: number
  memory: Memory
  storage: Storage
}

/** Reads the host's load: what every snapshot holds, and each sample the agent (src/agent/) takes. */
export async function readLoad(storagePath: string): Promise<Load> {
  const [ticks, memory, storage] = await Promise.all([readCpuTicks(), readMemory(), readStorage(storagePath)])
  return { ticks, cpu: percent(ticks.busy, ticks.total), memory, storage }
}

export interface Snapshot {
  at: Date
  /** CPU use in percent over the last window (about a second). */
  cpu: number
  memory: Memory
  storage: Storage
  cpuInfo: CpuInfo
}

// CPU windows kept for cpu/load?interval=S: an hour of one-second windows is 3,600 pairs of numbers.
const maxWindows = 3600

interface Waiter {
  windows: number
  resolve: (load: number) => void
}

export class HostSampler {
  #latest: Snapshot
  readonly #windows: { busy: number; total: number }[] = []
  readonly #listeners = new Set<(s: Snapshot) => void>()
  readonly #waiters = new Set<Waiter>()
  #timer?: NodeJS.Timeout
  #busy = false

  private constructor(
    first: Snapshot,
    private readonly storagePath: string,
  ) {
    this.#latest = first
  }

  /** Takes a first snapshot, then one every `periodMs`. */
  static async start(storagePath: string, periodMs = 1000): Promise<HostSampler> {
    // The first CPU reading is measured over half a second of its own.
    const [{ cpu, memory, storage }, cpuInfo] = await Promise.all([readLoad(storagePath), readCpuInfo()])
    const sampler = new HostSampler({ at: new Date(), cpu, memory, storage, cpuInfo }, storagePath)
    sampler.#timer = setInterval(() => void sampler.#tick(), periodMs)
    sampler.#timer.unref()
    return sampler
  }

  latest(): Snapshot {
    return this.#latest
  }

  /** Calls `listener` with every new snapshot; returns the way to stop. */
  onSnapshot(listener: (s: Snapshot) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * CPU use over the last `seconds` (whole windows, at least one). Answers at once from the history when it
   * is long enough; soon after start it waits, without blocking anything, until it is. A waiter whose asker
   * goes away (`onGone`) is forgotten; past `maxWaiting` waiters, one more is refused (503).
   */
  cpuLoad(seconds: number, onGone: (forget: () => void) => void, maxWaiting: number): Promise<number> {
    const windows = Math.min(maxWindows, Math.max(1, Math.round(seconds)))
    if (windows === 1) return Promise.resolve(this.#latest.cpu)
    if (this.#windows.length >= windows) return Promise.resolve(this.#loadOver(windows))
    if (this.#waiters.size >= maxWaiting) return Promise.reject(monitorBusy())
    return new Promise((resolve) => {
      const waiter = { windows, resolve }
      this.#waiters.add(waiter)
      onGone(() => this.#waiters.delete(waiter))
    })
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  async #tick(): Promise<void> {
    // A slow read (a hung network filesystem) must not pile up ticks behind it.
    if (this.#busy) return
    this.#busy = true
    try {
      const [{ ticks, cpu, memory, storage }, mhz] = await Promise.all([readLoad(this.storagePath), readCpuMhz()])
      this.#windows.push(ticks)
      if (this.#windows.length > maxWindows) this.#windows.shift()
      const cpuInfo = this.#latest.cpuInfo
      const frequency: [number, number, number] = [mhz || cpuInfo.frequency[0], cpuInfo.frequency[1], cpuInfo.frequency[2]]
      this.#latest = { at: new Date(), cpu, memory, storage, cpuInfo: { ...cpuInfo, frequency } }
    } catch {
      // Keep serving the last snapshot; the next tick tries again.
      return
    } finally {
      this.#busy = false
    }
    for (const listener of this.#listeners) listener(this.#latest)
    for (const waiter of this.#waiters) {
      if (this.#windows.length < waiter.windows) continue
      this.#waiters.delete(waiter)
      waiter.resolve(this.#loadOver(waiter.windows))
    }
  }

  #loadOver(windows: number): number {
    let busy = 0
    let total = 0
    for (let i = this.#windows.length - windows; i < this.#windows.length; i++) {
      busy += this.#windows[i].busy
      total += this.#windows[i].total
    }
    return percent(busy, total)
  }
}

const percent = (busy: number, total: number) => (total > 0 ? Math.round((busy / total) * 1000) / 10 : 0)
