// Client routes (contract, "Clients"): register or log in, send a sample, log span, log slice.
import * as v from 'valibot'
import type { Authenticator } from '../auth/authenticator.js'
import { makeClientId } from '../auth/client-id.js'
import { decodeBody, decodeText, parseSampleBody } from '../ingest/body.js'
import { echoJson, toSample, toSamples } from '../ingest/sample.js'
import type { Writer } from '../ingest/writer.js'
import type { SampleStore } from '../store/samples.js'
import { badRequest, jsonReply, jsonTextReply, logEmpty, streamReply, type Chunk } from './reply.js'
import type { Handler, Router } from './router.js'

export interface ClientServices {
  auth: Authenticator
  writer: Writer
  samples: SampleStore
  /** Unix seconds, for samples sent without a time. */
  now: () => number
  maxBatchSamples: number
  maxInflatedBytes: number
}

const maxPasswordLength = 1024

// The GUI client and the original code send "pass"; the original README says "password".
const registration = v.pipe(
  v.looseObject({ username: v.string(), pass: v.optional(v.string()), password: v.optional(v.string()) }),
  v.transform(({ username, pass, password }) => ({ username, password: pass ?? password })),
)

function parseRegistration(body: Uint8Array) {
  const text = decodeText(body).trim()
  let data: unknown
  if (text.startsWith('{')) {
    try {
      data = JSON.parse(text)
    } catch (e) {
      throw badRequest('invalid JSON', { detail: (e as Error).message })
    }
  } else data = Object.fromEntries(new URLSearchParams(text))
  const result = v.safeParse(registration, data)
  if (!result.success) throw badRequest('expected a JSON object with string fields "username" and "pass"')
  const { username, password } = result.output
  if (password === undefined) throw badRequest('pass is missing')
  if (password.length > maxPasswordLength) throw badRequest(`pass is longer than ${maxPasswordLength} characters`)
  return { username, password }
}

/** start and end of a slice: integers, or absent/empty for an open end. */
function bound(query: URLSearchParams, name: string, open: number): number {
  const raw = query.get(name)
  if (raw === null || raw === '') return open
  const n = Number(raw)
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n)) throw badRequest('value error', { field: name })
  return n
}

async function* payload(rows: AsyncIterable<Uint8Array>): AsyncIterable<Chunk> {
  // The first chunk waits for the first rows, so a failing query still gets an error status.
  let prefix = '{"payload": ['
  for await (const chunk of rows) {
    if (chunk.byteLength === 0) continue
    yield prefix
    yield chunk
    prefix = ', '
  }
  yield prefix === ', ' ? ']}' : '{"payload": []}'
}

export function clientRoutes(router: Router, { auth, writer, samples, now, maxBatchSamples, maxInflatedBytes }: ClientServices): void {
  router.add('/client', {
    async POST(req) {
      const { username, password } = parseRegistration(req.body)
      const { registered } = await auth.login(username, password, req.remote)
      const clientId = makeClientId(username, password)
      return jsonReply(200, registered ? { registration: username, client_id: clientId } : { client_id: clientId })
    },
  })

  router.add('/client/:s', {
    async POST(req, [s]) {
      const clientId = await auth.authenticate(s, req.headers.authorization, req.remote)
      const body = await decodeBody(req.headers['content-encoding'], req.body, maxInflatedBytes)
      const parsed = parseSampleBody(req.headers['content-type'], decodeText(body))
      if ('many' in parsed) {
        const batch = toSamples(parsed.many, now(), maxBatchSamples)
        await writer.write(clientId, batch)
        return jsonReply(202, { accepted: batch.length })
      }
      const { sample, echo } = toSample(parsed.one, now())
      await writer.write(clientId, [sample])
      return jsonTextReply(202, echoJson(echo, true))
    },
  })

  const span: Handler = async (req, [s]) => {
    const found = await samples.span(await auth.authenticate(s, req.headers.authorization, req.remote))
    if (!found) throw logEmpty()
    return jsonReply(200, { start: found.start, end: found.end })
  }
  router.add('/client/:s/time', { GET: span, POST: span })

  const slice: Handler = async (req, [s]) => {
    const clientId = await auth.authenticate(s, req.headers.authorization, req.remote)
    const query = new URLSearchParams(req.query)
    const start = bound(query, 'start', Number.MIN_SAFE_INTEGER)
    const end = bound(query, 'end', Number.MAX_SAFE_INTEGER)
    return streamReply(200, payload(samples.slice(clientId, start, end)))
  }
  router.add('/client/:s/time/report', { GET: slice, POST: slice })
}
