// The rollup tiers' shape (migration 3): which tiers there are, their columns, the SQL that aggregates samples
// or finer buckets into a bucket's statistics, and the statistics of a write's new samples as the rollup
// queue carries them. Every other module that reads or writes the tiers builds its SQL from these pieces.
import { metrics, type Sample } from '../sample.js'
import { element } from './array-literals.js'

export { metrics }
type Metric = (typeof metrics)[number]

export interface Tier {
  /** 1, 2, ...: level 0 is the samples themselves. */
  level: number
  table: string
  /** Seconds a bucket spans; each tier's width is a multiple of the finer one's. */
  width: number
  /** As in the RETENTION_* settings. */
  name: string
}

// Ten minutes between the minute and the hour: a step of 2592 reads about 16 buckets instead of 43, one of
// 31536 (a year in 1,000 points) about 35 instead of 125.
export const tiers: readonly Tier[] = [
  { level: 1, table: 'samples_1m', width: 60, name: '1M' },
  { level: 2, table: 'samples_10m', width: 600, name: '10M' },
  { level: 3, table: 'samples_1h', width: 3600, name: '1H' },
]

/** The width of each level's buckets, level 0 (the samples) being 1. */
export const widths: readonly number[] = [1, ...tiers.map((t) => t.width)]

/**
 * A bucket's statistics: its sample count, then per metric how many samples carried it, their sum, min and
 * max, and the value and time of the latest one that carried it.
 */
export const statColumns: readonly string[] = ['n', ...metrics.flatMap((m) => [`${m}_n`, `${m}_sum`, `${m}_min`, `${m}_max`, `${m}_last`, `${m}_last_t`])]
export const statsPerBucket = statColumns.length

const list = (f: (m: Metric) => string) => metrics.map(f).join(', ')

// The latest value is the costliest aggregate: over buckets as the value of the greatest [time, value]
// array, over samples as the time alone, its value then looked up by it (lookUpLast; an array a sample cost
// twice the rest of the aggregates together). A query that does not ask for it has NULLs in its place.
const noLast = (m: Metric) => `null::float8 as ${m}_last, null::int8 as ${m}_last_t`

/**
 * Aggregates over sample rows (t, cpu, mem, storage) into statColumns, in order and by name; with
 * `lastTimes`, each metric's latest time, its value left NULL for lookUpLast.
 */
export const sampleStats = (lastTimes: boolean) =>
  'count(*)::int4 as n, ' +
  list(
    (m) =>
      `count(${m})::int4 as ${m}_n, coalesce(sum(${m}), 0) as ${m}_sum, min(${m}) as ${m}_min, max(${m}) as ${m}_max, ` +
      (lastTimes ? `null::float8 as ${m}_last, max(t) filter (where ${m} is not null) as ${m}_last_t` : noLast(m)),
  )

/** statColumns of `alias` (sampleStats with lastTimes), each latest value read from client `client`'s samples. */
export const lookUpLast = (alias: string, client: string) =>
  statColumns
    .map((c) => (c.endsWith('_last') ? `(select latest.${c.slice(0, -5)} from samples latest where latest.client_id = ${client} and latest.t = ${alias}.${c}_t) as ${c}` : `${alias}.${c}`))
    .join(', ')

/** Aggregates over rows of statColumns into statColumns, in order and by name. */
export const combinedStats = (last = true) =>
  'sum(n)::int4 as n, ' +
  list(
    (m) =>
      `sum(${m}_n)::int4 as ${m}_n, sum(${m}_sum) as ${m}_sum, min(${m}_min) as ${m}_min, max(${m}_max) as ${m}_max, ` +
      (last ? `(max(array[${m}_last_t::float8, ${m}_last]) filter (where ${m}_n > 0))[2] as ${m}_last, max(${m}_last_t) as ${m}_last_t` : noLast(m)),
  )

/** `on conflict ... do update` assignments that replace a bucket's statistics by the new ones. */
export const replaceStats = () => statColumns.map((c) => `${c} = excluded.${c}`).join(', ')

/** Assignments that add the new statistics (of samples not yet counted) to the stored ones of `table`. */
export const addStats = (table: string) =>
  `n = ${table}.n + excluded.n, ` +
  list(
    (m) =>
      `${m}_n = ${table}.${m}_n + excluded.${m}_n, ${m}_sum = ${table}.${m}_sum + excluded.${m}_sum, ` +
      `${m}_min = least(${table}.${m}_min, excluded.${m}_min), ${m}_max = greatest(${table}.${m}_max, excluded.${m}_max), ` +
      `${m}_last = case when excluded.${m}_last_t >= ${table}.${m}_last_t or ${table}.${m}_last_t is null then coalesce(excluded.${m}_last, ${table}.${m}_last) else ${table}.${m}_last end, ` +
      `${m}_last_t = greatest(${table}.${m}_last_t, excluded.${m}_last_t)`,
  )

