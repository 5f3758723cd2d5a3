// MAX_BATCH_SAMPLES, kept while a batch format reads its body rather than after: a gzip body of a few
// kilobytes inflates to millions of samples, each an object in memory, and reading them all held the event
// loop for seconds before the batch was refused.
import { batchTooLarge } from '../../errors.js'

/** Adds a sample to a batch, refusing (413) the one that would hold more than `max`. */
export function pushWithin<T>(many: T[], sample: T, max: number): void {
  if (many.length === max) throw batchTooLarge(max)
  many.push(sample)
}

const comma = 0x2c, quote = 0x22, backslash = 0x5c
const openArray = 0x5b, closeArray = 0x5d, openObject = 0x7b, closeObject = 0x7d

// A text this short is parsed whole (a request body without gzip is one): its values take tens of MB at most.
const parsedWholeUpTo = 2 ** 20

/** Refuses (413) a JSON array text of more than `max` elements before JSON.parse builds them. */
export function checkArrayLength(text: string, max: number): void {
  // An element takes two characters at least ("1,"): a shorter text cannot hold too many.
  if (text.length < Math.max(2 * max + 3, parsedWholeUpTo)) return
  let depth = 0, commas = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === quote) {
      for (i++; i < text.length && text.charCodeAt(i) !== quote; i++) if (text.charCodeAt(i) === backslash) i++
    } else if (c === openArray || c === openObject) depth++
    else if (c === closeArray || c === closeObject) depth--
    else if (c === comma && depth === 1 && ++commas === max) throw batchTooLarge(max)
  }
}
