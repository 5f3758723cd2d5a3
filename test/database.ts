// A PostgreSQL of a test's own, which it may stop, start again on the same port, or freeze (SIGSTOP): the
// server's own embedded mode, in a temporary directory, started by the test process.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbedded, type EmbeddedDatabase } from '../src/store/embedded.js'

export interface PrivateDatabase {
  url: string
  /** Stops it (fast shutdown: its connections are cut). */
  stop(): Promise<void>
  /** Starts it again, on the same port, with the same data. */
  start(): Promise<void>
  /** SIGSTOP or SIGCONT to the postmaster and every process of it: a database that answers nothing. */
  freeze(): void
  thaw(): void
  /** Stops it if it runs, and removes its files. */
  remove(): Promise<void>
}

export const postmasterPid = (pgDir: string): number => Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0])

/** The processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return children
}

export async function privateDatabase(): Promise<PrivateDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'sm-test-pg-'))
  chmodSync(dir, 0o755)
  const quiet = () => {}
  let db: EmbeddedDatabase | undefined = await startEmbedded(dir, quiet)
  const port = Number(new URL(db.url).port)
  const signal = (name: NodeJS.Signals) => {
    const pid = postmasterPid(join(dir, 'postgres'))
    for (const p of [pid, ...childrenOf(pid)]) process.kill(p, name)
  }
  return {
    url: db.url,
    async stop() {
      await db?.stop()
      db = undefined
    },
    async start() {
      db = await startEmbedded(dir, quiet, port)
    },
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async remove() {
      await db?.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
