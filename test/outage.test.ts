// The database away under load (stopped, then hung), and back: ingest and reads are answered 503 within a
// second while it is away, the self-monitoring routes go on, everything works again within a second of its
// return, and every acknowledged sample is stored. The embedded database's postmaster killed: started again.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import postgres from 'postgres'
import { postmasterPid, privateDatabase } from './database.js'
import { client, uniqueName } from './http.js'
import { databaseUrl, freshDatabase, startServer, target, tempDirectory, type RunningServer } from './server.js'
import { connect } from './ws.js'

const skip = target !== 'source' && 'the database layer is the same code on every target'

/** Resolves once the server has printed a line matching `pattern` (at once if it has already); fails after 15 s. */
function printed(server: RunningServer, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.process.stdout!.off('data', look)
      reject(new Error(`the server did not print ${pattern} within 15 s:\n${server.output()}`))
    }, 15_000)
    const look = () => {
      if (!pattern.test(server.output())) return
      clearTimeout(timer)
      server.process.stdout!.off('data', look)
      resolve()
    }
    server.process.stdout!.on('data', look)
    look()
  })
}

/** Ingest from a few senders at once, each sample at a time of its own; what was acknowledged is kept. */
function load(server: RunningServer, clientId: string) {
  const http = client(server.url, undefined, true)
  const acked = new Set<number>()
  let next = 1_000_000
  let sent = 0
  let refused = 0
  let slowestRefusal = 0
  let running = true
  let waiting: { after: number; resolve: () => void } | undefined
  const sender = async () => {
    while (running) {
      const t = next++
      sent++
      const started = performance.now()
      const res = await http.post(`/client/${clientId}`, `mem=1&time=${t}`)
      if (res.status === 202) {
        acked.add(t)
        if (waiting && Date.now() >= waiting.after) waiting.resolve()
        continue
      }
      assert.deepEqual([res.status, res.json(), typeof res.headers['retry-after']], [503, { error: 'database unavailable' }, 'string'])
      slowestRefusal = Math.max(slowestRefusal, performance.now() - started)
      refused++
      // Refusals come at once: a little pause keeps the senders from flooding the server meanwhile.
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  const senders = Array.from({ length: 4 }, sender)
  return {
    acked,
    /** The first acknowledgment from now on; fails after 15 s. */
    nextAck: () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no sample acknowledged within 15 s')), 15_000)
        waiting = { after: Date.now(), resolve: () => (clearTimeout(timer), resolve()) }
      }),
    /** Resolves once `count` samples in all have been acknowledged. */
    acknowledged: async (count: number) => {
      while (acked.size < count) await new Promise<void>((resolve) => (waiting = { after: 0, resolve }))
    },
    async stop() {
      running = false
      await Promise.all(senders)
      return { sent, acked: acked.size, refused, slowestRefusal }
    },
  }
}

/** ms that `work` took. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await work()
  return performance.now() - started
}

const within = (ms: number, limit: number, what: string) => assert.ok(ms <= limit, `${what} took ${Math.round(ms)} ms, more than ${limit}`)

async function register(server: RunningServer): Promise<{ username: string; clientId: string }> {
  const username = uniqueName('outage')
  const res = await client(server.url).post('/client', JSON.stringify({ username, pass: 'pw' }))
  return { username, clientId: (res.json() as { client_id: string }).client_id }
}

async function storedTimes(url: string, username: string): Promise<Set<number>> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined })
  try {
    const rows = await sql<{ t: string }[]>`select t from samples where client_id = (select id from clients where username = ${username})`
    return new Set(rows.map((r) => Number(r.t)))
  } finally {
    await sql.end()
  }
}

/** While the database is away: ingest, reads and readiness refused within a second; self-monitoring answered. */
async function whileAway(server: RunningServer, clientId: string): Promise<void> {
  const http = client(server.url, undefined, true)
  for (const [what, request] of [
    ['a sample', () => http.post(`/client/${clientId}`, 'mem=1&time=5')],
    ['a slice', () => http.get(`/client/${clientId}/time/report`)],
    ['the span', () => http.get(`/client/${clientId}/time`)],
    ['readiness', () => http.get('/readyz')],
  ] as const) {
    let status = 0
    within(await timed(async () => void (status = (await request()).status)), 1000, what)
    assert.equal(status, 503, what)
  }
  assert.equal((await http.get('/monitor/cpu/load')).status, 200)
  assert.equal((await http.get('/healthz')).status, 200)
  const ws = await connect(server.url)
  ws.send({ type: 'HELLO' })
  await ws.next()
  let reply = ''
  within(
    await timed(async () => {
      ws.send({ type: 'CLIENT_DATA', data: { mem: 1, time: 6 }, client_id: clientId })
      reply = await ws.next()
    }),
    1000,
    'CLIENT_DATA',
  )
  assert.equal(reply, '{"type": "ERROR", "reason": "database unavailable"}')
  ws.close()
}

