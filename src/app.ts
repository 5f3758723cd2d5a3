// The transport-neutral app: the route table wired to the services, and the one place where errors
// become replies. Transports hand it a Request and write back the Reply.
import type { Authenticator } from './auth/authenticator.js'
import type { HostSampler } from './host/sampler.js'
import { clientRoutes } from './http/clients.js'
import { monitorRoutes } from './http/monitor.js'
import { HttpError, unavailable, type Reply, type Request } from './http/reply.js'
import { Router } from './http/router.js'
import { siteRoutes } from './http/site.js'
import type { Writer } from './ingest/writer.js'
import { isDatabaseUnavailable } from './store/db.js'
import type { SampleStore } from './store/samples.js'
import { EchoSession, type Connection } from './ws/echo.js'

export interface Services {
  auth: Authenticator
  writer: Writer
  samples: SampleStore
  sampler: HostSampler
  startedAt: Date
  databaseReady: () => Promise<void>
  now: () => number
  maxBatchSamples: number
  maxInflatedBytes: number
  logError: (message: string, error: unknown) => void
  /** WebSocket limits: see EchoServices. */
  maxBufferedBytes: number
  stallMs: number
}

export interface App {
  handle(req: Request): Promise<Reply>
  /** The reply for an error thrown while a reply was being produced or streamed. */
  errorReply(error: unknown, req: Pick<Request, 'method' | 'path'>): Reply
  /** The path a WebSocket upgrade is accepted on, and the protocol session for each connection there. */
  readonly socketPath: string
  openSocket(conn: Connection, remote: string): EchoSession
}

const internalError = new HttpError(500, { error: 'internal error' })
const upgradeRequired = new HttpError(426, { error: 'this is a WebSocket endpoint: connect with a WebSocket client' }, { upgrade: 'websocket' })

export function createApp(services: Services): App {
  const router = new Router()
  siteRoutes(router, services.databaseReady)
  clientRoutes(router, services)
  monitorRoutes(router, services)
  router.add('/echo', {
    GET: () => {
      throw upgradeRequired
    },
  })

  /** The one mapping of failures to what a client is told: an HttpError's own, 503, or a logged 500. */
  const asHttpError = (error: unknown, where: string): HttpError => {
    if (error instanceof HttpError) return error
    if (isDatabaseUnavailable(error)) return unavailable('database unavailable')
    services.logError(`${where} failed`, error)
    return internalError
  }
  const errorReply = (error: unknown, req: Pick<Request, 'method' | 'path'>): Reply => asHttpError(error, `${req.method} ${req.path}`).reply()

  return {
    async handle(req) {
      try {
        const { handler, params } = router.match(req.method, req.path)
        return await handler(req, params)
      } catch (e) {
        return errorReply(e, req)
      }
    },
    errorReply,
    socketPath: '/echo',
    openSocket: (conn, remote) => new EchoSession(conn, { ...services, errorReason: (e) => asHttpError(e, 'CLIENT_DATA').payload.error }, remote),
  }
}
