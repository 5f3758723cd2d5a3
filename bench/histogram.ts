// Latency statistics. A load generator records into buckets 1% wide, so that the histograms of several
// worker processes stay small as JSON and merge exactly, whatever the request count.
const growth = Math.log(1.01)

export type HistogramJson = [bucket: number, count: number][]

export class Histogram {
  readonly #counts = new Map<number, number>()
  #total = 0

  record(micros: number): void {
    const bucket = micros <= 1 ? 0 : Math.round(Math.log(micros) / growth)
    this.#counts.set(bucket, (this.#counts.get(bucket) ?? 0) + 1)
    this.#total++
  }

  merge(json: HistogramJson): this {
    for (const [bucket, count] of json) {
      this.#counts.set(bucket, (this.#counts.get(bucket) ?? 0) + count)
      this.#total += count
    }
    return this
  }

  /** In milliseconds; NaN when nothing was recorded. */
  percentileMs(p: number): number {
    const rank = Math.ceil((p / 100) * this.#total)
    let seen = 0
    for (const bucket of [...this.#counts.keys()].sort((a, b) => a - b)) {
      seen += this.#counts.get(bucket)!
      if (seen >= rank) return Math.exp(bucket * growth) / 1000
    }
    return NaN
  }

  toJSON(): HistogramJson {
    return [...this.#counts]
  }
}

/** Nearest-rank percentile of a few exact values (the slice timings). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]
}
