// Debian's chromium driven by playwright-core, for the dashboard's tests: one headless browser a test file, and
// each page watched for what must never happen on it: a console error, an uncaught exception, a failed request,
// a request (or WebSocket) to any other origin, a 5xx.
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })

export interface Watched {
  context: BrowserContext
  page: Page
  /** What went wrong so far, as lines. */
  problems: string[]
  /** Console errors and failed requests matching `pattern` are expected from now on (a refusal the test asks for); returns the way to stop. */
  expect(pattern: RegExp): () => void
}

/** A new context (its own sessionStorage) and page, with `session` put in its sessionStorage before any script runs. */
export async function openPage(browser: Browser, origin: string, options: BrowserContextOptions = {}, session: Record<string, unknown> = {}): Promise<Watched> {
  const context = await browser.newContext(options)
  const entries = Object.entries(session).map(([key, value]) => [key, JSON.stringify(value)])
  await context.addInitScript({ content: `for (const [key, value] of ${JSON.stringify(entries)}) sessionStorage.setItem(key, value)` })
  const page = await context.newPage()
  const problems: string[] = []
  const expected = new Set<RegExp>()
  const unexpected = (text: string) => ![...expected].some((pattern) => pattern.test(text))
  const foreign = (url: string) => {
    const { protocol, host } = new URL(url)
    return !['data:', 'blob:'].includes(protocol) && host !== new URL(origin).host
  }
  page.on('console', (m) => {
    if (m.type() === 'error' && unexpected(m.text())) problems.push(`console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.stack ?? e.message}`))
  page.on('requestfailed', (r) => {
    const line = `failed request: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`
    if (unexpected(line)) problems.push(line)
  })
  page.on('request', (r) => {
    if (foreign(r.url())) problems.push(`request to another origin: ${r.url()}`)
  })
  page.on('websocket', (ws) => {
    if (foreign(ws.url())) problems.push(`WebSocket to another origin: ${ws.url()}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} for ${r.url()}`)
  })
  return {
    context,
    page,
    problems,
    expect(pattern) {
      expected.add(pattern)
      return () => expected.delete(pattern)
    },
  }
}

/**
 * Resolves once `expression` (JavaScript, evaluated in the page) is true, checked there every 50 ms; rejects past
 * `timeoutMs`. Not page.waitForFunction: that compiles its predicate with eval, which the page's CSP forbids.
 */
export async function waitUntil(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const check = `new Promise((resolve) => {
    const check = () => {
      let ok = false
      try { ok = Boolean(${expression}) } catch {}
      if (ok) resolve(true)
      else setTimeout(check, 50)
    }
    check()
  })`
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not true within ${timeoutMs} ms: ${expression}`)), timeoutMs)))
  try {
    await Promise.race([page.evaluate(check), late])
  } finally {
    clearTimeout(timer)
  }
}
