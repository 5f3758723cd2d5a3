// The body of `POST /client/{S}` (contract, "Send a sample"): form-encoded (GUI client), a JSON object with
// its content type or with curl's default form content type (the original README), told apart by the first
// character; or a batch: a JSON array, or NDJSON.
import { incorrectDataSize } from '../../errors.js'
import type { Parsed } from '../entry.js'
import { parseForm } from './form.js'
import { parseJson, parsePyJson } from './json.js'

const ndjsonType = /^application\/(x-ndjson|ndjson|jsonl|x-jsonlines)\b/i
const jsonType = /^application\/([\w.+-]*\+)?json\b/i

export function parseClientBody(contentType: string | undefined, text: string): Parsed {
  const body = text.trim()
  if (body === '') throw incorrectDataSize()
  if (ndjsonType.test(contentType ?? '')) {
    const many: unknown[] = []
    for (const line of body.split('\n')) if (line.trim() !== '') many.push(parseJson(line, { index: many.length }))
    return { many, format: 'ndjson' }
  }
  // JSON text that opens with '[' is an array or is refused.
  if (body[0] === '[') return { many: parseJson(body) as unknown[], format: 'json' }
  return jsonType.test(contentType ?? '') || body[0] === '{' ? { one: parsePyJson(body), format: 'json' } : { one: parseForm(body), format: 'form' }
}
