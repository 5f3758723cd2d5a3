// The agent's pure decisions: how long it waits after failures in a row, what a Retry-After says, and what each
// answer means for it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backoff } from '../src/agent/agent.js'
import { outcomeOf, retryAfterSeconds } from '../src/agent/uploader.js'

test('backoff doubles from 0.5 s to its cap, its upper half jittered', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 10].map((n) => backoff(n, 30, () => 0)), [0.25, 0.5, 1, 2, 4, 15])
  assert.deepEqual([1, 2, 3, 4, 5, 10].map((n) => backoff(n, 30, () => 1)), [0.5, 1, 2, 4, 8, 30])
  assert.equal(backoff(100, 30, () => 1), 30)
})

test('Retry-After in seconds or as an HTTP date', () => {
  const now = Date.parse('Tue, 01 Dec 2026 12:00:00 GMT')
  assert.equal(retryAfterSeconds('7', now), 7)
  assert.equal(retryAfterSeconds(' 0 ', now), 0)
  assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 12:00:30 GMT', now), 30)
  assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 11:00:00 GMT', now), 0)
  for (const header of [undefined, '', 'soon', '-5']) assert.equal(retryAfterSeconds(header, now), undefined, String(header))
})

test('what each answer means: 2xx done, 408, 429 and 5xx again, 413 smaller, 401 and other 4xx refused', () => {
  assert.deepEqual(outcomeOf(202, {}, '{"accepted": 3}'), { ok: true, text: '{"accepted": 3}' })
  assert.deepEqual(outcomeOf(503, { 'retry-after': '1' }, 'x'), { retry: 'the server answered 503 x', after: 1 })
  for (const status of [408, 429, 500, 502, 504]) assert.ok('retry' in outcomeOf(status, {}, ''), String(status))
  assert.deepEqual(outcomeOf(413, {}, 'big'), { tooLarge: '413 big' })
  assert.deepEqual(outcomeOf(401, {}, 'no'), { unauthorized: '401 no' })
  for (const status of [400, 403, 404, 405, 415]) assert.ok('refused' in outcomeOf(status, {}, ''), String(status))
})
