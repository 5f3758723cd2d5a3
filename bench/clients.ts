// Clients of the bench, registered over HTTP as any client is, and looked at directly in the server's
// database: their ids, their row counts, and the samples seeded for the slice phases.
import type { Sql } from 'postgres'

export interface Client {
  username: string
  clientId: string
  /** `/client/<client_id>`, percent-encoded (a client_id can hold '/' and '+'). */
  path: string
}

export async function register(url: string, username: string): Promise<Client> {
  const res = await fetch(`${url}/client`, { method: 'POST', body: JSON.stringify({ username, pass: 'bench' }) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`registering ${username}: HTTP ${res.status} ${text}`)
  const { client_id: clientId } = JSON.parse(text) as { client_id: string }
  return { username, clientId, path: `/client/${encodeURIComponent(clientId)}` }
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

const countRows = async (sql: Sql, clientIds: number[]) =>
  Number((await sql<{ n: string }[]>`select count(*) as n from samples where client_id = any(${clientIds})`)[0].n)

/**
 * The clients' rows once the server has finished what was in flight when the load stopped: counted until
 * two counts half a second apart agree (at most 10 s).
 */
export async function settledRows(sql: Sql, clients: Client[]): Promise<number> {
  const clientIds = await ids(sql, clients)
  let last = await countRows(sql, clientIds)
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500))
    const now = await countRows(sql, clientIds)
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
