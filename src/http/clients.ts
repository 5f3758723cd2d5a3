// Client routes (contract, "Clients"): register or log in, send a sample, log span, log slice (raw or downsampled).
import * as v from 'valibot'
import type { Authenticator } from '../auth/authenticator.js'
import { makeClientId } from '../auth/client-id.js'
import { badRequest, logEmpty, valueError } from '../errors.js'
import { decodeText, readText } from '../ingest/decode.js'
import type { Answer, Ingest } from '../ingest/entry.js'
import { parseClientBody } from '../ingest/formats/client-body.js'
import { parseJson } from '../ingest/formats/json.js'
import type { SampleStore } from '../store/samples.js'
import { bucketFrame } from '../wire/buckets.js'
import { acceptedEcho, sampleEcho } from '../wire/echo.js'
import { sliceFrame } from '../wire/slice.js'
import { jsonReply, jsonTextReply, streamReply, type Reply, type Request } from './reply.js'
import { downsampling } from './downsample.js'
import type { Handler, Router } from './router.js'

export interface ClientServices {
  auth: Authenticator
  ingest: Ingest
  samples: SampleStore
  maxInflatedBytes: number
  maxBatchSamples: number
}

const maxPasswordLength = 1024

// The GUI client and the original code send "pass"; the original README says "password".
const registration = v.pipe(
  v.looseObject({ username: v.string(), pass: v.optional(v.string()), password: v.optional(v.string()) }),
  v.transform(({ username, pass, password }) => ({ username, password: pass ?? password })),
)

function parseRegistration(body: Uint8Array) {
  const text = decodeText(body).trim()
  const data = text.startsWith('{') ? parseJson(text) : Object.fromEntries(new URLSearchParams(text))
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
  // The original's tests compare the whole body: nothing beside the reason.
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n)) throw valueError()
  return n
}

const stored: Answer<Reply> = {
  one: ({ echo }) => jsonTextReply(202, sampleEcho(echo)),
  many: (count) => jsonTextReply(202, acceptedEcho(count)),
}

/** A client's log span (contract, "Log span"); 406 while it is empty. */
export async function spanReply(samples: SampleStore, clientId: number): Promise<Reply> {
  const found = await samples.span(clientId)
  if (!found) throw logEmpty()
  return jsonReply(200, { start: found.start, end: found.end })
}

/** A client's log slice (contract, "Log slice"), downsampled when the query has a step (README, "Downsampled slices"). */
export function sliceReply(samples: SampleStore, clientId: number, rawQuery: string): Reply {
  const query = new URLSearchParams(rawQuery)
  const start = bound(query, 'start', Number.MIN_SAFE_INTEGER)
  const end = bound(query, 'end', Number.MAX_SAFE_INTEGER)
  const down = downsampling(query)
  if (down) return streamReply(200, bucketFrame(samples.buckets(clientId, { ...down, start, end }), down.aggregates))
  return streamReply(200, sliceFrame(samples.slice(clientId, start, end)))
}

export function clientRoutes(router: Router, { auth, ingest, samples, maxInflatedBytes, maxBatchSamples }: ClientServices): void {
  router.add('/client', {
    async POST(req) {
      const { username, password } = parseRegistration(req.body)
      const { registered } = await auth.login(username, password, req.remote)
      const clientId = makeClientId(username, password)
      return jsonReply(200, registered ? { registration: username, client_id: clientId } : { client_id: clientId })
    },
  }, { body: ['POST'] })

  router.add('/client/:s', {
    POST(req, [segment]) {
      const parse = () => readText(req.headers['content-encoding'], req.body, maxInflatedBytes, (text) => parseClientBody(req.headers['content-type'], text, maxBatchSamples))
      return ingest({ transport: 'http', segment, authorization: req.headers.authorization, remote: req.remote }, parse, stored)
    },
  }, { body: ['POST'] })

  const authenticated = (req: Request, segment: string) => auth.authenticate(segment, req.headers.authorization, req.remote)

  const span: Handler = async (req, [segment]) => spanReply(samples, await authenticated(req, segment))
  router.add('/client/:s/time', { GET: span, POST: span })

  const slice: Handler = async (req, [segment]) => sliceReply(samples, await authenticated(req, segment), req.query)
  router.add('/client/:s/time/report', { GET: slice, POST: slice })
}
