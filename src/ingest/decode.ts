// A request body's bytes as text: inflated when gzip, then UTF-8.
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { badRequest, inflatedTooLarge, unsupportedEncoding } from '../errors.js'

const gunzipAsync = promisify(gunzip)

/** The body as sent, inflated when it is gzip (in the thread pool, and never past `maxBytes`). */
function decodeBody(encoding: string | undefined, body: Uint8Array, maxBytes: number): Uint8Array | Promise<Uint8Array> {
  const coding = encoding?.trim().toLowerCase()
  if (!coding || coding === 'identity') return body
  return inflate(coding, body, maxBytes)
}

async function inflate(coding: string, body: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (coding !== 'gzip' && coding !== 'x-gzip') throw unsupportedEncoding(coding)
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes })
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw inflatedTooLarge(maxBytes)
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

/** The body as text (inflated first when gzip) handed to `read`: at once when there is nothing to inflate (hot path). */
export function readText<T>(encoding: string | undefined, body: Uint8Array, maxBytes: number, read: (text: string) => T): T | Promise<T> {
  const bytes = decodeBody(encoding, body, maxBytes)
  return bytes instanceof Uint8Array ? read(decodeText(bytes)) : bytes.then((inflated) => read(decodeText(inflated)))
}
