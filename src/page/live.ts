// The server's own load, live: the /echo WebSocket's SUBSCRIBE (contract, "WebSocket: /echo") pushes an EVENT a
// second; the last five minutes are charted. A connection that closes (the server restarting) is opened again,
// sooner at first, then every few seconds, until it is back.
import * as v from 'valibot'
import { Chart, liveOptions } from './charts.js'
import { durationText, numberText } from './format.js'
import type { LiveSnapshot } from './snapshot.js'
import type { ConnectionStatus } from './status.js'

const keepSeconds = 300
const firstRetryMs = 500
const maxRetryMs = 4000

const event = v.object({
  type: v.literal('EVENT'),
  payload: v.object({
    cpu: v.number(),
    mem: v.object({ total: v.number(), used: v.number(), percent: v.number() }),
    storage: v.object({ total: v.number(), used: v.number(), percent: v.number() }),
  }),
})
const subscribed = v.object({ type: v.literal('SUBSCRIBED') })

interface Series {
  figure: HTMLElement
  chart: Chart
  label: string
  values: number[]
}

export class Live {
  readonly #times: number[] = []
  readonly #series: Record<'cpu' | 'mem' | 'storage', Series>
  #retryMs = firstRetryMs

  constructor(private readonly status: ConnectionStatus) {
    const range = (): [number, number] => {
      const now = Date.now() / 1000
      return [now - keepSeconds, now]
    }
    const series = (id: 'cpu' | 'mem' | 'storage', label: string): Series => {
      const el = document.getElementById(`live-${id}-chart`)!
      return { figure: document.getElementById(`live-${id}-figure`)!, chart: new Chart(el, 140, liveOptions(id, label, range), [[], []]), label, values: [] }
    }
    this.#series = { cpu: series('cpu', 'CPU load'), mem: series('mem', 'Memory in use'), storage: series('storage', 'Storage in use') }
  }

  start(): void {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/echo`)
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'HELLO' }))
      ws.send(JSON.stringify({ type: 'SUBSCRIBE', request_id: 'dashboard', data: ['CPU', 'MEM', 'STORAGE'], interval: 1 }))
    }
    ws.onmessage = (e: MessageEvent<unknown>) => this.#message(e.data)
    ws.onclose = () => {
      this.status.lost('socket')
      setTimeout(() => this.start(), this.#retryMs)
      this.#retryMs = Math.min(this.#retryMs * 2, maxRetryMs)
    }
  }

  snapshot(): LiveSnapshot {
    const { cpu, mem, storage } = this.#series
    return { times: [...this.#times], cpu: [...cpu.values], mem: [...mem.values], storage: [...storage.values], figures: [cpu, mem, storage].map((s) => s.figure.textContent ?? '') }
  }

  #message(data: unknown): void {
    let message: unknown
    try {
      message = JSON.parse(String(data))
    } catch {
      return
    }
    if (v.is(subscribed, message)) {
      this.#retryMs = firstRetryMs
      this.status.ok('socket')
      return
    }
    if (!v.is(event, message)) return
    const { cpu, mem, storage } = message.payload
    const now = Date.now() / 1000
    this.#times.push(now)
    const drop = this.#times.findIndex((t) => t >= now - keepSeconds)
    this.#times.splice(0, drop)
    this.#update(this.#series.cpu, cpu, `${numberText(cpu)} %`, drop)
    this.#update(this.#series.mem, mem.percent, `${numberText(mem.percent)} %, ${numberText(mem.used)} of ${numberText(mem.total)} MB`, drop)
    this.#update(this.#series.storage, storage.percent, `${numberText(storage.percent)} %, ${numberText(storage.used)} of ${numberText(storage.total)} GB`, drop)
  }

  #update(series: Series, value: number, figure: string, drop: number): void {
    series.values.push(value)
    series.values.splice(0, drop)
    series.figure.textContent = figure
    series.chart.setData([this.#times, series.values])
    const low = Math.min(...series.values)
    const high = Math.max(...series.values)
    const over = durationText(this.#times.at(-1)! - this.#times[0])
    series.chart.describe(`${series.label} over the last ${over}: now ${figure}; lowest ${numberText(low)} %, highest ${numberText(high)} %`)
  }
}
