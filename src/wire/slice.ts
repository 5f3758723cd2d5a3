// A log slice's text (contract, "Log slice"): rows rendered from the store's bytes, and the frame around them.
import { floatRepr } from './pyjson.js'

// NaN is NULL: stored values are finite (validated).
export const pyFloat = (n: number) => (Number.isNaN(n) ? 'null' : floatRepr(n))

// A row's text is at most 48 characters of keys and punctuation and four numbers of at most 24.
const maxRowBytes = 160
// Rows joined into one string before that string is copied into the chunk's bytes.
const rowsPerWrite = 64

/** Bytes a stored row takes in the store's chunks: t, cpu, mem, storage as big-endian doubles, NaN for NULL. */
export const sliceRowBytes = 32

/**
 * Rows of `rowBytes` bytes each, rendered by `row` (given the row's offset), as JSON text (UTF-8) with ', '
 * between them. The text is copied into bytes every few rows, so that its strings die young instead of
 * living through collections as one long string in the making.
 */
export function renderRows(rows: Uint8Array, rowBytes: number, maxTextBytes: number, row: (view: DataView, at: number) => string): Uint8Array {
  const view = new DataView(rows.buffer, rows.byteOffset, rows.byteLength)
  const count = Math.floor(rows.byteLength / rowBytes)
  const out = Buffer.allocUnsafe(count * maxTextBytes)
  let length = 0
  let text = ''
  for (let i = 0; i < count; i++) {
    text += (i === 0 ? '' : ', ') + row(view, i * rowBytes)
    if (i % rowsPerWrite === rowsPerWrite - 1 || i === count - 1) {
      length += out.write(text, length, 'latin1')
      text = ''
    }
  }
  return out.subarray(0, length)
}

/** The rows of a chunk as log slice rows. V8 prints the doubles' shortest digits, in Python's notation (floatRepr). */
export const sliceRows = (rows: Uint8Array): Uint8Array =>
  renderRows(
    rows,
    sliceRowBytes,
    maxRowBytes,
    (view, at) =>
      `{"cpu": ${pyFloat(view.getFloat64(at + 8))}, "mem": ${pyFloat(view.getFloat64(at + 16))}, "storage": ${pyFloat(view.getFloat64(at + 24))}, "unix_time": ${view.getFloat64(at)}}`,
  )

/**
 * `{"<key>": [rows, ...]}` around each chunk's rows as they come, rendered by `render` (a chunk may render to
 * nothing). Nothing is written before the first chunk exists, so that a query failing at once still gets its own
 * status.
 */
export async function* listFrame<T>(key: string, chunks: AsyncIterable<T>, render: (chunk: T) => string | Uint8Array): AsyncIterable<string | Uint8Array> {
  let prefix = `{"${key}": [`
  for await (const chunk of chunks) {
    const rows = render(chunk)
    if (rows.length === 0) continue
    yield prefix
    yield rows
    prefix = ', '
  }
  yield prefix === ', ' ? ']}' : `{"${key}": []}`
}

/** A log slice's frame, `{"payload": [...]}`, around the chunks' rows rendered by `render`. */
export const sliceFrame = (chunks: AsyncIterable<Uint8Array>, render: (rows: Uint8Array) => Uint8Array = sliceRows) => listFrame('payload', chunks, render)
