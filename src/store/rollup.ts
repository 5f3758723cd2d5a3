// The rollup pass: everything the rollup queue holds goes into the tiers, in one transaction that also
// empties the queue. New samples' statistics are added to their buckets of every tier; a minute a write
// merged into is recomputed from its samples, and its coarser buckets from the finer tier's buckets. Where
// retention already removed a level, samples that arrive late for it are counted into the finest level still
// kept for their time, and those samples are removed. Passes of several instances on one database take turns
// (an advisory lock); only passes and retention write the tiers.
import type { Sql, TransactionSql } from 'postgres'
import { wholeNumbers } from './array-literals.js'
import { addStats, combinedStats, detoasted, lookUpLast, queueKind, queuedStats, replaceStats, sampleStats, statColumns, tiers, widths } from './tiers.js'

/** Held by a rollup pass or a retention work unit: they change the tiers one at a time. */
export const maintenanceLock = 0x5359534d5452 // "SYSMTR"

const columns = statColumns.join(', ')
// A bucket of no samples: the statistics a merge's queue entry contributes.
const noStats = statColumns.map((c) => (c === 'n' || c.endsWith('_n') ? '0' : c.endsWith('_sum') ? '0::float8' : c.endsWith('_last_t') ? 'null::int8' : 'null::float8')).join(', ')
const minute = tiers[0]

/** Each client's horizons: `before<level>` for levels 0 (samples) to the coarsest tier, 0 where none is set. */
export const horizonColumns = (client: string) =>
  widths
    .map((_, level) => `coalesce((select before from tier_horizons h where h.client_id = ${client} and h.level = ${level}), 0) as before${level}`)
    .join(', ')

/** The finest tier whose bucket of minute `m` retention has kept, 0 when none has. */
const targetLevel = (m: string) =>
  `case ${tiers.map((t) => `when ${m} / ${t.width} * ${t.width} >= before${t.level} then ${t.level}`).join(' ')} else 0 end`

// One statement, so that the queue rows it takes and the samples it reads are of one snapshot: a write
// committed after it started is neither taken nor read, and is left for the next pass. Classes of a queued
// minute: 'new' (statistics of new samples to add), 'changed' (recomputed from its samples), 'late' (below the
// samples' horizon: its samples are all uncounted ones that came after retention, counted and removed).
// The queued arrays are unnested in select lists, not in FROM: a function scan in FROM copies each array into
// a tuplestore first, which was most of a pass's work for single samples. Horizons come from one grouped scan
// of tier_horizons (no rows unless retention is on) hashed against the grouped minutes' clients, not four index
// probes a client. Minutes are one row each already: their tier's insert takes them without grouping again.
const minutesStatement = `
  with queued as (delete from rollup_queue returning kind, client_ids, keys, ${detoasted('stats')} as stats, cpu, mem, storage),
  new_samples as (
    select c, t, t / ${minute.width} * ${minute.width} as m, cpu, mem, storage from (
      select unnest(q.client_ids) as c, unnest(q.keys) as t, unnest(q.cpu) as cpu, unnest(q.mem) as mem, unnest(q.storage) as storage
      from queued q where q.kind = ${queueKind.newSamples}
    ) u
  ),
  minute_stats as (
    select c, m, ${queuedStats('stats', 'i')} from (
      select unnest(q.client_ids) as c, unnest(q.keys) as m, generate_subscripts(q.keys, 1) as i, q.stats
      from queued q where q.kind = ${queueKind.minuteStats}
    ) u
  ),
  changed as (
    select distinct c, m from (select unnest(q.client_ids) as c, unnest(q.keys) as m from queued q where q.kind = ${queueKind.changedMinutes}) u
  ),
  -- What each queued minute adds: its queued statistics and new samples; a merge's minute is only marked.
  contributions as (
    select c, m, false as changed, ${columns} from minute_stats
    union all
    select g.c, g.m, false, ${lookUpLast('g', 'g.c')} from (select c, m, ${sampleStats(true)} from new_samples group by c, m) g
    union all
    select c, m, true, ${noStats} from changed
  ),
  minutes as (select c, m, bool_or(changed) as changed, ${combinedStats()} from contributions group by c, m),
  horizon as (
    select clients.c, ${widths.map((_, level) => `coalesce(h.before${level}, 0) as before${level}`).join(', ')}
    from (select distinct c from minutes) clients left join (
      select client_id, ${widths.map((_, level) => `max(before) filter (where level = ${level}) as before${level}`).join(', ')} from tier_horizons group by client_id
    ) h on h.client_id = clients.c
  ),
  classified as (
    select mi.*, case when mi.m < h.before0 then 'late' when mi.changed then 'changed' else 'new' end as class
    from minutes mi join horizon h on h.c = mi.c
  ),
  counted as (
    select x.c, x.m, x.class, ${lookUpLast('s', 'x.c')}
    from classified x cross join lateral (
      select ${sampleStats(true)} from samples where client_id = x.c and t >= x.m and t < x.m + ${minute.width}
    ) s(${columns})
    where x.class <> 'new' and s.n > 0
  ),
  changes as (
    select c, m, false as recompute, ${columns} from classified where class = 'new' and n > 0
    union all
    select c, m, class = 'changed', ${columns} from counted
  ),
  targeted as (select ch.*, ${targetLevel('ch.m')} as level from changes ch join horizon h on h.c = ch.c),
  replaced as (
    insert into ${minute.table} (client_id, b, ${columns})
    select c, m, ${columns} from targeted where level = ${minute.level} and recompute
    on conflict (client_id, b) do update set ${replaceStats()}
  ),
  ${tiers
    .map(
      (t) => `added${t.level} as (
    insert into ${t.table} (client_id, b, ${columns})
    ${
      t === minute
        ? `select c, m, ${columns} from targeted where level = ${t.level} and not recompute`
        : `select c, m / ${t.width} * ${t.width}, ${combinedStats()} from targeted where level between 1 and ${t.level} and not recompute
    group by c, m / ${t.width} * ${t.width}`
    }
    on conflict (client_id, b) do update set ${addStats(t.table)}
  ),`,
    )
    .join('\n  ')}
  removed as (
    delete from samples s using classified x
    where x.class = 'late' and s.client_id = x.c and s.t >= x.m and s.t < x.m + ${minute.width}
  )
  select coalesce(array_agg(c), '{}') as clients, coalesce(array_agg(m), '{}') as buckets from targeted where level = ${minute.level} and recompute`

