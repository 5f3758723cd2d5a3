// What the charts hold, as window.systemMonitorDashboard gives it to a test or a script: plain data, so that code
// without the DOM (the tests) can share these types.
export type Metric = 'cpu' | 'mem' | 'storage'

export interface LiveSnapshot {
  /** When each EVENT came (unix seconds), and each metric's percent then. */
  times: number[]
  cpu: number[]
  mem: number[]
  storage: number[]
  /** The figures shown above the charts. */
  figures: string[]
}

export interface ChartPoints {
  x: number[]
  avg: (number | null)[]
  min: (number | null)[]
  max: (number | null)[]
}

export interface HistorySnapshot {
  client?: string
  admin: boolean
  loaded: boolean
  start: number
  end: number
  step: number
  /** The plotting area's width in CSS pixels the step was chosen for. */
  plotWidth: number
  charts: Record<Metric, ChartPoints>
  /** performance.now() when a chart was first drawn with points. */
  firstDrawnAt?: number
}

export interface FleetSnapshot {
  /** Usernames as the table shows them, in its order. */
  shown: string[]
  listed: string[]
}

export interface DashboardState {
  live(): LiveSnapshot
  history(): HistorySnapshot
  fleet(): FleetSnapshot | undefined
}
