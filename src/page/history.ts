// A client's history: its cpu, mem and storage over a range, as the average of each bucket in the band of its
// lowest and highest values, with a point for every two pixels of the chart. A preset range follows now: every
// second the buckets from the last one drawn on are asked for again, so a sample shows within about a second of
// its commit, whichever server took it (they share the database). Drag to zoom, double-click or Back to return.
import { ApiError, bucketColumns, buckets, logSpan, metrics, passingTrouble, type Access, type BucketRow, type Span } from './api.js'
import { bandOptions, Chart } from './charts.js'
import { toCsv } from './csv.js'
import { durationText, fromLocalInput, localInput, numberText, timeText } from './format.js'
import { boundsOf, nowSeconds, presets, stepFor, type Bounds, type Range } from './range.js'
import { Poller } from './poller.js'
import type { ChartPoints, HistorySnapshot, Metric } from './snapshot.js'
import type { ConnectionStatus } from './status.js'
import { $ } from './dom.js'

const tickMs = 1000
// The span is asked for again every this many ticks.
const spanTicks = 5
const labels: Record<Metric, string> = { cpu: 'CPU load (%)', mem: "Memory (the client's units)", storage: "Storage (the client's units)" }

export interface HistoryEvents {
  /** The range changed (a zoom, a preset): the URL keeps it. */
  moved(range: Range): void
  /** The server refused the access (401: a login gone stale, a token changed). */
  refused(access: Access): void
}


export class History {
  readonly #charts: Record<Metric, Chart>
  readonly #captions: Record<Metric, HTMLElement>
  readonly #error = $('history-error')
  readonly #back = $<HTMLButtonElement>('zoom-back')
  readonly #custom = $<HTMLFormElement>('custom-range')
  #access?: Access
  #range: Range = { preset: '1h' }
  #zooms: Range[] = []
  #bounds: Bounds = { start: 0, end: 0 }
  #step = 1
  #plotWidth = 0
  #rows: BucketRow[] = []
  #loaded = false
  #stale = true
  #reloading = 0
  #busy = false
  #ticks = 0
  readonly #poller = new Poller(tickMs, () => this.#tick())
  #firstDrawnAt?: number
  #resized?: number

