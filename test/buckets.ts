// Downsampled slices as the issue defines them, computed the plain way from the samples a test sent, and the
// comparison of a server's answer with them: min, max, last and samples exact, avg within 1e-9 relative,
// keys in their order, floats as floats.
import assert from 'node:assert/strict'

export interface Values {
  cpu: number | null
  mem: number | null
  storage: number | null
}

const metrics = ['cpu', 'mem', 'storage'] as const

/** What a server stores after these samples in this order: a re-sent second merges, its absent fields kept. */
export class Log {
  readonly samples = new Map<number, Values>()
  add(t: number, values: Partial<Values>): void {
    const old = this.samples.get(t)
    const pick = (m: (typeof metrics)[number]) => values[m] ?? old?.[m] ?? null
    this.samples.set(t, { cpu: pick('cpu'), mem: pick('mem'), storage: pick('storage') })
  }
  delete(before: number): void {
    for (const t of this.samples.keys()) if (t < before) this.samples.delete(t)
  }
}

type Row = Record<string, number | null>

/** The rows of `step` buckets with these aggregates over [start, end] (absent: open). */
export function expected(log: Log, step: number, aggs: string[], start = -Infinity, end = Infinity): Row[] {
  const from = Math.floor(Math.max(start, 0) / step) * step
  const to = Math.floor(Math.min(end, 1e15) / step) * step + step
  const buckets = new Map<number, [number, Values][]>()
  for (const [t, v] of [...log.samples].sort((a, b) => a[0] - b[0])) {
    if (t < from || t >= to) continue
    const b = Math.floor(t / step) * step
    if (!buckets.has(b)) buckets.set(b, [])
    buckets.get(b)!.push([t, v])
  }
  const rows: Row[] = []
  for (const [b, members] of [...buckets].sort((x, y) => x[0] - y[0])) {
    const of = (m: (typeof metrics)[number], agg: string): number | null => {
      const vs = members.map(([, v]) => v[m]).filter((x): x is number => x !== null)
      if (vs.length === 0) return null
      if (agg === 'avg') return vs.reduce((a, x) => a + x, 0) / vs.length
      if (agg === 'min') return Math.min(...vs)
      if (agg === 'max') return Math.max(...vs)
      return vs[vs.length - 1]
    }
    if (aggs.length === 1) rows.push({ cpu: of('cpu', aggs[0]), mem: of('mem', aggs[0]), storage: of('storage', aggs[0]), unix_time: b })
    else {
      const row: Row = { unix_time: b, samples: members.length }
      for (const m of metrics) for (const a of aggs) row[`${m}_${a}`] = of(m, a)
      rows.push(row)
    }
  }
  return rows
}

/** Asserts a reply's text is these rows of `aggs`: same keys in the same order, values exact but for avg. */
export function assertRows(text: string, want: Row[], aggs: string[], what: string): void {
  const got = (JSON.parse(text) as { payload: Row[] }).payload
  assert.equal(got.length, want.length, `${what}: ${got.length} rows, expected ${want.length}: ${text.slice(0, 400)}`)
  for (let i = 0; i < want.length; i++) {
    assert.deepEqual(Object.keys(got[i]), Object.keys(want[i]), `${what}: keys of row ${i}`)
    for (const [k, w] of Object.entries(want[i])) {
      const g = got[i][k]
      const avg = k.endsWith('_avg') || (aggs.length === 1 && aggs[0] === 'avg' && k !== 'unix_time')
      if (w === null || g === null || !avg) assert.equal(g, w, `${what}: row ${i} ${k}`)
      else assert.ok(Math.abs(g - w) <= 1e-9 * Math.abs(w), `${what}: row ${i} ${k} is ${g}, expected ${w}`)
    }
  }
  // Floats as floats: every metric value has a fraction or an exponent, as Python prints a float.
  for (const m of text.matchAll(/"(cpu|mem|storage)[a-z_]*": (-?[\d.e+-]+)/g)) assert.match(m[2], /[.e]/, `${what}: ${m[0]} is not a float`)
}
