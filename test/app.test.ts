// The app without a socket: request values in, reply values out (the seam both transports use), against a
// real PostgreSQL. What a transport adds (bodies, streaming, limits) is tested over sockets elsewhere.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createApp, type App } from '../src/app.js'
import { Authenticator } from '../src/auth/authenticator.js'
import { LoginThrottle } from '../src/auth/throttle.js'
import { HostSampler } from '../src/host/sampler.js'
import type { Reply, Request } from '../src/http/reply.js'
import { GroupWriter } from '../src/ingest/writer.js'
import { clientStore } from '../src/store/clients.js'
import { openDatabase, type Database } from '../src/store/db.js'
import { loginStore } from '../src/store/logins.js'
import { sampleStore } from '../src/store/samples.js'
import { basic, uniqueName } from './http.js'
import { databaseUrl } from './server.js'

let db: Database
let throttle: LoginThrottle
let sampler: HostSampler
let app: App
let ready: () => Promise<void>
const logged: string[] = []

before(async () => {
  const options = { databaseUrl: databaseUrl(), dataDir: '', poolSize: 2, writeConnections: 1, timeoutMs: 1000, statementTimeoutMs: 10_000, fatal: () => {} }
  ;[db, sampler] = await Promise.all([openDatabase(options, () => {}), HostSampler.start('/')])
  const samples = sampleStore(db.sql, db.writeSql, db.health)
  throttle = await LoginThrottle.start(loginStore(db.sql, db.health), { maxFailures: 5, maxFailuresPerUsername: 20, lockSeconds: 60, registerMax: 100, registerWindowSeconds: 60 })
  app = createApp({
    auth: new Authenticator(clientStore(db.sql, db.health), throttle, { cacheSize: 10 }),
    writer: new GroupWriter((ids, rows) => samples.write(ids, rows), { maxQueued: 100, queueWaitMs: 100, maxBatchRows: 100, concurrency: 1 }),
    samples,
    sampler,
    startedAt: new Date(),
    databaseReady: () => ready(),
    now: () => 1_700_000_000,
    maxBatchSamples: 10,
    maxInflatedBytes: 1024,
    monitorMaxWaiting: 1,
    logError: (message) => logged.push(message),
    ws: { maxSubscriptions: 1, maxPending: 1, maxBufferedBytes: 1, stallMs: 1 },
  })
})
after(async () => {
  sampler.stop()
  throttle.stop()
  await db.close()
})

const request = (method: string, target: string, body = '', headers: Request['headers'] = {}): Request => {
  const [path, query = ''] = target.split('?')
  return { method, path, query, headers, body: new TextEncoder().encode(body), remote: () => '192.0.2.1', onGone: () => {} }
}

/** The reply with its body as text, a streamed one read to its end. */
async function call(req: Request): Promise<Omit<Reply, 'body'> & { text: string }> {
  const { body, ...reply } = await app.handle(req)
  if (typeof body === 'string') return { ...reply, text: body }
  if (body instanceof Uint8Array) return { ...reply, text: new TextDecoder().decode(body) }
  let text = ''
  for await (const chunk of body) text += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk)
  return { ...reply, text }
}

test('routes, refusals in the contract shape, and a client from registration to slice', async () => {
  assert.deepEqual(await call(request('GET', '/api')), { status: 200, headers: { 'content-type': 'application/json' }, text: '{"name": "system monitor", "version": "0.0.1"}' })
  assert.deepEqual(await call(request('GET', '/nowhere')), { status: 404, headers: { 'content-type': 'application/json' }, text: '{"error": "not found"}' })
  assert.deepEqual(await call(request('DELETE', '/client')), { status: 405, headers: { 'content-type': 'application/json', allow: 'POST' }, text: '{"error": "method not allowed"}' })
  assert.deepEqual(await call(request('GET', '/monitor/memory/total?units=PB')), { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' }, text: 'Bad units provided' })

  const username = uniqueName('app')
  const clientId = basic(username, 'pw')
  assert.equal((await call(request('POST', '/client', JSON.stringify({ username, pass: 'pw' })))).text, `{"registration": "${username}", "client_id": "${clientId}"}`)
  const sent = await call(request('POST', `/client/${username}`, 'mem=5&cpu_load=7', { authorization: clientId }))
  assert.deepEqual([sent.status, sent.text], [202, '{"cpu_load": 7.0, "mem": 5, "time": 1700000000}'])
  const batch = await call(request('POST', `/client/${clientId}`, '[{"storage": 1, "time": 1700000001}]', { 'content-type': 'application/json' }))
  assert.deepEqual([batch.status, batch.text], [202, '{"accepted": 1}'])
  assert.deepEqual(await call(request('GET', `/client/${clientId}/time/report?start=1700000000`)), {
    status: 200,
    headers: { 'content-type': 'application/json' },
    text: '{"payload": [{"cpu": 7.0, "mem": 5.0, "storage": null, "unix_time": 1700000000}, {"cpu": null, "mem": null, "storage": 1.0, "unix_time": 1700000001}]}',
  })
  const wrong = await call(request('POST', `/client/${username}`, 'mem=5', { authorization: basic(username, 'other') }))
  assert.deepEqual([wrong.status, wrong.text], [401, '{"error": "authorization error"}'])
  assert.deepEqual(logged, [])
})

test('the one mapping of failures: an outage is 503 with Retry-After, anything else a logged 500', async () => {
  ready = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
  assert.deepEqual(await call(request('GET', '/readyz')), {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
    text: '{"error": "database unavailable"}',
  })
  ready = () => Promise.reject(new Error('a bug'))
  assert.deepEqual(await call(request('GET', '/readyz')), { status: 500, headers: { 'content-type': 'application/json' }, text: '{"error": "internal error"}' })
  assert.deepEqual(logged, ['GET /readyz failed'])
  logged.length = 0
})
