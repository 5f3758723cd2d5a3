// Downsampled slices: per step bucket, the aggregates of all its samples, from the tiers where whole tier
// buckets fit, the rollup queue for what the tiers do not hold yet, and the samples for the rest. Streamed a
// window of buckets at a time, each window two short statements: where the data and the changed minutes are
// (the plan), then the buckets as bytes.
import type { Sql } from 'postgres'
import type { Health } from './health.js'
import { logChanging, valueError } from '../errors.js'
import { wholeNumbers } from './array-literals.js'
import { planRanges, rowsPerBucket } from './bucket-plan.js'
import { horizonColumns } from './rollup.js'
import { combinedStats, detoasted, lookUpLast, metrics, queueKind, queuedKeysOf, queuedStats, sampleStats, statColumns, tiers, widths } from './tiers.js'

export const aggregates = ['avg', 'min', 'max', 'last'] as const
export type Aggregate = (typeof aggregates)[number]

export interface BucketQuery {
  /** Seconds a bucket spans; buckets start at multiples of it. */
  step: number
  /** One: rows of a log slice's shape. More: a row's sample count, then each metric's aggregates in this order. */
  aggregates: Aggregate[]
  start: number
  end: number
}

/**
 * Doubles a row takes in the chunks: the bucket's start, then its cpu, mem and storage (one aggregate, NaN
 * for none), or its sample count and each metric's aggregates in the order asked.
 */
export const bucketRowDoubles = (aggs: readonly Aggregate[]) => (aggs.length === 1 ? 1 + metrics.length : 2 + metrics.length * aggs.length)

// Times are validated from 0 to the end of year 9999.
const maxTime = 253402300799
// A window's rows as bytes stay at the size of a log slice's chunk (2,000 rows of 32 bytes), so that
// postgres.js's hex text of them stays under V8's large-object size; and what a window reads stays bounded.
const windowBytes = 64_000
const windowReadRows = 200_000
// A window whose plan a concurrent merge or retention made stale is planned again, at most this often.
const replans = 5
// Windows read at once, each on a connection of its own: PostgreSQL reads them in parallel.
const windowsInFlight = 2

const final: Record<Aggregate, (m: string) => string> = {
  avg: (m) => `${m}_sum / nullif(${m}_n, 0)`,
  min: (m) => `${m}_min`,
  max: (m) => `${m}_max`,
  last: (m) => `${m}_last`,
}

const double = (expression: string) => `float8send(coalesce((${expression})::float8, 'NaN'))`

function rowBytes(aggs: readonly Aggregate[]): string {
  const values = aggs.length === 1 ? metrics.map((m) => final[aggs[0]](m)) : ['n', ...metrics.flatMap((m) => aggs.map((a) => final[a](m)))]
  return ['sb', ...values].map(double).join(' || ')
}

const levels = widths.length
const minute = widths[1]
const coarsest = levels - 1

// $1 client, $2 step, $3 first bucket to look from, $4 end (exclusive), $5 buckets a window holds at most.
const planStatement = `
  with h as (select ${horizonColumns('$1::int4')}),
  f as materialized (
    select least(
      (select min(t) from samples where client_id = $1 and t >= greatest($3::int8, (select before${coarsest} from h)) and t < $4),
      ${tiers.map((t) => `(select min(b) from ${t.table} where client_id = $1 and b > $3::int8 - ${t.width} and b < $4)`).join(',\n      ')}
    ) as first
  ),
  w as (select first, greatest($3::int8, first / $2 * $2) as w0 from f),
  win as (select first, w0, least(w0 + $2 * $5, $4) as w1 from w)
  select h.*, win.first, win.w0, win.w1, coalesce((
      select array_agg(distinct u.k order by u.k) from rollup_queue q cross join lateral ${queuedKeysOf('q', '$1::int4')} u
      where q.kind = ${queueKind.changedMinutes} and $1 = any(q.client_ids)
        and u.k >= h.before0 and u.k > win.w0 - ${minute} and u.k < win.w1
    ), '{}') as changed
  from h, win`

interface Plan {
  first: number | null
  w0: number
  w1: number
  changed: number[]
  /** before0 ... before<coarsest> */
  [before: `before${number}`]: number
}

/**
 * The data statement. $1 client, $2 step, $3 w0, $4 w1, $5 the samples' horizon, $6 the coarsest one, $7 the
 * changed minutes planned (read from samples), $8 the horizons planned, then each level's ranges.
 */
