// The history's ranges: a preset that ends now and follows it, or fixed bounds (a custom range, a zoom); and the
// step a chart asks the server for, so that it gets a point for every two pixels of its width.
export const presets = { '15m': 900, '1h': 3600, '6h': 21_600, '24h': 86_400, '7d': 604_800, '30d': 2_592_000 } as const
export type Preset = keyof typeof presets
export const isPreset = (s: string): s is Preset => Object.hasOwn(presets, s)

export type Range = { preset: Preset } | { start: number; end: number }

export interface Bounds {
  start: number
  end: number
}

// The server's largest step (README, "Downsampled slices").
const maxStep = 31_536_000

/** step = ceil(range / (plot width / 2)), within the server's bounds. */
export const stepFor = ({ start, end }: Bounds, plotWidth: number): number =>
  Math.min(maxStep, Math.max(1, Math.ceil((end - start) / (Math.max(plotWidth, 2) / 2))))

/** The range's bounds in unix seconds, a preset's ending at `now`. */
export const boundsOf = (range: Range, now: number): Bounds => ('preset' in range ? { start: now - presets[range.preset], end: now } : range)

export const nowSeconds = () => Math.floor(Date.now() / 1000)
