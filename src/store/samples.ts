// The samples table: batch upsert with the merge-per-second rule, log span, and streamed log slices.
import type { Sql } from 'postgres'
import type { Sample } from '../ingest/sample.js'
import { floatRepr } from '../wire/pyjson.js'

export interface Span {
  start: number
  end: number
}

/** Rows fetched per round trip of a slice: the most a slice ever holds in memory. */
const sliceChunkRows = 1000

export interface SampleStore {
  /** One statement on the write connections for any number of rows; (client, t) pairs must be unique. */
  upsert(clientIds: number[], samples: Sample[]): Promise<void>
  span(clientId: number): Promise<Span | undefined>
  /** The JSON text of the rows with start <= t <= end, in time order, a chunk per round trip. */
  slice(clientId: number, start: number, end: number): AsyncIterable<string>
}

const renderFloat = (n: number | null) => (n === null ? 'null' : floatRepr(n))

export const sampleStore = (sql: Sql, writeSql: Sql): SampleStore => ({
  async upsert(clientIds, samples) {
    const t: number[] = [], cpu: (number | null)[] = [], mem: (number | null)[] = [], storage: (number | null)[] = []
    for (const s of samples) {
      t.push(s.t)
      cpu.push(s.cpu)
      mem.push(s.mem)
      storage.push(s.storage)
    }
    // A field the new sample lacks keeps its stored value (contract: a re-sent second merges).
    await writeSql`
      insert into samples (client_id, t, cpu, mem, storage)
      select * from unnest(${clientIds}::int4[], ${t}::int8[], ${cpu}::float8[], ${mem}::float8[], ${storage}::float8[])
      on conflict (client_id, t) do update set
        cpu = coalesce(excluded.cpu, samples.cpu),
        mem = coalesce(excluded.mem, samples.mem),
        storage = coalesce(excluded.storage, samples.storage)`
  },

  async span(clientId) {
    const [row] = await sql<{ start: number | null; end: number | null }[]>`
      select min(t) as start, max(t) as end from samples where client_id = ${clientId}`
    return row.start === null || row.end === null ? undefined : { start: row.start, end: row.end }
  },

  async *slice(clientId, start, end) {
    const rows = sql<{ t: number; cpu: number | null; mem: number | null; storage: number | null }[]>`
      select t, cpu, mem, storage from samples
      where client_id = ${clientId} and t >= ${start} and t <= ${end} order by t`
    for await (const chunk of rows.cursor(sliceChunkRows)) {
      let text = ''
      for (const { t, cpu, mem, storage } of chunk) {
        text += `${text === '' ? '' : ', '}{"cpu": ${renderFloat(cpu)}, "mem": ${renderFloat(mem)}, "storage": ${renderFloat(storage)}, "unix_time": ${t}}`
      }
      yield text
    }
  },
})
