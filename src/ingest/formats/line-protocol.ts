// The InfluxDB line protocol, as its reference writes it: `measurement[,tag=value...] field=value[,...] [timestamp]`
// a line, with the escapes of ',', ' ' and '=' (and '\\') in names, quoted string fields with \" and \\, i/u
// integers, floats, booleans, comments, blank lines and CRLF. All or nothing: the first bad line is refused, named
// by its number. No parser on npm is both kept up and fast, so this one is written once, with a table of cases
// (test/line-protocol.test.ts).
import { invalidLineProtocol } from '../../errors.js'

export type FieldValue = number | string | boolean

export interface Point {
  measurement: string
  tags: Map<string, string>
  fields: Map<string, FieldValue>
  /** The timestamp's digits as sent (a signed 64-bit integer in the write's precision); undefined when absent. */
  timestamp: string | undefined
  /** The body's line the point starts on, from 1. */
  line: number
}

const TAB = 9
const NL = 10
const CR = 13
const SPACE = 32
const QUOTE = 34
const HASH = 35
const COMMA = 44
const EQUALS = 61
const BACKSLASH = 92

const unescapeMeasurement = (s: string) => s.replace(/\\([, \\])/g, '$1')
const unescapeKey = (s: string) => s.replace(/\\([,= \\])/g, '$1')
const unescapeString = (s: string) => s.replace(/\\(["\\])/g, '$1')

const booleans = new Map<string, boolean>([
  ...['t', 'T', 'true', 'True', 'TRUE'].map((s) => [s, true] as const),
  ...['f', 'F', 'false', 'False', 'FALSE'].map((s) => [s, false] as const),
])
const floatPattern = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/
const digitsPattern = /^\d+$/
const int64Max = '9223372036854775807'
const uint64Max = '18446744073709551615'

/** Whether unsigned decimal digits are at most `max` (as digits), leading zeros aside. */
function fits(digits: string, max: string): boolean {
  if (digits.length < max.length) return true
  const significant = digits.replace(/^0+(?=\d)/, '')
  return significant.length < max.length || (significant.length === max.length && significant <= max)
}

/** A signed 64-bit integer's digits, optionally negative: whether they are one. */
function isInt64(text: string): boolean {
  const negative = text.charCodeAt(0) === 45
  const digits = negative ? text.slice(1) : text
  if (!digitsPattern.test(digits)) return false
  return fits(digits, negative ? '9223372036854775808' : int64Max)
}

class Problem extends Error {}

/** The points of a body, in order; throws the refusal naming the first line that is not line protocol. */
export function parseLineProtocol(text: string): Point[] {
  const points: Point[] = []
  const n = text.length
  let i = 0
  let line = 1
  /** Where the line being read starts, for what a refusal quotes of it. */
  let lineStart = 0

  const code = () => (i < n ? text.charCodeAt(i) : -1)
  /** At a line's end: the text's end, '\n', or '\r' before either. */
  const atEnd = () => {
    const c = code()
    return c === -1 || c === NL || (c === CR && (i + 1 === n || text.charCodeAt(i + 1) === NL))
  }

  /**
   * A measurement (`key` false: ended by ',' or ' ', which a backslash escapes) or a tag key, tag value or field
   * key (ended by ',', '=' or ' ', which a backslash escapes); a backslash escapes a backslash in both.
   */
  const name = (key: boolean): string => {
    const start = i
    let escaped = false
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c === COMMA || c === SPACE || c === NL || c === CR || (key && c === EQUALS)) break
      if (c === BACKSLASH && i + 1 < n) {
        const next = text.charCodeAt(i + 1)
        if (next === COMMA || next === SPACE || next === BACKSLASH || (key && next === EQUALS)) {
          escaped = true
          i++
        }
      }
    }
    const raw = text.slice(start, i)
    if (!escaped) return raw
    return key ? unescapeKey(raw) : unescapeMeasurement(raw)
  }

  const quoted = (): string => {
    const start = ++i
    let escaped = false
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c === QUOTE) {
        const raw = text.slice(start, i++)
        return escaped ? unescapeString(raw) : raw
      }
      if (c === BACKSLASH && i + 1 < n) {
        const next = text.charCodeAt(i + 1)
        if (next === QUOTE || next === BACKSLASH) {
          escaped = true
          i++
        }
      }
      // A string field may hold a raw newline (InfluxDB's own parser takes one): it is still the same line's point.
      else if (c === NL) line++
    }
    throw new Problem('unterminated string field value')
  }

  const token = (): string => {
    const start = i
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === COMMA || c === SPACE || c === NL || c === CR) break
      i++
    }
    return text.slice(start, i)
  }

  const value = (): FieldValue => {
    if (code() === QUOTE) return quoted()
    const raw = token()
    if (raw === '') throw new Problem('missing field value')
    const last = raw.charCodeAt(raw.length - 1)
    if (last === 105 /* i */) {
      const digits = raw.slice(0, -1)
      if (!isInt64(digits)) throw new Problem(`invalid integer ${raw} (a signed 64-bit integer then i)`)
      return Number(digits)
    }
    if (last === 117 /* u */) {
      const digits = raw.slice(0, -1)
      if (!digitsPattern.test(digits) || !fits(digits, uint64Max)) throw new Problem(`invalid unsigned integer ${raw} (an unsigned 64-bit integer then u)`)
      return Number(digits)
    }
    const bool = booleans.get(raw)
    if (bool !== undefined) return bool
    if (!floatPattern.test(raw)) throw new Problem(`invalid field value ${raw}`)
    const float = Number(raw)
    if (!Number.isFinite(float)) throw new Problem(`float ${raw} is out of range`)
    return float
  }

  const spaces = () => {
    while (code() === SPACE) i++
  }

  const point = (startLine: number): Point => {
    const measurement = name(false)
    if (measurement === '') throw new Problem('missing measurement')
    const tags = new Map<string, string>()
    while (code() === COMMA) {
      i++
      const key = name(true)
      if (key === '') throw new Problem('missing tag key')
      if (code() !== EQUALS) throw new Problem(`missing tag value of ${key}`)
      i++
      const tagValue = name(true)
      if (tagValue === '') throw new Problem(`missing tag value of ${key}`)
      if (code() === EQUALS) throw new Problem(`tag value of ${key} holds an unescaped '='`)
      tags.set(key, tagValue)
    }
    if (code() !== SPACE) throw new Problem('missing fields')
    spaces()
    if (atEnd()) throw new Problem('missing fields')
    const fields = new Map<string, FieldValue>()
    for (;;) {
      const key = name(true)
      if (key === '') throw new Problem('missing field key')
      if (code() !== EQUALS) throw new Problem(`missing field value of ${key}`)
      i++
      fields.set(key, value())
      if (code() !== COMMA) break
      i++
    }
    let timestamp: string | undefined
    if (code() === SPACE) {
      spaces()
      if (!atEnd()) {
        timestamp = token()
        if (!isInt64(timestamp)) throw new Problem(`invalid timestamp ${timestamp} (a signed 64-bit integer)`)
        spaces()
      }
    }
    if (!atEnd()) throw new Problem(`unexpected ${JSON.stringify(text[i])} at column ${i - lineStart + 1}`)
    return { measurement, tags, fields, timestamp, line: startLine }
  }

  while (i < n) {
    lineStart = i
    const startLine = line
    let c = code()
    while (c === SPACE || c === TAB) c = text.charCodeAt(++i)
    if (c === HASH) while (i < n && text.charCodeAt(i) !== NL) i++
    else if (!atEnd()) {
      try {
        points.push(point(startLine))
      } catch (e) {
        if (!(e instanceof Problem)) throw e
        const end = text.indexOf('\n', lineStart)
        const lineText = text.slice(lineStart, end < 0 ? n : end).replace(/\r$/, '')
        const shown = lineText.length > 120 ? `${lineText.slice(0, 120)}…` : lineText
        throw invalidLineProtocol({ line: startLine, detail: `unable to parse '${shown}': ${e.message}` })
      }
    }
    if (code() === CR) i++
    if (code() === NL) {
      i++
      line++
    }
  }
  return points
}

