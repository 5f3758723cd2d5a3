// The agent's spool on disk: nothing leaves it before it is acknowledged, it survives reopening, a torn or damaged
// write is found and dropped, its cap holds (the oldest dropped and counted), and one agent holds it at a time.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Spool, SpoolInUse, type SpooledSample } from '../src/agent/spool.js'
import { tempDirectory } from './server.js'

const dir = () => tempDirectory()

const sample = (time: number): SpooledSample => ({ time, cpu_load: 12.5, mem: 6172, storage: 95888 })
const times = (lines: string[]) => lines.map((l) => (JSON.parse(l) as SpooledSample).time)
/** A spool of `count` samples (times 1 on) under `cap`, the first `acked` of them acknowledged, closed again. */
function filled(cap: number, count: number, acked: number): string {
  const d = dir()
  const spool = Spool.open(d, cap)
  for (let t = 1; t <= count; t++) spool.append(sample(t))
  spool.acknowledge(spool.read(acked).end)
  spool.close()
  return d
}
/** A spool of `count` samples (times 1 on) whose first or last file then has `damage` appended, opened again. */
function damaged(count: number, file: 'first' | 'last', damage: string): Spool {
  const d = dir()
  const spool = Spool.open(d, 1024 * 1024)
  for (let t = 1; t <= count; t++) spool.append(sample(t))
  spool.close()
  const names = segments(d)
  appendFileSync(join(d, file === 'first' ? names[0] : names[names.length - 1]), damage)
  return Spool.open(d, 1024 * 1024)
}
const segments = (d: string) => readdirSync(d).filter((f) => f.endsWith('.ndjson')).sort()
const diskBytes = (d: string) => segments(d).reduce((n, f) => n + statSync(join(d, f)).size, 0)

test('samples are read oldest first and leave only once acknowledged, across reopening', () => {
  const d = dir()
  let spool = Spool.open(d, 1024 * 1024)
  for (let t = 1; t <= 10; t++) spool.append(sample(t))
  const first = spool.read(4)
  assert.deepEqual(times(first.lines), [1, 2, 3, 4])
  // Not acknowledged: read again from the start.
  assert.deepEqual(times(spool.read(4).lines), [1, 2, 3, 4])
  spool.acknowledge(first.end)
  assert.deepEqual(times(spool.read(100).lines), [5, 6, 7, 8, 9, 10])
  spool.close()
  spool = Spool.open(d, 1024 * 1024)
  const rest = spool.read(100)
  assert.deepEqual(times(rest.lines), [5, 6, 7, 8, 9, 10])
  spool.acknowledge(rest.end)
  assert.equal(spool.pending, false)
  spool.append(sample(11))
  assert.equal(spool.pending, true)
  assert.deepEqual(times(spool.read(100).lines), [11])
  spool.close()
})

test('a long backlog is read in batches, in order, each sample once, across segments and a long damaged line', () => {
  const spool = damaged(3000, 'first', `${'x'.repeat(100_000)}\n`)
  for (let t = 3001; t <= 5000; t++) spool.append(sample(t))
  const read: number[] = []
  for (let batch = spool.read(700); batch.lines.length > 0 || spool.pending; batch = spool.read(700)) {
    assert.ok(batch.lines.length <= 700)
    read.push(...times(batch.lines))
    spool.acknowledge(batch.end)
  }
  assert.deepEqual(read, Array.from({ length: 5000 }, (_, i) => i + 1))
  assert.equal(spool.damaged, 1)
  spool.close()
})

test('fully acknowledged segments are deleted whole; the one being written stays', () => {
  const d = dir()
  // 16 KiB: 1 KiB segments, about 16 samples each.
  const spool = Spool.open(d, 16 * 1024)
  for (let t = 1; t <= 100; t++) spool.append(sample(t))
  assert.ok(segments(d).length >= 6, segments(d).join())
  let batch = spool.read(1000)
  assert.deepEqual(times(batch.lines), Array.from({ length: 100 }, (_, i) => i + 1))
  spool.acknowledge(batch.end)
  assert.equal(segments(d).length, 1)
  spool.append(sample(101))
  batch = spool.read(1000)
  assert.deepEqual(times(batch.lines), [101])
  spool.close()
})

test('a torn last write (a kill mid-line, a power cut) is dropped, and appends go on cleanly', () => {
  const spool = damaged(3, 'last', '{"time":4,"cpu_lo')
  assert.equal(spool.damaged, 1)
  spool.append(sample(5))
  assert.deepEqual(times(spool.read(100).lines), [1, 2, 3, 5])
  spool.close()
})

test('damaged lines inside the spool (garbage, zeros of a lost block) are skipped and counted, never sent', () => {
  const spool = damaged(1, 'last', '{"time":2,"cpu_load":\n\0\0\0\0\n{"time":"x","mem":1}\n[1]\n{"time":3}\n\xff\xfe\n')
  spool.append(sample(4))
  const batch = spool.read(100)
  assert.deepEqual(times(batch.lines), [1, 4])
  assert.equal(spool.damaged, 6)
  spool.acknowledge(batch.end)
  assert.equal(spool.pending, false)
  spool.close()
})

test('past the cap the oldest samples are dropped and counted; the disk never holds more than the cap', () => {
  const d = dir()
  const cap = 2048
  const spool = Spool.open(d, cap)
  for (let t = 1; t <= 500; t++) {
    spool.append(sample(t))
    assert.ok(diskBytes(d) <= cap, `${diskBytes(d)} bytes on disk after sample ${t}`)
  }
  const kept = times(spool.read(1000).lines)
  assert.ok(kept.length > 20 && kept.length < 40, `${kept.length} kept`)
  // The newest, without a gap; every other one counted as dropped.
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 500 - kept.length + 1 + i))
  assert.equal(spool.dropped, 500 - kept.length)
  assert.equal(spool.bytes, diskBytes(d))
  spool.close()
})

test('a cap lowered since the spool was filled is enforced on opening; acknowledged samples are not counted as dropped', () => {
  const d = filled(16 * 1024, 200, 50)
  let spool = Spool.open(d, 4096)
  assert.ok(diskBytes(d) <= 4096)
  const kept = times(spool.read(1000).lines)
  assert.equal(kept.at(-1), 200)
  assert.equal(spool.dropped, 150 - kept.length)
  spool.close()
  // A single segment larger than the new cap: deleted whole once something is appended.
  spool = Spool.open(d, 1024)
  spool.append(sample(201))
  assert.ok(diskBytes(d) <= 1024)
  assert.deepEqual(times(spool.read(1000).lines).at(-1), 201)
  spool.close()
})

test('without its acknowledgement file everything spooled is read again (sending twice is harmless)', () => {
  const d = filled(1024 * 1024, 5, 3)
  writeFileSync(join(d, 'acked'), '{"segm')
  const spool = Spool.open(d, 1024 * 1024)
  assert.deepEqual(times(spool.read(100).lines), [1, 2, 3, 4, 5])
  spool.close()
})

test('one agent a spool: a second is refused while the first runs; the lock of a process that is gone is taken over', () => {
  const d = dir()
  // The lock of a process that runs (this one's parent): refused.
  writeFileSync(join(d, 'lock'), String(process.ppid))
  assert.throws(() => Spool.open(d, 1024 * 1024), SpoolInUse)
  const gone = spawnSync('true').pid
  writeFileSync(join(d, 'lock'), String(gone))
  Spool.open(d, 1024 * 1024).close()
})
