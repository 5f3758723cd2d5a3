// A scrape of GET /metrics, read as Prometheus reads the text format: one sample a line, `name{labels} value`.
import assert from 'node:assert/strict'
import { request } from './http.js'

export interface Series {
  name: string
  labels: Record<string, string>
  value: number
}

const line = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/
const label = /(\w+)="((?:[^"\\]|\\.)*)"/g
const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))

export function parseMetrics(text: string): Series[] {
  const series: Series[] = []
  for (const raw of text.split('\n')) {
    if (raw === '' || raw.startsWith('#')) continue
    const m = line.exec(raw)
    assert.ok(m, `not a sample line: ${raw}`)
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(label)].map(([, k, v]) => [k, unescape(v)]))
    series.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return series
}

export interface Scrape {
  text: string
  series: Series[]
  /** The value of the one series of that name with those labels (among others), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined
  /** Every series of that name, as `a=1,b=2` of their labels in order -> value. */
  all(name: string): Record<string, number>
}

export async function scrape(base: string): Promise<Scrape> {
  const res = await request(base, '/metrics')
  assert.equal(res.status, 200, res.text)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  const series = parseMetrics(res.text)
  const matches = (s: Series, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  return {
    text: res.text,
    series,
    value(name, labels = {}) {
      const found = series.filter((s) => s.name === name && matches(s, labels))
      assert.ok(found.length <= 1, `${found.length} series ${name} ${JSON.stringify(labels)}`)
      return found[0]?.value
    },
    all: (name) =>
      Object.fromEntries(
        series
          .filter((s) => s.name === name)
          .map((s) => [
            Object.entries(s.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
            s.value,
          ]),
      ),
  }
}

/** Scrapes until `done` says so of the scrape (a level another process changes when it gets to it), for at most 10 s. */
export async function scrapeUntil(base: string, done: (s: Scrape) => boolean): Promise<Scrape> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const s = await scrape(base)
    if (done(s)) return s
    if (Date.now() > deadline) assert.fail('the metrics did not get there within 10 s')
    await new Promise((r) => setTimeout(r, 20))
  }
}