async function outage(t: TestContext, away: (pg: Awaited<ReturnType<typeof privateDatabase>>) => Promise<void>, back: (pg: Awaited<ReturnType<typeof privateDatabase>>) => Promise<void>) {
  const pg = await privateDatabase()
  const server = await startServer({ DATABASE_URL: pg.url })
  try {
    const { username, clientId } = await register(server)
    const ingest = load(server, clientId)
    await ingest.acknowledged(200)
    await away(pg)
    await printed(server, /database unavailable/)
    await whileAway(server, clientId)
    await back(pg)
    within(await timed(ingest.nextAck), 1000, 'the first sample stored after the database came back')
    await printed(server, /database is back/)
    const figures = await ingest.stop()
    const stored = await storedTimes(pg.url, username)
    const lost = [...ingest.acked].filter((time) => !stored.has(time))
    t.diagnostic(
      `sent ${figures.sent}, acknowledged ${figures.acked}, refused ${figures.refused} (the slowest in ${Math.round(figures.slowestRefusal)} ms), ` +
        `found ${stored.size}, acknowledged but not found ${lost.length}`,
    )
    assert.deepEqual(lost, [])
    // Also the samples under way when it went: none waited more than a second for its 503.
    within(figures.slowestRefusal, 1000, 'a refusal')
    assert.equal(server.output().match(/database unavailable/g)?.length, 1)
    assert.equal(server.output().match(/database is back/g)?.length, 1)
  } finally {
    pg.thaw()
    await server.stop()
    await pg.remove()
  }
}

describe('the database away under load', { skip }, () => {
  test('stopped: 503 within a second, then back within a second of its start, nothing acknowledged lost', (t) =>
    outage(t, (pg) => pg.stop(), (pg) => pg.start()))

  test('hung (SIGSTOP): 503 within a second, then back within a second of SIGCONT, nothing acknowledged lost', (t) =>
    outage(
      t,
      async (pg) => pg.freeze(),
      async (pg) => pg.thaw(),
    ))

  test('SIGTERM with the database hung: the server exits within 10 s, and WebSockets are told 1001', async () => {
    const pg = await privateDatabase()
    const server = await startServer({ DATABASE_URL: pg.url })
    try {
      const ws = await connect(server.url)
      pg.freeze()
      await printed(server, /database unavailable/)
      let code: number | null = null
      within(await timed(async () => void (code = await server.stop())), 10_000, 'the shutdown')
      assert.equal(code, 0)
      assert.equal(await ws.closed, 1001)
    } finally {
      pg.thaw()
      await server.stop()
      await pg.remove()
    }
  })
})

