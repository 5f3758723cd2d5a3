// The /echo protocol's frames, exactly as the original's json.dumps wrote them (contract, "WebSocket: /echo").
import type { Snapshot } from '../host/sampler.js'
import { eventStorage, memoryInfo, workTime } from './host.js'
import { dumps, float, type PyValue } from './pyjson.js'

export const errorFrame = (reason: string) => dumps({ type: 'ERROR', reason })
export const notJson = errorFrame('Data type incorrect, please use json')
export const welcome = dumps({ type: 'WELCOME', payload: { welcome: 'WELCOME' } })
export const subscribed = (requestId: PyValue) => dumps({ type: 'SUBSCRIBED', payload: { request_id: requestId } })
export const unsubscribed = (requestId: PyValue) => dumps({ type: 'UNSUBSCRIBED', payload: { request_id: requestId } })
export const workTimeFrame = (openedAt: Date) => dumps(workTime(openedAt))

/** The sample echoed as it came: its keys in the client's order and each value's text as sent. */
export const dataReturn = (data: PyValue) => `{"type": "DATA_RETURN", "payload": {"data": ${dumps(data)}}}`
export const dataReturnAccepted = (count: number) => `{"type": "DATA_RETURN", "payload": {"accepted": ${count}}}`

export type Metric = 'CPU' | 'MEM' | 'STORAGE'
export const metrics: readonly Metric[] = ['CPU', 'MEM', 'STORAGE']

// An EVENT's figures are rendered once per snapshot, however many subscriptions send them.
let rendered: { snapshot: Snapshot; cpu: string; mem: string; storage: string } | undefined

/** `requestId` is the subscription's id as JSON text; a metric not wanted is null. */
export function eventFrame(requestId: string, want: ReadonlySet<Metric>, snapshot: Snapshot): string {
  if (rendered?.snapshot !== snapshot) {
    rendered = { snapshot, cpu: dumps(float(snapshot.cpu)), mem: dumps(memoryInfo(snapshot.memory, 'MB')), storage: dumps(eventStorage(snapshot.storage)) }
  }
  const { cpu, mem, storage } = rendered
  return (
    `{"type": "EVENT", "payload": {"request": ${requestId}, "cpu": ${want.has('CPU') ? cpu : 'null'}, ` +
    `"mem": ${want.has('MEM') ? mem : 'null'}, "storage": ${want.has('STORAGE') ? storage : 'null'}}}`
  )
}
