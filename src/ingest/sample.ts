// Parsed bodies -> validated samples (contract, "Send a sample"). Inputs stay `unknown` until valibot has
// checked them. A single sample's numbers arrive as Num so that its echo prints them as they were sent;
// a batch's arrive as plain numbers (nothing is echoed).
import * as v from 'valibot'
import { badRequest, HttpError } from '../http/reply.js'
import { Num } from '../wire/pyjson.js'

export interface Sample {
  /** Unix seconds. */
  t: number
  cpu: number | null
  mem: number | null
  storage: number | null
}

/** A stored sample and its known fields as they were received (time added if absent), for the echo. */
export interface Accepted {
  sample: Sample
  echo: Record<string, Num>
}

// Year 9999: times stay printable as dates and far inside a bigint.
const maxTime = 253402300799

const valueOf = (n: number | Num) => (typeof n === 'number' ? n : n.value)

const number = (range: string, ok: (n: number) => boolean) =>
  v.optional(
    v.nullable(
      v.pipe(
        v.union([v.number(), v.instance(Num)], 'not a number'),
        v.check((n) => Number.isFinite(valueOf(n)), 'not a finite number'),
        v.check((n) => ok(valueOf(n)), range),
      ),
    ),
  )

const sampleSchema = v.looseObject({
  cpu_load: number('from 0 to 100', (n) => n >= 0 && n <= 100),
  mem: number('0 or more', (n) => n >= 0),
  storage: number('0 or more', (n) => n >= 0),
  time: number(`whole unix seconds from 0 to ${maxTime}`, (n) => Number.isInteger(n) && n >= 0 && n <= maxTime),
})

export const incorrectDataSize = (detail: Record<string, number> = {}) => badRequest('incorrect data size', detail)

function check(data: unknown, where: Record<string, number>) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw incorrectDataSize(where)
  const result = v.safeParse(sampleSchema, data)
  if (!result.success) {
    const issue = result.issues[0]
    throw badRequest('value error', { ...where, field: String(issue.path?.[0]?.key ?? ''), detail: issue.message })
  }
  const fields = result.output
  if (fields.cpu_load == null && fields.mem == null && fields.storage == null) throw incorrectDataSize(where)
  return fields
}

const orNull = (n: number | Num | null | undefined) => (n == null ? null : valueOf(n))

/** Validates one sample object; `now` is the time of a sample that carries none. */
export function toSample(data: unknown, now: number): Accepted {
  const { cpu_load, mem, storage, time } = check(data, {})
  const echo: Record<string, Num> = {}
  const num = (n: number | Num) => (n instanceof Num ? n : new Num(n, String(n)))
  if (cpu_load != null) echo.cpu_load = num(cpu_load)
  if (mem != null) echo.mem = num(mem)
  if (storage != null) echo.storage = num(storage)
  echo.time = time == null ? new Num(now, String(now)) : num(time)
  return { sample: { t: echo.time.value, cpu: orNull(cpu_load), mem: orNull(mem), storage: orNull(storage) }, echo }
}

/** A batch: all of it or nothing, the first bad sample named by its index. */
export function toSamples(items: unknown[], now: number, maxSamples: number): Sample[] {
  if (items.length === 0) throw incorrectDataSize()
  if (items.length > maxSamples) {
    throw new HttpError(413, { error: `a batch holds at most ${maxSamples} samples (MAX_BATCH_SAMPLES)` })
  }
  return items.map((item, index) => {
    const { cpu_load, mem, storage, time } = check(item, { index })
    return { t: time == null ? now : valueOf(time), cpu: orNull(cpu_load), mem: orNull(mem), storage: orNull(storage) }
  })
}
