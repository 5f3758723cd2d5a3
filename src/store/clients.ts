// The clients table: a username, the hash of its password, and the id its samples are kept under.
import type { Sql } from 'postgres'
import type { Health } from './health.js'

export interface ClientRow {
  id: number
  passwordHash: string
}

export interface ClientStore {
  find(username: string): Promise<ClientRow | undefined>
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
})
