// The processes under test: system-monitor started as `npm start` starts it, on a fresh embedded database,
// and the bare uWebSockets.js ceiling. Each is stopped by its pid; nothing is left running or on disk.
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname

export interface Launched {
  pid: number
  url: string
  port: number
  output(): string
  /** SIGTERM, then SIGKILL if it has not exited within 30 s; then its files are removed. */
  stop(): Promise<void>
}

export interface SystemMonitor extends Launched {
  /** The embedded PostgreSQL, with its real password. */
  databaseUrl: string
}

const running = new Set<Launched>()

/** Stops whatever this module started and has not stopped yet (on an error or a signal). */
export const stopAll = () => Promise.all([...running].map((p) => p.stop()))

/**
 * `npm start`'s command line (package.json "start": `node [flags] <entry> [args]`), made runnable from any
 * directory: the only place that knows how the server is started.
 */
export function startCommand(): string[] {
  const script = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  const [bin, ...words] = script.trim().split(/\s+/)
  const entryAt = words.findIndex((word, i) => !word.startsWith('-') && !preloads(words[i - 1]))
  if (bin !== 'node' || entryAt < 0) throw new Error(`bench runs a "start" script of the form "node [flags] <file> [args]"; it is: ${script}`)
  const flags = words.slice(0, entryAt).map((word, i) =>
    // A preloaded module is resolved from the project, as it is when npm runs the script there.
    preloads(words[i - 1]) ? (word.startsWith('.') ? join(root, word) : import.meta.resolve(word)) : word,
  )
  const entry = join(root, words[entryAt])
  if (!existsSync(entry)) throw new Error(`${entry} does not exist: build it first (npm run build)`)
  return [process.execPath, ...flags, entry, ...words.slice(entryAt + 1)]
}

const preloads = (flag: string | undefined) => flag !== undefined && /^(--import|--require|-r|--loader|--experimental-loader)$/.test(flag)

/** Runs `command` in a scratch directory of its own (the server writes files in its working directory). */
function launch(name: string, command: string[], env: NodeJS.ProcessEnv, cleanup = async () => {}): Promise<Launched> {
  const cwd = mkdtempSync(join(tmpdir(), `sm-bench-${name}-`))
  const child = spawn(command[0], command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const closed = new Promise<void>((resolve) =>
    child.on('close', () => {
      rmSync(cwd, { recursive: true, force: true })
      void cleanup().then(resolve)
    }),
  )
  const launched: Launched = {
    pid: child.pid!,
    url: '',
    port: 0,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
        await closed
        clearTimeout(timer)
      }
      running.delete(launched)
    },
  }
  running.add(launched)
  return new Promise((resolve, reject) => {
    const onData = () => {
      const port = Number(/listening on http:\/\/\S+:(\d+)/.exec(output)?.[1])
      if (!port) return
      child.stdout.off('data', onData)
      resolve(Object.assign(launched, { url: `http://127.0.0.1:${port}`, port }))
    }
    child.stdout.on('data', onData)
    void closed.then(() => {
      running.delete(launched)
      reject(new Error(`${name} exited before listening:\n${output}`))
    })
  })
}

/** `env` is added to the server's environment; a `dataDir` given is the caller's, kept when the server stops. */
export async function startSystemMonitor({ env: extra = {}, dataDir: given }: { env?: NodeJS.ProcessEnv; dataDir?: string } = {}): Promise<SystemMonitor> {
  // Under os.tmpdir(): as root the embedded PostgreSQL runs as 'postgres', which must be able to enter it.
  const dataDir = given ?? mkdtempSync(join(tmpdir(), 'sm-bench-data-'))
  chmodSync(dataDir, 0o755)
  const { DATABASE_URL: _, ...env } = process.env
  const server = await launch('server', startCommand(), { ...env, ...extra, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }, async () => {
    await stopOrphanedPostgres(dataDir)
    if (!given) rmSync(dataDir, { recursive: true, force: true })
  })
  const pgPort = /database: embedded PostgreSQL in .* \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\//.exec(server.output())?.[1]
  if (!pgPort) {
    await server.stop()
    throw new Error(`the server did not print its embedded database's port:\n${server.output()}`)
  }
  const password = readFileSync(join(dataDir, 'postgres.password'), 'utf8').trim()
  return Object.assign(server, { databaseUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres` })
}

/**
 * A server that had to be killed leaves its PostgreSQL running on the directory about to be removed. Only that
 * one is stopped: the pid in its postmaster.pid, if that process still runs on this directory.
 */
async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  const pgDir = join(dataDir, 'postgres')
  let pid: number
  try {
    pid = Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(pgDir)) return
    process.kill(pid, 'SIGQUIT') // immediate shutdown: the data is about to be removed anyway
  } catch {
    return // no postmaster.pid, or no such process: it stopped with the server
  }
  const deadline = Date.now() + 10_000
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
}

export const startBareUws = () =>
  launch('bare-uws', [process.execPath, new URL('bare-uws.mjs', import.meta.url).pathname], { ...process.env, PORT: '0', HOST: '127.0.0.1' })
