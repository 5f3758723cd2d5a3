// The CSV load log: its header on each start, a line per sample, rotation past a size, and "off".
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startServer, target } from './server.js'

const dir = mkdtempSync(join(tmpdir(), 'sm-loadlog-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const inDir = { skip: target === 'chroot' && 'the server in the chroot cannot reach this directory of the host' }

const header = 'time;cpu load;memory load;storage'
const row = /^\d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2}:\d{2}:\d{2};\d+\.\d+;\d+;\d+$/

/** Resolves once `done` holds for the directory's contents, checked on every change in it. */
function until(done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (done()) return resolve()
    const watcher = watch(dir, () => {
      if (done()) {
        watcher.close()
        resolve()
      }
    })
  })
}

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [])

test('a header on each start, then a line per sample with the server memory and storage used in MB', inDir, async () => {
  const path = join(dir, 'load.csv')
  const env = { LOAD_LOG_PATH: path, SAMPLE_PERIOD_MS: '100' }
  const first = await startServer(env)
  await until(() => lines(path).length >= 4)
  assert.equal(await first.stop(), 0)
  const second = await startServer(env)
  const before = lines(path).length
  await until(() => lines(path).length >= before + 3)
  assert.equal(await second.stop(), 0)

  const all = lines(path)
  assert.equal(all[0], header)
  const restart = all.indexOf(header, 1)
  assert.ok(restart > 1, 'no second header after the restart')
  for (const line of all) if (line !== header) assert.match(line, row)
  const [, , mem, storage] = all[1].split(';').map(Number)
  const meminfo = readFileSync('/proc/meminfo', 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)![1])
  assert.ok(mem > 0 && mem < kb('MemTotal') / 1024, `memory ${mem} MB`)
  assert.ok(storage > 0, `storage ${storage} MB`)
})

test('rotated past its size, keeping the configured number of old files, each starting with the header', inDir, async () => {
  const path = join(dir, 'rotating.csv')
  const server = await startServer({ LOAD_LOG_PATH: path, SAMPLE_PERIOD_MS: '100', LOAD_LOG_MAX_BYTES: '1024', LOAD_LOG_KEEP: '2' })
  await until(() => existsSync(`${path}.2`) && lines(path).length >= 2)
  assert.equal(await server.stop(), 0)
  assert.equal(existsSync(`${path}.3`), false)
  for (const file of [path, `${path}.1`, `${path}.2`]) {
    const content = readFileSync(file, 'utf8')
    assert.ok(content.length <= 1024, `${file} has ${content.length} bytes`)
    assert.equal(content.split('\n')[0], header, file)
  }
})

test('by default server_system_load.csv in the working directory; LOAD_LOG_PATH=off writes none', async () => {
  const byDefault = await startServer({ SAMPLE_PERIOD_MS: '100' })
  assert.match(byDefault.output(), /writing the server's load to server_system_load\.csv/)
  assert.equal(lines(join(byDefault.cwd, 'server_system_load.csv'))[0], header)
  assert.equal(await byDefault.stop(), 0)
  const off = await startServer({ LOAD_LOG_PATH: 'off', SAMPLE_PERIOD_MS: '100' })
  assert.doesNotMatch(off.output(), /writing the server's load/)
  assert.deepEqual(readdirSync(off.cwd), [])
  assert.equal(await off.stop(), 0)
})
