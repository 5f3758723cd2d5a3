// The samples table: batch writes with the merge-per-second rule, log span, and streamed log slices.
import type { Sql } from 'postgres'
import type { Sample } from '../sample.js'
import { element } from './array-literals.js'
import { bucketSlices, type BucketQuery } from './buckets.js'
import { changedMinutesEntry, newSamplesEntry, queueKind, type QueueEntry } from './tiers.js'
import type { Health } from './health.js'

export interface Span {
  start: number
  end: number
}

/**
 * Rows fetched per round trip of a slice; a slice holds two chunks in memory at most. postgres.js hands a
 * chunk's bytes over as hex text first (64 characters a row): at 2,000 rows that string stays under V8's
 * large-object size (128 KiB) and dies young; larger chunks were born into the old generation and brought on
 * full collections every few chunks.
 */
const sliceChunkRows = 2000

export interface SampleStore {
  /**
   * Commits the rows on the write connections, each merged into a stored row of its client and second;
   * (client, t) pairs must be unique within a call.
   */
  write(clientIds: number[], samples: Sample[]): Promise<void>
  span(clientId: number): Promise<Span | undefined>
  /**
   * The rows with start <= t <= end, in time order, a chunk per round trip: per row t, cpu, mem and storage as
   * big-endian doubles, NaN for NULL. Printing doubles was most of PostgreSQL's work for a slice (float8out);
   * V8 prints the same digits (wire/slice.ts).
   */
  slice(clientId: number, start: number, end: number): AsyncIterable<Uint8Array>
  /** The slice downsampled into step buckets (store/buckets.ts). */
  buckets(clientId: number, query: BucketQuery): AsyncIterable<Uint8Array>
}

/** Rows in the chunk, the last one's time, and the rows as bytes (wire/slice.ts's row layout). */
interface SliceChunk {
  n: number
  last: number | null
  rows: Uint8Array | null
}

interface Columns {
  clientIds: string
  t: string
  cpu: string
  mem: string
  storage: string
}

// The five array parameters, built in one pass.
function columns(clientIds: number[], samples: Sample[]): Columns {
  let ids = '', t = '', cpu = '', mem = '', storage = ''
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]
    const sep = i === 0 ? '' : ','
    ids += sep + clientIds[i]
    t += sep + s.t
    cpu += sep + element(s.cpu)
    mem += sep + element(s.mem)
    storage += sep + element(s.storage)
  }
  return { clientIds: `{${ids}}`, t: `{${t}}`, cpu: `{${cpu}}`, mem: `{${mem}}`, storage: `{${storage}}` }
}

/**
 * Batches written as upserts after one collided with stored rows. Most batches only add new seconds, and a
 * plain insert is much cheaper than the upsert (no speculative insertion); a client that keeps re-sending
 * seconds costs one failed insert per this many batches, not one per batch.
 */
const upsertsAfterCollision = 100

const isUniqueViolation = (e: unknown) => (e as { code?: unknown } | null)?.code === '23505'

export function sampleStore(sql: Sql, writeSql: Sql, health: Health): SampleStore {
  let upsertsLeft = 0

  // The rows, and in the same statement (so in the same commit) what they add to the rollup tiers. Numbered
  // parameters: new samples queued are the rows' own ($1 to $5, bound once).
  const rows = `insert into samples (client_id, t, cpu, mem, storage)
    select * from unnest($1::int4[], $2::int8[], $3::float8[], $4::float8[], $5::float8[])`
  const queued = (q: QueueEntry) =>
    'clientIds' in q
      ? `with queued as (insert into rollup_queue (kind, client_ids, keys, stats) values (${q.kind}, $6::int4[], $7::int8[], $8::float8[]))`
      : `with queued as (insert into rollup_queue (kind, client_ids, keys, cpu, mem, storage) values (${queueKind.newSamples}, $1, $2, $3, $4, $5))`
  // The same insert, where a field the new sample lacks keeps its stored value (a re-sent second merges).
  const merging = `on conflict (client_id, t) do update set
      cpu = coalesce(excluded.cpu, samples.cpu),
      mem = coalesce(excluded.mem, samples.mem),
      storage = coalesce(excluded.storage, samples.storage)`
  const statement = (c: Columns, q: QueueEntry, merge: boolean) => {
    const params: (string | null)[] = [c.clientIds, c.t, c.cpu, c.mem, c.storage]
    if ('clientIds' in q) params.push(q.clientIds, q.keys, q.stats)
    return writeSql.unsafe(`${queued(q)} ${rows} ${merge ? merging : ''}`, params, { prepare: true })
  }
  const insert = (c: Columns, clientIds: number[], samples: Sample[]) => statement(c, newSamplesEntry(clientIds, samples), false)
  const upsert = (c: Columns, clientIds: number[], samples: Sample[]) => statement(c, changedMinutesEntry(clientIds, samples), true)

  return {
    buckets: bucketSlices(sql, health),

    async write(clientIds, samples) {
      const c = columns(clientIds, samples)
      if (upsertsLeft === 0) {
        try {
          await health.guard(() => insert(c, clientIds, samples))
          return
        } catch (e) {
          // The failed insert rolled back whole: the batch is written again, merging.
          if (!isUniqueViolation(e)) throw e
          upsertsLeft = upsertsAfterCollision
        }
      } else upsertsLeft--
      await health.guard(() => upsert(c, clientIds, samples))
    },

    async span(clientId) {
      const [row] = await health.guard(
        () => sql<{ start: number | null; end: number | null }[]>`
          select min(t) as start, max(t) as end from samples where client_id = ${clientId}`,
      )
      return row.start === null || row.end === null ? undefined : { start: row.start, end: row.end }
    },

    async *slice(clientId, start, end) {
      // Chunk after chunk by key (t > the last one sent), each a short query: the next is asked for before
      // the current one is rendered and sent, so PostgreSQL and Node work at the same time; a reader that
      // goes away leaves at most one bounded query to finish, and no cursor to close.
      const chunk = (after: number) => health.guard(() => sql<SliceChunk[]>`
        select count(*)::int4 as n, max(t) as last,
          string_agg(
            float8send(t::float8) || float8send(coalesce(cpu, 'NaN')) || float8send(coalesce(mem, 'NaN')) ||
              float8send(coalesce(storage, 'NaN')),
            '' order by t
          ) as rows
        from (
          select t, cpu, mem, storage from samples
          where client_id = ${clientId} and t > ${after} and t <= ${end} order by t limit ${sliceChunkRows}
        ) s`)
      let next: Promise<SliceChunk[]> | undefined = chunk(start - 1)
      while (next) {
        const [{ n, last, rows }]: SliceChunk[] = await next
        next = n === sliceChunkRows && last !== null ? chunk(last) : undefined
        // A failure of the query asked for ahead surfaces when it is awaited, not as an unhandled rejection.
        next?.catch(() => undefined)
        if (rows !== null) yield rows
      }
    },
  }
}
