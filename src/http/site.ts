// The service's own pages (contract, "Server self-monitoring"): the welcome page and the API description.
import { jsonReply, type Reply } from './reply.js'
import type { Router } from './router.js'

const welcome: Reply = { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<p>Welcome</p>' }
const about = jsonReply(200, { name: 'system monitor', version: '0.0.1' })

export function siteRoutes(router: Router): void {
  router.add('/', { GET: () => welcome })
  router.add('/api', { GET: () => about })
}
