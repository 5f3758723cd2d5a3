// JSON text -> values, in the two ways the server reads it, with one refusal for text that is not JSON.
import { parse as parseLossless } from 'lossless-json'
import { invalidJson } from '../../errors.js'
import { numFromLexeme, type PyValue } from '../../wire/pyjson.js'

/**
 * JSON as Python's json.loads reads it: numbers keep whether they were ints or floats and print again as
 * they were sent (Num), keys keep their order. For what is echoed: a single sample, a WebSocket message.
 */
export function parsePyJson(text: string): PyValue {
  try {
    // Made of JSON's values with every number a Num: a PyValue by construction.
    return parseLossless(text, null, numFromLexeme) as PyValue
  } catch (e) {
    throw invalidJson(e)
  }
}

/** Plain JSON, numbers as numbers: for what is not echoed (batches, registrations), at JSON.parse's speed. */
export function parseJson(text: string, where?: { index: number }): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw invalidJson(e, where)
  }
}
