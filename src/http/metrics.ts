// GET /metrics: the server's metrics for Prometheus to scrape (src/metrics.ts); with METRICS=off, no such route.
import { textReply } from './reply.js'
import type { Router } from './router.js'

export interface Scrape {
  readonly contentType: string
  scrape(): Promise<string>
}

export function metricsRoutes(router: Router, metrics: Scrape): void {
  router.add('/metrics', { GET: async () => textReply(200, await metrics.scrape(), { 'content-type': metrics.contentType }) })
}
