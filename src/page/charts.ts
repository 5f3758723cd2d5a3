// The page's charts, drawn by uPlot: colours from the style sheet's properties (drawn again when the system switches
// between light and dark), each as wide as its box (drawn again when that changes).
import uPlot from 'uplot'
import { axisText } from './format.js'

export interface Palette {
  fg: string
  muted: string
  grid: string
  cpu: string
  mem: string
  storage: string
}

function palette(): Palette {
  const style = getComputedStyle(document.documentElement)
  const get = (name: string) => style.getPropertyValue(`--${name}`).trim()
  return { fg: get('fg'), muted: get('muted'), grid: get('grid'), cpu: get('cpu'), mem: get('mem'), storage: get('storage') }
}

/** A #rrggbb colour at an opacity. */
export function alpha(hex: string, opacity: number): string {
  const n = Number.parseInt(hex.slice(1), 16)
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${opacity})`
}

export type Options = Omit<uPlot.Options, 'width' | 'height'>

const charts = new Set<Chart>()
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  for (const chart of charts) chart.rebuild()
})

export class Chart {
  #plot: uPlot
  #width: number
  /** Called when the chart's width changed (the history then asks for points of another step). */
  onResize?: () => void

  constructor(
    private readonly el: HTMLElement,
    private readonly height: number,
    private readonly options: (p: Palette) => Options,
    data: uPlot.AlignedData,
  ) {
    this.#width = el.clientWidth
    this.#plot = this.#make(data)
    new ResizeObserver(() => {
      if (this.#fit()) this.onResize?.()
    }).observe(el)
    charts.add(this)
  }

  /** Takes its box's width now (not at the next frame), if that changed; whether it did. */
  #fit(): boolean {
    const width = this.el.clientWidth
    if (width === this.#width || width === 0) return false
    this.#width = width
    this.#plot.batch(() => this.#plot.setSize({ width, height: this.height }))
    return true
  }

  #make(data: uPlot.AlignedData): uPlot {
    const plot = new uPlot({ ...this.options(palette()), width: Math.max(this.#width, 120), height: this.height }, data, this.el)
    // The canvas says nothing to a screen reader: the box's label does.
    plot.root.setAttribute('aria-hidden', 'true')
    return plot
  }

  get data(): uPlot.AlignedData {
    return this.#plot.data
  }

  /** The plotting area's width in CSS pixels, as the chart's box is now. */
  get plotWidth(): number {
    this.#fit()
    return this.#plot.bbox.width / uPlot.pxRatio
  }

  setData(data: uPlot.AlignedData): void {
    this.#plot.setData(data)
  }

  /** The same data in the colours the system's setting now gives. */
  rebuild(): void {
    const data = this.#plot.data
    this.#plot.destroy()
    this.#plot = this.#make(data)
  }

  describe(label: string): void {
    this.el.setAttribute('aria-label', label)
  }
}

const axes = (p: Palette, values?: uPlot.Axis['values']): uPlot.Axis[] => [
  { stroke: p.muted, grid: { stroke: p.grid }, ticks: { stroke: p.grid } },
  { stroke: p.muted, grid: { stroke: p.grid }, ticks: { stroke: p.grid }, size: 52, values },
]
const numberValues: uPlot.Axis['values'] = (_, splits, _axis, _space, increment) => splits.map((n) => axisText(n, increment))

/** A line of the last minutes, 0 to 100 %. */
export const liveOptions =
  (color: keyof Palette, label: string, xRange: () => [number, number]) =>
  (p: Palette): Options => ({
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: true, range: () => xRange() }, y: { range: [0, 100] } },
    axes: axes(p),
    series: [{}, { label, stroke: p[color], width: 1.5, fill: alpha(p[color], 0.12), points: { show: false } }],
  })

export interface BandEvents {
  /** The time range dragged across, in unix seconds. */
  zoom(min: number, max: number): void
  back(): void
  drawn(): void
}

/**
 * A bucket's average as a line in the band of its lowest and highest values, and a drag across the chart zooms.
 * Where buckets are further apart than three of their usual distance (or of the step, when samples come less
 * often than a bucket spans), the client sent nothing for a while: the line leaves a gap.
 */
export const bandOptions =
  (color: keyof Palette, label: string, range: () => [number, number], step: () => number, events: BandEvents) =>
  (p: Palette): Options => {
    const gaps: uPlot.Series.GapsRefiner = (u, _series, idx0, idx1, nullGaps) => {
      const xs = u.data[0]
      const distances = xs.slice(idx0 + 1, idx1 + 1).map((x, i) => x - xs[idx0 + i]).sort((a, b) => a - b)
      const over = 3 * Math.max(step(), distances[distances.length >> 1] ?? 0)
      const found = nullGaps.slice()
      for (let i = idx0; i < idx1; i++) {
        if (xs[i + 1] - xs[i] > over) uPlot.addGap(found, Math.round(u.valToPos(xs[i], 'x', true)), Math.round(u.valToPos(xs[i + 1], 'x', true)))
      }
      return found.sort((a, b) => a[0] - b[0])
    }
    const edge = { stroke: alpha(p[color], 0.35), width: 1, gaps, points: { show: false } }
    return {
      // The plot's width, which sets the step asked for, is known before the data: a fixed padding (not one fitted to
      // the labels), and a y axis there even without data.
      padding: [10, 28, 0, 0],
      scales: {
        x: { time: true, range: () => range() },
        y: { range: (_, min, max) => (min === null || max === null ? [0, 1] : uPlot.rangeNum(min, max, 0.1, true)) },
      },
      axes: axes(p, numberValues),
      cursor: {
        drag: { x: true, y: false, setScale: false },
        // The crosshair moves on every chart; a drag or a double-click acts once, on the chart it was made on.
        sync: { key: 'history', filters: { pub: (type) => type === 'mousemove' || type === 'mouseleave' || type === 'mouseenter' } },
        bind: {
          dblclick: () => () => {
            events.back()
            return null
          },
        },
      },
      series: [{}, { label: `${label} avg`, stroke: p[color], width: 1.5, gaps }, { ...edge, label: 'min' }, { ...edge, label: 'max' }],
      bands: [{ series: [3, 2], fill: alpha(p[color], 0.18) }],
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select
            if (width < 4) return
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
            events.zoom(u.posToVal(left, 'x'), u.posToVal(left + width, 'x'))
          },
        ],
        draw: [() => events.drawn()],
      },
    }
  }

/** A small line of the last hour, without axes. */
export const sparkOptions =
  (range: () => [number, number]) =>
  (p: Palette): Options => ({
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: true, range: () => range() }, y: { range: [0, 100] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: p.cpu, width: 1, fill: alpha(p.cpu, 0.15), points: { show: false } }],
    padding: [2, 0, 2, 0],
  })
