// The server's self-monitoring routes (contract, "Server self-monitoring"), each under /api and at the root.
import { memoryFigures, workTime } from '../host/report.js'
import type { HostSampler } from '../host/sampler.js'
import { float } from '../wire/pyjson.js'
import { inUnit, parseUnit, type Unit } from '../wire/units.js'
import { badRequest, HttpError, jsonReply, type Reply, type Request } from './reply.js'
import type { Router } from './router.js'

export interface MonitorServices {
  sampler: HostSampler
  startedAt: Date
}

/** The contract's answer to a bad unit is this exact text, not JSON. */
class BadUnits extends HttpError {
  constructor() {
    super(400, { error: 'Bad units provided' })
  }
  override reply(): Reply {
    return { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Bad units provided' }
  }
}

function unitOf(req: Request): Unit {
  const unit = parseUnit(new URLSearchParams(req.query).get('units'))
  if (!unit) throw new BadUnits()
  return unit
}

function intervalOf(req: Request): number {
  const raw = new URLSearchParams(req.query).get('interval')
  if (raw === null || raw === '') return 1
  const seconds = Number(raw)
  if (!/^\s*[\d.]+\s*$/.test(raw) || !(seconds > 0 && seconds <= 3600)) {
    throw badRequest('value error', { field: 'interval', detail: 'seconds, more than 0 and at most 3600' })
  }
  return seconds
}

export function monitorRoutes(router: Router, { sampler, startedAt }: MonitorServices): void {
  const both = (path: string) => [`/api${path}`, path]
  router.add(both('/monitor/cpu/load'), {
    GET: async (req) => jsonReply(200, { load: float(await sampler.cpuLoad(intervalOf(req))) }),
  })
  router.add(both('/monitor/cpu/info'), {
    GET: () => {
      const { physicalCores, logicalCores, frequency } = sampler.latest().cpuInfo
      return jsonReply(200, {
        'physical cores count': physicalCores,
        'logical cores count': logicalCores,
        'cores frequency': frequency.map(float),
      })
    },
  })
  router.add(both('/monitor/memory/info'), {
    GET: (req) => jsonReply(200, memoryFigures(sampler.latest().memory, unitOf(req))),
  })
  router.add(both('/monitor/memory/total'), {
    GET: (req) => {
      const unit = unitOf(req)
      return jsonReply(200, { total: inUnit(sampler.latest().memory.total, unit), units: unit })
    },
  })
  router.add(both('/monitor/storage/info'), {
    GET: (req) => {
      const unit = unitOf(req)
      const s = sampler.latest().storage
      return jsonReply(200, { total: inUnit(s.total, unit), used: inUnit(s.used, unit), percent: float(s.percent), free: inUnit(s.free, unit), units: unit })
    },
  })
  router.add(both('/monitor/storage/total'), {
    GET: (req) => {
      const unit = unitOf(req)
      const s = sampler.latest().storage
      return jsonReply(200, { total: inUnit(s.total, unit), used: inUnit(s.used, unit), units: unit })
    },
  })
  router.add(both('/start_time'), { GET: () => jsonReply(200, workTime(startedAt)) })
}
