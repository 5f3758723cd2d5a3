// npm run bench -- --retention (issue 13): what a retention pass removing 10 million samples does to
// single-sample ingest. The same database is served twice: without retention, then with RETENTION_RAW set,
// while retention works through the old samples; each time the fleet's single samples are measured as in
// phase 1, and /readyz is asked every 100 ms.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { create, fleet, touch } from './clients.js'
import type { HttpGenerator, LoadResult } from './load.js'
import { observe } from './proc.js'
import { startSystemMonitor, type SystemMonitor } from './server.js'
import { int, mark, ms, rate, render } from './table.js'

const oldRows = 10_000_000
const oldClients = 10
const connections = 64

interface Run {
  load: LoadResult
  cpu: number
  /** /readyz answers other than 200, of how many. */
  notReady: number
  asked: number
  /** Old samples removed while the load ran. */
  removed: number
}

export async function retentionBench(http: HttpGenerator, seconds: number, fleetSize: number, log: (line: string) => void): Promise<boolean> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sm-bench-retention-'))
  const live = fleet('retention-live', fleetSize)
  const old = fleet('retention-old', oldClients)
  const now = Math.floor(Date.now() / 1000)
  const runs: Run[] = []
  let server: SystemMonitor | undefined
  try {
    for (const [i, env] of [{}, { RETENTION_RAW: '30d', RETENTION_CHECK_SECONDS: '1' }].entries()) {
      server = await startSystemMonitor({ env, dataDir })
      const sql = postgres(server.databaseUrl, { max: 2, onnotice: () => undefined })
      try {
        if (i === 0) {
          log(`seeding ${int(oldRows)} samples a year old`)
          // The old clients first: retention goes client by client in id order.
          await create(sql, [...old, ...live])
          const ids = (await sql<{ id: number }[]>`select id from clients where username like 'retention-old-%' order by id`).map((r) => r.id)
          const first = now - 400 * 86_400
          for (const id of ids) {
            await sql`insert into samples select ${id}, g, (g % 100)::float8, g % 7919, null from generate_series(${first}::int8, ${first + oldRows / oldClients - 1}::int8) g`
          }
          await sql`vacuum analyze samples`
        }
        const deleted = async () => Number((await sql<{ n: string }[]>`select n_tup_del::text as n from pg_stat_user_tables where relname = 'samples'`)[0].n)
        if (i === 1) {
          log('waiting for retention to begin')
          const deadline = Date.now() + 60_000
          while ((await deleted()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
        }
        // Every sample of the load, its warm-up's too, newer than the limit.
        const firstTime = now + (i + 1) * 10_000_000
        await touch(server.url, live, firstTime - 1)
        const loadOf = (s: number, t: number) => http.run({ url: server!.url, paths: live.map((c) => c.path), kind: 'form', connections, seconds: s, firstTime: t })
        await loadOf(1, firstTime - 5_000_000)
        log(i === 0 ? 'single samples, no retention' : 'single samples while retention removes the old samples')
        const removedBefore = await deleted()
        let notReady = 0
        let asked = 0
        const ready = setInterval(() => {
          asked++
          fetch(`${server!.url}/readyz`).then((r) => void (r.status === 200 || notReady++), () => notReady++)
        }, 100)
        const { value: load, cpu } = await observe(server.pid, () => loadOf(seconds, firstTime)).finally(() => clearInterval(ready))
        runs.push({ load, cpu, notReady, asked, removed: (await deleted()) - removedBefore })
      } finally {
        await sql.end({ timeout: 5 })
        await server.stop()
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
  const [without, withRetention] = runs
  const rise = withRetention.load.p99Ms / without.load.p99Ms - 1
  const ok = rise <= 0.2
  console.log(
    render(
      ['single samples (form), 1,000 clients', 'rate', 'p50', 'p99', 'server CPU', 'old samples removed meanwhile', '/readyz not 200'],
      runs.map((r, i) => [
        i === 0 ? 'without retention' : `while retention removes ${int(oldRows)} samples`,
        rate(r.load.samples / r.load.seconds, 'samples'),
        ms(r.load.p50Ms),
        ms(r.load.p99Ms),
        `${Math.round(r.cpu * 100)}%`,
        `${int(r.removed)} (${rate(r.removed / r.load.seconds, 'rows')})`,
        `${r.notReady} of ${r.asked}`,
      ]),
    ),
  )
  console.log(`p99 while retention runs: ${rise >= 0 ? '+' : ''}${(rise * 100).toFixed(0)}%; target ≤ +20% ${mark(ok)}`)
  const stillRunning = withRetention.removed > 0 && withRetention.removed < oldRows
  if (!stillRunning) console.log(`note: retention removed ${int(withRetention.removed)} rows during the load: it did not run for the whole measurement`)
  return withRetention.notReady === 0
}
