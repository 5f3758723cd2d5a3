// npm test: one embedded PostgreSQL for the whole run (the server's own embedded mode, in a temporary
// directory), then every test file against it, then the database is stopped and removed.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbedded } from '../src/store/embedded.js'

const testDir = new URL('.', import.meta.url).pathname
const dataDir = mkdtempSync(join(tmpdir(), 'sm-test-db-'))
const filter = process.argv.slice(2)
const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.ts') && (filter.length === 0 || filter.some((x) => f.includes(x))))
  .map((f) => join(testDir, f))

const db = await startEmbedded(dataDir, (line) => console.log(`[test db] ${line}`))
let code = 1
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
      stdio: 'inherit',
      env: { ...process.env, TEST_DATABASE_URL: db.url },
    })
    child.on('close', (c) => resolve(c ?? 1))
  })
} finally {
  await db.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
process.exit(code)
