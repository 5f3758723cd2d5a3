// The service's own pages (contract, "Server self-monitoring"): the welcome page, the API description, and
// the health checks.
import { jsonReply, type Reply } from './reply.js'
import type { Router } from './router.js'

const welcome: Reply = { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<p>Welcome</p>' }
const about = jsonReply(200, { name: 'system monitor', version: '0.0.1' })

const alive = jsonReply(200, { status: 'ok' })
const ready = jsonReply(200, { status: 'ready' })

/** `databaseReady` rejects while the database cannot be reached, which the app answers with 503. */
export function siteRoutes(router: Router, databaseReady: () => Promise<void>): void {
  router.add('/', { GET: () => welcome })
  router.add('/api', { GET: () => about })
  // For orchestrators: the process is up; and it can serve (database reachable, migrations done at start).
  router.add('/healthz', { GET: () => alive })
  router.add('/readyz', {
    GET: async () => {
      await databaseReady()
      return ready
    },
  })
}
