// The body of `POST /client/{S}` (contract, "Send a sample"): form-encoded (GUI client), a JSON object with
// its content type or with curl's default form content type (the original README), told apart by the first
// character; or a batch: a JSON array, or NDJSON.
import { incorrectDataSize } from '../../errors.js'
import type { Parsed } from '../entry.js'
import { checkArrayLength, pushWithin } from './batch-limit.js'
import { parseForm } from './form.js'
import { parseJson, parsePyJson } from './json.js'

const ndjsonType = /^application\/(x-ndjson|ndjson|jsonl|x-jsonlines)\b/i
const jsonType = /^application\/([\w.+-]*\+)?json\b/i

/** A batch of more than `maxSamples` samples is refused (413) before its samples are all read. */
export function parseClientBody(contentType: string | undefined, text: string, maxSamples: number): Parsed {
  const body = text.trim()
  if (body === '') throw incorrectDataSize()
  if (ndjsonType.test(contentType ?? '')) {
    const many: unknown[] = []
    for (let at = 0; at < body.length; ) {
      let end = body.indexOf('\n', at)
      if (end < 0) end = body.length
      const line = body.slice(at, end)
      if (line.trim() !== '') pushWithin(many, parseJson(line, { index: many.length }), maxSamples)
      at = end + 1
    }
    return { many, format: 'ndjson' }
  }
  // JSON text that opens with '[' is an array or is refused.
  if (body[0] === '[') {
    checkArrayLength(body, maxSamples)
    return { many: parseJson(body) as unknown[], format: 'json' }
  }
  return jsonType.test(contentType ?? '') || body[0] === '{' ? { one: parsePyJson(body), format: 'json' } : { one: parseForm(body), format: 'form' }
}
