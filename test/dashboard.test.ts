// The dashboard in a browser (Debian's chromium, headless), against the real server and database: the live server
// charts, logging in, a client's history holding exactly the API's points, new samples within 2 s (also those
// another server took), the CSV, the fleet with and without ADMIN_TOKEN, a phone's width, and a server restart.
// Every page is watched (test/browser.ts): no console error, failed request or request to another origin, unless a
// test asks for a refusal. Screenshots of every view, desktop and phone, light and dark, go to artifacts/dashboard/.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { FleetSnapshot, HistorySnapshot, LiveSnapshot } from '../src/page/snapshot.js'
import { launchBrowser, openPage, waitUntil, type Watched } from './browser.js'
import { basic, client, uniqueName } from './http.js'
import { freshDatabase, quietPort, root, startServer, target, type FreshDatabase, type RunningServer } from './server.js'

// The page is the same file on every target (test/dashboard-http.test.ts and the core flow check that each serves it).
const skip = target === 'source' ? false : 'the browser tests run on the source target; every target serving the page is checked over HTTP'

const token = 'the-dashboard-tests-admin-token'
const shots = join(root, 'artifacts', 'dashboard')

const history = (page: Page) => page.evaluate('window.systemMonitorDashboard.history()') as Promise<HistorySnapshot>
const live = (page: Page) => page.evaluate('window.systemMonitorDashboard.live()') as Promise<LiveSnapshot>
const fleet = (page: Page) => page.evaluate('window.systemMonitorDashboard.fleet()') as Promise<FleetSnapshot>
const text = (page: Page, selector: string) => page.locator(selector).innerText()
const waitFor = waitUntil
const connected = (page: Page) => waitFor(page, "document.getElementById('connection').textContent === 'Live'", 30_000)
const historyLoaded = (page: Page, extra = 'true') => waitFor(page, `(() => { const h = window.systemMonitorDashboard.history(); return h.loaded && ${extra} })()`)

const nowSeconds = () => Math.floor(Date.now() / 1000)
// A day of samples a minute apart, three days ago, and the last quarter of an hour's, 20 s apart.
const dayStart = Math.floor(nowSeconds() / 3600) * 3600 - 3 * 86_400
const dayEnd = dayStart + 86_400

