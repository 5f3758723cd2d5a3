// Pure pieces of authentication: client_id parsing, usernames, the login throttle.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSupportedUsername, makeClientId, parseClientId, tokenOfHeader } from '../src/auth/client-id.js'
import { hashPassword, verifyPassword } from '../src/auth/password.js'
import { LoginThrottle } from '../src/auth/throttle.js'
import { Refusal } from '../src/errors.js'

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

test('the throttle locks an address out of a username after the failures, and lets go after the lock', () => {
  let now = 1_000_000
  const throttle = new LoginThrottle(3, 60_000, () => now)
  const fail = () => {
    throttle.begin('wood', 'a')
    throttle.end('wood', 'a', false)
  }
  fail()
  fail()
  // Attempts under way count: a third concurrent one may run, a fourth may not.
  throttle.begin('wood', 'a')
  assert.throws(() => throttle.begin('wood', 'a'), (e: Refusal) => e.status === 429)
  throttle.end('wood', 'a', false)
  assert.throws(() => throttle.check('wood', () => 'a'), (e: Refusal) => e.status === 429 && String(e.options.retryAfter) === '60')
  throttle.check('wood', () => 'b')
  throttle.check('other', () => 'a')
  now += 59_000
  assert.throws(() => throttle.check('wood', () => 'a'), (e: Refusal) => String(e.options.retryAfter) === '1')
  now += 1_001
  throttle.check('wood', () => 'a')
  throttle.begin('wood', 'a')
  throttle.end('wood', 'a', true)
})
