// The clients table: a username, the hash of its password, and the id its samples are kept under.
import type { Sql } from 'postgres'
import type { Health } from './health.js'

export interface ClientRow {
  id: number
  passwordHash: string
}

/** A client as the fleet sees it: its log's span and its latest sample, null where it has none. */
export interface ClientSummary {
  username: string
  start: number | null
  end: number | null
  cpu: number | null
  mem: number | null
  storage: number | null
}

// Clients read per round trip of the fleet's list, so that a large fleet is never held whole.
const summaryChunkRows = 1000

export interface ClientStore {
  find(username: string): Promise<ClientRow | undefined>
  /** Every client by username, a chunk per round trip. */
  summaries(): AsyncIterable<ClientSummary[]>
  /** The new client's id, or undefined when the username is taken (also by a concurrent insert). */
  insert(username: string, passwordHash: string): Promise<number | undefined>
}

export const clientStore = (sql: Sql, health: Health): ClientStore => ({
  async find(username) {
    const [row] = await health.guard(() => sql<ClientRow[]>`select id, password_hash as "passwordHash" from clients where username = ${username}`)
    return row
  },
  async insert(username, passwordHash) {
    const [row] = await health.guard(
      () => sql<{ id: number }[]>`
        insert into clients (username, password_hash) values (${username}, ${passwordHash})
        on conflict (username) do nothing returning id`,
    )
    return row?.id
  },
  async *summaries() {
    // Keyset pages by username; each client's first and latest sample are one index probe each.
    for (let after: string | undefined; ; ) {
      const rows = await health.guard(
        () => sql<ClientSummary[]>`
          select c.username, f.t as start, l.t as "end", l.cpu, l.mem, l.storage
          from (
            select id, username from clients ${after === undefined ? sql`` : sql`where username > ${after}`} order by username limit ${summaryChunkRows}
          ) c
          left join lateral (select t from samples where client_id = c.id order by t limit 1) f on true
          left join lateral (select t, cpu, mem, storage from samples where client_id = c.id order by t desc limit 1) l on true
          order by c.username`,
      )
      if (rows.length > 0) yield rows
      if (rows.length < summaryChunkRows) return
      after = rows[rows.length - 1].username
    }
  },
})
