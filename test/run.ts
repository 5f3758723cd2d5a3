// npm test: one embedded PostgreSQL for the whole run (the server's own embedded mode, in a temporary
// directory), then every test file against it, once for each way of running the server: from source, as
// the bundle (built, then copied to a directory with no node_modules), that same bundle under Deno, and the
// single executable. Arguments: words that pick test files by name, and --target=NAME to run one target.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbedded } from '../src/store/embedded.js'
import { root, targets, type Target } from './server.js'

const testDir = join(root, 'test')
const args = process.argv.slice(2)
const only = args.find((a) => a.startsWith('--target='))?.slice('--target='.length)
const chosen = only ? [only as Target] : targets
if (!chosen.every((t) => targets.includes(t))) throw new Error(`--target is one of ${targets.join(', ')}`)
const filter = args.filter((a) => !a.startsWith('--'))
const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.ts') && (filter.length === 0 || filter.some((x) => f.includes(x))))
  .map((f) => join(testDir, f))

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

const run = (env: NodeJS.ProcessEnv) =>
  new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env })
    child.on('close', (c) => resolve(c ?? 1))
  })

const db = await startEmbedded(tempDir('sm-test-db-'), (line) => console.log(`[test db] ${line}`))
let failed = 0
try {
  for (const target of chosen) {
    console.log(`# server under test: ${target}`)
    const env: NodeJS.ProcessEnv = { ...process.env, TEST_DATABASE_URL: db.url, TEST_TARGET: target, TEST_BUNDLE_DIR: target === 'source' ? '' : bundleDir() }
    // Servers under test talk to 127.0.0.1 only: Deno would otherwise look online for a newer release of itself.
    if (target === 'deno') env.DENO_NO_UPDATE_CHECK = '1'
    if ((await run(env)) !== 0) failed++
  }
} finally {
  await db.stop()
  for (const dir of temp) rmSync(dir, { recursive: true, force: true })
}
console.log(`targets: ${chosen.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