/**
 * A rollup queue array (of `type`) as a value of its own: a stored one is compressed or out of line (TOAST),
 * and each subscript of it would fetch it again.
 */
export const detoasted = (array: string, type = 'float8') => `${array} || '{}'::${type}[]`

/**
 * A lateral subquery: the keys (as `k`) that rollup queue row `q` holds for `client`. A client's entries are
 * found by array_positions: unnesting a row's whole arrays made a read cost something for every sample queued.
 */
export const queuedKeysOf = (q: string, client: string) =>
  `(select d.keys[i] as k from (select ${detoasted(`${q}.keys`, 'int8')} as keys) d, unnest(array_positions(${q}.client_ids, ${client})) as i)`

/**
 * statColumns read from a detoasted stats array, the bucket being element `i` (1-based) of its keys. A metric no
 * sample carried is queued with 0 for its min, max and latest (newSamplesEntry), read back as NULL: an array
 * holding a NULL finds each element by walking its null bitmap from the start, so a statement's thousands of
 * minutes cost a pass seconds.
 */
export const queuedStats = (stats: string, i: string) => {
  const at = (j: number) => `${stats}[(${i} - 1) * ${statsPerBucket} + ${j + 1}]`
  return statColumns
    .map((c, j) => {
      if (c === 'n' || c.endsWith('_n')) return `${at(j)}::int4 as ${c}`
      if (c.endsWith('_sum')) return `${at(j)} as ${c}`
      const count = at(statColumns.indexOf(`${metrics.find((m) => c.startsWith(`${m}_`))}_n`))
      return `case when ${count} = 0 then null else ${at(j)} end${c.endsWith('_last_t') ? '::int8' : ''} as ${c}`
    })
    .join(', ')
}

export const queueKind = { newSamples: 0, minuteStats: 1, changedMinutes: 2 } as const

/**
 * What a write statement tells the rollup queue (migration 3): a kind, and client_ids, keys and stats as
 * array literals; new samples (kind 0) are the statement's own rows, its parameters written twice.
 */
export type QueueEntry = { kind: typeof queueKind.newSamples } | { kind: number; clientIds: string; keys: string; stats: string | null }

const minute = widths[1]

// A minute's statistics take 19 numbers against a sample's 5: a statement whose samples fill minutes this
// densely queues its minutes' statistics; sparser ones (single samples of many clients) queue the samples
// themselves, from the parameters the insert already binds (nothing is parsed twice).
const samplesPerMinuteForStats = 4

/** The (client, minute) runs of rows sorted by client and time: each run's first index, and the end. */
function minuteRuns(clientIds: number[], samples: Sample[]): number[] {
  const starts: number[] = []
  for (let i = 0; i < samples.length; i++) {
    if (i === 0 || clientIds[i] !== clientIds[i - 1] || Math.floor(samples[i].t / minute) !== Math.floor(samples[i - 1].t / minute)) starts.push(i)
  }
  starts.push(samples.length)
  return starts
}

/** The queue entry of a plain insert of these rows (sorted by client and time, each (client, t) once). */
export function newSamplesEntry(clientIds: number[], samples: Sample[]): QueueEntry {
  const runs = minuteRuns(clientIds, samples)
  const minutes = runs.length - 1
  if (samples.length < minutes * samplesPerMinuteForStats) return { kind: queueKind.newSamples }
  let ids = '', keys = '', stats = ''
  for (let r = 0; r < minutes; r++) {
    const from = runs[r], to = runs[r + 1]
    const sep = r === 0 ? '' : ','
    ids += sep + clientIds[from]
    keys += sep + Math.floor(samples[from].t / minute) * minute
    stats += sep + (to - from)
    for (const m of metrics) {
      let n = 0, sum = 0, min = Infinity, max = -Infinity, last: number | null = null, lastT: number | null = null
      for (let i = from; i < to; i++) {
        const v = samples[i][m]
        if (v === null) continue
        n++
        sum += v
        if (v < min) min = v
        if (v > max) max = v
        last = v
        lastT = samples[i].t
      }
      stats += n ? `,${n},${element(sum)},${element(min)},${element(max)},${element(last)},${lastT}` : ',0,0,0,0,0,0'
    }
  }
  return { kind: queueKind.minuteStats, clientIds: `{${ids}}`, keys: `{${keys}}`, stats: `{${stats}}` }
}

/** The queue entry of a merging write of these rows: their minutes are recomputed from the samples. */
export function changedMinutesEntry(clientIds: number[], samples: Sample[]): QueueEntry {
  const runs = minuteRuns(clientIds, samples)
  let ids = '', keys = ''
  for (let r = 0; r < runs.length - 1; r++) {
    const sep = r === 0 ? '' : ','
    ids += sep + clientIds[runs[r]]
    keys += sep + Math.floor(samples[runs[r]].t / minute) * minute
  }
  return { kind: queueKind.changedMinutes, clientIds: `{${ids}}`, keys: `{${keys}}`, stats: null }
}
