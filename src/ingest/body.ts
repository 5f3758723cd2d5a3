// Request body bytes -> parsed JSON or form fields: gzip, UTF-8, and telling one sample from a batch.
import { parse as parseLossless } from 'lossless-json'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { badRequest, HttpError } from '../http/reply.js'
import { float, Num, numFromLexeme } from '../wire/pyjson.js'
import { incorrectDataSize } from './sample.js'

export type Parsed = { one: unknown } | { many: unknown[] }

const gunzipAsync = promisify(gunzip)

/** The body as sent, inflated when it is gzip (in the thread pool, and never past `maxBytes`). */
export function decodeBody(encoding: string | undefined, body: Uint8Array, maxBytes: number): Uint8Array | Promise<Uint8Array> {
  const coding = encoding?.trim().toLowerCase()
  if (!coding || coding === 'identity') return body
  return inflate(coding, body, maxBytes)
}

async function inflate(coding: string, body: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (coding !== 'gzip' && coding !== 'x-gzip') {
    throw new HttpError(415, { error: `Content-Encoding ${coding} is not supported; use gzip or none` })
  }
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes })
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new HttpError(413, { error: `inflated body over the limit of ${maxBytes} bytes (MAX_INFLATED_BYTES)` })
    }
    throw badRequest('body is not valid gzip')
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function decodeText(body: Uint8Array): string {
  try {
    return utf8.decode(body)
  } catch {
    throw badRequest('body is not UTF-8')
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

function parsePlainJson(text: string, where: Record<string, number> = {}): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw badRequest('invalid JSON', { ...where, detail: (e as Error).message })
  }
}

const formNumber = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** A form value as Python would read it with int() or float(); anything else stays a string. */
function formValue(value: string): unknown {
  const s = value.trim()
  if (!formNumber.test(s)) return value
  if (s.includes('.') || s.includes('e') || s.includes('E')) return float(Number(s))
  return new Num(Number(s), pythonIntText(s))
}

/**
 * How Python prints int() of an integer text: without a plus sign or leading zeros, and "0" for any zero.
 * By string, not BigInt: parsing a megabyte of digits into a BigInt blocked the event loop for 0.4 s.
 */
function pythonIntText(s: string): string {
  const c = s.charCodeAt(0)
  if (c > 0x30 || s === '0') return s // the usual case: 1-9 first
  const digits = s.replace(/^[+-]?0*/, '') || '0'
  return s[0] === '-' && digits !== '0' ? '-' + digits : digits
}

type SampleField = 'cpu_load' | 'mem' | 'storage' | 'time'
type FormSample = Record<SampleField, unknown>

/** Keeps the first value of each sample field (as Flask's request.form.get); other fields are not read. */
function take(fields: FormSample, key: string, value: string): void {
  if ((key === 'cpu_load' || key === 'mem' || key === 'storage' || key === 'time') && fields[key] === undefined) fields[key] = formValue(value)
}

/** A form body's sample fields, in an object of one shape whatever a client sends. */
function parseForm(text: string): FormSample {
  const fields: FormSample = { cpu_load: undefined, mem: undefined, storage: undefined, time: undefined }
  if (text[0] === '?' || /[%+]/.test(text)) {
    for (const [key, value] of new URLSearchParams(text)) take(fields, key, value)
    return fields
  }
  // Without escapes a form decodes to itself: split in place, a fraction of URLSearchParams's cost (hot path).
  for (let start = 0; start < text.length; ) {
    const amp = text.indexOf('&', start)
    const end = amp < 0 ? text.length : amp
    const eq = text.indexOf('=', start)
    if (eq >= 0 && eq < end) take(fields, text.slice(start, eq), text.slice(eq + 1, end))
    else if (end > start) take(fields, text.slice(start, end), '')
    start = end + 1
  }
  return fields
}

const ndjsonType = /^application\/(x-ndjson|ndjson|jsonl|x-jsonlines)\b/i
const jsonType = /^application\/([\w.+-]*\+)?json\b/i

/**
 * A sample body: form-encoded (GUI client), a JSON object with its content type or with curl's default form
 * content type (the original README), told apart by the first character; or a batch: a JSON array, or NDJSON.
 */
export function parseSampleBody(contentType: string | undefined, text: string): Parsed {
  const body = text.trim()
  if (body === '') throw incorrectDataSize()
  if (ndjsonType.test(contentType ?? '')) {
    const many: unknown[] = []
    for (const line of body.split('\n')) if (line.trim() !== '') many.push(parsePlainJson(line, { index: many.length }))
    return { many }
  }
  if (body[0] === '[') {
    const many = parsePlainJson(body)
    return Array.isArray(many) ? { many } : { one: many }
  }
  return { one: jsonType.test(contentType ?? '') || body[0] === '{' ? parseJson(body) : parseForm(body) }
}
