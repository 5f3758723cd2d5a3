// A plain HTTP client for tests: node:http sends paths exactly as given (no normalisation of '..' or '%2F'); and
// node:https for an https:// base, trusting the test's own CA.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The body as received (still gzip-encoded, if it was). */
  bytes: Buffer
  text: string
  json(): unknown
}

export interface RequestOptions {
  method?: string
  /** The local address to send from, e.g. another loopback address to look like another client. */
  from?: string
  /** A 503 is expected (overload tests); any other 5xx still fails the test. */
  allowUnavailable?: boolean
  /** A 500 is what the test is about (a table dropped under the server). */
  allowInternalError?: boolean
  headers?: Record<string, string | number>
  body?: string | Buffer
  /** For an https:// base: the PEM certificate (or CA) the server's is trusted by. */
  ca?: string
}

export function request(base: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const url = new URL(base)
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
        headers: options.headers,
        agent: false,
        localAddress: options.from,
        ca: options.ca,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const bytes = Buffer.concat(chunks)
          const text = bytes.toString('utf8')
          // The bar for every change: no request makes the server answer 5xx.
          const expected = (res.statusCode === 503 && options.allowUnavailable) || (res.statusCode === 500 && options.allowInternalError)
          if (res.statusCode! >= 500 && !expected) assert.fail(`${options.method ?? 'GET'} ${path} answered ${res.statusCode}: ${text}`)
          resolve({ status: res.statusCode!, headers: res.headers, bytes, text, json: () => JSON.parse(text) })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    // A server that stops answering fails the test, instead of holding it (and the run) for ever.
    req.setTimeout(60_000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${path}: nothing heard for 60 s`)))
    req.end(options.body)
  })
}

/** A client bound to one server, with the form content type curl -d uses unless told otherwise. */
export const client = (base: string, from?: string, allowUnavailable = false, ca?: string) => ({
  get: (path: string, headers: Record<string, string> = {}) => request(base, path, { headers, from, allowUnavailable, ca }),
  post: (path: string, body: string | Buffer, headers: Record<string, string | number> = {}) =>
    request(base, path, {
      method: 'POST',
      body,
      from,
      allowUnavailable,
      ca,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    }),
  send: (path: string, options: RequestOptions) => request(base, path, { from, allowUnavailable, ca, ...options }),
})

export const basic = (username: string, password: string) => Buffer.from(`${username}:${password}`).toString('base64')

/**
 * A loopback address of its own (127.x.y.z), for a test whose counts by address live in the shared database and
 * would otherwise meet another run's.
 */
export const uniqueLoopback = () => `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`

let counter = 0
/** A username no other test uses, so tests can share one database. */
export const uniqueName = (prefix = 'u') => `${prefix}${process.pid}x${Date.now().toString(36)}x${counter++}`
