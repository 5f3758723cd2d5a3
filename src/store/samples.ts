// The samples table: batch writes with the merge-per-second rule, log span, and streamed log slices.
import type { Sql } from 'postgres'
import type { Sample } from '../ingest/sample.js'
import { floatRepr } from '../wire/pyjson.js'

export interface Span {
  start: number
  end: number
}

/** Rows fetched per round trip of a slice; a slice holds two chunks in memory at most. */
const sliceChunkRows = 5000

export interface SampleStore {
  /**
   * Commits the rows on the write connections, each merged into a stored row of its client and second;
   * (client, t) pairs must be unique within a call.
   */
  write(clientIds: number[], samples: Sample[]): Promise<void>
  span(clientId: number): Promise<Span | undefined>
  /** The JSON text of the rows with start <= t <= end, in time order, a chunk per round trip. */
  slice(clientId: number, start: number, end: number): AsyncIterable<string>
}

/** Rows in the chunk, the last one's time, and the rows as text (see renderChunk). */
interface Chunk {
  n: number
  last: number | null
  rows: string | null
}

/** PostgreSQL's text of a double (shortest exact digits, as Python's) in Python's notation for it. */
function pyFloat(text: string): string {
  if (text === '') return 'null'
  // PostgreSQL writes exponents from 1e15 on, Python from 1e16 on.
  if (text.includes('e')) return text.includes('e+15') ? floatRepr(Number(text)) : text
  // Python marks an integral float with ".0"; stored values are finite (validated), never NaN or Infinity.
  return text.includes('.') ? text : text + '.0'
}

/**
 * A chunk of a slice as PostgreSQL aggregates it: "t,cpu,mem,storage" rows joined by ";", an empty field
 * for NULL (format's %s). One text per chunk instead of a message per row: parsing 86,400 rows of four
 * columns cost postgres.js more than PostgreSQL took to produce them.
 */
function renderChunk(rows: string): string {
  let text = ''
  let at = 0
  while (at < rows.length) {
    let end = rows.indexOf(';', at)
    if (end < 0) end = rows.length
    const a = rows.indexOf(',', at)
    const b = rows.indexOf(',', a + 1)
    const c = rows.indexOf(',', b + 1)
    text += `${text === '' ? '' : ', '}{"cpu": ${pyFloat(rows.slice(a + 1, b))}, "mem": ${pyFloat(rows.slice(b + 1, c))}, "storage": ${pyFloat(rows.slice(c + 1, end))}, "unix_time": ${rows.slice(at, a)}}`
    at = end + 1
  }
  return text
}

// Array parameters as PostgreSQL's text literals: numbers only, so nothing needs quoting, and building them
// here costs a fraction of postgres.js's generic array serializer (the write path's main cost in Node).
const literal = (n: number | null) => (n === null ? 'NULL' : Object.is(n, -0) ? '-0' : String(n))
function arrayLiteral(values: readonly (number | null)[]): string {
  let text = '{'
  for (let i = 0; i < values.length; i++) text += (i === 0 ? '' : ',') + literal(values[i])
  return text + '}'
}

interface Columns {
  clientIds: string
  t: string
  cpu: string
  mem: string
  storage: string
}

function columns(clientIds: number[], samples: Sample[]): Columns {
  const t: number[] = [], cpu: (number | null)[] = [], mem: (number | null)[] = [], storage: (number | null)[] = []
  for (const s of samples) {
    t.push(s.t)
    cpu.push(s.cpu)
    mem.push(s.mem)
    storage.push(s.storage)
  }
  return { clientIds: arrayLiteral(clientIds), t: arrayLiteral(t), cpu: arrayLiteral(cpu), mem: arrayLiteral(mem), storage: arrayLiteral(storage) }
}

/**
 * Batches written as upserts after one collided with stored rows. Most batches only add new seconds, and a
 * plain insert runs at about 1.7 times the upsert's rate (no speculative insertion); a client that
 * keeps re-sending seconds costs one failed insert per this many batches, not one per batch.
 */
const upsertsAfterCollision = 100

const isUniqueViolation = (e: unknown) => (e as { code?: unknown } | null)?.code === '23505'

export function sampleStore(sql: Sql, writeSql: Sql): SampleStore {
  let upsertsLeft = 0

  const insert = (c: Columns) => writeSql`
    insert into samples (client_id, t, cpu, mem, storage)
    select * from unnest(${c.clientIds}::int4[], ${c.t}::int8[], ${c.cpu}::float8[], ${c.mem}::float8[], ${c.storage}::float8[])`

  // The same insert, where a field the new sample lacks keeps its stored value (a re-sent second merges).
  const upsert = (c: Columns) => writeSql`
    ${insert(c)}
    on conflict (client_id, t) do update set
      cpu = coalesce(excluded.cpu, samples.cpu),
      mem = coalesce(excluded.mem, samples.mem),
      storage = coalesce(excluded.storage, samples.storage)`

  return {
    async write(clientIds, samples) {
      const c = columns(clientIds, samples)
      if (upsertsLeft === 0) {
        try {
          await insert(c)
          return
        } catch (e) {
          // The failed insert rolled back whole: the batch is written again, merging.
          if (!isUniqueViolation(e)) throw e
          upsertsLeft = upsertsAfterCollision
        }
      } else upsertsLeft--
      await upsert(c)
    },

    async span(clientId) {
      const [row] = await sql<{ start: number | null; end: number | null }[]>`
        select min(t) as start, max(t) as end from samples where client_id = ${clientId}`
      return row.start === null || row.end === null ? undefined : { start: row.start, end: row.end }
    },

    async *slice(clientId, start, end) {
      // Chunk after chunk by key (t > the last one sent), each a short query: the next is asked for before
      // the current one is rendered and sent, so PostgreSQL and Node work at the same time; a reader that
      // goes away leaves at most one bounded query to finish, and no cursor to close.
      const chunk = (after: number) => sql<Chunk[]>`
        select count(*)::int4 as n, max(t) as last,
          string_agg(format('%s,%s,%s,%s', t, cpu, mem, storage), ';' order by t) as rows
        from (
          select t, cpu, mem, storage from samples
          where client_id = ${clientId} and t > ${after} and t <= ${end} order by t limit ${sliceChunkRows}
        ) s`
      let next: Promise<Chunk[]> | undefined = chunk(start - 1)
      while (next) {
        const [{ n, last, rows }]: Chunk[] = await next
        next = n === sliceChunkRows && last !== null ? chunk(last) : undefined
        // A failure of the query asked for ahead surfaces when it is awaited, not as an unhandled rejection.
        next?.catch(() => undefined)
        if (rows !== null) yield renderChunk(rows)
      }
    },
  }
}
