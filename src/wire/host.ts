// The host's figures as the contract renders them (contract, "Server self-monitoring"): the bodies of the
// monitor routes and of the WORK_TIME answers, and the parts of an EVENT.
import type { CpuInfo, Memory, Storage } from '../host/figures.js'
import { actualTimeText, startWorkText } from './dates.js'
import { float, type PyValue } from './pyjson.js'
import { inUnit, type Unit } from './units.js'

export const cpuLoad = (percent: number) => ({ load: float(percent) })

export const cpuInfo = (c: CpuInfo) => ({
  'physical cores count': c.physicalCores,
  'logical cores count': c.logicalCores,
  'cores frequency': c.frequency.map(float),
})

/** The memory figures in a unit, in the contract's key order; percent stays a float. */
export const memoryInfo = (m: Memory, unit: Unit): Record<string, PyValue> => ({
  total: inUnit(m.total, unit),
  available: inUnit(m.available, unit),
  percent: float(m.percent),
  used: inUnit(m.used, unit),
  free: inUnit(m.free, unit),
  active: inUnit(m.active, unit),
  inactive: inUnit(m.inactive, unit),
  buffers: inUnit(m.buffers, unit),
  cached: inUnit(m.cached, unit),
  shared: inUnit(m.shared, unit),
  slab: inUnit(m.slab, unit),
})

export const memoryTotal = (m: Memory, unit: Unit) => ({ total: inUnit(m.total, unit), units: unit })

export const storageInfo = (s: Storage, unit: Unit) => ({
  total: inUnit(s.total, unit),
  used: inUnit(s.used, unit),
  percent: float(s.percent),
  free: inUnit(s.free, unit),
  units: unit,
})

export const storageTotal = (s: Storage, unit: Unit) => ({ total: inUnit(s.total, unit), used: inUnit(s.used, unit), units: unit })

/** An EVENT's storage: GB, in this order (contract, WebSocket table). */
export const eventStorage = (s: Storage) => ({ total: inUnit(s.total, 'GB'), percent: float(s.percent), used: inUnit(s.used, 'GB'), free: inUnit(s.free, 'GB') })

export const workTime = (startedAt: Date, now = new Date()) => ({
  type: 'WORK_TIME',
  payload: { start_work: startWorkText(startedAt), actual_time: actualTimeText(now) },
})
