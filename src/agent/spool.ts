// The agent's spool on disk: every sample is appended here before it is sent, and leaves only once the server has
// acknowledged it. Segment files of NDJSON (`0000000000000001.ndjson`, ...), one sample a line, each appended with
// one write: a crash leaves at most a torn last line, found (no newline, or not a sample) and dropped. How far the
// server has acknowledged is kept in `acked` beside them; a stale one only means samples sent again, which the
// server merges. Bounded: past `maxBytes` on disk the oldest segment is deleted whole, its unsent samples counted.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** A sample as the spool keeps it and the batch route takes it (contract, "Send a sample"; batches). */
export interface SpooledSample {
  time: number
  cpu_load?: number
  mem?: number
  storage?: number
}

/** A place in the spool: a segment and a byte offset in it. */
export interface Position {
  segment: number
  offset: number
}

export interface Batch {
  /** The samples as NDJSON lines, oldest first, without their newlines. */
  lines: string[]
  /** Where the batch ends: what to acknowledge once the server has it. */
  end: Position
}

interface Segment {
  seq: number
  size: number
}

const segmentName = /^(\d{16})\.ndjson$/
const nameOf = (seq: number) => `${String(seq).padStart(16, '0')}.ndjson`
const MiB = 1024 * 1024
// Bytes read a sample still wanted: a spooled line is about 60.
const readAhead = 128

/** A line as the spool wrote it: an object with a whole time and numbers; anything else is damage. */
function isSample(line: string): boolean {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return false
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const { time, ...metrics } = value as Record<string, unknown>
  return Number.isInteger(time) && Object.values(metrics).every((m) => typeof m === 'number' && Number.isFinite(m)) && Object.keys(metrics).length > 0
}

export class SpoolInUse extends Error {}