  constructor(
    private readonly status: ConnectionStatus,
    private readonly events: HistoryEvents,
  ) {
    const chartEvents = {
      zoom: (min: number, max: number) => this.#zoom(min, max),
      back: () => this.#goBack(),
      drawn: () => {
        if (this.#firstDrawnAt === undefined && this.#loaded && this.#rows.length > 0) this.#firstDrawnAt = performance.now()
      },
    }
    const range = (): [number, number] => [this.#bounds.start, this.#bounds.end]
    const chart = (m: Metric) => new Chart($(`history-${m}-chart`), 180, bandOptions(m, m, range, () => this.#step, chartEvents), [[], [], [], []])
    this.#charts = { cpu: chart('cpu'), mem: chart('mem'), storage: chart('storage') }
    this.#captions = { cpu: $('history-cpu-caption'), mem: $('history-mem-caption'), storage: $('history-storage-caption') }
    // A new width asks for points of another step, once the resizing settles.
    this.#charts.cpu.onResize = () => {
      clearTimeout(this.#resized)
      this.#resized = window.setTimeout(() => {
        if (this.#access && stepFor(this.#bounds, this.#charts.cpu.plotWidth) !== this.#step) void this.#reload()
      }, 300)
    }
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-range]')) {
      button.addEventListener('click', () => this.#move({ preset: button.dataset.range as keyof typeof presets }))
    }
    this.#custom.addEventListener('submit', (e) => {
      e.preventDefault()
      const start = fromLocalInput(this.#input('from').value)
      const end = fromLocalInput(this.#input('to').value)
      if (start === undefined || end === undefined || end <= start) {
        this.#error.textContent = 'The range must end after it starts.'
        return
      }
      this.#move({ start, end })
    })
    this.#back.addEventListener('click', () => this.#goBack())
    $('download').addEventListener('click', () => void this.#download())
  }

  /** Shows the access's log over the range, from scratch. */
  open(access: Access, range: Range): void {
    const same = this.#access?.base === access.base && this.#access.authorization === access.authorization && JSON.stringify(range) === JSON.stringify(this.#range)
    this.#access = access
    if (same && this.#poller.running) return
    this.#range = range
    this.#zooms = []
    this.#rows = []
    this.#loaded = false
    this.#firstDrawnAt = undefined
    this.#poller.start(false)
    void this.#reload()
  }

  close(): void {
    this.#poller.stop()
  }

  snapshot(): HistorySnapshot {
    const points = (m: Metric): ChartPoints => {
      const [x, avg, min, max] = this.#charts[m].data as [number[], (number | null)[], (number | null)[], (number | null)[]]
      return { x: [...x], avg: [...avg], min: [...min], max: [...max] }
    }
    return {
      client: this.#access?.username,
      admin: this.#access?.admin ?? false,
      loaded: this.#loaded,
      ...this.#bounds,
      step: this.#step,
      plotWidth: this.#plotWidth,
      charts: { cpu: points('cpu'), mem: points('mem'), storage: points('storage') },
      firstDrawnAt: this.#firstDrawnAt,
    }
  }

  #input(name: string): HTMLInputElement {
    return this.#custom.elements.namedItem(name) as HTMLInputElement
  }

  #move(range: Range, zoomed = false): void {
    if (!zoomed) this.#zooms = []
    this.#range = range
    this.events.moved(range)
    void this.#reload()
  }

  #zoom(min: number, max: number): void {
    const start = Math.max(Math.floor(min), this.#bounds.start)
    const end = Math.min(Math.ceil(max), this.#bounds.end)
    if (end - start < 2) return
    this.#zooms.push(this.#range)
    this.#move({ start, end }, true)
  }

  #goBack(): void {
    const previous = this.#zooms.pop()
    if (previous) this.#move(previous, true)
  }

  async #tick(): Promise<void> {
    if (this.#busy || document.hidden || !this.#access) return
    this.#busy = true
    try {
      if (this.#stale) await this.#reload()
      else if ('preset' in this.#range) await this.#tail(this.#access, this.#range.preset)
    } finally {
      this.#busy = false
    }
  }

  /** Everything asked for again: the range's buckets at the step its width gives, and the span. */
  async #reload(): Promise<void> {
    const access = this.#access
    if (!access) return
    const generation = this.#poller.renew()
    const bounds = boundsOf(this.#range, nowSeconds())
    const plotWidth = this.#charts.cpu.plotWidth
    const step = stepFor(bounds, plotWidth)
    this.#reloading++
    try {
      const [rows, span] = await Promise.all([buckets(access, bounds, step), logSpan(access)])
      if (this.#poller.stale(generation)) return
      this.#bounds = bounds
      this.#step = step
      this.#plotWidth = plotWidth
      this.#rows = rows
      this.#loaded = true
      this.#stale = false
      this.#error.textContent = ''
      this.status.ok('requests')
      this.#draw()
      this.#showSpan(span)
    } catch (e) {
      if (!this.#poller.stale(generation)) this.#failed(access, e)
    } finally {
      this.#reloading--
    }
  }

  /** The buckets from the last one drawn to now, in place of what was drawn from there; the window moves on to now. */
  async #tail(access: Access, preset: keyof typeof presets): Promise<void> {
    if (this.#reloading > 0) return
    const generation = this.#poller.mark()
    const now = nowSeconds()
    const start = now - presets[preset]
    const from = this.#rows.at(-1)?.unix_time ?? start
    try {
      const fresh = await buckets(access, { start: from, end: now }, this.#step)
      const span = ++this.#ticks % spanTicks === 0 ? await logSpan(access) : null
      if (this.#poller.stale(generation) || this.#reloading > 0) return
      this.#rows = [...this.#rows.filter((r) => r.unix_time < from && r.unix_time + this.#step > start), ...fresh]
      this.#bounds = { start, end: now }
      this.status.ok('requests')
      this.#draw()
      if (span !== null) this.#showSpan(span)
    } catch (e) {
      if (!this.#poller.stale(generation)) this.#failed(access, e)
    }
  }

  #failed(access: Access, e: unknown): void {
    this.#stale = true
    const trouble = passingTrouble(e)
    if (trouble) {
      this.status.lost('requests')
      this.#error.textContent = `The server ${trouble}: the charts will catch up once it is back.`
    } else if (e instanceof ApiError && e.status === 401) {
      this.close()
      this.events.refused(access)
    } else if (e instanceof ApiError && e.status === 404) {
      this.close()
      this.#error.textContent = `There is no client named ${access.username}.`
    } else if (e instanceof ApiError) {
      // Past retention only some steps can be answered (400): a wider or narrower range may be.
      this.#error.textContent = `The server refused this range: ${e.reason}.`
      this.#stale = false
    } else throw e
  }

  #draw(): void {
    const rows = this.#rows
    const x = rows.map((r) => r.unix_time)
    for (const m of metrics) {
      const avg = rows.map((r) => r[`${m}_avg`])
      const min = rows.map((r) => r[`${m}_min`])
      const max = rows.map((r) => r[`${m}_max`])
      this.#charts[m].setData([x, avg, min, max])
      this.#captions[m].textContent = `${labels[m]}: ${summary(rows, m)}`
    }
    const { start, end } = this.#bounds
    $('history-range').textContent = `${timeText(start)} to ${timeText(end)}: a point per ${durationText(this.#step)}, ${rows.length} ${rows.length === 1 ? 'point' : 'points'}`
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-range]')) {
      button.setAttribute('aria-pressed', String('preset' in this.#range && this.#range.preset === button.dataset.range))
    }
    this.#back.disabled = this.#zooms.length === 0
    if (!this.#custom.contains(document.activeElement)) {
      this.#input('from').value = localInput(start)
      this.#input('to').value = localInput(end)
    }
  }

  #showSpan(span: Span | undefined): void {
    $('history-span').textContent = span
      ? `The log holds samples from ${timeText(span.start)} to ${timeText(span.end)} (${durationText(span.end - span.start)}).`
      : 'The log is empty: no sample yet.'
  }

  /** The CSV of what the API returns for the range at the chart's step: a row a point, its keys as the header. */
  async #download(): Promise<void> {
    const access = this.#access
    if (!access) return
    const bounds = this.#bounds
    const step = this.#step
    try {
      const rows = await buckets(access, bounds, step)
      const url = URL.createObjectURL(new Blob([toCsv(bucketColumns, rows)], { type: 'text/csv' }))
      const link = document.createElement('a')
      link.href = url
      link.download = `${access.username}-${bounds.start}-${bounds.end}-step-${step}.csv`
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
    } catch (e) {
      this.#failed(access, e)
    }
  }
}

/** A metric's average (over the samples), lowest and highest value over the rows, for the chart's caption and label. */
function summary(rows: BucketRow[], m: Metric): string {
  let weighted = 0
  let samples = 0
  let low = Infinity
  let high = -Infinity
  for (const r of rows) {
    const avg = r[`${m}_avg`]
    const min = r[`${m}_min`]
    const max = r[`${m}_max`]
    if (avg === null || min === null || max === null) continue
    weighted += avg * r.samples
    samples += r.samples
    low = Math.min(low, min)
    high = Math.max(high, max)
  }
  if (samples === 0) return 'no samples in this range'
  return `average ${numberText(weighted / samples)}, lowest ${numberText(low)}, highest ${numberText(high)}`
}
