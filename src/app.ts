// The transport-neutral app: the route table wired to the services, and the one place where a failure
// becomes what a client is told, as an HTTP reply or a WebSocket ERROR reason. Transports hand it a Request
// and write back the Reply.
import type { AdminGate } from './auth/admin.js'
import type { Authenticator } from './auth/authenticator.js'
import { databaseUnavailable, Refusal } from './errors.js'
import type { HostSampler } from './host/sampler.js'
import { clientRoutes } from './http/clients.js'
import { dashboardRoutes } from './http/dashboard.js'
import { fleetRoutes } from './http/fleet.js'
import { influxRoutes } from './http/influx.js'
import { metricsRoutes } from './http/metrics.js'
import { monitorRoutes } from './http/monitor.js'
import { isStreamed, jsonReply, textReply, withFirstChunk, type Reply, type Request } from './http/reply.js'
import { Router, type ErrorStyle } from './http/router.js'
import { siteRoutes } from './http/site.js'
import { createIngest } from './ingest/entry.js'
import type { Writer } from './ingest/writer.js'
import { unmeasured, type ServerMetrics } from './metrics.js'
import type { ClientStore } from './store/clients.js'
import { isDatabaseUnavailable } from './store/health.js'
import type { SampleStore } from './store/samples.js'
import { dumps, type PyValue } from './wire/pyjson.js'
import { EchoSession, type Connection } from './ws/echo.js'

export interface Services {
  auth: Authenticator
  writer: Writer
  samples: SampleStore
  sampler: HostSampler
  startedAt: Date
  databaseReady: () => Promise<void>
  /** Unix seconds, for samples sent without a time. */
  now: () => number
  maxBatchSamples: number
  maxInflatedBytes: number
  monitorMaxWaiting: number
  logError: (message: string, error: unknown) => void
  /** WebSocket limits: see EchoServices. */
  ws: { maxSubscriptions: number; maxPending: number; maxBufferedBytes: number; stallMs: number }
  /** Served at /metrics and told what happens; none with METRICS=off. */
  metrics?: ServerMetrics
  /** With ADMIN_TOKEN: the fleet API and the dashboard's fleet tab. */
  admin?: { gate: AdminGate; clients: ClientStore }
}

export interface App {
  handle(req: Request): Promise<Reply>
  /** Whether this request's body is to be read at all (see Router.takesBody). */
  takesBody(method: string, path: string): boolean
  /** The reply for a failure outside `handle`, such as a body that could not be read. */
  errorReply(error: unknown, req: Pick<Request, 'method' | 'path'>): Reply
  /** A streamed reply failed after its status went out: nothing can be told any more, but it is logged. */
  streamFailed(error: unknown, req: Pick<Request, 'method' | 'path'>): void
  /** The path a WebSocket upgrade is accepted on, and the protocol session for each connection there. */
  readonly socketPath: string
  openSocket(conn: Connection, remote: string): EchoSession
}

const internalError = new Refusal('internal', 500, 'internal error')
const upgradeRequired = jsonReply(426, { error: 'this is a WebSocket endpoint: connect with a WebSocket client' }, { upgrade: 'websocket' })

// InfluxDB's error codes (its `{"code", "message"}` body) for our statuses.
const influxCodes: Record<number, string> = {
  400: 'invalid',
  401: 'unauthorized',
  404: 'not found',
  405: 'method not allowed',
  413: 'request too large',
  415: 'unsupported media type',
  429: 'too many requests',
  500: 'internal error',
  503: 'unavailable',
}
// Telegraf keeps a batch refused with these and writes it again later; a Retry-After tells it when. Without one of
// the refusal's own: its default flush interval.
const influxRetried = new Set([401, 413, 429, 503])
const influxRetrySeconds = 10

const detailText = (value: PyValue) => (typeof value === 'string' ? value : dumps(value))

