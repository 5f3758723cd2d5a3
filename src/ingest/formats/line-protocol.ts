// The InfluxDB line protocol, as its reference writes it: `measurement[,tag=value...] field=value[,...] [timestamp]`
// a line, with the escapes of ',', ' ' and '=' (and '\\') in names, quoted string fields with \" and \\, i/u
// integers, floats, booleans, comments, blank lines and CRLF. All or nothing: the first bad line is refused, named
// by its number. No parser on npm is both kept up and fast, so this one is written once, with a table of cases
// (test/line-protocol.test.ts).
import { invalidLineProtocol } from '../../errors.js'

export type FieldValue = number | string | boolean

export interface Point {
  measurement: string
  tags: ReadonlyMap<string, string>
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
const int64Max = '9223372036854775807'
const uint64Max = '18446744073709551615'

/** Whether unsigned decimal digits are at most `max` (as digits), leading zeros aside. */
function fits(digits: string, max: string): boolean {
  if (digits.length < max.length) return true
  const significant = digits.replace(/^0+(?=\d)/, '')
  return significant.length < max.length || (significant.length === max.length && significant <= max)
}

/** Whether `text` from `from` to `to` is one or more decimal digits. */
function isDigits(text: string, from: number, to: number): boolean {
  if (from >= to) return false
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** Whether `text` up to `end` is a signed 64-bit integer: optionally '-', then digits. */
function isInt64(text: string, end = text.length): boolean {
  const from = text.charCodeAt(0) === 45 ? 1 : 0
  if (!isDigits(text, from, end)) return false
  return end - from < 19 || fits(text.slice(from, end), from === 1 ? '9223372036854775808' : int64Max)
}

class Problem extends Error {}

// The tags of every point that has none: never written to.
const noTags: ReadonlyMap<string, string> = new Map()

/** The points of a body, in order; throws the refusal naming the first line that is not line protocol. */
/** The points of a text, one at a time: a reader keeps what it needs of them, not all (a 16 MiB body is millions). */
export function parseLineProtocol(text: string): Generator<Point> {
  return new Reader(text).points()
}

/** A body being read: its text and where the reading is (state in fields: the hot path of line-protocol writes). */
class Reader {
  readonly n: number
  i = 0
  line = 1
  /** Where the line being read starts, for what a refusal quotes of it. */
  lineStart = 0

  constructor(readonly text: string) {
    this.n = text.length
  }

  *points(): Generator<Point> {
    const { text, n } = this
    while (this.i < n) {
      this.lineStart = this.i
      const startLine = this.line
      let c = text.charCodeAt(this.i)
      while (c === SPACE || c === TAB) c = text.charCodeAt(++this.i)
      if (c === HASH) while (this.i < n && text.charCodeAt(this.i) !== NL) this.i++
      else if (!this.atEnd()) {
        let point: Point
        try {
          point = this.point(startLine)
        } catch (e) {
          if (!(e instanceof Problem)) throw e
          const end = text.indexOf('\n', this.lineStart)
          const lineText = text.slice(this.lineStart, end < 0 ? n : end).replace(/\r$/, '')
          const shown = lineText.length > 120 ? `${lineText.slice(0, 120)}…` : lineText
          throw invalidLineProtocol({ line: startLine, detail: `unable to parse '${shown}': ${e.message}` })
        }
        yield point
      }
      if (text.charCodeAt(this.i) === CR) this.i++
      if (text.charCodeAt(this.i) === NL) {
        this.i++
        this.line++
      }
    }
  }

  /** At a line's end: the text's end, '\n', or '\r' before either. */
  atEnd(): boolean {
    const { text, i } = this
    if (i >= this.n) return true
    const c = text.charCodeAt(i)
    return c === NL || (c === CR && (i + 1 === this.n || text.charCodeAt(i + 1) === NL))
  }

  point(startLine: number): Point {
    const { text } = this
    const measurement = this.name(false)
    if (measurement === '') throw new Problem('missing measurement')
    let tags: Map<string, string> | undefined
    while (text.charCodeAt(this.i) === COMMA) {
      this.i++
      const key = this.name(true)
      if (key === '') throw new Problem('missing tag key')
      if (text.charCodeAt(this.i) !== EQUALS) throw new Problem(`missing tag value of ${key}`)
      this.i++
      const tagValue = this.name(true)
      if (tagValue === '') throw new Problem(`missing tag value of ${key}`)
      if (text.charCodeAt(this.i) === EQUALS) throw new Problem(`tag value of ${key} holds an unescaped '='`)
      tags ??= new Map()
      tags.set(key, tagValue)
    }
    if (text.charCodeAt(this.i) !== SPACE) throw new Problem('missing fields')
    this.spaces()
    if (this.atEnd()) throw new Problem('missing fields')
    const fields = new Map<string, FieldValue>()
    for (;;) {
      const key = this.name(true)
      if (key === '') throw new Problem('missing field key')
      if (text.charCodeAt(this.i) !== EQUALS) throw new Problem(`missing field value of ${key}`)
      this.i++
      fields.set(key, this.value())
      if (text.charCodeAt(this.i) !== COMMA) break
      this.i++
    }
    let timestamp: string | undefined
    if (text.charCodeAt(this.i) === SPACE) {
      this.spaces()
      if (!this.atEnd()) {
        timestamp = this.token()
        if (!isInt64(timestamp)) throw new Problem(`invalid timestamp ${timestamp} (a signed 64-bit integer)`)
        this.spaces()
      }
    }
    if (!this.atEnd()) throw new Problem(`unexpected ${JSON.stringify(text[this.i])} at column ${this.i - this.lineStart + 1}`)
    return { measurement, tags: tags ?? noTags, fields, timestamp, line: startLine }
  }

  /**
   * A measurement (`key` false: ended by ',' or ' ', which a backslash escapes) or a tag key, tag value or field
   * key (ended by ',', '=' or ' ', which a backslash escapes); a backslash escapes a backslash in both.
   */
  name(key: boolean): string {
    const { text, n } = this
    const start = this.i
    let i = start
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
    this.i = i
    const raw = text.slice(start, i)
    if (!escaped) return raw
    return key ? unescapeKey(raw) : unescapeMeasurement(raw)
  }

  quoted(): string {
    const { text, n } = this
    const start = ++this.i
    let escaped = false
    for (let i = start; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c === QUOTE) {
        this.i = i + 1
        const raw = text.slice(start, i)
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
      else if (c === NL) this.line++
    }
    throw new Problem('unterminated string field value')
  }

  /** A field value or timestamp: up to a ',', ' ' or the line's end. */
  token(): string {
    const { text, n } = this
    const start = this.i
    let i = start
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c === COMMA || c === SPACE || c === NL || c === CR) break
    }
    this.i = i
    return text.slice(start, i)
  }

