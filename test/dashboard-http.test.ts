// The dashboard over HTTP, on every target: its page and assets (types, cache headers, ETags and 304s, gzip, the
// weight budget), and the fleet API behind it (README, "The fleet API"): there only with ADMIN_TOKEN, read-only,
// its token compared and throttled like a password. The page itself is driven in a browser by dashboard.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { loadConfig } from '../src/config.js'
import { basic, client, uniqueLoopback, uniqueName } from './http.js'
import { exited, freshDatabase, spawnServer, startServer, type FreshDatabase, type RunningServer } from './server.js'

const token = 'an-operator-token-for-the-tests'
const bearer = { authorization: `Bearer ${token}` }
// The budget the issue sets for the page's script and style sheet together, gzipped.
const maxAssetBytes = 100 * 1024

let fresh: FreshDatabase
let withToken: RunningServer
let without: RunningServer
before(async () => {
  // The clients listed are this file's alone, and the token's failures are counted in a database of its own.
  fresh = await freshDatabase('dashboard_http')
  ;[withToken, without] = await Promise.all([
    startServer({ DATABASE_URL: fresh.url, ADMIN_TOKEN: token, LOGIN_MAX_FAILURES: '3' }),
    startServer({ DATABASE_URL: fresh.url }),
  ])
})
after(async () => {
  assert.equal(await withToken.stop(), 0)
  assert.equal(await without.stop(), 0)
  await fresh.drop()
})

