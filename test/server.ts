// Starts the server under test as its own process on a free port, the way a user runs it, and stops it by pid.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import postgres from 'postgres'

export const root = new URL('..', import.meta.url).pathname

export interface RunningServer {
  /** http://127.0.0.1:port, or https:// for a server with TLS_CERT_FILE. */
  url: string
  /** The server's working directory (inside the chroot for that target), private to it and removed when it exits. */
  cwd: string
  port: number
  pid: number
  process: ChildProcess
  /** Everything the server printed so far. */
  output(): string
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>
  /** Peak and current resident memory of the server process, in bytes. */
  memory(): { peak: number; current: number }
}

/**
 * How the server under test runs (test/run.ts): from the TypeScript source, as the built bundle, that bundle
 * under Deno, the single executable, or the bundle on another Node.js in a chroot (TEST_CHROOT).
 */
export const targets = ['source', 'bundle', 'deno', 'exe', 'chroot'] as const
export type Target = (typeof targets)[number]
export const target = (process.env.TEST_TARGET ?? 'source') as Target

/** The Node.js a server under test runs on (the chroot's for that target), and its C library: test/run.ts asks it. */
export interface NodeRuntime {
  node: string
  abi: string
  /** The glibc version, where there is one. */
  glibc?: string
}
export const serverRuntime = (): NodeRuntime => JSON.parse(process.env.TEST_SERVER_RUNTIME!) as NodeRuntime

/** The command that runs the server under test in its working directory cwd. */
function command(cwd: string): string[] {
  if (target === 'bundle') return [process.execPath, join(process.env.TEST_BUNDLE_DIR!, 'server.js')]
  // The deno devDependency's install script puts its binary here (approved in package.json's allowScripts).
  if (target === 'deno') return [join(root, 'node_modules/deno/deno'), 'run', '-A', join(process.env.TEST_BUNDLE_DIR!, 'server.js')]
  if (target === 'exe') return [join(process.env.TEST_BUNDLE_DIR!, 'system-monitor')]
  // The bundle sits at the same path inside the chroot, and cwd in it. chroot(8) and env(1) run the command
  // themselves: the pid is the server's.
  if (target === 'chroot') {
    const inside = cwd.slice(process.env.TEST_CHROOT!.length)
    return ['chroot', process.env.TEST_CHROOT!, '/usr/bin/env', `--chdir=${inside}`, process.env.TEST_CHROOT_NODE!, join(process.env.TEST_BUNDLE_DIR!, 'server.js')]
  }
  // tsx is named by its full path: the server runs in a directory of its own.
  return [process.execPath, '--import', import.meta.resolve('tsx'), join(root, 'src/cli.ts')]
}

/** The database the test run started (test/run.ts); every server under test uses it unless told otherwise. */
export const databaseUrl = (): string => {
  const url = process.env.TEST_DATABASE_URL
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with npm test')
  return url
}

const cwds = new WeakMap<ChildProcess, string>()

export interface FreshDatabase {
  /** DATABASE_URL for it. */
  url: string
  /** Drops it, also while a server is still connected. */
  drop(): Promise<void>
}

/** A new, empty database beside the shared one, for tests that need a server of their own from scratch. */
export async function freshDatabase(purpose: string): Promise<FreshDatabase> {
  const admin = postgres(databaseUrl(), { max: 1, onnotice: () => undefined })
  const name = `${purpose}_${process.pid}_${Date.now()}`
  await admin.unsafe(`create database ${name}`)
  const url = new URL(databaseUrl())
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

const tempDirectories: string[] = []
after(() => tempDirectories.forEach((d) => rmSync(d, { recursive: true, force: true })))

/**
 * A directory of the test file's own, removed once its tests are done; 0700 unless told (the postgres user needs 0755).
 * For the chroot target it is inside the chroot: hand it to the server under test as `seenByServer(dir)`.
 */
export function tempDirectory(mode = 0o700): string {
  const dir = mkdtempSync(join(target === 'chroot' ? join(process.env.TEST_CHROOT!, 'tmp') : tmpdir(), 'sm-test-'))
  chmodSync(dir, mode)
  tempDirectories.push(dir)
  return dir
}

/** A path of this machine's as the server under test names it: the chroot target's lose the chroot's prefix. */
export const seenByServer = (path: string): string => (target === 'chroot' ? path.slice(process.env.TEST_CHROOT!.length) : path)

/** Servers started by this test file and still running. */
const running = new Set<ChildProcess>()
// A test that fails before stopping its server must not leave it running, nor keep this file's process (and
// the whole run) waiting for it. This hook runs before the file's own, which stop their servers: what still runs
// a while after is killed; the timer holds nothing open, so a file whose servers all stopped exits at once.
after(() => {
  setTimeout(() => {
    for (const child of running) child.kill('SIGKILL')
  }, 10_000).unref()
})

export function spawnServer(args: string[] = [], env: Record<string, string | undefined> = {}): ChildProcess {
  // The server runs in a directory of its own: it writes files there.
  const cwd = mkdtempSync(join(target === 'chroot' ? join(process.env.TEST_CHROOT!, 'tmp') : tmpdir(), 'sm-cwd-'))
  const [bin, ...rest] = command(cwd)
  const child = spawn(bin, [...rest, ...args], {
    cwd,
    // The suite registers hundreds of clients from one address, which a user's server would take for a flood.
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', DATABASE_URL: databaseUrl(), REGISTER_MAX_PER_ADDRESS: '1000000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  child.on('close', () => {
    running.delete(child)
    rmSync(cwd, { recursive: true, force: true })
  })
  cwds.set(child, cwd)
  return child
}

/** Resolves with the exit code once the process has ended, and everything it printed. */
export function exited(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = ''
  child.stdout?.on('data', (d) => (output += d))
  child.stderr?.on('data', (d) => (output += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })))
}

/** How long a server may take to listen: far longer than any start takes, an embedded database's first included. */
const startMs = 90_000

export async function startServer(env: Record<string, string | undefined> = {}, args: string[] = []): Promise<RunningServer> {
  const child = spawnServer(args, env)
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
  const [scheme, port] = await new Promise<[string, number]>((resolve, reject) => {
    // A start that hangs fails the test that waits for it, with what the server printed.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server not listening within ${startMs / 1000} s:\n${output}`))
    }, startMs)
    const onData = () => {
      const m = /listening on (https?):\/\/[^\s]+:(\d+)/.exec(output)
      if (m) {
        clearTimeout(timer)
        child.stdout!.off('data', onData)
        resolve([m[1], Number(m[2])])
      }
    }
    child.stdout!.on('data', onData)
    void closed.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${output}`))
    })
  })
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    cwd: cwds.get(child)!,
    port,
    pid: child.pid!,
    process: child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return closed
    },
    memory: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1]) * 1024
      return { peak: kb('VmHWM'), current: kb('VmRSS') }
    },
  }
}

/**
 * A free loopback port below Linux's ephemeral range (32768 on): a server stopped and started again on it does not
 * find it taken meanwhile by another test's server on port 0, or by a client's socket.
 */
export async function quietPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
}
