// A downsampled slice's rows with several aggregates (contract of issue 13): the bucket's start, its sample
// count, then each metric's aggregates in the order asked, rendered from the store's bytes.
import { metrics } from '../sample.js'
import { pyFloat, renderRows, sliceFrame, sliceRows } from './slice.js'

/**
 * The renderer of rows of 2 + 3 × aggregates.length big-endian doubles (start, count, then each metric's
 * aggregates, NaN for none) as `{"unix_time": b, "samples": n, "cpu_avg": .., ...}`.
 */
export function bucketRows(aggregates: readonly string[]): (rows: Uint8Array) => Uint8Array {
  const keys = metrics.flatMap((m) => aggregates.map((a) => `, "${m}_${a}": `))
  const rowBytes = 8 * (2 + keys.length)
  // Keys and punctuation, and at most 24 characters a number.
  const maxTextBytes = 32 + keys.reduce((n, k) => n + k.length + 24, 0) + 2 * 24
  return (rows) =>
    renderRows(rows, rowBytes, maxTextBytes, (view, at) => {
      let text = `{"unix_time": ${view.getFloat64(at)}, "samples": ${view.getFloat64(at + 8)}`
      for (let k = 0; k < keys.length; k++) text += keys[k] + pyFloat(view.getFloat64(at + 16 + 8 * k))
      return text + '}'
    })
}

/** A downsampled slice's frame: rows of a log slice's shape for one aggregate, bucketRows for more. */
export const bucketFrame = (chunks: AsyncIterable<Uint8Array>, aggregates: readonly string[]) =>
  sliceFrame(chunks, aggregates.length === 1 ? sliceRows : bucketRows(aggregates))