/** The page's script and style sheet, as its HTML names them. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/dashboard\/app-[\w-]+\.(?:js|css))"/g)].map((m) => m[1])
}

describe('the page and its assets', () => {
  test('the page is HTML that only this server may serve anything to, revalidated on every load', async () => {
    const page = await client(without.url).get('/dashboard')
    assert.equal(page.status, 200)
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(page.headers['cache-control'], 'no-cache')
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self';.* connect-src 'self'/)
    assert.match(String(page.headers.etag), /^"[\w-]{22}"$/)
    assert.match(page.text, /^<!doctype html>/)
    assert.deepEqual(assetsOf(page.text).length, 2)
    // Nothing in it names another origin.
    assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//)
  })

  test('the assets are script and style sheet, kept for good, within the weight budget gzipped', async () => {
    const http = client(without.url)
    const page = await http.get('/dashboard')
    let gzipped = 0
    for (const path of assetsOf(page.text)) {
      const plain = await http.get(path)
      assert.equal(plain.status, 200)
      assert.equal(plain.headers['content-type'], path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8')
      assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable')
      assert.equal(plain.headers['content-encoding'], undefined)
      const zipped = await http.get(path, { 'accept-encoding': 'gzip, deflate, br' })
      assert.equal(zipped.headers['content-encoding'], 'gzip')
      assert.equal(zipped.headers.vary, 'accept-encoding')
      assert.equal(gunzipSync(zipped.bytes).toString('utf8'), plain.text)
      assert.notEqual(zipped.headers.etag, plain.headers.etag)
      gzipped += zipped.bytes.length
    }
    assert.ok(gzipped <= maxAssetBytes, `${gzipped} bytes gzipped`)
  })

  test('a copy the browser holds is answered 304, without a body, in either encoding', async () => {
    const http = client(without.url)
    for (const path of ['/dashboard', assetsOf((await http.get('/dashboard')).text)[0]]) {
      for (const encoding of ['identity', 'gzip']) {
        const headers = { 'accept-encoding': encoding }
        const first = await http.get(path, headers)
        const etag = String(first.headers.etag)
        const again = await http.get(path, { ...headers, 'if-none-match': etag })
        assert.deepEqual([again.status, again.text, again.headers.etag], [304, '', etag], `${path} ${encoding}`)
        const weakAmongOthers = await http.get(path, { ...headers, 'if-none-match': `"other", W/${etag}` })
        assert.equal(weakAmongOthers.status, 304)
        const changed = await http.get(path, { ...headers, 'if-none-match': '"something-else"' })
        assert.deepEqual([changed.status, changed.bytes.length > 0], [200, true])
      }
    }
  })

  test('HEAD has the headers alone; an unknown asset is 404 and a write 405, in the contract shape', async () => {
    const http = client(without.url)
    const head = await http.send('/dashboard', { method: 'HEAD' })
    assert.deepEqual([head.status, head.text, head.headers['content-type']], [200, '', 'text/html; charset=utf-8'])
    const missing = await http.get('/dashboard/app-NOTHERE.js')
    assert.deepEqual([missing.status, missing.text], [404, '{"error": "not found"}'])
    const posted = await http.post('/dashboard', 'x=1')
    assert.deepEqual([posted.status, posted.headers.allow], [405, 'GET, HEAD'])
  })
})

describe('the fleet API', () => {
  const alder = uniqueName('alder')
  const birch = uniqueName('birch')
  const alderId = basic(alder, 'pw1')

  before(async () => {
    const http = client(withToken.url)
    for (const [name, password] of [
      [alder, 'pw1'],
      [birch, 'pw2'],
    ]) {
      assert.equal((await http.post('/client', JSON.stringify({ username: name, password }))).status, 200)
    }
    const batch = JSON.stringify([
      { cpu_load: 10, mem: 100, storage: 1000, time: 1700000000 },
      { cpu_load: 30, mem: 300, time: 1700000030 },
      { cpu_load: 20.5, storage: 1200, time: 1700000090 },
    ])
    assert.equal((await http.post(`/client/${alder}`, batch, { authorization: alderId, 'content-type': 'application/json' })).status, 202)
  })

  test('without ADMIN_TOKEN there is no such API, and the page is told there is no fleet', async () => {
    const http = client(without.url)
    for (const path of ['/api/clients', `/api/clients/${alder}/time`, `/api/clients/${alder}/time/report`]) {
      const res = await http.get(path, bearer)
      assert.deepEqual([res.status, res.text], [404, '{"error": "not found"}'], path)
    }
    assert.match((await http.get('/dashboard')).text, /<html lang="en" data-fleet="off">/)
    assert.match((await client(withToken.url).get('/dashboard')).text, /<html lang="en" data-fleet="on">/)
  })

  test('the token lists every client with its span and latest sample', async () => {
    const res = await client(withToken.url).get('/api/clients', bearer)
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.equal(
      res.text,
      `{"clients": [{"username": "${alder}", "start": 1700000000, "end": 1700000090, "cpu": 20.5, "mem": null, "storage": 1200.0}, ` +
        `{"username": "${birch}", "start": null, "end": null, "cpu": null, "mem": null, "storage": null}]}`,
    )
  })

  test("the token reads any client's span and slices as the client itself does", async () => {
    const http = client(withToken.url)
    for (const path of ['/time', '/time/report', '/time/report?start=1700000010&end=1700000090', '/time/report?step=60&agg=avg,min,max', '/time/report?step=0']) {
      const own = await http.get(`/client/${alder}${path}`, { authorization: alderId })
      const read = await http.get(`/api/clients/${alder}${path}`, bearer)
      assert.deepEqual([read.status, read.text], [own.status, own.text], path)
    }
    const empty = await http.get(`/api/clients/${birch}/time`, bearer)
    assert.deepEqual([empty.status, empty.text], [406, '{"error": "log is empty"}'])
    const unknown = await http.get(`/api/clients/${uniqueName('nobody')}/time/report`, bearer)
    assert.deepEqual([unknown.status, unknown.text], [404, '{"error": "no such client"}'])
    // A name no client can have, one PostgreSQL would refuse (a NUL byte) among them.
    for (const name of ['%00', 'a'.repeat(10_000)]) {
      const odd = await http.get(`/api/clients/${name}/time`, bearer)
      assert.deepEqual([odd.status, odd.text], [404, '{"error": "no such client"}'], name.slice(0, 10))
    }
  })

  test('the token cannot write: no route of the API takes a body, and a client route does not take the token', async () => {
    const http = client(withToken.url)
    const posted = await http.post(`/api/clients/${alder}/time/report`, '{"cpu_load": 50}', { ...bearer, 'content-type': 'application/json' })
    assert.deepEqual([posted.status, posted.headers.allow], [405, 'GET, HEAD'])
    assert.equal((await http.post(`/api/clients/${alder}`, 'cpu_load=50', bearer)).status, 404)
    for (const authorization of [`Bearer ${token}`, token]) {
      const written = await http.post(`/client/${alder}`, 'cpu_load=50&time=1700000100', { authorization })
      assert.deepEqual([written.status, written.text], [401, '{"error": "authorization error"}'])
    }
    const span = await http.get(`/api/clients/${alder}/time`, bearer)
    assert.equal(span.text, '{"start": 1700000000, "end": 1700000090}')
  })

  test('no token or a wrong one is 401 with a Bearer challenge; repeated wrong ones lock the address out (429)', async () => {
    const from = uniqueLoopback()
    const http = client(withToken.url, from)
    for (const headers of [{}, { authorization: token }, { authorization: 'Bearer' }] as Record<string, string>[]) {
      const res = await http.get('/api/clients', headers)
      assert.deepEqual([res.status, res.text, res.headers['www-authenticate']], [401, '{"error": "authorization error"}', 'Bearer'], JSON.stringify(headers))
    }
    // LOGIN_MAX_FAILURES=3 wrong tokens: the third sets the lock.
    for (let i = 0; i < 3; i++) assert.equal((await http.get('/api/clients', { authorization: `Bearer wrong-${i}-${token}` })).status, 401)
    for (const authorization of ['Bearer yet-another-guess', `Bearer ${token}`]) {
      const locked = await http.get(`/api/clients/${alder}/time`, { authorization })
      assert.equal(locked.status, 429)
      assert.equal(locked.text, '{"error": "too many failed logins, try again later"}')
      assert.ok(Number(locked.headers['retry-after']) >= 1)
    }
    // Another address is not held back by that one's guesses.
    assert.equal((await client(withToken.url, uniqueLoopback()).get('/api/clients', bearer)).status, 200)
  })

  test('an ADMIN_TOKEN shorter than 16 characters, or of more than one word, stops the server at start, naming it', async () => {
    const { code, output } = await exited(spawnServer([], { ADMIN_TOKEN: 'fifteen-letters' }))
    assert.equal(code, 2)
    assert.match(output, /Invalid ADMIN_TOKEN \(--admin-token\) "fifteen-letters": expected at least 16 characters/)
    assert.throws(() => loadConfig([], { ADMIN_TOKEN: 'two words of a token' }), /Invalid ADMIN_TOKEN \(--admin-token\) "two words of a token": expected no spaces/)
    const sixteen = loadConfig(['--admin-token', 'sixteen-letters!'], {})
    assert.equal(sixteen !== 'help' && sixteen.adminToken, 'sixteen-letters!')
  })
})
