// The CSV load log (contract, "Server self-monitoring"): a header on each start, then a line a second,
// written line by line, and rotated past a size so that it never fills the disk.
import { open, rename, stat, type FileHandle } from 'node:fs/promises'
import { loadLogTime } from '../wire/dates.js'
import { floatRepr } from '../wire/pyjson.js'
import type { HostSampler, Snapshot } from './sampler.js'

export interface LoadLogOptions {
  path: string
  /** Past this size the file becomes path.1 (path.1 becomes path.2, ...) and a new one starts. */
  maxBytes: number
  /** Rotated files kept. */
  keep: number
}

const header = 'time;cpu load;memory load;storage\n'
const MiB = 1024 * 1024

export const loadLine = (s: Snapshot) =>
  `${loadLogTime(s.at)};${floatRepr(s.cpu)};${Math.floor(s.memory.used / MiB)};${Math.floor(s.storage.used / MiB)}\n`

export class LoadLog {
  #file!: FileHandle
  #size = 0
  #writing = false
  /** The line being written, which close() lets finish so a rotation is never cut in half. */
  #inFlight: Promise<void> = Promise.resolve()
  readonly #stopListening: () => void

  private constructor(
    private readonly options: LoadLogOptions,
    sampler: HostSampler,
    private readonly logError: (message: string, error: unknown) => void,
  ) {
    this.#stopListening = sampler.onSnapshot((s) => {
      // A disk slower than a line a second loses lines rather than queueing them in memory.
      if (!this.#writing) this.#inFlight = this.#append(loadLine(s))
    })
  }

  static async open(options: LoadLogOptions, sampler: HostSampler, logError: (message: string, error: unknown) => void): Promise<LoadLog> {
    const log = new LoadLog(options, sampler, logError)
    log.#writing = true
    try {
      await log.#openFile()
      await log.#write(header)
    } finally {
      log.#writing = false
    }
    return log
  }

  async close(): Promise<void> {
    this.#stopListening()
    await this.#inFlight
    await this.#file.close().catch(() => undefined)
  }

  async #openFile(): Promise<void> {
    this.#file = await open(this.options.path, 'a')
    this.#size = (await stat(this.options.path)).size
  }

  async #write(text: string): Promise<void> {
    await this.#file.write(text)
    this.#size += Buffer.byteLength(text)
  }

  async #append(line: string): Promise<void> {
    this.#writing = true
    try {
      if (this.#size + line.length > this.options.maxBytes) await this.#rotate()
      await this.#write(line)
    } catch (e) {
      this.logError(`writing ${this.options.path}`, e)
    } finally {
      this.#writing = false
    }
  }

  async #rotate(): Promise<void> {
    await this.#file.close()
    const { path, keep } = this.options
    for (let i = keep - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined)
    if (keep > 0) await rename(path, `${path}.1`)
    await this.#openFile()
    if (keep === 0) await this.#file.truncate(0)
    this.#size = 0
    await this.#write(header)
  }
}