function dataStatement(aggs: readonly Aggregate[]): string {
  const last = aggs.includes('last')
  // Each level's ranges within a bucket, then its runs of whole buckets: $9 + 4 level ... $12 + 4 level.
  const within = (level: number) => `unnest($${9 + 4 * level}::int8[], $${10 + 4 * level}::int8[]) as p(lo, hi)`
  const runs = (level: number) => `unnest($${11 + 4 * level}::int8[], $${12 + 4 * level}::int8[]) as p(lo, hi)`
  // A queued minute m adds to the answer where tiers are read for it: wholly inside its step bucket, kept by
  // the samples' retention, and not changed by a merge (then its samples are read).
  const fromTiers = (m: string) => `$2 >= ${minute} and ${m} >= $5 and ${m} >= $3 and ${m} < $4 and ${m} / $2 = (${m} + ${minute - 1}) / $2 and ${m} <> all($7::int8[])`
  // Rows of samples aggregated by step bucket, the latest values looked up only if asked for.
  const fromSamples = (from: string, where: string) => {
    const grouped = `select t / $2 * $2 as sb, ${sampleStats(last)} from ${from} where ${where} group by 1`
    return last ? `select g.sb, ${lookUpLast('g', '$1')} from (${grouped}) g` : grouped
  }
  return `
    -- The client's entries of each queue row (queuedKeysOf), its arrays detoasted once for their subscripts.
    with queued as materialized (
      select kind, array_positions(client_ids, $1::int4) as at, ${detoasted('client_ids', 'int4')} as client_ids, ${detoasted('keys', 'int8')} as keys,
        ${detoasted('stats')} as stats, ${detoasted('cpu')} as cpu, ${detoasted('mem')} as mem, ${detoasted('storage')} as storage
      from rollup_queue where $2 >= ${minute} and $1 = any(client_ids)
    ),
    -- The samples' values may be NULL, and an array holding a NULL finds each subscript by walking from its start:
    -- the client's run of a statement's rows (sorted by client) is sliced out once and unnested.
    new_samples as (
      select u.t, u.cpu, u.mem, u.storage from (
        select unnest(q.client_ids[r.lo:r.hi]) as c, unnest(q.keys[r.lo:r.hi]) as t,
          unnest(q.cpu[r.lo:r.hi]) as cpu, unnest(q.mem[r.lo:r.hi]) as mem, unnest(q.storage[r.lo:r.hi]) as storage
        from queued q cross join lateral (select q.at[1] as lo, q.at[cardinality(q.at)] as hi) r
        where q.kind = ${queueKind.newSamples}
      ) u
      where u.c = $1
    ),
    minute_stats as (
      select q.keys[i] as k, ${queuedStats('q.stats', 'i')}
      from queued q cross join lateral unnest(q.at) as i
      where q.kind = ${queueKind.minuteStats}
    ),
    current as (
      select array[${widths.map((_, level) => `before${level}`).join(', ')}] = $8::int8[] and not exists (
        select 1 from queued q cross join lateral unnest(q.at) as i
        where q.kind = ${queueKind.changedMinutes} and ${fromTiers('q.keys[i]')}
      ) as ok
      from (select ${horizonColumns('$1::int4')}) h
    ),
    parts as (
      select p.lo / $2 * $2 as sb, ${last ? lookUpLast('s', '$1') : 's.*'} from ${within(0)} cross join lateral (
        select ${sampleStats(last)} from samples where client_id = $1 and t >= p.lo and t < p.hi
      ) s where s.n > 0
      union all
      select s.* from ${runs(0)} cross join lateral (${fromSamples('samples', 'client_id = $1 and t >= p.lo and t < p.hi')}) s
      ${tiers
        .map(
          (t) => `union all
      select p.lo / $2 * $2 as sb, s.* from ${within(t.level)} cross join lateral (
        select ${combinedStats(last)} from ${t.table} where client_id = $1 and b >= p.lo and b < p.hi
      ) s where s.n > 0
      union all
      select s.* from ${runs(t.level)} cross join lateral (
        select b / $2 * $2 as sb, ${combinedStats(last)} from ${t.table} where client_id = $1 and b >= p.lo and b < p.hi group by 1
      ) s`,
        )
        .join('\n      ')}
      union all
      ${fromSamples('samples', 'client_id = $1 and t >= greatest($3::int8, $6::int8) and t < least($4::int8, $5::int8)')}
      union all
      select k / $2 * $2, ${statColumns.join(', ')} from minute_stats where ${fromTiers('k')}
      union all
      ${fromSamples('new_samples', fromTiers(`(t / ${minute} * ${minute})`))}
    ),
    buckets as (select sb, ${combinedStats(last)} from parts group by sb)
    select (select ok from current) as ok, count(*)::int4 as n, string_agg(${rowBytes(aggs)}, '' order by sb) as rows from buckets`
}