/** Digits a timestamp of each sub-second precision has past the second, and seconds in the others. */
const digitsPastSecond = { ns: 9, us: 6, ms: 3, s: 0 } as const
const secondsPer = { m: 60, h: 3600 } as const
/** The precisions the v1 and v2 write routes name (v1 also says n and u). */
export type Precision = keyof typeof digitsPastSecond | keyof typeof secondsPer
const aliases: Record<string, Precision> = { n: 'ns', u: 'us', µ: 'us' }

/** The precision a write names (nanoseconds when it names none), or undefined when it names none we know. */
export function parsePrecision(raw: string | null): Precision | undefined {
  if (raw === null || raw === '') return 'ns'
  if (Object.hasOwn(digitsPastSecond, raw) || Object.hasOwn(secondsPer, raw)) return raw as Precision
  return aliases[raw]
}

/** Unix seconds of a timestamp given in `precision`, truncated (floored) to the second. */
export function secondsOf(timestamp: string, precision: Precision): number {
  if (precision === 'm' || precision === 'h') return Number(timestamp) * secondsPer[precision]
  const drop = digitsPastSecond[precision]
  // Nanoseconds pass 2^53: the digits are cut rather than a rounded number divided.
  if (timestamp.charCodeAt(0) !== 45) return timestamp.length <= drop ? 0 : Number(timestamp.slice(0, timestamp.length - drop))
  return Math.floor(Number(timestamp) / 10 ** drop)
}