test('the embedded PostgreSQL killed under load is started again, and nothing acknowledged is lost', { skip }, async (t) => {
  const dataDir = join(tempDirectory(0o755), 'data')
  const server = await startServer({ DATABASE_URL: undefined, DATA_DIR: dataDir })
  try {
    const { username, clientId } = await register(server)
    const ingest = load(server, clientId)
    await ingest.acknowledged(200)
    const pgDir = join(dataDir, 'postgres')
    process.kill(postmasterPid(pgDir), 'SIGKILL')
    within(await timed(() => printed(server, /the embedded PostgreSQL exited/)), 1000, 'noticing the death')
    await printed(server, /the embedded PostgreSQL is running again/)
    await ingest.nextAck()
    const figures = await ingest.stop()
    const port = /embedded PostgreSQL in .* \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\//.exec(server.output())![1]
    const password = readFileSync(join(dataDir, 'postgres.password'), 'utf8').trim()
    const stored = await storedTimes(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, username)
    const lost = [...ingest.acked].filter((time) => !stored.has(time))
    t.diagnostic(`sent ${figures.sent}, acknowledged ${figures.acked}, refused ${figures.refused}, found ${stored.size}, acknowledged but not found ${lost.length}`)
    assert.deepEqual(lost, [])
    let code: number | null = null
    within(await timed(async () => void (code = await server.stop())), 10_000, 'the shutdown')
    assert.equal(code, 0)
  } finally {
    await server.stop()
  }
})

describe('what reaches the log', { skip }, () => {
  test('a database that refuses connections (too many: SQLSTATE 53300) is 503 with Retry-After, and no credential is logged', async () => {
    // Superusers are not held to connection limits: the server connects as a role of its own.
    const admin = postgres(databaseUrl(), { max: 1, onnotice: () => undefined })
    const role = uniqueName('limited')
    await admin.unsafe(`create role ${role} login password 'pw'`)
    await admin.unsafe(`create database ${role} owner ${role}`)
    const url = new URL(databaseUrl())
    url.username = role
    url.password = 'pw'
    url.pathname = `/${role}`
    const server = await startServer({ DATABASE_URL: url.toString() })
    try {
      const { clientId } = await register(server)
      const http = client(server.url, undefined, true)
      assert.equal((await http.post(`/client/${clientId}`, 'mem=1&time=1')).status, 202)
      await admin.unsafe(`alter role ${role} connection limit 0`)
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where usename = ${role}`
      await printed(server, /database unavailable: too many connections/)
      for (const res of [await http.post(`/client/${clientId}`, 'mem=1&time=2'), await http.get(`/client/${clientId}/time/report`), await http.get('/readyz')]) {
        assert.deepEqual([res.status, res.json(), res.headers['retry-after']], [503, { error: 'database unavailable' }, '1'])
      }
      await admin.unsafe(`alter role ${role} connection limit -1`)
      await printed(server, /database is back/)
      assert.equal((await http.post(`/client/${clientId}`, 'mem=1&time=3')).status, 202)
      assert.ok(!server.output().includes(clientId), server.output())
    } finally {
      await server.stop()
      await admin.unsafe(`drop database if exists ${role} with (force)`)
      await admin.unsafe(`drop role if exists ${role}`)
      await admin.end()
    }
  })

  test('an unexpected failure is logged under its route, without the path that holds the client_id', async () => {
    const fresh = await freshDatabase('broken')
    const server = await startServer({ DATABASE_URL: fresh.url })
    try {
      const { clientId } = await register(server)
      const sql = postgres(fresh.url, { max: 1, onnotice: () => undefined })
      await sql`drop table samples`
      await sql.end()
      const res = await client(server.url).send(`/client/${encodeURIComponent(clientId)}`, { method: 'POST', body: 'mem=1', allowInternalError: true })
      assert.deepEqual([res.status, res.json()], [500, { error: 'internal error' }])
      await printed(server, /POST \/client\/:s failed/)
      assert.ok(!server.output().includes(clientId) && !server.output().includes(encodeURIComponent(clientId)), server.output())
    } finally {
      await server.stop()
      await fresh.drop()
    }
  })
})
