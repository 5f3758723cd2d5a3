// Parsed samples -> validated samples (contract, "Send a sample"). Inputs stay `unknown` until valibot has
// checked them. A single sample's numbers arrive as Num so that its echo prints them as they were sent;
// a batch's arrive as plain numbers (nothing is echoed).
import * as v from 'valibot'
import { batchTooLarge, incorrectDataSize, valueError, type Detail } from '../errors.js'
import type { Sample } from '../sample.js'
import type { Echo } from '../wire/echo.js'
import { Num } from '../wire/pyjson.js'

/** A sample to store and the fields it was sent with (time added if absent), for the echo. */
export interface Accepted {
  sample: Sample
  echo: Echo
}

// Year 9999: times stay printable as dates and far inside a bigint.
const maxTime = 253402300799

// The largest mem or storage: the tiers sum up to a year of one sample a second (31,536,000) in a double, and
// PostgreSQL fails a sum past a double's range (22003) instead of giving Infinity, which would stop every rollup.
const maxAmount = 1e300

const valueOf = (n: number | Num) => (typeof n === 'number' ? n : n.value)

/** Each field absent, null, or a finite number in its range; `number` says what a number arrives as. */
const sampleSchema = <T>(number: v.GenericSchema<unknown, T>, valueOf: (n: T) => number) => {
  const field = (range: string, ok: (n: number) => boolean) =>
    v.optional(
      v.nullable(
        v.pipe(
          number,
          v.check((n) => Number.isFinite(valueOf(n)), 'not a finite number'),
          v.check((n) => ok(valueOf(n)), range),
        ),
      ),
    )
  return v.looseObject({
    cpu_load: field('from 0 to 100', (n) => n >= 0 && n <= 100),
    mem: field(`from 0 to ${maxAmount}`, (n) => n >= 0 && n <= maxAmount),
    storage: field(`from 0 to ${maxAmount}`, (n) => n >= 0 && n <= maxAmount),
    time: field(`whole unix seconds from 0 to ${maxTime}`, (n) => Number.isInteger(n) && n >= 0 && n <= maxTime),
  })
}

// A single sample is parsed as Python would (forms and lossless JSON), so its numbers are Num, kept for the
// echo; a batch's are plain numbers from JSON.parse over HTTP, Num over WebSocket. A union costs twice the
// time of one type on every field, and single samples are the hot path.
const oneSchema = sampleSchema(v.instance(Num, 'not a number'), (n) => n.value)
const batchSchema = sampleSchema(v.union([v.number(), v.instance(Num)], 'not a number'), valueOf)

function check<S extends typeof oneSchema | typeof batchSchema>(schema: S, data: unknown, where?: Detail) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw incorrectDataSize(where)
  const result = v.safeParse(schema, data)
  if (!result.success) {
    const issue = result.issues[0]
    throw valueError({ ...where, field: String(issue.path?.[0]?.key ?? ''), detail: issue.message })
  }
  const fields = result.output
  if (fields.cpu_load == null && fields.mem == null && fields.storage == null) throw incorrectDataSize(where)
  return fields
}

const orNull = (n: number | Num | null | undefined) => (n == null ? null : valueOf(n))

/** Validates one sample object; `now` is the time of a sample that carries none. */
export function toSample(data: unknown, now: number): Accepted {
  const { cpu_load = null, mem = null, storage = null, time } = check(oneSchema, data)
  const echo: Echo = { cpu_load, mem, storage, time: time ?? new Num(now, String(now)) }
  return { sample: { t: echo.time.value, cpu: orNull(cpu_load), mem: orNull(mem), storage: orNull(storage) }, echo }
}

/** A batch: all of it or nothing, the first bad sample named by its index, or by what `where` says of that index. */
export function toSamples(items: unknown[], now: number, maxSamples: number, where = (index: number): Detail => ({ index })): Sample[] {
  if (items.length === 0) throw incorrectDataSize()
  if (items.length > maxSamples) throw batchTooLarge(maxSamples)
  return items.map((item, index) => {
    const { cpu_load, mem, storage, time } = check(batchSchema, item, where(index))
    return { t: time == null ? now : valueOf(time), cpu: orNull(cpu_load), mem: orNull(mem), storage: orNull(storage) }
  })
}