export class Spool {
  /** Oldest first; samples are appended to the last. */
  readonly #segments: Segment[] = []
  #fd = -1
  #total = 0
  #acked: Position = { segment: 0, offset: 0 }
  /** Samples deleted for the cap since the spool was opened, and damaged lines skipped. */
  dropped = 0
  damaged = 0

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    /** At least 16 segments fit the cap: reaching it deletes a sixteenth of the spool, not all of it. */
    private readonly segmentBytes = Math.max(64, Math.min(MiB, Math.floor(maxBytes / 16))),
  ) {}

  /** Opens (or creates) the spool in `dir`, taking its lock; a torn last line is dropped. */
  static open(dir: string, maxBytes: number): Spool {
    mkdirSync(dir, { recursive: true })
    const spool = new Spool(dir, maxBytes)
    spool.#lock()
    const seqs = readdirSync(dir)
      .map((name) => segmentName.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
    for (const seq of seqs) spool.#segments.push({ seq, size: statSync(spool.#path(seq)).size })
    spool.#total = spool.#segments.reduce((n, s) => n + s.size, 0)
    const acked = spool.#readAcked()
    if (spool.#segments.length === 0) spool.#segments.push({ seq: (acked?.segment ?? 0) + 1, size: 0 })
    const last = spool.#segments[spool.#segments.length - 1]
    spool.#fd = openSync(spool.#path(last.seq), 'a')
    spool.#repairTail(last)
    // Written under a larger cap: a fresh segment, so that the cap can delete this one.
    if (last.size > spool.segmentBytes) spool.#rotate()
    const first = spool.#segments[0]
    // An acknowledgement of a segment not there (deleted, or a damaged file) is doubted: sending again is harmless.
    const known = acked && spool.#segments.find((s) => s.seq === acked.segment)
    spool.#acked = known ? { segment: known.seq, offset: Math.min(acked.offset, known.size) } : { segment: first.seq, offset: 0 }
    spool.#enforceCap(0)
    return spool
  }

  /** Appends a sample, deleting the oldest segments first if the cap would be passed. */
  append(sample: SpooledSample): void {
    const line = JSON.stringify(sample) + '\n'
    const last = this.#segments[this.#segments.length - 1]
    if (last.size > 0 && last.size + line.length > this.segmentBytes) this.#rotate()
    this.#enforceCap(line.length)
    // One write of a short line: a crash keeps it whole or leaves a torn tail that the next open drops.
    writeSync(this.#fd, line)
    this.#segments[this.#segments.length - 1].size += line.length
    this.#total += line.length
  }

  /** Whether samples wait to be sent. */
  get pending(): boolean {
    const last = this.#segments[this.#segments.length - 1]
    return !(this.#acked.segment === last.seq && this.#acked.offset >= last.size)
  }

  /** Bytes on disk in segment files. */
  get bytes(): number {
    return this.#total
  }

  /** Up to `max` samples from the oldest not acknowledged; damaged lines are skipped (and counted). */
  read(max: number): Batch {
    const lines: string[] = []
    let end = this.#acked
    for (const segment of this.#segments) {
      if (segment.seq < end.segment) continue
      const from = segment.seq === end.segment ? end.offset : 0
      end = { segment: segment.seq, offset: from }
      if (from >= segment.size) continue
      // About what the samples still wanted take (a replay reads a batch, not its whole segment), or all the rest.
      let to = Math.min(segment.size, from + (max - lines.length) * readAhead)
      let text = this.#readRange(segment.seq, from, to)
      // A damaged line longer than that (no newline in it): read on to the segment's end to get past it.
      if (to < segment.size && !text.includes('\n')) text = this.#readRange(segment.seq, from, (to = segment.size))
      let at = 0
      for (let nl = text.indexOf('\n'); nl >= 0 && lines.length < max; nl = text.indexOf('\n', at)) {
        const line = text.slice(at, nl)
        if (isSample(line)) lines.push(line)
        else this.damaged++
        at = nl + 1
      }
      // A tail without its newline in a segment no longer written is a torn line: skipped with the rest.
      if (lines.length < max && at < text.length && to === segment.size) {
        this.damaged++
        at = text.length
      }
      end = { segment: segment.seq, offset: from + at }
      if (lines.length >= max || to < segment.size) break
    }
    return { lines, end }
  }

  /** Everything before `end` is the server's: whole segments of it are deleted, and the place is kept on disk. */
  acknowledge(end: Position): void {
    if (end.segment === this.#acked.segment && end.offset === this.#acked.offset) return
    this.#acked = end
    while (this.#segments.length > 1) {
      const [oldest] = this.#segments
      if (oldest.seq > end.segment || (oldest.seq === end.segment && end.offset < oldest.size)) break
      this.#delete()
    }
    writeFileSync(join(this.dir, 'acked'), JSON.stringify(end))
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
    try {
      unlinkSync(this.#lockPath)
    } catch {
      // Gone already: nothing to give back.
    }
  }

  get #lockPath(): string {
    return join(this.dir, 'lock')
  }

  #path(seq: number): string {
    return join(this.dir, nameOf(seq))
  }

  /** One agent a spool: a lock file naming its process, taken over when that process is gone (a crash). */
  #lock(): void {
    for (;;) {
      try {
        writeFileSync(this.#lockPath, String(process.pid), { flag: 'wx' })
        return
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      }
      const holder = Number(readFileSync(this.#lockPath, 'utf8'))
      // In a container the agent may have the pid its crashed predecessor had: that one is gone too.
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new SpoolInUse(`the spool ${this.dir} is in use by process ${holder}`)
      }
      unlinkSync(this.#lockPath)
    }
  }

  #readAcked(): Position | undefined {
    try {
      const { segment, offset } = JSON.parse(readFileSync(join(this.dir, 'acked'), 'utf8')) as Partial<Position>
      if (Number.isInteger(segment) && Number.isInteger(offset) && offset! >= 0) return { segment: segment!, offset: offset! }
    } catch {
      // None yet, or torn: everything spooled is sent again.
    }
    return undefined
  }

  /** A crash mid-write leaves a last line without its newline: cut it off, so that appends start clean. */
  #repairTail(last: Segment): void {
    if (last.size === 0) return
    const text = this.#readRange(last.seq, 0, last.size)
    if (text.endsWith('\n')) return
    const keep = text.lastIndexOf('\n') + 1
    ftruncateSync(this.#fd, keep)
    this.#total -= last.size - keep
    last.size = keep
    this.damaged++
  }

  #readRange(seq: number, from: number, to: number): string {
    const fd = openSync(this.#path(seq), 'r')
    try {
      const buffer = Buffer.allocUnsafe(to - from)
      let read = 0
      while (read < buffer.length) {
        const n = readSync(fd, buffer, read, buffer.length - read, from + read)
        if (n === 0) break
        read += n
      }
      // One character a byte, so that offsets in the text are offsets in the file, damaged bytes and all.
      return buffer.toString('latin1', 0, read)
    } finally {
      closeSync(fd)
    }
  }

  #rotate(): void {
    closeSync(this.#fd)
    const seq = this.#segments[this.#segments.length - 1].seq + 1
    this.#fd = openSync(this.#path(seq), 'a')
    this.#segments.push({ seq, size: fstatSync(this.#fd).size })
  }

  /** Deletes the oldest segments until `adding` more bytes fit the cap; the one being written stays. */
  #enforceCap(adding: number): void {
    while (this.#total + adding > this.maxBytes && this.#segments.length > 1) {
      const [oldest] = this.#segments
      const from = oldest.seq === this.#acked.segment ? this.#acked.offset : oldest.seq < this.#acked.segment ? oldest.size : 0
      const unsent = this.#readRange(oldest.seq, from, oldest.size).split('\n').length - 1
      this.dropped += unsent
      this.#delete()
      if (this.#acked.segment <= oldest.seq) this.#acked = { segment: this.#segments[0].seq, offset: 0 }
    }
  }

  #delete(): void {
    const oldest = this.#segments.shift()!
    unlinkSync(this.#path(oldest.seq))
    this.#total -= oldest.size
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