interface Window {
  ok: boolean
  n: number
  rows: Uint8Array | null
}

/** A window of buckets [w0, w1) to read, with the horizons and changed minutes it was planned with. */
interface Planned {
  w0: number
  w1: number
  before: number[]
  changed: number[]
}

const stale = new Uint8Array(0)

export function bucketSlices(sql: Sql, health: Health) {
  const statements = new Map<string, string>()
  const statementFor = (aggs: readonly Aggregate[]) => {
    const key = aggs.join()
    let text = statements.get(key)
    if (!text) statements.set(key, (text = dataStatement(aggs)))
    return text
  }

  /**
   * The buckets overlapping [start, end] that hold samples, in time order, a window per chunk, each row as
   * bucketRowDoubles big-endian doubles. Refuses (value error) a step that the tiers left for the range
   * cannot answer: where retention removed a level, only multiples of a coarser level's width.
   */
  return async function* buckets(clientId: number, { step, aggregates: aggs, start, end }: BucketQuery): AsyncIterable<Uint8Array> {
    const from = Math.floor(Math.max(start, 0) / step) * step
    const to = Math.floor(Math.min(end, maxTime) / step) * step + step
    if (from >= to) return
    // A short range is split evenly over the windows read at once, a long one into windows of the bounds.
    const bounded = Math.min(Math.floor(windowBytes / (8 * bucketRowDoubles(aggs))), Math.floor(windowReadRows / rowsPerBucket(step)))
    const perWindow = Math.max(1, Math.min(bounded, Math.ceil((to - from) / step / windowsInFlight)))
    const text = statementFor(aggs)

    const plan = async (cursor: number, checkStep: boolean): Promise<Planned | undefined> => {
      const [p] = await health.guard(() => sql.unsafe<Plan[]>(planStatement, [clientId, step, cursor, to, perWindow], { prepare: true }))
      if (p.first === null) return undefined
      const before = widths.map((_, level) => Number(p[`before${level}`]))
      // A tier's bucket may begin before the cursor; what it holds of the slice does not.
      const first = Math.max(p.first, cursor)
      // Below a level's horizon, only the coarser levels hold the data.
      for (let level = 0; level < coarsest; level++) {
        if (first < before[level] && step % widths[level + 1] !== 0) {
          if (checkStep) throw valueError()
          throw logChanging()
        }
      }
      return { w0: Number(p.w0), w1: Number(p.w1), before, changed: p.changed }
    }
    const read = async ({ w0, w1, before, changed }: Planned): Promise<Uint8Array | null> => {
      const ranges = planRanges(step, w0, w1, before[0], changed)
      const params = [clientId, step, w0, w1, before[0], before[coarsest], wholeNumbers(changed), wholeNumbers(before)]
      for (const { within, runs } of ranges) params.push(wholeNumbers(within.lo), wholeNumbers(within.hi), wholeNumbers(runs.lo), wholeNumbers(runs.hi))
      const [w] = await health.guard(() => sql.unsafe<Window[]>(text, params, { prepare: true }))
      return w.ok ? w.rows : stale
    }
    // A window whose plan a merge or retention made stale meanwhile is planned and read again.
    const window = async (planned: Planned): Promise<Uint8Array | null> => {
      for (let attempt = 0; ; attempt++) {
        const rows = await read(planned)
        if (rows !== stale) return rows
        if (attempt === replans) throw logChanging()
        const fresh = await plan(planned.w0, false)
        if (!fresh) return null
        // The same window (the next one is planned from its end), with what is current now.
        planned = { ...fresh, w0: planned.w0, w1: planned.w1 }
      }
    }

    // Windows are planned one after the other (each starts where the data after the last one does) and read
    // two at a time on their own connections, the next ones while the current one is sent.
    const reads: Promise<Uint8Array | null>[] = []
    let planning: Promise<Planned | undefined> | undefined = plan(from, true)
    const more = async () => {
      while (planning && reads.length < windowsInFlight) {
        const planned = await planning
        planning = planned && planned.w1 < to ? plan(planned.w1, false) : undefined
        planning?.catch(() => undefined)
        if (!planned) break
        const r = window(planned)
        r.catch(() => undefined)
        reads.push(r)
      }
    }
    await more()
    while (reads.length > 0) {
      const rows = await reads.shift()!
      await more()
      if (rows) yield rows
    }
  }
}
