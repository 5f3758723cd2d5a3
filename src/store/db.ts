// DATABASE_URL or the embedded PostgreSQL -> postgres.js pools, checked (PostgreSQL 12+), migrated, and
// watched: the heartbeat's health, and the embedded PostgreSQL's process, started again if it dies.
import postgres, { type Sql } from 'postgres'
import { startEmbedded } from './embedded.js'
import { isDatabaseUnavailable, watchHealth, type Health } from './health.js'
import { migrate } from './migrations.js'

export interface Database {
  /** Queries, slices and logins. */
  sql: Sql
  /** The write path's own connections, so that ingest and reads never wait for each other. */
  writeSql: Sql
  /** Every statement goes through it: refused at once while the database is away. */
  health: Health
  /** Where the data lives, password redacted, for the start-up log. */
  description: string
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string
  dataDir: string
  poolSize: number
  writeConnections: number
  /** A database that does not answer the heartbeat for this long is away. */
  timeoutMs: number
  /** PostgreSQL cancels a statement that runs longer (statement_timeout). */
  statementTimeoutMs: number
  /** The embedded PostgreSQL died and could not be started again: the server cannot go on. */
  fatal: (error: Error) => void
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
      // Seconds, as long as the heartbeat waits: a connection that cannot be made while the database answers the
      // heartbeat (seen once in a test, after a restart) fails its statement (503) instead of holding it 10 s.
      connect_timeout: options.timeoutMs / 1000,
      // Seconds before a connection lost is tried again. The driver's own backoff grows to 20 s, which a database
      // back after an outage would wait out; the heartbeat keeps statements from piling onto a lost one.
      backoff: (attempt: number) => Math.min(0.25, 0.02 * 2 ** attempt),
      onnotice: () => undefined,
      connection: {
        application_name: 'system-monitor',
        statement_timeout: options.statementTimeoutMs,
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
  const heartbeat = pool(1)
  let health: Health | undefined
  const close = async () => {
    health?.stop()
    await Promise.all([sql.end({ timeout: 2 }), writeSql.end({ timeout: 2 }), heartbeat.end({ timeout: 0 })])
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
  // Watched only once it has served: a database still starting is waited for above, not reported away.
  const watched = watchHealth(async () => void (await heartbeat`select 1`), { timeoutMs: options.timeoutMs, log })
  health = watched
  embedded?.supervise({
    died: () => {
      log('the embedded PostgreSQL exited; starting it again')
      watched.lost('the embedded PostgreSQL exited')
    },
    restarted: () => {
      log('the embedded PostgreSQL is running again')
      watched.suspect()
    },
    failed: options.fatal,
  })
  return { sql, writeSql, health: watched, description, close }
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

