// The agent's side of the contract: log in (registering on first use) with `POST /client`, and send spooled
// samples as NDJSON batches to `POST /client/{username}` (gzip once they are worth it), each answer sorted into
// what the agent does next: go on, try again later (the server is away or busy), shrink the batch, or stop.
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'

export type Outcome =
  | { ok: true; text: string }
  /** The server is away, failing or busy: try again, after `after` seconds if it said (Retry-After). */
  | { retry: string; after?: number }
  /** 413: the batch is larger than the server takes. */
  | { tooLarge: string }
  /** 401: the credentials are refused. */
  | { unauthorized: string }
  /** Any other 4xx: trying again would be refused the same way. */
  | { refused: string }

// Past this many bytes a batch goes gzip (ours are NDJSON of numbers: a tenth of the size).
const gzipFrom = 1024
// What is read of an answer: ours are short, and a stranger at the URL must not fill memory.
const maxAnswerBytes = 64 * 1024

/** Seconds a Retry-After says (a number of seconds, or an HTTP date), undefined when it says nothing usable. */
export function retryAfterSeconds(header: string | undefined, now = Date.now()): number | undefined {
  const value = header?.trim() ?? ''
  if (/^\d+$/.test(value)) return Number(value)
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value)) return undefined
  return Math.max(0, (Date.parse(value) - now) / 1000)
}

/** What an answer means for the agent; 2xx is ok, 408, 429 and 5xx are tried again. */
export function outcomeOf(status: number, headers: IncomingHttpHeaders, text: string): Outcome {
  if (status >= 200 && status < 300) return { ok: true, text }
  const said = `${status}${text ? ` ${text.slice(0, 200)}` : ''}`
  if (status === 408 || status === 429 || status >= 500) return { retry: `the server answered ${said}`, after: retryAfterSeconds(headers['retry-after'] as string | undefined) }
  if (status === 413) return { tooLarge: said }
  if (status === 401) return { unauthorized: said }
  return { refused: said }
}

/** TLS failures are the agent's configuration (an unknown CA, a wrong name): trying again changes nothing. */
const tlsProblem = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_)/

type RequestFn = typeof httpRequest

export class Uploader {
  readonly #base: URL
  #request?: RequestFn
  #agent?: Agent

  constructor(
    server: string,
    private readonly timeoutMs: number,
  ) {
    this.#base = new URL(server)
  }

  /** POST /client: the client_id, registering the username if the server does not know it. */
  async login(username: string, password: string): Promise<Outcome> {
    return this.#post('/client', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ username, pass: password })))
  }

  /** One batch of NDJSON lines to the batch route, as `username` with its client_id. */
  async send(username: string, clientId: string, lines: string[]): Promise<Outcome> {
    let body = Buffer.from(lines.join('\n') + '\n')
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', authorization: `Basic ${clientId}` }
    if (body.length >= gzipFrom) {
      // Loaded when first needed: a steady agent sends one short line a second and never needs it.
      const { gzipSync } = await import('node:zlib')
      body = gzipSync(body)
      headers['content-encoding'] = 'gzip'
    }
    return this.#post(`/client/${encodeURIComponent(username)}`, headers, body)
  }

  /** Ends the kept-alive connection. */
  close(): void {
    this.#agent?.destroy()
  }

  async #post(path: string, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
    const request = await this.#transport()
    const url = new URL(this.#base.pathname.replace(/\/$/, '') + path, this.#base)
    return new Promise<Outcome>((resolve) => {
      const req = request(url, { method: 'POST', agent: this.#agent, headers: { ...headers, 'content-length': String(body.length) } }, (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          if (size < maxAnswerBytes) chunks.push(chunk)
          size += chunk.length
        })
        res.on('end', () => {
          clearTimeout(timer)
          resolve(outcomeOf(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8', 0, maxAnswerBytes).trim()))
        })
        res.on('error', (e) => fail(e))
      })
      const fail = (e: Error & { code?: string }) => {
        clearTimeout(timer)
        const code = e.code ?? ''
        if (tlsProblem.test(code)) resolve({ refused: `TLS: ${e.message}` })
        else resolve({ retry: `the server is unreachable (${code || e.message})` })
      }
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs / 1000} s`), { code: 'timeout' })), this.timeoutMs)
      req.on('error', fail)
      req.end(body)
    })
  }

  /** node:http, or node:https for an https:// server (loaded only then: TLS costs the process memory). */
  async #transport(): Promise<RequestFn> {
    if (this.#request) return this.#request
    if (this.#base.protocol === 'https:') {
      const https = await import('node:https')
      this.#agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
      this.#request = https.request as unknown as RequestFn
    } else {
      this.#agent = new Agent({ keepAlive: true, maxSockets: 1 })
      this.#request = httpRequest
    }
    return this.#request
  }
}
