// A log slice of a million samples comes back complete and in order, streamed: the server's memory does
// not grow with the result, a slow reader is waited for, and a reader that goes away frees its cursor.
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, test } from 'node:test'
import postgres from 'postgres'
import { basic, client, uniqueName } from './http.js'
import { databaseUrl, startServer, type RunningServer } from './server.js'

const rows = 1_000_000
let server: RunningServer
let clientId: string

before(async () => {
  // Two connections: a cursor leaked by an aborted slice would soon leave none for the requests after it.
  // A 40 MB old generation: a server that held the slice (over 60 MB of text) would die of it. Deno reads
  // V8's flags from its own variable.
  server = await startServer({ DB_POOL_SIZE: '2', NODE_OPTIONS: '--max-old-space-size=40', DENO_V8_FLAGS: '--max-old-space-size=40' })
  const username = uniqueName('million')
  clientId = basic(username, 'pw')
  assert.equal((await client(server.url).post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 200)
  // A million samples through HTTP would make this test about ingest speed; the slice is what is tested.
  const sql = postgres(databaseUrl(), { max: 1 })
  await sql`
    insert into samples (client_id, t, cpu, mem, storage)
    select c.id, g, (g % 1000) / 10.0, g, null from clients c, generate_series(1, ${rows}) g
    where c.username = ${username}`
  await sql.end()
})
after(async () => {
  assert.equal(await server.stop(), 0)
})

/**
 * Reads a slice, checking every row's time as it streams by; `pace` pauses the reader now and then, `onData` is
 * told of every chunk; `from` is the server asked (the file's unless told).
 */
function readSlice(path: string, options: { pace?: boolean; abortAfterBytes?: number; onData?: () => void; from?: RunningServer }) {
  return new Promise<{ count: number; bytes: number; peakRss: number; aborted: boolean }>((resolve, reject) => {
    let expected = 1
    let bytes = 0
    let tail = ''
    let peakRss = 0
    let chunksSinceCheck = 0
    const req = request(`${(options.from ?? server).url}${path}`, (res) => {
      assert.equal(res.statusCode, 200)
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        options.onData?.()
        bytes += chunk.length
        const text = tail + chunk
        const re = /"unix_time": (\d+)\}/g
        let m: RegExpExecArray | null
        let last = 0
        while ((m = re.exec(text))) {
          if (Number(m[1]) !== expected) reject(new Error(`row ${expected} came as ${m[1]}`))
          expected++
          last = re.lastIndex
        }
        tail = text.slice(last)
        if (++chunksSinceCheck >= 50) {
          chunksSinceCheck = 0
          peakRss = Math.max(peakRss, server.memory().current)
          if (options.pace) {
            // A slow reader: the server must wait for it rather than buffer the rest of the slice.
            res.pause()
            setTimeout(() => res.resume(), 20)
          }
        }
        if (options.abortAfterBytes !== undefined && bytes > options.abortAfterBytes) {
          req.destroy()
          resolve({ count: expected - 1, bytes, peakRss, aborted: true })
        }
      })
      res.on('close', () => (res.complete ? undefined : reject(new Error(`the slice was cut after ${expected - 1} rows`))))
      res.on('end', () => {
        assert.ok(tail.endsWith(']}'), `the slice ends with ${JSON.stringify(tail.slice(-20))}`)
        resolve({ count: expected - 1, bytes, peakRss, aborted: false })
      })
    })
    req.on('error', (e) => (options.abortAfterBytes === undefined ? reject(e) : undefined))
    req.end()
  })
}

test('a slice of a million samples streams complete, in order, with flat server memory under a slow reader', async () => {
  const before = server.memory().current
  const result = await readSlice(`/client/${clientId}/time/report`, { pace: true })
  assert.equal(result.count, rows)
  assert.ok(result.bytes > 60_000_000, `only ${result.bytes} bytes`)
  const growth = result.peakRss - before
  assert.ok(growth < 64 * 1024 * 1024, `server RSS grew by ${(growth / 1048576).toFixed(1)} MB while streaming`)
})

test('readers that go away mid-slice release their database cursor', async () => {
  for (let i = 0; i < 4; i++) {
    const result = await readSlice(`/client/${clientId}/time/report`, { abortAfterBytes: 2_000_000 })
    assert.equal(result.aborted, true)
  }
  // With a pool of two, these would wait forever for connections held by the aborted slices.
  const http = client(server.url)
  assert.deepEqual((await http.get(`/client/${clientId}/time`)).json(), { start: 1, end: rows })
  const tailSlice = await http.get(`/client/${clientId}/time/report?start=${rows - 1}`)
  assert.equal(
    tailSlice.text,
    `{"payload": [{"cpu": 99.9, "mem": ${rows - 1}.0, "storage": null, "unix_time": ${rows - 1}}, ` +
      `{"cpu": 0.0, "mem": ${rows}.0, "storage": null, "unix_time": ${rows}}]}`,
  )
})

test('a slice streaming when the server is told to stop (SIGTERM) is finished first, then the server exits 0', async () => {
  const stopping = await startServer()
  let stopped: Promise<number | null> | undefined
  const result = await readSlice(`/client/${clientId}/time/report`, { from: stopping, onData: () => (stopped ??= stopping.stop()) })
  assert.equal(result.count, rows)
  assert.equal(await stopped, 0, stopping.output())
  assert.match(stopping.output(), /SIGTERM: shutting down/)
})

test('readers that take nothing for STALL_SECONDS are cut off, and their cursors released', { timeout: 30_000 }, async () => {
  const stalling = await startServer({ DB_POOL_SIZE: '2', STALL_SECONDS: '1' })
  try {
    // The slice is far larger than what the sockets' buffers hold: the server has to wait for these readers.
    const readers = await Promise.all([1, 2, 3].map(() => stalledReader(`${stalling.url}/client/${clientId}/time/report`)))
    await new Promise((r) => setTimeout(r, 3000))
    // With a pool of two, this would wait forever for connections held by the stalled slices.
    assert.deepEqual((await client(stalling.url).get(`/client/${clientId}/time`)).json(), { start: 1, end: rows })
    for (const reader of readers) assert.equal(await reader.resume(), false, 'a stalled slice came complete')
  } finally {
    assert.equal(await stalling.stop(), 0)
  }
})

/** A reader that stops after the first chunk; resume() reads on and resolves whether the reply came complete. */
function stalledReader(url: string) {
  return new Promise<{ resume(): Promise<boolean> }>((resolve, reject) => {
    const req = request(url, (res) => {
      assert.equal(res.statusCode, 200)
      res.on('error', () => undefined) // the cut connection
      res.once('data', () => {
        res.pause()
        resolve({ resume: () => new Promise((done) => (res.on('close', () => done(res.complete)), res.resume())) })
      })
    })
    req.on('error', reject)
    req.end()
  })
}
