// The agent against the real server, run as the server under test is (from source, the bundle or the single
// executable): no sample lost while the server is away and the agent is killed meanwhile, the spool's cap under a
// long outage, a wrong password stopping it at once, --once, and its options.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer as httpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Spool } from '../src/agent/spool.js'
import { readStorage } from '../src/host/figures.js'
import { basic, client, uniqueName } from './http.js'
import { exited, quietPort, seenByServer, spawnServer, startServer, target, tempDirectory, type RunningServer } from './server.js'

const skip = target === 'deno' && 'the agent runs on Node.js: from source, as the bundle and as the single executable'
// What each build only loads differently is run from every one (the outage, --once, a refusal); the rest once.
const once = target !== 'source' && 'the same code as from source, which runs it'

const spoolDir = () => tempDirectory()

interface RunningAgent {
  process: ChildProcess
  output(): string
  /** Resolves once the agent has said something matching. */
  said(pattern: RegExp): Promise<void>
  exit: Promise<{ code: number | null; output: string }>
}

/** `agent` and its arguments, the spool named as the agent sees it. */
const agentArgs = (args: string[]) => ['agent', ...args.map((a, i) => (args[i - 1] === '--spool' ? seenByServer(a) : a))]

function startAgent(args: string[], password = 'pw'): RunningAgent {
  const child = spawnServer(agentArgs(args), { SYSTEM_MONITOR_PASSWORD: password })
  const exit = exited(child)
  let output = ''
  const waiting = new Set<() => void>()
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (d) => {
      output += d
      for (const wake of waiting) wake()
    })
  }
  return {
    process: child,
    output: () => output,
    exit,
    said: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(output)) return
          waiting.delete(check)
          resolve()
        }
        waiting.add(check)
        check()
        void exit.then(() => reject(new Error(`the agent exited before saying ${pattern}:\n${output}`)))
      }),
  }
}

/** Polls until `check` holds (there is no event to wait for: the server's log, the spool's files), at most `ms`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

type Row = { cpu: number | null; mem: number | null; storage: number | null; unix_time: number }
async function rows(url: string, username: string, password = 'pw'): Promise<Row[]> {
  const res = await client(url, undefined, true).get(`/client/${username}/time/report`, { authorization: basic(username, password) })
  if (res.status === 401) return []
  assert.equal(res.status, 200, res.text)
  return (res.json() as { payload: Row[] }).payload
}

/** The times of the samples in a spool's files (acknowledged or not). */
const spooledTimes = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => readFileSync(join(dir, f), 'latin1').split('\n'))
    .filter((line) => line.endsWith('}'))
    .map((line) => (JSON.parse(line) as { time: number }).time)
const spoolBytes = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0)


/** Seconds from `from` to `to` that `times` lacks. */
const missing = (times: number[], from: number, to: number) => {
  const have = new Set(times)
  return Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((t) => !have.has(t))
}

