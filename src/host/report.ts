// The host's figures as the contract renders them, shared by the HTTP routes and the WebSocket EVENTs.
import { actualTimeText, startWorkText } from '../wire/dates.js'
import { float, type PyValue } from '../wire/pyjson.js'
import { inUnit, type Unit } from '../wire/units.js'
import type { Memory } from './figures.js'

/** The memory figures in a unit, in the contract's key order; percent stays a float. */
export function memoryFigures(m: Memory, unit: Unit): Record<string, PyValue> {
  return {
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
  }
}

export const workTime = (startedAt: Date, now = new Date()) => ({
  type: 'WORK_TIME',
  payload: { start_work: startWorkText(startedAt), actual_time: actualTimeText(now) },
})