/** InfluxDB's error body: the reason, where (line 3, field mem) and why, in one message. */
function influxBody({ status, reason, detail }: Refusal): PyValue {
  const { detail: why, ...where } = detail
  let message = [reason, ...Object.entries(where).map(([key, value]) => `${key} ${detailText(value)}`)].join(', ')
  if (why !== undefined) message += `: ${detailText(why)}`
  return { code: influxCodes[status] ?? 'invalid', message }
}

/** A refusal as an HTTP reply in a route's style: its reason (as text, or in JSON beside its detail) and the headers it implies. */
function replyOf(refusal: Refusal, style: ErrorStyle): Reply {
  const { status, reason, detail, options } = refusal
  const headers: Record<string, string> = {}
  const retryAfter = options.retryAfter ?? (style === 'influx' && influxRetried.has(status) ? influxRetrySeconds : undefined)
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter)
  if (options.allow) headers.allow = options.allow.join(', ')
  if (options.challenge) headers['www-authenticate'] = options.challenge
  const reply =
    style === 'influx'
      ? jsonReply(status, influxBody(refusal), headers)
      : options.plain
        ? textReply(status, reason, headers)
        : jsonReply(status, { error: reason, ...detail }, headers)
  return options.close ? { ...reply, close: true } : reply
}

/** A failure as the refusal it is: itself, or an outage's 503; undefined for a fault of ours. */
const refusalIn = (error: unknown): Refusal | undefined =>
  error instanceof Refusal ? error : isDatabaseUnavailable(error) ? databaseUnavailable() : undefined

export function createApp(services: Services): App {
  const report = services.metrics ?? unmeasured
  const ingest = createIngest({
    ...services,
    report: {
      committed: (transport, format, samples) => report.committed(transport, format, samples),
      refused: (transport, error) => report.refused(transport, (refusalIn(error) ?? internalError).kind),
    },
  })
  const router = new Router()
  siteRoutes(router, services.databaseReady)
  clientRoutes(router, { ...services, ingest })
  influxRoutes(router, { ...services, ingest })
  monitorRoutes(router, services)
  dashboardRoutes(router, services.admin !== undefined)
  if (services.admin) fleetRoutes(router, { ...services.admin, samples: services.samples })
  router.add('/echo', { GET: () => upgradeRequired })
  if (services.metrics) metricsRoutes(router, services.metrics)

  /** The one mapping of failures: a refusal is itself, an outage is 503, anything else a logged 500. */
  const refusalOf = (error: unknown, where: string): Refusal => {
    const refusal = refusalIn(error)
    if (refusal) return refusal
    services.logError(`${where} failed`, error)
    return internalError
  }
  // Never the path as sent, in a log or a metric: it can hold a client_id, which is a credential.
  const describe = (req: Pick<Request, 'method' | 'path'>, pattern = router.patternOf(req.path)) => `${req.method} ${pattern}`
  const errorReply = (error: unknown, req: Pick<Request, 'method' | 'path'>) => {
    const pattern = router.patternOf(req.path)
    const reply = replyOf(refusalOf(error, describe(req, pattern)), router.errorStyle(req.path))
    report.request(pattern, reply.status)
    return reply
  }

  return {
    async handle(req) {
      try {
        const { handler, params, pattern } = router.match(req.method, req.path)
        const made = await handler(req, params)
        // A streamed reply's status is settled once its first chunk is made: a failure before that is a reply of its own.
        const reply = isStreamed(made.body) ? await withFirstChunk(made, made.body) : made
        report.request(pattern, reply.status)
        return reply
      } catch (e) {
        return errorReply(e, req)
      }
    },
    takesBody: (method, path) => router.takesBody(method, path),
    errorReply,
    streamFailed: (error, req) => void refusalOf(error, describe(req)),
    socketPath: '/echo',
    openSocket: (conn, remote) =>
      new EchoSession(conn, { ...services.ws, sampler: services.sampler, ingest, errorReason: (e) => refusalOf(e, 'CLIENT_DATA').reason, report }, remote),
  }
}
