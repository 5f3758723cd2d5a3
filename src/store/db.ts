// DATABASE_URL or the embedded PostgreSQL -> one postgres.js pool, checked (PostgreSQL 12+) and migrated.
import postgres, { type Sql } from 'postgres'
import { startEmbedded } from './embedded.js'
import { migrate } from './migrations.js'

export interface Database {
  /** Queries, slices and logins. */
  sql: Sql
  /** The write path's own connections, so that ingest and reads never wait for each other. */
  writeSql: Sql
  /** Where the data lives, password redacted, for the start-up log. */
  description: string
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string
  dataDir: string
  poolSize: number
  writeConnections: number
}

export function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable URL)'
  }
}

// How long to wait for a database that is still starting (docker compose starts both at once).
const connectTimeoutMs = 30_000

export async function openDatabase(options: DatabaseOptions, log: (line: string) => void): Promise<Database> {
  const embedded = options.databaseUrl ? undefined : await startEmbedded(options.dataDir, log)
  const url = options.databaseUrl ?? embedded!.url
  const description = embedded ? `embedded PostgreSQL in ${options.dataDir} (${redact(url)})` : redact(url)
  const pool = (max: number) =>
    postgres(url, {
      max,
      path: embedded?.socket,
      // Seconds: a database that does not answer makes requests fail (503) rather than hang.
      connect_timeout: 10,
      onnotice: () => undefined,
      connection: {
        application_name: 'system-monitor',
        // Shortest exact float text (the default since PostgreSQL 12, set for servers configured otherwise).
        extra_float_digits: 1,
        // With the default of 4 (spinning disks), a log slice was planned as a bitmap scan and a sort of the
        // whole slice (to disk past work_mem) instead of the index scan in time order that the primary key
        // gives, several times faster and with rows from the first moment.
        random_page_cost: 1.1,
      },
      // Sample times are bigints that stay far inside a double's exact range (year 9999 at most).
      types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
    })
  const sql = pool(options.poolSize)
  const writeSql = pool(options.writeConnections)
  const close = async () => {
    await Promise.all([sql.end({ timeout: 5 }), writeSql.end({ timeout: 5 })])
    await embedded?.stop()
  }
  try {
    const version = await waitForServer(sql, description, log)
    if (version < 120000) throw new Error(`PostgreSQL 12 or newer is needed; ${description} runs ${version}`)
    const applied = await migrate(sql)
    if (applied.length > 0) log(`applied migrations ${applied.join(', ')}`)
  } catch (e) {
    await close().catch(() => undefined)
    throw e
  }
  return { sql, writeSql, description, close }
}

async function waitForServer(sql: Sql, description: string, log: (line: string) => void): Promise<number> {
  const deadline = Date.now() + connectTimeoutMs
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await sql<{ server_version_num: string }[]>`show server_version_num`
      return Number(row.server_version_num)
    } catch (e) {
      const error = e as Error
      // Wrong credentials or database name will not fix themselves: only retry what a starting server causes.
      if (!isDatabaseUnavailable(e) || (e as { code?: unknown }).code === '3D000' || Date.now() > deadline) throw new Error(`cannot use ${description}: ${error.message}`)
      if (attempt === 0) log(`waiting for ${description}: ${error.message}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

const unreachable = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']

/**
 * Errors that mean the database cannot serve now, as opposed to a bug in a query: a client is told to come back
 * (503), not that the server failed. By SQLSTATE class: 08 connection, 53 insufficient resources (too many
 * connections, disk full, out of memory), 57 operator intervention and statements cancelled past their deadline,
 * 58 system errors (I/O), 40001 and 40P01 (serialization, deadlock: retrying succeeds), 3D000 a database dropped
 * under a running server. ENOTFOUND and EAI_AGAIN: a host whose name is not resolvable yet (compose starting up).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return false
  return unreachable.includes(code) || /^(08|53|57|58)/.test(code) || code === '40001' || code === '40P01' || code === '3D000'
}