  value(): FieldValue {
    const first = this.text.charCodeAt(this.i)
    if (first === QUOTE) return this.quoted()
    const raw = this.token()
    if (raw === '') throw new Problem('missing field value')
    // Letters first are booleans or nothing (a number starts with a digit, '-' or '.').
    if (first > 57 /* 9 */) {
      const bool = booleans.get(raw)
      if (bool === undefined) throw new Problem(`invalid field value ${raw}`)
      return bool
    }
    const last = raw.charCodeAt(raw.length - 1)
    // parseInt reads the digits and stops at the suffix.
    if (last === 105 /* i */) {
      if (!isInt64(raw, raw.length - 1)) throw new Problem(`invalid integer ${raw} (a signed 64-bit integer then i)`)
      return parseInt(raw, 10)
    }
    if (last === 117 /* u */) {
      if (!isDigits(raw, 0, raw.length - 1) || !fits(raw.slice(0, -1), uint64Max)) throw new Problem(`invalid unsigned integer ${raw} (an unsigned 64-bit integer then u)`)
      return parseInt(raw, 10)
    }
    if (!floatPattern.test(raw)) throw new Problem(`invalid field value ${raw}`)
    const float = Number(raw)
    if (!Number.isFinite(float)) throw new Problem(`float ${raw} is out of range`)
    return float
  }

  spaces(): void {
    while (this.text.charCodeAt(this.i) === SPACE) this.i++
  }
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
  return Object.hasOwn(aliases, raw) ? aliases[raw] : undefined
}

/** Unix seconds of a timestamp given in `precision`, truncated (floored) to the second. */
export function secondsOf(timestamp: string, precision: Precision): number {
  if (precision === 'm' || precision === 'h') return Number(timestamp) * secondsPer[precision]
  const drop = digitsPastSecond[precision]
  // Nanoseconds pass 2^53: the digits are cut rather than a rounded number divided.
  if (timestamp.charCodeAt(0) !== 45) return timestamp.length <= drop ? 0 : Number(timestamp.slice(0, timestamp.length - drop))
  return Math.floor(Number(timestamp) / 10 ** drop)
}