describe('the agent', { skip }, () => {
  test('loses no sample while the server is stopped and started again, and the agent is killed (SIGKILL) and restarted meanwhile', async () => {
    let server: RunningServer | undefined = await startServer({ PORT: String(await quietPort()) })
    const { port, url } = server
    const user = uniqueName('agent')
    const spool = spoolDir()
    const args = ['--server', url, '--user', user, '--spool', spool, '--max-retry-delay', '1']
    try {
      const first = startAgent(args)
      await first.said(/registered/)
      await eventually('three samples on the server', async () => ((await rows(url, user)).length >= 3 ? true : undefined))
      const stored = (await rows(url, user)).length

      await server.stop()
      server = undefined
      const downAt = Math.floor(Date.now() / 1000)
      await first.said(/unreachable .*samples wait in the spool/)
      const spooledBefore = spooledTimes(spool).length
      await eventually('two samples spooled while the server is away', () => (spooledTimes(spool).length >= spooledBefore + 2 ? true : undefined))
      first.process.kill('SIGKILL')
      await first.exit
      const keptByFirst = spooledTimes(spool)
      const lastOfFirst = Math.max(...keptByFirst)

      const second = startAgent(args)
      const restartedAt = Date.now()
      await eventually('two samples spooled by the restarted agent', () => (spooledTimes(spool).filter((t) => t > lastOfFirst).length >= 2 ? true : undefined))
      const firstOfSecond = Math.min(...spooledTimes(spool).filter((t) => t > lastOfFirst))
      server = await startServer({ PORT: String(port) })
      const upAt = Math.floor(Date.now() / 1000)
      await second.said(/the server answers again after \d+ s: \d+ spooled samples sent/)
      await eventually('two samples sent live after the outage', async () => ((await rows(url, user)).at(-1)!.unix_time >= upAt + 2 ? true : undefined))
      second.process.kill('SIGTERM')
      const { code, output } = await second.exit
      assert.equal(code, 0, output)
      assert.match(output, /logged in as/)

      const times = (await rows(url, user)).map((r) => r.unix_time)
      const [firstTime, lastTime] = [times[0], times.at(-1)!]
      // Everything the killed agent had spooled, acknowledged or not, reached the server.
      assert.deepEqual(missing(times, Math.min(...keptByFirst), lastOfFirst), [])
      assert.deepEqual(
        keptByFirst.filter((t) => !times.includes(t)),
        [],
      )
      // Every interval while either agent ran has its sample: the only gap is between the kill and the restart.
      assert.deepEqual(missing(times, firstTime, lastOfFirst), [])
      assert.deepEqual(missing(times, firstOfSecond, lastTime), [])
      assert.ok(firstOfSecond - lastOfFirst <= Math.ceil((Date.now() - restartedAt) / 1000) + 2)
      assert.ok(times.filter((t) => t >= downAt && t < upAt).length >= 4, `samples of the outage: ${JSON.stringify({ downAt, upAt, times })}`)
      assert.ok(times.length > stored + 4)
      // This host's figures, in the GUI client's units (MB).
      const sample = (await rows(url, user)).at(-1)!
      const storageMb = Math.floor((await readStorage('/')).used / 1024 ** 2)
      assert.ok(sample.cpu! >= 0 && sample.cpu! <= 100)
      assert.ok(sample.mem! > 0)
      assert.ok(Math.abs(sample.storage! - storageMb) < storageMb * 0.05 + 100, `${sample.storage} MB stored, ${storageMb} MB used`)
    } finally {
      await server?.stop()
    }
  })

  test('a long outage: the spool stays under its cap, the oldest samples are dropped, counted, and said once', { skip: once }, async () => {
    const port = await quietPort()
    const url = `http://127.0.0.1:${port}`
    const user = uniqueName('capped')
    const spool = spoolDir()
    const cap = 8192
    // What an outage long before left: 300 samples of a past hour, written as the agent writes them.
    const past = Math.floor(Date.now() / 1000) - 3600
    const earlier = Spool.open(spool, cap)
    for (let t = past; t < past + 300; t++) earlier.append({ time: t, cpu_load: 1, mem: 2, storage: 3 })
    const droppedBefore = earlier.dropped
    earlier.close()
    const kept = spooledTimes(spool)

    const agent = startAgent(['--server', url, '--user', user, '--spool', spool, '--spool-max-bytes', String(cap), '--max-retry-delay', '1'])
    let server: RunningServer | undefined
    try {
      await agent.said(/the spool is full \(--spool-max-bytes 8192\): the oldest samples are dropped/)
      // Several segments' worth more: every one of them deletes an older one.
      const spooled = spooledTimes(spool).length
      await eventually('more samples over the cap', () => {
        assert.ok(spoolBytes(spool) <= cap, `${spoolBytes(spool)} bytes spooled`)
        return spooledTimes(spool).filter((t) => t > past + 300).length >= 12 ? true : undefined
      })
      assert.ok(spooledTimes(spool).length <= spooled + 8)
      server = await startServer({ PORT: String(port) })
      await agent.said(/\d+ of the oldest samples were dropped while the spool was full/)
      const dropped = Number(/(\d+) of the oldest samples were dropped/.exec(agent.output())![1])
      assert.equal(agent.output().match(/the spool is full/g)?.length, 1)

      const times = (await rows(server.url, user)).map((r) => r.unix_time)
      const fromThePast = times.filter((t) => t < past + 300)
      // The newest of the past ones, without a gap, and as many as were neither dropped before nor by this agent.
      assert.equal(fromThePast.length, 300 - droppedBefore - dropped)
      assert.deepEqual(missing(fromThePast, fromThePast[0], past + 299), [])
      assert.ok(fromThePast[0] > kept[0])
      agent.process.kill('SIGTERM')
      assert.equal((await agent.exit).code, 0)
    } finally {
      agent.process.kill('SIGKILL')
      await server?.stop()
    }
  })

  test('a wrong password stops it at once, with a clear message and exit status 3, and no retry', async () => {
    const server = await startServer()
    try {
      const user = uniqueName('wrong')
      assert.equal((await client(server.url).post('/client', JSON.stringify({ username: user, pass: 'right' }))).status, 200)
      const agent = startAgent(['--server', server.url, '--user', user, '--spool', spoolDir()], 'wrong')
      const { code, output } = await agent.exit
      assert.equal(code, 3, output)
      assert.match(output, /the server refused \S+: 401 \{"error": "authorization error"\} \(a wrong password for this username\?\)/)
      assert.equal(output.match(/refused/g)?.length, 1)
      // One login was tried: a second from this address would be the throttle's second failure, still below its lock.
      assert.equal((await rows(server.url, user, 'right')).length, 0)
    } finally {
      await server.stop()
    }
  })

  test('--once sends one sample and exits; with the server away it keeps it for the next run', async () => {
    const server = await startServer()
    try {
      const user = uniqueName('once')
      const spool = spoolDir()
      const sent = startAgent(['--once', '--server', server.url, '--user', user, '--spool', spool, '--metrics', 'cpu,storage', '--units', 'GB'])
      assert.equal((await sent.exit).code, 0, sent.output())
      const [row] = await rows(server.url, user)
      assert.equal((await rows(server.url, user)).length, 1)
      assert.equal(row.mem, null)
      assert.equal(row.storage, Math.floor((await readStorage('/')).used / 1024 ** 3))
      assert.ok(Math.abs(row.unix_time - Date.now() / 1000) < 10)

      const away = startAgent(['--once', '--server', `http://127.0.0.1:${await quietPort()}`, '--user', user, '--spool', spool])
      const { code, output } = await away.exit
      assert.equal(code, 1, output)
      assert.match(output, /not sent: the spool .* keeps it for the next run/)
      const spooled = spooledTimes(spool).at(-1)!
      const again = startAgent(['--once', '--server', server.url, '--user', user, '--spool', spool])
      assert.equal((await again.exit).code, 0, again.output())
      const times = (await rows(server.url, user)).map((r) => r.unix_time)
      assert.ok(times.includes(spooled), `${spooled} not in ${times.join()}`)
    } finally {
      await server.stop()
    }
  })

  test('Retry-After is waited out; 408, 429 and 5xx are tried again; another 4xx stops it after one try', { skip: once }, async () => {
    // A stand-in for the server (a proxy in front of it, say) that answers as scripted, and notes when it was asked.
    const script: [string, number, Record<string, string>, string][] = [
      ['/client', 503, { 'retry-after': '2' }, '{"error": "database unavailable"}'],
      ['/client', 429, {}, '{"error": "too many failed logins, try again later"}'],
      ['/client', 200, {}, '{"client_id": "c29tZW9uZTpwdw=="}'],
      ['/client/someone', 408, {}, ''],
      ['/client/someone', 400, {}, '{"error": "value error"}'],
    ]
    const asked: { path: string; at: number }[] = []
    const proxy = httpServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume()
      asked.push({ path: req.url!, at: Date.now() })
      const [, status, headers, body] = script[asked.length - 1] ?? ['', 500, {}, '']
      res.writeHead(status, headers).end(body)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = proxy.address() as { port: number }
      const agent = startAgent(['--server', `http://127.0.0.1:${port}`, '--user', 'someone', '--spool', spoolDir(), '--max-retry-delay', '1'])
      const { code, output } = await agent.exit
      assert.equal(code, 3, output)
      assert.match(output, /the server refused someone: 400 \{"error": "value error"\}; nothing more is sent/)
      assert.deepEqual(
        asked.map((a) => a.path),
        script.map(([path]) => path),
      )
      assert.ok(asked[1].at - asked[0].at >= 1900, `the second try came ${asked[1].at - asked[0].at} ms after a Retry-After of 2 s`)
      assert.match(output, /the server answered 503 \{"error": "database unavailable"\}: samples wait in the spool/)
      assert.equal(output.match(/samples wait in the spool/g)?.length, 1)
    } finally {
      proxy.close()
    }
  })

  test('--help documents it; bad options and a spool in use exit 2 with a message', { skip: once }, async () => {
    const help = await exited(spawnServer(['agent', '--help']))
    assert.equal(help.code, 0)
    for (const word of ['--server', '--user', '--password-file', 'SYSTEM_MONITOR_PASSWORD', '--interval', '--metrics', '--units', '--storage-path', '--spool', '--spool-max-bytes', '--once']) {
      assert.ok(help.output.includes(word), `${word} missing from:\n${help.output}`)
    }
    const base = ['--server', 'http://127.0.0.1:1', '--user', 'someone', '--spool', spoolDir()]
    for (const [args, message] of [
      [[...base, '--interval', '0.5'], /Invalid SYSTEM_MONITOR_INTERVAL \(--interval\) "0.5": expected seconds from 1 to 3600/],
      [[...base, '--units', 'PB'], /Invalid SYSTEM_MONITOR_UNITS \(--units\) "PB": expected TB, GB, MB, KB or B/],
      [[...base, '--metrics', 'cpu,disk'], /Invalid SYSTEM_MONITOR_METRICS .*some of cpu, mem, storage/],
      [[...base, '--spool-max-bytes', '10'], /Invalid SYSTEM_MONITOR_SPOOL_MAX_BYTES/],
      [[...base, '--no-such-flag'], /Unknown option '--no-such-flag'/],
      [['--user', 'someone'], /--server \(SYSTEM_MONITOR_SERVER\) is required/],
      [[...base.slice(0, 2), '--user', '9lives'], /Invalid SYSTEM_MONITOR_USER/],
      [[...base, '--storage-path', '/no/such/path'], /no such file or directory/],
      [[...base, '--password-file', '/no/such/file'], /Cannot read SYSTEM_MONITOR_PASSWORD_FILE/],
    ] as const) {
      const { code, output } = await exited(spawnServer(['agent', ...args], { SYSTEM_MONITOR_PASSWORD: 'pw' }))
      assert.equal(code, 2, `${args.join(' ')}: ${output}`)
      assert.match(output, message)
    }
    const { code, output } = await exited(spawnServer(['agent', ...base]))
    assert.deepEqual([code, /no password/.test(output)], [2, true], output)

    const spool = spoolDir()
    const running = startAgent(['--server', 'http://127.0.0.1:1', '--user', 'someone', '--spool', spool])
    await running.said(/sending cpu, mem, storage/)
    const second = await exited(spawnServer(agentArgs(['--server', 'http://127.0.0.1:1', '--user', 'someone', '--spool', spool]), { SYSTEM_MONITOR_PASSWORD: 'pw' }))
    assert.equal(second.code, 2)
    assert.match(second.output, /the spool .* is in use by process \d+/)
    running.process.kill('SIGTERM')
    assert.equal((await running.exit).code, 0)
  })
})
