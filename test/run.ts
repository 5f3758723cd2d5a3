// npm test: one embedded PostgreSQL for the whole run (the server's own embedded mode, in a temporary
// directory), then every test file against it, once for each way of running the server: from source, as
// the bundle (built, then copied to a directory with no node_modules), that same bundle under Deno, and the
// single executable. With TEST_CHROOT, the root of another distribution (with /proc and /dev mounted, and
// Node.js lines at opt/node-<major>/bin/node: .ci/run makes a Debian 13 one), also the chroot target: that
// same bundle on those Node.js inside it, every file on the newest and the core flow on the others, against
// the same PostgreSQL over 127.0.0.1 (a chroot shares the network). Arguments: words that pick test files by
// name, and --target=NAME to run one target.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbedded } from '../src/store/embedded.js'
import { root, targets, type Target } from './server.js'

const testDir = join(root, 'test')
const args = process.argv.slice(2)
const only = args.find((a) => a.startsWith('--target='))?.slice('--target='.length)
const chroot = process.env.TEST_CHROOT
const chosen = only ? [only as Target] : targets.filter((t) => t !== 'chroot' || chroot)
if (!chosen.every((t) => targets.includes(t))) throw new Error(`--target is one of ${targets.join(', ')}`)
const filter = args.filter((a) => !a.startsWith('--'))
const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.ts') && (filter.length === 0 || filter.some((x) => f.includes(x))))
  .map((f) => join(testDir, f))

/** The files the chroot target runs: the contract's core flow. */
const chrootFiles = files.filter((f) => f.endsWith('core-flow.test.ts'))

interface Run {
  label: string
  /** The Node.js the server runs on: this one, or one in the chroot. */
  node: string[]
  files: string[]
}

/** One run for each Node.js line in the chroot: every file on the newest, the core flow on the others. */
function chrootRuns(): Run[] {
  if (!chroot || !existsSync(join(chroot, 'opt'))) throw new Error('the chroot target needs TEST_CHROOT: a root filesystem with Node.js at opt/node-<major>/bin/node')
  const lines = readdirSync(join(chroot, 'opt'))
    .filter((d) => /^node-\d+$/.test(d) && existsSync(join(chroot, 'opt', d, 'bin/node')))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
  return lines.map((d, i) => {
    const all = i === lines.length - 1
    return { label: `chroot ${d}${all ? '' : ', core flow'}`, node: ['chroot', chroot, `/opt/${d}/bin/node`], files: all ? files : chrootFiles }
  })
}

const temp: string[] = []
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  temp.push(dir)
  return dir
}

/** The bundle and the executable as they are deployed: dist/ alone in a directory of its own, far from node_modules. */
function buildBundle(): string {
  const built = spawnSync(process.execPath, ['build.mjs', '--exe'], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) throw new Error('npm run build failed')
  const dir = tempDir('sm-test-bundle-')
  cpSync(join(root, 'dist'), dir, { recursive: true })
  return dir
}

let bundle: string | undefined
const bundleDir = () => (bundle ??= buildBundle())

/** The bundle at the same path inside the chroot: its server.js and binaries, not the executable. */
let copied = false
function bundleInChroot(): string {
  const inside = join(chroot!, bundleDir())
  if (!copied) {
    mkdirSync(inside, { recursive: true })
    temp.push(inside)
    for (const file of readdirSync(bundleDir())) if (file === 'server.js' || file.endsWith('.node')) cpSync(join(bundleDir(), file), join(inside, file))
    copied = true
  }
  return bundleDir()
}

/** What the server under test will run on (test/server.ts's NodeRuntime), asked of that Node.js. */
function runtime(node: string[]): string {
  const script = 'JSON.stringify({ node: process.versions.node, abi: process.versions.modules, glibc: process.report.getReport().header.glibcVersionRuntime })'
  const asked = spawnSync(node[0], [...node.slice(1), '-p', script], { encoding: 'utf8' })
  if (asked.status !== 0) throw new Error(`${node.join(' ')} does not run: ${asked.stderr}`)
  return asked.stdout.trim()
}

/**
 * A test file's bound, hooks included, far above any one's time (a whole target takes about four minutes): a file that
 * hangs fails, named, instead of holding the run until CI gives up on it without saying where. Once a file's
 * tests have ended its process ends, though a failed test may have left a client going.
 */
const fileTimeoutMs = 300_000

const run = (env: NodeJS.ProcessEnv, files: string[]) =>
  new Promise<number>((resolve) => {
    const flags = ['--test', '--test-concurrency=2', `--test-timeout=${fileTimeoutMs}`, '--test-force-exit']
    const child = spawn(process.execPath, ['--import', 'tsx', ...flags, ...files], { stdio: 'inherit', env })
    child.on('close', (c) => resolve(c ?? 1))
  })

const db = await startEmbedded(tempDir('sm-test-db-'), (line) => console.log(`[test db] ${line}`))
let passed = 0
let failed = 0
try {
  for (const target of chosen) {
    const runs: Run[] = target === 'chroot' ? chrootRuns() : [{ label: target, node: [process.execPath], files }]
    for (const { label, node, files } of runs) {
      if (files.length === 0) continue
      console.log(`# server under test: ${label}`)
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        // tsx's synchronous transforms go through a worker of esbuild's that the loading thread waits for in
        // Atomics.wait with no end: now and then a server from source (or a test file) never got past its
        // imports, printing nothing (one CI run ended at its 5400 s, another found a server silent for 90 s).
        // "0" is esbuild's own setting for a process of its own per transform instead.
        ESBUILD_WORKER_THREADS: '0',
        TEST_DATABASE_URL: db.url,
        TEST_TARGET: target,
        TEST_BUNDLE_DIR: target === 'source' ? '' : target === 'chroot' ? bundleInChroot() : bundleDir(),
        TEST_SERVER_RUNTIME: runtime(node),
        TEST_CHROOT_NODE: target === 'chroot' ? node.at(-1) : '',
      }
      // Servers under test talk to 127.0.0.1 only: Deno would otherwise look online for a newer release of itself.
      if (target === 'deno') env.DENO_NO_UPDATE_CHECK = '1'
      if ((await run(env, files)) === 0) passed++
      else failed++
    }
  }
} finally {
  await db.stop()
  for (const dir of temp) rmSync(dir, { recursive: true, force: true })
}
console.log(`targets: ${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
