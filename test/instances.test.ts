// Two instances of the server on one database, behind Debian's haproxy (roundrobin, health-checked on /readyz):
// the login throttle counts and locks across both, and under HTTP and WebSocket load from several clients, which
// send a sample again until it is acknowledged as a real client does, one instance killed (SIGKILL) loses no
// acknowledged sample while the clients carry on through the other.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import postgres from 'postgres'
import { basic, client, uniqueLoopback, uniqueName } from './http.js'
import { databaseUrl, quietPort, startServer, target, tempDirectory, type RunningServer } from './server.js'
import { connect, type Socket } from './ws.js'

const skip = target !== 'source' && 'several instances run the same code as one does, on every target: the source is enough'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Proxy {
  url: string
  stop(): Promise<void>
}

/**
 * haproxy in front of the instances, each answer naming the one that gave it. The check is an HTTP/1.1 GET with
 * a Host: uWebSockets.js 20.30 answers no HTTP/1.0 request (haproxy's default check) and no absolute-form target.
 */
async function startHaproxy(instances: Record<string, RunningServer>): Promise<Proxy> {
  const port = await quietPort()
  const config = join(tempDirectory(), 'haproxy.cfg')
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  timeout tunnel 30s',
      // A connection refused by a dead instance is tried again on another before the checks have noticed.
      '  retries 2',
      '  option redispatch',
      'frontend in',
      `  bind 127.0.0.1:${port}`,
      '  default_backend instances',
      'backend instances',
      '  balance roundrobin',
      '  option forwardfor',
      '  option httpchk',
      '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost',
      '  http-check expect status 200',
      '  default-server check inter 200ms fall 2 rise 2',
      '  http-response set-header x-served-by %[srv_name]',
      ...Object.entries(instances).map(([name, server]) => `  server ${name} 127.0.0.1:${server.port}`),
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  child.on('error', (e) => (output += `${e.message}: is Debian's haproxy installed (.ci/run installs it)?`))
  const url = `http://127.0.0.1:${port}`
  // haproxy says nothing once it listens and its checks have passed: asked until both instances answer through it.
  const seen = new Set<string>()
  const deadline = Date.now() + 20_000
  while (seen.size < Object.keys(instances).length) {
    if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`haproxy did not pass requests to every instance within 20 s:\n${output}`)
    }
    const res = await client(url, undefined, true).get('/healthz').catch(() => undefined)
    if (res?.status === 200) seen.add(String(res.headers['x-served-by']))
    else await delay(50)
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

let a: RunningServer
let b: RunningServer
let proxy: Proxy
before(async () => {
  if (skip) return
  // haproxy connects from 127.0.0.1 and says who it heard from in X-Forwarded-For.
  const env = { TRUSTED_PROXIES: '127.0.0.1', LOGIN_MAX_FAILURES: '3', LOGIN_MAX_FAILURES_PER_USERNAME: '6', LOGIN_LOCK_SECONDS: '600' }
  ;[a, b] = await Promise.all([startServer(env), startServer(env)])
  proxy = await startHaproxy({ a, b })
})
after(async () => {
  if (skip) return
  await proxy?.stop()
  await Promise.all([a?.stop(), b?.stop()])
})

