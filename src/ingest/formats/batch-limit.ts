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
const opens = new Set([0x5b, 0x7b])
const closes = new Set([0x5d, 0x7d])

/** Refuses (413) a JSON array text of more than `max` elements before JSON.parse builds them. */
export function checkArrayLength(text: string, max: number): void {
  // An element takes two characters at least ("1,"): a shorter text cannot hold too many.
  if (text.length < 2 * max + 3) return
  let depth = 0, commas = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === quote) {
      for (i++; i < text.length && text.charCodeAt(i) !== quote; i++) if (text.charCodeAt(i) === backslash) i++
    } else if (opens.has(c)) depth++
    else if (closes.has(c)) depth--
    else if (c === comma && depth === 1 && ++commas === max) throw batchTooLarge(max)
  }
}