describe('the dashboard in a browser', { skip }, () => {
  let fresh: FreshDatabase
  let server: RunningServer
  let other: RunningServer
  let browser: Browser
  // A port no other server takes while this one restarts on it.
  let port: number
  const env = () => ({ DATABASE_URL: fresh.url, ADMIN_TOKEN: token, LOGIN_MAX_FAILURES: '2', PORT: String(port) })
  const oak = uniqueName('oak')
  const oakId = basic(oak, 'acorn')
  const maple = uniqueName('maple')
  const birch = uniqueName('birch')
  const asOak = { 'system-monitor.login': { username: oak, clientId: oakId } }
  const asAdmin = { 'system-monitor.admin-token': token }

  before(async () => {
    mkdirSync(shots, { recursive: true })
    // The fleet lists exactly this file's clients. `other` is a second server on the same database, without the token.
    ;[fresh, port] = await Promise.all([freshDatabase('dashboard'), quietPort()])
    ;[server, other, browser] = await Promise.all([startServer(env()), startServer({ DATABASE_URL: fresh.url }), launchBrowser()])
    const http = client(server.url)
    for (const [name, password] of [
      [oak, 'acorn'],
      [maple, 'seed'],
      [birch, 'bark'],
    ]) {
      assert.equal((await http.post('/client', JSON.stringify({ username: name, password }))).status, 200)
    }
    const now = nowSeconds()
    const day = Array.from({ length: 1440 }, (_, i) => ({ time: dayStart + 60 * i, cpu_load: Math.round(500 + 400 * Math.sin(i / 40)) / 10, mem: 1000 + i, storage: 5000 + (i % 7) }))
    const recent = Array.from({ length: 45 }, (_, i) => ({ time: now - 900 + 20 * i, cpu_load: 10 + (i % 5), mem: 2000, storage: 6000 }))
    const json = { authorization: oakId, 'content-type': 'application/json' }
    assert.equal((await http.post(`/client/${oak}`, JSON.stringify([...day, ...recent]), json)).status, 202)
    const old = JSON.stringify([{ time: dayStart, cpu_load: 5 }])
    assert.equal((await http.post(`/client/${birch}`, old, { authorization: basic(birch, 'bark'), 'content-type': 'application/json' })).status, 202)
  })
  after(async () => {
    await browser?.close()
    assert.equal(await server.stop(), 0)
    assert.equal(await other.stop(), 0)
    await fresh.drop()
  })

  /** A page of its own (sessionStorage as given), checked for problems once `body` is done. */
  async function withPage(path: string, session: Record<string, unknown>, body: (w: Watched) => Promise<void>, options = {}, origin = server.url): Promise<void> {
    const watched = await openPage(browser, origin, { viewport: { width: 1280, height: 900 }, ...options }, session)
    try {
      await watched.page.goto(origin + path)
      await body(watched)
      assert.deepEqual(watched.problems, [])
    } finally {
      await watched.context.close()
    }
  }

  const report = async (start: number, end: number, step: number) => {
    const res = await client(server.url).get(`/client/${oak}/time/report?start=${start}&end=${end}&step=${step}&agg=avg,min,max`, { authorization: oakId })
    assert.equal(res.status, 200)
    return (res.json() as { payload: Record<string, number | null>[] }).payload
  }

  test('the live server charts update every second', async () => {
    await withPage('/dashboard', {}, async ({ page }) => {
      await connected(page)
      await waitFor(page, 'window.systemMonitorDashboard.live().times.length >= 1')
      const first = await live(page)
      const label = await page.getAttribute('#live-cpu-chart', 'aria-label')
      await waitFor(page, `window.systemMonitorDashboard.live().times.length >= ${first.times.length + 2}`)
      const later = await live(page)
      assert.ok(later.times.at(-1)! > first.times.at(-1)! + 1)
      assert.notEqual(await page.getAttribute('#live-cpu-chart', 'aria-label'), label)
      assert.match(later.figures[0], /^\d+(\.\d)? %$/)
      assert.match(later.figures[1], /^[\d.]+ %, [\d,.]+ of [\d,.]+ MB$/)
      assert.match(later.figures[2], /^[\d.]+ %, [\d,.]+ of [\d,.]+ GB$/)
    })
  })

  test('login: a wrong password is told beside the form, a lockout says when to retry, the right one opens the history', async () => {
    await withPage(`/dashboard?view=history&client=${oak}`, {}, async ({ page, expect }) => {
      expect(/status of 401|status of 429/)
      assert.equal(await page.inputValue('#login [name=username]'), oak)
      await page.fill('#login [name=password]', 'oops')
      await page.click('#login [type=submit]')
      await waitFor(page, "document.getElementById('login-error').textContent !== ''")
      assert.equal(await text(page, '#login-error'), 'Wrong password for this username.')
      assert.equal(await page.getAttribute('#login [name=password]', 'aria-describedby'), 'login-error')

      // LOGIN_MAX_FAILURES=2: the second wrong password locks the address out of that username.
      await page.fill('#login [name=username]', maple)
      for (let i = 0; i < 3; i++) {
        await page.fill('#login [name=password]', `guess${i}`)
        await page.evaluate("document.getElementById('login-error').textContent = ''")
        await page.click('#login [type=submit]')
        await waitFor(page, "document.getElementById('login-error').textContent !== ''")
      }
      assert.match(await text(page, '#login-error'), /^Too many failed attempts\. Try again in \d+ s \(at .+\)\.$/)
      assert.equal(await page.isDisabled('#login [type=submit]'), true)

      // Another username is not locked.
      await page.fill('#login [name=username]', oak)
      await page.fill('#login [name=password]', 'acorn')
      await page.click('#login [type=submit]')
      await historyLoaded(page)
      assert.equal(await text(page, '#history-client'), `Logged in as ${oak}`)
      assert.deepEqual(JSON.parse((await page.evaluate("sessionStorage.getItem('system-monitor.login')")) as string), { username: oak, clientId: oakId })
      assert.equal(await page.evaluate('document.cookie'), '')
      assert.ok(!page.url().includes('acorn') && !page.url().includes(encodeURIComponent(oakId)), page.url())
    })
  })

  test("a client's history holds exactly the API's points for its range and step; drag zooms, double-click goes back, the URL keeps it", async () => {
    await withPage(`/dashboard?view=history&client=${oak}&start=${dayStart}&end=${dayEnd}`, asOak, async ({ page }) => {
      await historyLoaded(page, `h.start === ${dayStart}`)
      const shown = await history(page)
      const plot = (await page.locator('#history-cpu-chart .u-over').boundingBox())!
      assert.ok(Math.abs(shown.plotWidth - plot.width) <= 1, `a step for ${shown.plotWidth} px, the plot is ${plot.width} px`)
      assert.equal(shown.step, Math.ceil((dayEnd - dayStart) / (shown.plotWidth / 2)))
      const api = await report(dayStart, dayEnd, shown.step)
      assert.ok(api.length > 100, `${api.length} points`)
      for (const m of ['cpu', 'mem', 'storage'] as const) {
        assert.deepEqual(shown.charts[m], { x: api.map((r) => r.unix_time), avg: api.map((r) => r[`${m}_avg`]), min: api.map((r) => r[`${m}_min`]), max: api.map((r) => r[`${m}_max`]) }, m)
      }
      assert.match(await text(page, '#history-span'), /^The log holds samples from .+ to .+\.$/)

      const drag = async () => {
        await page.mouse.move(plot.x + plot.width * 0.25, plot.y + plot.height / 2)
        await page.mouse.down()
        await page.mouse.move(plot.x + plot.width * 0.75, plot.y + plot.height / 2, { steps: 5 })
        await page.mouse.up()
        await historyLoaded(page, `h.start > ${dayStart} && h.end < ${dayEnd}`)
      }
      await drag()
      const zoomed = await history(page)
      assert.ok(zoomed.step < shown.step)
      assert.deepEqual(zoomed.charts.cpu.x, (await report(zoomed.start, zoomed.end, zoomed.step)).map((r) => r.unix_time))
      assert.match(page.url(), new RegExp(`start=${zoomed.start}&end=${zoomed.end}$`))
      await page.mouse.dblclick(plot.x + plot.width / 2, plot.y + plot.height / 2)
      await historyLoaded(page, `h.start === ${dayStart} && h.end === ${dayEnd}`)
      assert.match(page.url(), new RegExp(`start=${dayStart}&end=${dayEnd}$`))

      await drag()
      const again = await history(page)
      await page.reload()
      await historyLoaded(page, `h.start === ${again.start} && h.end === ${again.end}`)
    })
  })

  test('a sample shows in the open chart within 2 s of its 202, also one another server on the database took', async () => {
    await withPage(`/dashboard?view=history&client=${oak}&range=15m`, asOak, async ({ page }) => {
      await historyLoaded(page)
      for (const [via, cpu] of [
        [server, 91.25],
        [other, 92.5],
      ] as const) {
        const t = nowSeconds()
        const sent = await client(via.url).post(`/client/${oak}`, `cpu_load=${cpu}&mem=3000&storage=7000&time=${t}`, { authorization: oakId })
        assert.equal(sent.status, 202)
        const acked = performance.now()
        await waitFor(page, `(() => { const h = window.systemMonitorDashboard.history(); const i = h.charts.cpu.x.indexOf(Math.floor(${t} / h.step) * h.step); return i >= 0 && h.charts.cpu.max[i] === ${cpu} })()`)
        const took = performance.now() - acked
        assert.ok(took < 2000, `shown ${Math.round(took)} ms after its 202 (via ${via === server ? 'this server' : 'another'})`)
      }
    })
  })

  test("the CSV download is the API's answer for the range, a row a point, with a header", async () => {
    await withPage(`/dashboard?view=history&client=${oak}&start=${dayStart}&end=${dayEnd}`, asOak, async ({ page }) => {
      await historyLoaded(page, `h.start === ${dayStart}`)
      const { step } = await history(page)
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('#download')])
      assert.equal(download.suggestedFilename(), `${oak}-${dayStart}-${dayEnd}-step-${step}.csv`)
      const lines = readFileSync((await download.path())!, 'utf8').split('\r\n')
      assert.equal(lines.pop(), '')
      const api = await report(dayStart, dayEnd, step)
      const header = Object.keys(api[0])
      assert.deepEqual(lines[0].split(','), header)
      assert.deepEqual(
        lines.slice(1).map((line) => line.split(',').map((cell) => (cell === '' ? null : Number(cell)))),
        api.map((row) => header.map((key) => row[key])),
      )
    })
  })

  test("the fleet lists every client with the token, marks the stale ones, sorts, filters and opens a client's history", async () => {
    await withPage('/dashboard?view=fleet', {}, async ({ page, expect }) => {
      assert.equal(await page.isVisible('nav [data-view=fleet]'), true)
      const stop = expect(/status of 401/)
      await page.fill('#admin-login [name=token]', `${token}-not`)
      await page.click('#admin-login [type=submit]')
      await waitFor(page, "document.getElementById('admin-error').textContent !== ''")
      assert.equal(await text(page, '#admin-error'), 'The token was refused.')
      stop()
      await page.fill('#admin-login [name=token]', token)
      await page.click('#admin-login [type=submit]')
      const listed = await client(server.url).get('/api/clients', { authorization: `Bearer ${token}` })
      const names = (listed.json() as { clients: { username: string }[] }).clients.map((c) => c.username)
      assert.deepEqual([...names].sort(), [birch, maple, oak].sort())
      await waitFor(page, `window.systemMonitorDashboard.fleet().shown.length === ${names.length}`)
      assert.deepEqual([...(await fleet(page)).shown].sort(), [...names].sort())
      const row = (name: string) => page.locator(`#fleet-table tr[data-client="${name}"]`)
      assert.equal(await row(birch).locator('.stale').count(), 1)
      assert.equal(await row(maple).locator('.stale').count(), 1)
      assert.equal(await row(oak).locator('.stale').count(), 0)
      await waitFor(page, `document.querySelector('#fleet-table tr[data-client="${oak}"] .spark [role=img][aria-label]') !== null`)

      await page.click('[data-sort=cpu]')
      assert.equal(await page.getAttribute('#fleet-table th:nth-child(3)', 'aria-sort'), 'descending')
      assert.deepEqual((await fleet(page)).shown, [oak, birch, maple])
      // The list's polls keep the keyboard's place: once the answer after this one is in, the first was shown.
      await row(birch).locator('a').focus()
      for (let i = 0; i < 2; i++) await page.waitForResponse((r) => new URL(r.url()).pathname === '/api/clients')
      assert.equal(await page.evaluate("document.activeElement?.closest('tr')?.dataset.client ?? ''"), birch)
      await page.fill('#fleet-filter', oak.slice(0, 6))
      assert.deepEqual((await fleet(page)).shown, [oak])
      await row(oak).locator('a').click()
      await historyLoaded(page)
      const opened = await history(page)
      assert.deepEqual([opened.client, opened.admin], [oak, true])
      assert.match(page.url(), new RegExp(`view=history&client=${oak}&range=1h$`))
    })
  })

  test('without ADMIN_TOKEN the page has no fleet tab (another server on the same database)', async () => {
    await withPage(
      '/dashboard?view=fleet',
      asAdmin,
      async ({ page }) => {
        await connected(page)
        assert.equal(await page.isHidden('nav [data-view=fleet]'), true)
        assert.equal(await page.isVisible('#view-server'), true)
        assert.equal(await page.isHidden('#view-fleet'), true)
      },
      {},
      other.url,
    )
  })

  test('every view fits a 360 px phone without sideways scrolling; screenshots, desktop and phone, light and dark', async () => {
    const ready: Record<string, string> = {
      server: 'window.systemMonitorDashboard.live().times.length >= 2',
      history: 'window.systemMonitorDashboard.history().loaded',
      fleet: "document.querySelector('#fleet-table .spark [role=img][aria-label]') !== null",
    }
    for (const [device, viewport] of [
      ['desktop', { width: 1280, height: 900 }],
      ['phone', { width: 360, height: 800 }],
    ] as const) {
      for (const colorScheme of ['light', 'dark'] as const) {
        await withPage('/dashboard', { ...asOak, ...asAdmin }, async ({ page }) => {
          for (const view of ['server', 'history', 'fleet']) {
            await page.goto(`${server.url}/dashboard?view=${view}${view === 'history' ? `&start=${dayStart}&end=${dayEnd}` : ''}`)
            await waitFor(page, ready[view])
            const width = (await page.evaluate('document.documentElement.scrollWidth')) as number
            assert.ok(width <= viewport.width, `${view} is ${width} px wide at ${viewport.width} px`)
            await page.screenshot({ path: join(shots, `${view}-${device}-${colorScheme}.png`), fullPage: true })
          }
        }, { viewport, colorScheme, isMobile: device === 'phone', hasTouch: device === 'phone' })
      }
    }
  })

  test('the page says it lost the connection when the server stops, and reconnects by itself once it is back on the same port', async () => {
    await withPage(`/dashboard?view=history&client=${oak}&range=15m`, asOak, async ({ page, expect }) => {
      await connected(page)
      await historyLoaded(page)
      const away = expect(/net::ERR_|WebSocket connection to .* failed/)
      assert.equal(await server.stop(), 0)
      await waitFor(page, "document.getElementById('connection').textContent === 'Connection to the server lost: reconnecting…'")
      server = await startServer(env())
      await connected(page)
      away()
      const { times } = await live(page)
      await waitFor(page, `window.systemMonitorDashboard.live().times.length > ${times.length}`)
      const t = nowSeconds()
      assert.equal((await client(server.url).post(`/client/${oak}`, `cpu_load=93.75&time=${t}`, { authorization: oakId })).status, 202)
      await waitFor(page, `(() => { const h = window.systemMonitorDashboard.history(); const i = h.charts.cpu.x.indexOf(Math.floor(${t} / h.step) * h.step); return i >= 0 && h.charts.cpu.max[i] === 93.75 })()`)
      assert.equal(await page.isVisible('#history-error'), false)
    })
  })
})