describe('two instances behind haproxy', { skip }, () => {
  test('the login throttle counts failures at both instances together, and a lock set at one holds at the other', async () => {
    const username = uniqueName('shared')
    const clientId = basic(username, 'right')
    const login = (server: RunningServer | Proxy, from: string, password: string) => client(server.url, from).post('/client', JSON.stringify({ username, password }))
    const statuses = async (...replies: Promise<{ status: number }>[]) => (await Promise.all(replies.map((r) => r.then((x) => x.status))))
    const [home, attacker, user] = [uniqueLoopback(), uniqueLoopback(), uniqueLoopback()]
    assert.equal((await login(a, home, 'right')).status, 200)

    // LOGIN_MAX_FAILURES (3) from one address, spread over both instances, lock that address at both.
    for (const server of [a, b, a]) assert.equal((await login(server, attacker, 'wrong')).status, 401)
    const locked = await login(b, attacker, 'right')
    assert.deepEqual([locked.status, locked.json(), typeof locked.headers['retry-after']], [429, { error: 'too many failed logins, try again later' }, 'string'])
    assert.equal((await client(a.url, attacker).post(`/client/${clientId}`, 'mem=1&time=1')).status, 429)
    // Through haproxy the address is the one it heard from (X-Forwarded-For from a trusted proxy), at either instance.
    const proxied = [await login(proxy, attacker, 'right'), await login(proxy, attacker, 'right')]
    assert.deepEqual(proxied.map((r) => [r.status, r.headers['x-served-by']]).sort(), [[429, 'a'], [429, 'b']])

    // Someone else with the right password, from another address, is not locked out, at either instance.
    assert.deepEqual(await statuses(login(b, user, 'right'), client(a.url, user).post(`/client/${clientId}`, 'mem=1&time=2')), [200, 202])

    // LOGIN_MAX_FAILURES_PER_USERNAME (6) from anywhere, over both instances: the username is locked for every
    // address it has not logged in from, at both, and the addresses it has are spared.
    const [z1, z2, stranger] = [uniqueLoopback(), uniqueLoopback(), uniqueLoopback()]
    for (const [server, from] of [[a, z1], [b, z1], [a, z2]] as const) assert.equal((await login(server, from, 'wrong')).status, 401)
    assert.deepEqual(await statuses(login(a, stranger, 'right'), login(b, stranger, 'right')), [429, 429])
    assert.deepEqual(await statuses(login(b, home, 'right'), login(a, user, 'right'), client(b.url, user).post(`/client/${clientId}`, 'mem=1&time=3')), [200, 200, 202])
  })

  test('one instance killed under HTTP and WebSocket load: every acknowledged sample is stored, the clients carry on at the other', async (t) => {
    const load = new Load(proxy.url)
    await load.start(4, 2)
    // Both instances have acknowledged samples before one of them is killed.
    await load.until(() => load.servedBy.a >= 100 && load.servedBy.b >= 100 && load.wsAcked >= 100, 'both instances serving')
    const died = new Promise((resolve) => a.process.once('exit', resolve))
    a.process.kill('SIGKILL')
    await died
    load.markKill()
    await load.until(() => load.senders.every((s) => s.ackedAfterKill >= 30), 'every client acknowledged again')
    const figures = await load.stop()

    const stored = await storedSamples(load.senders.map((s) => s.username))
    const lost = load.senders.flatMap((s) => [...s.acked].filter((time) => !stored.get(s.username)?.has(time)).map((time) => `${s.username} ${time}`))
    const phantom = load.senders.flatMap((s) => [...(stored.get(s.username) ?? [])].filter((time) => time >= s.next).map((time) => `${s.username} ${time}`))
    const found = [...stored.values()].reduce((n, times) => n + times.size, 0)
    t.diagnostic(
      `sent ${figures.attempts} (${figures.samples} samples, ${figures.attempts - figures.samples} of them again), acknowledged ${figures.acked} ` +
        `(HTTP by a ${load.servedBy.a}, by b ${load.servedBy.b}; WebSocket ${load.wsAcked}, ${figures.reconnects} reconnections), ` +
        `found ${found}, acknowledged but not found ${lost.length}`,
    )
    assert.deepEqual(lost, [])
    assert.deepEqual(phantom, [])
    // The WebSocket client whose instance died connected again, through haproxy to the other.
    assert.ok(figures.reconnects >= 1)
    // Every HTTP request sent once a was dead was answered by b.
    assert.deepEqual(load.servedAfterKill, { b: load.servedAfterKill.b })
    assert.equal(await b.stop(), 0)
  })
})

/** The times stored for each username. */
async function storedSamples(usernames: string[]): Promise<Map<string, Set<number>>> {
  const sql = postgres(databaseUrl(), { max: 1, onnotice: () => undefined })
  try {
    const rows = await sql<{ username: string; t: string }[]>`
      select c.username, s.t from clients c join samples s on s.client_id = c.id where c.username = any(${usernames})`
    const stored = new Map<string, Set<number>>()
    for (const row of rows) stored.set(row.username, (stored.get(row.username) ?? new Set()).add(Number(row.t)))
    return stored
  } finally {
    await sql.end()
  }
}

interface Sender {
  username: string
  /** The next sample's time: every sample a sender makes has its own, from 1,000,000 on. */
  next: number
  acked: Set<number>
  ackedAfterKill: number
}

/** Clients sending through the proxy, each sample again until it is acknowledged (a 2xx, a DATA_RETURN). */
class Load {
  readonly senders: Sender[] = []
  readonly servedBy: Record<string, number> = { a: 0, b: 0 }
  /** By instance, HTTP acknowledgments of requests sent after the kill. */
  readonly servedAfterKill: Record<string, number> = {}
  wsAcked = 0
  #attempts = 0
  #reconnects = 0
  #killed = false
  #running = true
  #loops: Promise<void>[] = []
  #failure?: unknown
  #progress?: () => void
  readonly #agent = new Agent({ keepAlive: true })

  constructor(private readonly base: string) {}

