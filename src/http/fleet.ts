// The fleet API (README, "The fleet API"), there only with ADMIN_TOKEN: every client with its span and latest
// sample, and any client's log span and slices, read with the operator's token. It only reads: no route here writes.
import type { AdminGate } from '../auth/admin.js'
import { isSupportedUsername } from '../auth/client-id.js'
import { unknownClient } from '../errors.js'
import type { ClientStore } from '../store/clients.js'
import type { SampleStore } from '../store/samples.js'
import { fleetFrame } from '../wire/fleet.js'
import { sliceReply, spanReply } from './clients.js'
import { streamReply, type Request } from './reply.js'
import type { Router } from './router.js'

export interface FleetServices {
  gate: AdminGate
  clients: ClientStore
  samples: SampleStore
}

export function fleetRoutes(router: Router, { gate, clients, samples }: FleetServices): void {
  const authorized = (req: Request) => gate.authorize(req.headers.authorization, req.remote)
  const clientOf = async (req: Request, username: string) => {
    await authorized(req)
    // A name no client can have (a NUL byte, say, which PostgreSQL refuses) is not asked of the database.
    const found = isSupportedUsername(username) ? await clients.find(username) : undefined
    if (!found) throw unknownClient()
    return found.id
  }

  router.add('/api/clients', {
    GET: async (req) => {
      await authorized(req)
      return streamReply(200, fleetFrame(clients.summaries()))
    },
  })
  router.add('/api/clients/:username/time', { GET: async (req, [username]) => spanReply(samples, await clientOf(req, username)) })
  router.add('/api/clients/:username/time/report', { GET: async (req, [username]) => sliceReply(samples, await clientOf(req, username), req.query) })
}
