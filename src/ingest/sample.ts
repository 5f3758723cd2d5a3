// Request bodies -> validated samples (contract, "Send a sample"). Inputs stay `unknown` until valibot has
// checked them; numbers arrive as Num so that the echo prints them as they were sent.
import { parse as parseLossless } from 'lossless-json'
import * as v from 'valibot'
import { badRequest } from '../http/reply.js'
import { Num, float, numFromLexeme } from '../wire/pyjson.js'

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

const number = (range: string, ok: (n: number) => boolean) =>
  v.optional(
    v.nullable(
      v.pipe(
        v.instance(Num, 'not a number'),
        v.check((n) => Number.isFinite(n.value), 'not a finite number'),
        v.check((n) => ok(n.value), range),
      ),
    ),
  )

const sampleSchema = v.looseObject({
  cpu_load: number('from 0 to 100', (n) => n >= 0 && n <= 100),
  mem: number('0 or more', (n) => n >= 0),
  storage: number('0 or more', (n) => n >= 0),
  time: number(`whole unix seconds from 0 to ${maxTime}`, (n) => Number.isInteger(n) && n >= 0 && n <= maxTime),
})

export const incorrectDataSize = () => badRequest('incorrect data size')

/** Validates one sample object; `now` is the time of a sample that carries none. */
export function toSample(data: unknown, now: number): Accepted {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw incorrectDataSize()
  const result = v.safeParse(sampleSchema, data)
  if (!result.success) {
    const issue = result.issues[0]
    throw badRequest('value error', { field: String(issue.path?.[0]?.key ?? ''), detail: issue.message })
  }
  const { cpu_load, mem, storage, time } = result.output
  if (cpu_load == null && mem == null && storage == null) throw incorrectDataSize()
  const echo: Record<string, Num> = {}
  if (cpu_load != null) echo.cpu_load = cpu_load
  if (mem != null) echo.mem = mem
  if (storage != null) echo.storage = storage
  echo.time = time ?? new Num(now, String(now))
  return {
    sample: { t: echo.time.value, cpu: cpu_load?.value ?? null, mem: mem?.value ?? null, storage: storage?.value ?? null },
    echo,
  }
}

/** JSON as Python's json.loads reads it: numbers keep whether they were ints or floats. */
export function parseJson(text: string): unknown {
  try {
    return parseLossless(text, null, numFromLexeme)
  } catch (e) {
    throw badRequest('invalid JSON', { detail: (e as Error).message })
  }
}

const formNumber = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** A form body's fields as Python would read them with int() or float(); anything else stays a string. */
function parseForm(text: string): Record<string, unknown> {
  const fields: Record<string, unknown> = Object.create(null)
  for (const [key, value] of new URLSearchParams(text)) {
    if (key in fields) continue
    const s = value.trim()
    if (/^[+-]?\d+$/.test(s)) fields[key] = new Num(Number(s), BigInt(s).toString())
    else if (formNumber.test(s)) fields[key] = float(Number(s))
    else fields[key] = value
  }
  return fields
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function decodeText(body: Uint8Array): string {
  try {
    return utf8.decode(body)
  } catch {
    throw badRequest('body is not UTF-8')
  }
}

/**
 * A sample body: form-encoded (GUI client), JSON with its content type, or JSON sent with curl's default
 * form content type (the original README), told apart by its first character.
 */
export function parseSampleBody(contentType: string | undefined, body: Uint8Array): unknown {
  const text = decodeText(body).trim()
  if (text === '') throw incorrectDataSize()
  const isJson = /^application\/([\w.+-]*\+)?json\b/i.test(contentType ?? '') || text[0] === '{' || text[0] === '['
  return isJson ? parseJson(text) : parseForm(text)
}
