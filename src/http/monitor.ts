// The server's self-monitoring routes (contract, "Server self-monitoring"), each under /api and at the root.
import { badUnits, valueError } from '../errors.js'
import type { HostSampler } from '../host/sampler.js'
import { cpuInfo, cpuLoad, memoryInfo, memoryTotal, storageInfo, storageTotal, workTime } from '../wire/host.js'
import { parseUnit, type Unit } from '../wire/units.js'
import { jsonReply, type Request } from './reply.js'
import type { Router } from './router.js'

export interface MonitorServices {
  sampler: HostSampler
  startedAt: Date
  /** Requests that may wait for the CPU history at once (soon after start). */
  monitorMaxWaiting: number
}

function unitOf(req: Request): Unit {
  const unit = parseUnit(new URLSearchParams(req.query).get('units'))
  if (!unit) throw badUnits()
  return unit
}

function intervalOf(req: Request): number {
  const raw = new URLSearchParams(req.query).get('interval')
  if (raw === null || raw === '') return 1
  const seconds = Number(raw)
  if (!/^\s*[\d.]+\s*$/.test(raw) || !(seconds > 0 && seconds <= 3600)) {
    throw valueError({ field: 'interval', detail: 'seconds, more than 0 and at most 3600' })
  }
  return seconds
}

export function monitorRoutes(router: Router, { sampler, startedAt, monitorMaxWaiting }: MonitorServices): void {
  const both = (path: string) => [`/api${path}`, path]
  router.add(both('/monitor/cpu/load'), {
    GET: async (req) => jsonReply(200, cpuLoad(await sampler.cpuLoad(intervalOf(req), req.onGone, monitorMaxWaiting))),
  })
  router.add(both('/monitor/cpu/info'), { GET: () => jsonReply(200, cpuInfo(sampler.latest().cpuInfo)) })
  router.add(both('/monitor/memory/info'), { GET: (req) => jsonReply(200, memoryInfo(sampler.latest().memory, unitOf(req))) })
  router.add(both('/monitor/memory/total'), { GET: (req) => jsonReply(200, memoryTotal(sampler.latest().memory, unitOf(req))) })
  router.add(both('/monitor/storage/info'), { GET: (req) => jsonReply(200, storageInfo(sampler.latest().storage, unitOf(req))) })
  router.add(both('/monitor/storage/total'), { GET: (req) => jsonReply(200, storageTotal(sampler.latest().storage, unitOf(req))) })
  router.add(both('/start_time'), { GET: () => jsonReply(200, workTime(startedAt)) })
}
