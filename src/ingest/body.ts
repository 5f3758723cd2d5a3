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
export async function decodeBody(encoding: string | undefined, body: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const coding = encoding?.trim().toLowerCase()
  if (!coding || coding === 'identity') return body
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
  // Python's int() drops a sign and leading zeros, as BigInt does; most ints have neither.
  if (/^(0|[1-9]\d*)$/.test(s)) return new Num(Number(s), s)
  if (/^[+-]?\d+$/.test(s)) return new Num(Number(s), BigInt(s).toString())
  if (formNumber.test(s)) return float(Number(s))
  return value
}

type SampleField = 'cpu_load' | 'mem' | 'storage' | 'time'
const isSampleField = (key: string): key is SampleField => key === 'cpu_load' || key === 'mem' || key === 'storage' || key === 'time'

/** Without escapes a form decodes to itself: splitting it costs a fraction of URLSearchParams (hot path). */
function formPairs(text: string): Iterable<[string, string]> {
  if (text[0] === '?' || /[%+]/.test(text)) return new URLSearchParams(text)
  const pairs: [string, string][] = []
  for (const part of text.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    pairs.push(eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)])
  }
  return pairs
}

/**
 * A form body's sample fields, the first of each name (as Flask's request.form.get); other fields are not
 * read, so the object keeps one shape whatever a client sends.
 */
function parseForm(text: string): Record<SampleField, unknown> {
  const fields: Record<SampleField, unknown> = { cpu_load: undefined, mem: undefined, storage: undefined, time: undefined }
  for (const [key, value] of formPairs(text)) if (isSampleField(key) && fields[key] === undefined) fields[key] = formValue(value)
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
