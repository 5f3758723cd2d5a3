// Clients of the bench: a few registered over HTTP as any client is, the fleets of the load phases created
// straight in the server's database, and all of them looked at there: their ids, their row counts, and the
// samples seeded for the slice phases.
import { randomBytes, scryptSync } from 'node:crypto'
import type { Sql } from 'postgres'
import { body, contentTypes } from './bodies.js'

export interface Client {
  username: string
  clientId: string
  /** `/client/<client_id>`, percent-encoded (a client_id can hold '/' and '+'). */
  path: string
}

const password = 'bench'

const client = (username: string, clientId: string): Client => ({ username, clientId, path: `/client/${encodeURIComponent(clientId)}` })

export async function register(url: string, username: string): Promise<Client> {
  const res = await fetch(`${url}/client`, { method: 'POST', body: JSON.stringify({ username, pass: password }) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`registering ${username}: HTTP ${res.status} ${text}`)
  const { client_id: clientId } = JSON.parse(text) as { client_id: string }
  return client(username, clientId)
}

/**
 * `<group>-0` to `<group>-<count - 1>` with the ids the server would give them (the contract's client_id:
 * base64 of "username:password"), not yet in any database.
 */
export const fleet = (group: string, count: number): Client[] =>
  Array.from({ length: count }, (_, i) => `${group}-${i}`).map((username) => client(username, Buffer.from(`${username}:${password}`).toString('base64')))

/**
 * The password's hash in the server's stored form (src/auth/password.ts: "scrypt$N$r$p$salt$hash", 32-byte key,
 * checked with the N, r, p it names), at a cost far below the server's own: a client's first request then
 * costs the server a fraction of a millisecond, where registering through POST /client costs the server's full
 * scrypt run each, minutes for a fleet. One hash serves every client: the server looks it up by username.
 */
function cheapHash(): string {
  const cost = { N: 2 ** 10, r: 1, p: 1 }
  const salt = randomBytes(16)
  const key = scryptSync(password, salt, 32, cost)
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join('$')
}

/** Puts the clients into the server's clients table, in one statement. */
export async function create(sql: Sql, clients: Client[]): Promise<void> {
  await sql`insert into clients (username, password_hash) select u, ${cheapHash()} from unnest(${clients.map((c) => c.username)}::text[]) as u`
}

// Enough requests at once to keep the server's two password checks busy.
const touchConcurrency = 16

/**
 * One form sample from each client, at `time`, each of which must be accepted: the server then has every
 * client verified in its auth cache (and the fleet is shown to authenticate) before a load is measured.
 */
export async function touch(url: string, clients: Client[], time: number): Promise<void> {
  let next = 0
  const sender = async () => {
    while (next < clients.length) {
      const c = clients[next++]
      const res = await fetch(url + c.path, { method: 'POST', headers: { 'content-type': contentTypes.form }, body: body('form', time) })
      const text = await res.text()
      if (res.status !== 202) throw new Error(`the first sample of ${c.username}: HTTP ${res.status} ${text.slice(0, 200)}`)
    }
  }
  await Promise.all(Array.from({ length: Math.min(touchConcurrency, clients.length) }, sender))
}

/** For each group, that many clients named `<group>-<n>`; scrypt makes each registration slow, so they run together. */
export async function registerGroups<G extends string>(url: string, counts: Record<G, number>): Promise<Record<G, Client[]>> {
  const groups = Object.entries<number>(counts).map(async ([group, count]) => {
    const clients = await Promise.all(Array.from({ length: count }, (_, i) => register(url, `${group}-${i}`)))
    return [group, clients] as const
  })
  return Object.fromEntries(await Promise.all(groups)) as Record<G, Client[]>
}

async function ids(sql: Sql, clients: Client[]): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`select id from clients where username = any(${clients.map((c) => c.username)})`
  if (rows.length !== clients.length) throw new Error(`${clients.length - rows.length} bench clients are missing from the clients table`)
  return rows.map((r) => r.id)
}

const countRows = async (sql: Sql, clientIds: number[], from: number) =>
  Number((await sql<{ n: string }[]>`select count(*) as n from samples where client_id = any(${clientIds}) and t >= ${from}`)[0].n)

/**
 * The clients' rows from time `from` on, once the server has finished what was in flight when the load
 * stopped: counted until two counts half a second apart agree (at most 10 s).
 */
export async function settledRows(sql: Sql, clients: Client[], from: number): Promise<number> {
  const clientIds = await ids(sql, clients)
  let last = await countRows(sql, clientIds, from)
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500))
    const now = await countRows(sql, clientIds, from)
    if (now === last) return now
    last = now
  }
  return last
}

/** `count` samples, one a second from `firstTime`, straight into the table (minutes of ingest otherwise). */
export async function seed(sql: Sql, client: Client, count: number, firstTime: number): Promise<void> {
  const [id] = await ids(sql, [client])
  await sql`
    insert into samples (client_id, t, cpu, mem, storage)
    select ${id}, g, (g % 100)::float8, (g % 7919)::float8, (g % 104729)::float8
    from generate_series(${firstTime}::int8, ${firstTime + count - 1}::int8) as g`
  await sql`analyze samples`
}