/** Recomputes from the finer tier the buckets of `tier` holding the given recomputed finer buckets; returns its buckets. */
const coarserStatement = (tier: (typeof tiers)[number], finer: (typeof tiers)[number]) => `
  with touched as (
    select distinct c, k / ${tier.width} * ${tier.width} as b from unnest($1::int4[], $2::int8[]) as u(c, k)
  ),
  recomputed as (
    insert into ${tier.table} (client_id, b, ${columns})
    select t.c, t.b, s.* from touched t cross join lateral (
      select ${combinedStats()} from ${finer.table} where client_id = t.c and b >= t.b and b < t.b + ${tier.width}
    ) s(${columns})
    where s.n > 0
    on conflict (client_id, b) do update set ${replaceStats()}
  )
  select coalesce(array_agg(c), '{}') as clients, coalesce(array_agg(b), '{}') as buckets from touched`

interface Touched {
  clients: number[]
  buckets: number[]
}

async function pass(tx: TransactionSql): Promise<void> {
  await tx`select pg_advisory_xact_lock(${maintenanceLock})`
  // A pass holds what it takes from the queue in memory: at the default 4 MB, 80,000 queued samples spilled to disk.
  // It takes the whole queue: one that grew past what a pass does within the server's statement deadline would
  // otherwise be given up every time, and only grow.
  await tx`set local work_mem = '64MB'`
  await tx`set local statement_timeout = 0`
  // The planner takes an unnested array for 10 rows, so it would sort the queued samples for a group
  // aggregate: a pass of hundreds of thousands sorted them for a third of its time, where hashing costs less.
  // Not before PostgreSQL 13, whose hash aggregates cannot spill to disk: a backlog would be held in memory.
  await tx`select set_config('enable_sort', 'off', true) where current_setting('server_version_num')::int >= 130000`
  let [touched] = await tx.unsafe<Touched[]>(minutesStatement, [], { prepare: true })
  for (let i = 1; i < tiers.length && touched.clients.length > 0; i++) {
    ;[touched] = await tx.unsafe<Touched[]>(coarserStatement(tiers[i], tiers[i - 1]), [wholeNumbers(touched.clients), wholeNumbers(touched.buckets)], { prepare: true })
  }
}

/** One rollup pass: afterwards the tiers hold every sample committed before it began. */
export async function rollupPass(sql: Sql): Promise<void> {
  await sql.begin(pass)
}
