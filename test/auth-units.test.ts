// The pieces of authentication: client_id parsing, usernames, password hashes, and the login throttle (on the
// real database, where its counts live).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isSupportedUsername, makeClientId, parseClientId, tokenOfHeader } from '../src/auth/client-id.js'
import { hashPassword, verifyPassword } from '../src/auth/password.js'
import { LoginThrottle } from '../src/auth/throttle.js'
import { Refusal } from '../src/errors.js'
import { openDatabase, type Database } from '../src/store/db.js'
import { loginStore } from '../src/store/logins.js'
import { uniqueName } from './http.js'
import { databaseUrl } from './server.js'

test('client_id is base64 of username:password, and only canonical base64 parses', () => {
  assert.equal(makeClientId('wood', '123'), 'd29vZDoxMjM=')
  assert.deepEqual(parseClientId('d29vZDoxMjM='), { username: 'wood', password: '123' })
  assert.deepEqual(parseClientId(makeClientId('wood', 'a:b:c')), { username: 'wood', password: 'a:b:c' })
  assert.deepEqual(parseClientId(makeClientId('wood', '')), { username: 'wood', password: '' })
  for (const bad of ['', 'd29vZDoxMjM', 'd29vZDoxMjM==', 'd29v ZDoxMjM=', 'd29vZDoxMjN=', '!!!!', makeClientId('', 'x'), 'd29vZA==', '/w==']) {
    assert.equal(parseClientId(bad), undefined, bad)
  }
  assert.equal(tokenOfHeader('Basic abc='), 'abc=')
  assert.equal(tokenOfHeader('  basic   abc= '), 'abc=')
  assert.equal(tokenOfHeader('abc='), 'abc=')
})

test('usernames: a letter first, then letters, digits, _ . -, at most 64, NFC', () => {
  for (const ok of ['wood', 'W', 'Ωmega', 'a.b-c_d9', 'x'.repeat(64), 'été']) assert.equal(isSupportedUsername(ok), true, ok)
  for (const bad of ['', '1a', '_a', 'a b', 'a/b', '../x', 'a:b', 'x'.repeat(65), 'e\u0301te', 'a\u0000']) {
    assert.equal(isSupportedUsername(bad), false, JSON.stringify(bad))
  }
})

test('scrypt hashes are salted and verify only the right password', async () => {
  const a = await hashPassword('secret')
  const b = await hashPassword('secret')
  assert.notEqual(a, b)
  assert.match(a, /^scrypt\$32768\$8\$3\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/)
  assert.equal(await verifyPassword('secret', a), true)
  assert.equal(await verifyPassword('Secret', a), false)
})

describe('the login throttle, on the real database', () => {
  let db: Database
  before(async () => {
    const options = { databaseUrl: databaseUrl(), dataDir: '', poolSize: 2, writeConnections: 1, timeoutMs: 1000, statementTimeoutMs: 10_000, fatal: () => {} }
    db = await openDatabase(options, () => {})
  })
  after(() => db.close())

  const start = (now: () => number, maxFailuresPerUsername = 100) =>
    LoginThrottle.start(loginStore(db.sql, db.health), { maxFailures: 3, maxFailuresPerUsername, lockSeconds: 60, registerMax: 2, registerWindowSeconds: 60 }, now)
  const locked = (retryAfter?: string) => (e: Refusal) => e.status === 429 && (retryAfter === undefined || String(e.options.retryAfter) === retryAfter)

  test('locks an address out of a username after the failures, counting checks under way, and lets go after the lock', async () => {
    let now = Date.now()
    const throttle = await start(() => now)
    const username = uniqueName('throttled')
    const fail = async () => {
      throttle.begin(username, 'a')
      await throttle.failed(username, 'a')
      throttle.done(username, 'a')
    }
    await fail()
    await fail()
    // Checks under way count: a third concurrent one may run, a fourth may not.
    throttle.begin(username, 'a')
    throttle.begin(username, 'a')
    throttle.begin(username, 'a')
    assert.throws(() => throttle.begin(username, 'a'), locked('1'))
    for (let i = 0; i < 3; i++) throttle.done(username, 'a')
    await fail()
    // The lock holds a minute from the database's clock, which has moved on a little since `now`.
    assert.throws(() => throttle.check(username, () => 'a'), (e: Refusal) => locked()(e) && [60, 61].includes(e.options.retryAfter!))
    throttle.check(username, () => 'b')
    throttle.check(uniqueName('other'), () => 'a')
    now += 58_000
    assert.throws(() => throttle.check(username, () => 'a'), locked())
    now += 3_001
    throttle.check(username, () => 'a')
    throttle.stop()
  })

  test('a lock set by one server holds on another at once', async () => {
    const [one, two] = [await start(Date.now), await start(Date.now)]
    const username = uniqueName('shared')
    for (let i = 0; i < 3; i++) await (i % 2 === 0 ? one : two).failed(username, 'a')
    assert.throws(() => one.check(username, () => 'a'), locked())
    // The other server hears of it through the database: it refuses as soon as the notice is in.
    for (let waited = 0; ; waited++) {
      try {
        two.check(username, () => 'a')
      } catch (e) {
        assert.ok(locked()(e as Refusal))
        break
      }
      assert.ok(waited < 100, 'the lock did not reach the other server within 5 s')
      await new Promise((r) => setTimeout(r, 50))
    }
    one.stop()
    two.stop()
  })

  test('failures from many addresses lock the username for the addresses it has not logged in from', async () => {
    const throttle = await start(Date.now, 5)
    const username = uniqueName('spread')
    await throttle.succeeded(username, 'home')
    for (let i = 0; i < 5; i++) await throttle.failed(username, `attacker-${i}`)
    assert.throws(() => throttle.check(username, () => 'attacker-9'), locked())
    assert.throws(() => throttle.check(username, () => 'somewhere new'), locked())
    throttle.check(username, () => 'home')
    throttle.stop()
  })

  test('registrations are counted per address', async () => {
    const throttle = await start(Date.now)
    const address = uniqueName('registering')
    await throttle.register(address)
    await throttle.register(address)
    await assert.rejects(throttle.register(address), locked())
    await throttle.register(uniqueName('elsewhere'))
    throttle.stop()
  })
})
