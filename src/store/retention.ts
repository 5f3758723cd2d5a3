// Retention: a level's rows (the samples, or a tier's buckets) older than its limit, by the sample's time
// against the server's clock, are removed client by client in small work units. A level is removed in whole
// buckets of the next coarser level (samples by the minute, minutes by the 10 minutes, those by the hour),
// and never past the finer level's horizon, so that a coarser bucket is always either built from complete
// finer ones or kept as it is. The samples of a minute still in the rollup queue stay until a pass has
// counted them.
import type { Sql } from 'postgres'
import { horizonColumns, maintenanceLock } from './rollup.js'
import { queueKind, queuedKeysOf, tiers, widths } from './tiers.js'

/** Seconds each level (0: the samples, then each tier) is kept; undefined: for ever. */
export type RetentionLimits = readonly (number | undefined)[]

interface Level {
  level: number
  table: string
  key: 't' | 'b'
  /** Rows are removed in whole buckets of this many seconds. */
  align: number
}

const levels: Level[] = widths.map((_, level) => ({
  level,
  table: level === 0 ? 'samples' : tiers[level - 1].table,
  key: level === 0 ? 't' : 'b',
  align: widths[Math.min(level + 1, widths.length - 1)],
}))

const floorTo = (value: string, align: number) => `(${value}) / ${align} * ${align}`

/** One work unit: $1 client, $2 cut (aligned), $3 rows at most. Returns the horizon before and after. */
function unitStatement({ level, table, key, align }: Level): string {
  const bounds = [
    '$2::int8',
    `coalesce(${floorTo('(select ' + key + ' from nth)', align)}, $2::int8)`,
    // Never past the finer level's horizon.
    ...(level > 0 ? [floorTo(`h.before${level - 1}`, align)] : []),
    // Nor past a minute the rollup queue still holds.
    ...(level === 0 ? ['coalesce((select m from pending), $2::int8)'] : []),
  ]
  return `
    with h as (select ${horizonColumns('$1::int4')}),
    nth as (select ${key} from ${table} where client_id = $1 and ${key} >= (select before${level} from h) order by ${key} offset $3 limit 1),
    ${
      level === 0
        ? `pending as (
      select min(m) as m from (
        select case when q.kind = ${queueKind.newSamples} then u.k / ${widths[1]} * ${widths[1]} else u.k end as m
        from rollup_queue q cross join lateral ${queuedKeysOf('q', '$1::int4')} u where $1 = any(q.client_ids)
      ) queued where m >= (select before0 from h)
    ),`
        : ''
    }
    bound as (select h.before${level} as old, least(${bounds.join(', ')}) as new from h),
    removed as (
      delete from ${table} where client_id = $1 and ${key} >= (select old from bound) and ${key} < (select new from bound) returning 1
    ),
    moved as (
      insert into tier_horizons (client_id, level, before) select $1, ${level}, new from bound where new > old
      on conflict (client_id, level) do update set before = excluded.before
    )
    select old, new, (select count(*) from removed)::int4 as removed from bound`
}

const statements = levels.map(unitStatement)

export interface RetentionOptions {
  limits: RetentionLimits
  /** Rows a work unit removes at most. */
  unitRows: number
  now: () => number
  /** Resolves after the pause between work units; rejects (or resolves false) to stop. */
  pause: (unitMs: number) => Promise<boolean>
}

/**
 * One round over every client and every level with a limit, unit after unit; false if `pause` said to stop.
 * Units of several instances take turns with each other and with rollup passes (the same lock).
 */
export async function retentionRound(sql: Sql, { limits, unitRows, now, pause }: RetentionOptions): Promise<boolean> {
  for (const level of levels) {
    const limit = limits[level.level]
    if (limit === undefined) continue
    const cut = Math.floor((now() - limit) / level.align) * level.align
    if (cut <= 0) continue
    for (let after = 0; ; ) {
      const clients = await sql<{ id: number }[]>`select id from clients where id > ${after} order by id limit 1000`
      if (clients.length === 0) break
      for (const { id } of clients) {
        for (;;) {
          const started = Date.now()
          const [unit] = await sql.begin(async (tx) => {
            await tx`select pg_advisory_xact_lock(${maintenanceLock})`
            return tx.unsafe<{ old: number; new: number; removed: number }[]>(statements[level.level], [id, cut, unitRows], { prepare: true })
          })
          if (unit.removed > 0 && !(await pause(Date.now() - started))) return false
          if (Number(unit.new) <= Number(unit.old) || Number(unit.new) >= cut) break
        }
      }
      after = clients[clients.length - 1].id
    }
  }
  return true
}
