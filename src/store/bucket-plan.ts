// Where a downsampled slice reads each second from: the coarsest level whose buckets lie wholly inside a
// step's bucket, and the finer levels (the samples last) for the edges. A step that is a multiple of an hour
// reads hours only; 600 reads 10 minutes; 2592 reads three or four 10 minutes a bucket, the minutes to its
// edges and the samples of the minute an edge splits. Buckets of a level that hold a minute a merge changed,
// not yet recomputed, are read from the finer level instead, and that minute from its samples.
import { widths } from './tiers.js'

/** Ranges [lo[i], hi[i]) of one level, in time order. */
export interface Ranges {
  lo: number[]
  hi: number[]
}

/** A level's ranges: each within one step bucket, and runs of whole step buckets (read grouped by bucket). */
export interface LevelRanges {
  within: Ranges
  runs: Ranges
}

/**
 * The ranges of each level (index 0: the samples) that make up the step buckets from `from` to `to`
 * (multiples of `step`). `changed`: the minutes to read from their samples, in time order. Samples before
 * `samplesBefore` are read apart (retention removed all but late ones), so no range of them starts earlier.
 */
export function planRanges(step: number, from: number, to: number, samplesBefore: number, changed: readonly number[]): LevelRanges[] {
  const ranges: LevelRanges[] = widths.map(() => ({ within: { lo: [], hi: [] }, runs: { lo: [], hi: [] } }))
  // A range is joined to the one before it if both are in one step bucket, or both are whole buckets.
  const emit = (level: number, lo: number, hi: number) => {
    if (level === 0) lo = Math.max(lo, samplesBefore)
    if (lo >= hi) return
    const { within, runs } = ranges[level]
    const whole = lo % step === 0 && hi - lo === step
    const n = within.hi.length
    const r = runs.hi.length
    if (whole && r > 0 && runs.hi[r - 1] === lo) runs.hi[r - 1] = hi
    else if (n > 0 && within.hi[n - 1] === lo && Math.floor(within.lo[n - 1] / step) === Math.floor(lo / step)) within.hi[n - 1] = hi
    else {
      const into = whole ? runs : within
      into.lo.push(lo)
      into.hi.push(hi)
    }
  }
  /** The index of the first changed minute at or after `t`. */
  const firstChanged = (t: number) => {
    let lo = 0, hi = changed.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (changed[mid] < t) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  // Whole buckets of `level` from a to z (multiples of its width), a bucket holding a changed minute taken apart.
  // Only the changed minutes from a to z are looked at: a plan is asked for with every one in its window.
  const whole = (level: number, a: number, z: number) => {
    const width = widths[level]
    let at = a
    for (let i = firstChanged(a); i < changed.length && changed[i] < z; i++) {
      const b = Math.floor(changed[i] / width) * width
      if (b < at) continue
      emit(level, at, b)
      if (level === 1) emit(0, b, b + width)
      else whole(level - 1, b, b + width)
      at = b + width
    }
    emit(level, at, z)
  }
  const split = (level: number, lo: number, hi: number): void => {
    if (level === 0) return emit(0, lo, hi)
    const width = widths[level]
    const a = Math.ceil(lo / width) * width
    const z = Math.floor(hi / width) * width
    if (a >= z) return split(level - 1, lo, hi)
    split(level - 1, lo, a)
    whole(level, a, z)
    split(level - 1, z, hi)
  }
  for (let b = from; b < to; b += step) split(widths.length - 1, b, b + step)
  return ranges
}

/** Rows a step bucket reads at most, about: the edges' samples and finer buckets, and its coarsest buckets. */
export function rowsPerBucket(step: number): number {
  let rows = 0
  let rest = step
  for (let level = widths.length - 1; level > 0; level--) {
    const width = widths[level]
    if (step < width) continue
    rows += Math.floor(rest / width) + 1
    rest = Math.min(rest, 2 * width)
  }
  return rows + Math.min(rest, 2 * widths[1])
}
