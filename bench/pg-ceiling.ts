// PostgreSQL's own ingest rates on the server's database, into scratch tables of the samples table's shape:
// COPY (the ceiling for batch ingest) and the server's own statement, insert ... select from unnest(...)
// on conflict do update, with 1,000-row batches. Both on one connection, as one client would.
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { finished } from 'node:stream/promises'
import type { Sql } from 'postgres'
import { Histogram } from './histogram.js'

export interface PgRate {
  rows: number
  seconds: number
  /** Rows in the scratch table afterwards: they must equal `rows`. */
  stored: number
  /** Per statement (unnest only). */
  p50Ms?: number
  p99Ms?: number
}

const batchRows = 1000

async function scratchTable(sql: Sql, name: string): Promise<void> {
  await sql`drop table if exists ${sql(name)}`
  await sql`create table ${sql(name)} (
    client_id integer not null, t bigint not null,
    cpu double precision, mem double precision, storage double precision,
    primary key (client_id, t))`
}

async function storedAndDrop(sql: Sql, name: string): Promise<number> {
  const [{ n }] = await sql<{ n: string }[]>`select count(*) as n from ${sql(name)}`
  await sql`drop table ${sql(name)}`
  return Number(n)
}

/** One COPY, fed for `seconds`; the time runs until PostgreSQL has confirmed it. */
export async function copyRate(sql: Sql, seconds: number): Promise<PgRate> {
  await scratchTable(sql, 'bench_copy')
  const stream = await sql`copy bench_copy (client_id, t, cpu, mem, storage) from stdin`.writable()
  const start = performance.now()
  const deadline = start + seconds * 1000
  let rows = 0
  while (performance.now() < deadline) {
    let chunk = ''
    for (let i = 0; i < 10 * batchRows; i++, rows++) chunk += `1\t${rows}\t1.5\t10\t20\n`
    if (!stream.write(chunk)) await once(stream, 'drain')
  }
  stream.end()
  await finished(stream)
  return { rows, seconds: (performance.now() - start) / 1000, stored: await storedAndDrop(sql, 'bench_copy') }
}

/** The server's upsert (src/store/samples.ts), batch after batch for `seconds`. */
export async function unnestRate(sql: Sql, seconds: number): Promise<PgRate> {
  await scratchTable(sql, 'bench_unnest')
  const histogram = new Histogram()
  const clientIds = new Array<number>(batchRows).fill(1)
  const values = new Array<number>(batchRows).fill(1.5)
  const start = performance.now()
  const deadline = start + seconds * 1000
  let rows = 0
  while (performance.now() < deadline) {
    const t = Array.from({ length: batchRows }, (_, i) => rows + i)
    const sent = performance.now()
    await sql`
      insert into bench_unnest (client_id, t, cpu, mem, storage)
      select * from unnest(${clientIds}::int4[], ${t}::int8[], ${values}::float8[], ${values}::float8[], ${values}::float8[])
      on conflict (client_id, t) do update set
        cpu = coalesce(excluded.cpu, bench_unnest.cpu),
        mem = coalesce(excluded.mem, bench_unnest.mem),
        storage = coalesce(excluded.storage, bench_unnest.storage)`
    histogram.record((performance.now() - sent) * 1000)
    rows += batchRows
  }
  return {
    rows,
    seconds: (performance.now() - start) / 1000,
    stored: await storedAndDrop(sql, 'bench_unnest'),
    p50Ms: histogram.percentileMs(50),
    p99Ms: histogram.percentileMs(99),
  }
}
