// An InfluxDB write (line protocol) as samples: what Telegraf's standard inputs send, and a measurement of our own.
// Each line that carries a metric becomes a partial sample at its second; the write path merges those of one
// second into one row, as it merges re-sent samples. Lines that carry nothing stored here are counted and set aside.
import { pushWithin } from './batch-limit.js'
import { inUnit, type Unit } from '../../wire/units.js'
import type { Batch } from '../entry.js'
import { parseLineProtocol, secondsOf, type FieldValue, type Point, type Precision } from './line-protocol.js'

export interface InfluxOptions {
  precision: Precision
  /** The unit mem and storage are stored in (bytes floor-divided, as the GUI client sends them). */
  unit: Unit
  /** The `disk` input's `path` tag whose usage is the storage metric. */
  storagePath: string
}

/**
 * A batch of partial samples, each named by its line; `ignored` counts the lines that carry nothing stored. A text
 * of more than `maxSamples` samples is refused (413) as soon as it has read one more.
 */
export function parseInflux(text: string, options: InfluxOptions, maxSamples: number): Batch & { ignored: number } {
  const many: unknown[] = []
  const lines: number[] = []
  let ignored = 0
  for (const point of parseLineProtocol(text)) {
    const sample = sampleOf(point, options)
    if (sample === undefined) ignored++
    else {
      pushWithin(many, sample, maxSamples)
      lines.push(point.line)
    }
  }
  return { many, where: (index) => ({ line: lines[index] }), ignored, format: 'line_protocol' }
}

/** The sample fields a point carries; validation checks them as a batch's. */
interface Fields {
  cpu_load?: FieldValue
  mem?: FieldValue
  storage?: FieldValue
  time?: number
}

// Telegraf works its percentages out of tick counts: rounding can take usage_idle a hair past 0 or 100.
const percent = (n: number) => Math.min(100, Math.max(0, n))
const bytesIn = (value: FieldValue | undefined, unit: Unit) => (typeof value === 'number' ? inUnit(value, unit) : value)

function sampleOf({ measurement, tags, fields, timestamp }: Point, { precision, unit, storagePath }: InfluxOptions): Fields | undefined {
  let sample: Fields
  switch (measurement) {
    // Ours: the contract's fields in the sender's own units, as a JSON sample carries them.
    case 'system':
      sample = { cpu_load: fields.get('cpu_load'), mem: fields.get('mem'), storage: fields.get('storage') }
      break
    // Telegraf's inputs.cpu: the total line only (per-core lines have cpu=cpu0, ...).
    case 'cpu': {
      if (tags.get('cpu') !== 'cpu-total') return undefined
      const idle = fields.get('usage_idle')
      sample = { cpu_load: typeof idle === 'number' ? percent(100 - idle) : idle }
      break
    }
    // inputs.mem: used bytes.
    case 'mem':
      sample = { mem: bytesIn(fields.get('used'), unit) }
      break
    // inputs.disk: a line per mount point; the one asked for.
    case 'disk':
      if (tags.get('path') !== storagePath) return undefined
      sample = { storage: bytesIn(fields.get('used'), unit) }
      break
    default:
      return undefined
  }
  if (sample.cpu_load === undefined && sample.mem === undefined && sample.storage === undefined) return undefined
  if (timestamp !== undefined) sample.time = secondsOf(timestamp, precision)
  return sample
}