  async start(httpClients: number, wsClients: number): Promise<void> {
    const make = async (): Promise<Sender> => {
      const username = uniqueName('lb')
      assert.equal((await client(this.base).post('/client', JSON.stringify({ username, password: 'pw' }))).status, 200)
      const sender = { username, next: 1_000_000, acked: new Set<number>(), ackedAfterKill: 0 }
      this.senders.push(sender)
      return sender
    }
    const run = (loop: Promise<void>) => this.#loops.push(loop.catch((e: unknown) => void ((this.#failure ??= e), this.#wake())))
    for (let i = 0; i < httpClients; i++) run(this.#http(await make()))
    for (let i = 0; i < wsClients; i++) run(this.#ws(await make(), i % 2 === 0 ? 'a' : 'b'))
  }

  markKill(): void {
    this.#killed = true
  }

  /** Resolves once `done` holds; fails after 20 s, or as soon as a client met an answer no client should get. */
  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000
    while (!done()) {
      if (this.#failure) throw this.#failure
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${what}: not within 20 s`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#progress = () => (clearTimeout(timer), resolve())
      })
    }
  }

  async stop() {
    this.#running = false
    await Promise.all(this.#loops)
    if (this.#failure) throw this.#failure
    this.#agent.destroy()
    const acked = this.senders.reduce((n, s) => n + s.acked.size, 0)
    const samples = this.senders.reduce((n, s) => n + s.next - 1_000_000, 0)
    return { attempts: this.#attempts, samples, acked, reconnects: this.#reconnects }
  }

  #ack(sender: Sender, time: number): void {
    sender.acked.add(time)
    if (this.#killed) sender.ackedAfterKill++
    this.#wake()
  }

  #wake(): void {
    const progress = this.#progress
    this.#progress = undefined
    progress?.()
  }

  async #http(sender: Sender): Promise<void> {
    const clientId = basic(sender.username, 'pw')
    while (this.#running) {
      const time = sender.next++
      for (;;) {
        this.#attempts++
        const afterKill = this.#killed
        const res = await this.#post(`/client/${clientId}`, `mem=1&time=${time}`)
        if (res?.status === 202) {
          this.servedBy[res.servedBy]++
          if (afterKill) this.servedAfterKill[res.servedBy] = (this.servedAfterKill[res.servedBy] ?? 0) + 1
          this.#ack(sender, time)
          break
        }
        // No 2xx (haproxy's 502 for a request cut off by the kill, or the connection lost): sent again shortly.
        if (res !== undefined && res.status !== 502 && res.status !== 503) assert.fail(`a sample got ${res.status}`)
        if (!this.#running) return
        await delay(20)
      }
    }
  }

  /** A POST on a kept-alive connection: its status and the instance that answered, or undefined when it failed. */
  #post(path: string, body: string): Promise<{ status: number; servedBy: string } | undefined> {
    return new Promise((resolve) => {
      const req = httpRequest(`${this.base}${path}`, { method: 'POST', agent: this.#agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode!, servedBy: String(res.headers['x-served-by']) }))
        res.on('error', () => resolve(undefined))
      })
      req.on('error', () => resolve(undefined))
      // An answer that never comes (a connection haproxy keeps to a dead instance) is a failed send, sent again.
      req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')))
      req.end(body)
    })
  }

  /** `first`: the instance its first connection is to be with (so that each instance has some), tried until it is. */
  async #ws(sender: Sender, first: string): Promise<void> {
    const clientId = basic(sender.username, 'pw')
    let socket: Socket | undefined = await this.#socketTo(first)
    // The sample being sent until it is acknowledged; a time is taken only when it is sent.
    let time: number | undefined
    while (this.#running) {
      try {
        socket ??= await this.#welcomed()
        time ??= sender.next++
        this.#attempts++
        socket.send({ type: 'CLIENT_DATA', data: { mem: 1, time }, client_id: clientId })
        const reply = await this.#reply(socket)
        if (reply?.startsWith('{"type": "DATA_RETURN"')) {
          this.wsAcked++
          this.#ack(sender, time)
          time = undefined
          continue
        }
        if (reply !== undefined && reply !== '{"type": "ERROR", "reason": "database unavailable"}') assert.fail(`a sample got ${reply}`)
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e
      }
      // No DATA_RETURN (the connection lost with its instance, or none to be had yet): connected again, sent again.
      socket?.close()
      socket = undefined
      this.#reconnects++
      await delay(20)
    }
    socket?.close()
  }

  async #socketTo(instance: string): Promise<Socket> {
    for (let attempt = 0; attempt < 10; attempt++) {
      // haproxy answers 502 while it still takes an instance that is going or coming for up: tried again.
      const socket = await this.#welcomed().catch(() => undefined)
      if (socket?.headers['x-served-by'] === instance) return socket
      socket?.close()
      await delay(20)
    }
    throw new Error(`no WebSocket with ${instance} in 10 tries`)
  }

  async #welcomed(): Promise<Socket> {
    const socket = await connect(this.base)
    socket.send('{"type": "HELLO"}')
    if ((await this.#reply(socket)) !== '{"type": "WELCOME", "payload": {"welcome": "WELCOME"}}') throw new Error('no WELCOME')
    return socket
  }

  /** The next message, or undefined once the connection closes. */
  #reply(socket: Socket): Promise<string | undefined> {
    return Promise.race([socket.next(), socket.closed.then(() => undefined)])
  }
}
