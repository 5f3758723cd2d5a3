// The fleet (with the server's ADMIN_TOKEN): every client, its latest sample (stale ones marked) and a sparkline of
// its last hour's CPU, sorted and filtered, each opening that client's history. The list is asked for every few
// seconds; a sparkline only while its row is on screen, a few at a time, and again once it is a minute old.
import { ApiError, asAdmin, averages, fleetList, passingTrouble, type Summary } from './api.js'
import { Chart, sparkOptions } from './charts.js'
import { agoText, numberText, timeText } from './format.js'
import { placeSearch } from './place.js'
import { Poller } from './poller.js'
import { nowSeconds } from './range.js'
import type { FleetSnapshot } from './snapshot.js'
import type { ConnectionStatus } from './status.js'
import { $ } from './dom.js'

const refreshMs = 5000
// A client whose latest sample is older than this is marked.
const staleSeconds = 120
// A sparkline: the last hour at a point a minute, asked for again once a minute old, a few at a time.
const spark = { seconds: 3600, step: 60, maxAgeMs: 60_000, atOnce: 4 }

type SortKey = 'username' | 'end' | 'cpu' | 'mem' | 'storage'

interface Row {
  summary: Summary
  tr: HTMLTableRowElement
  cells: HTMLTableCellElement[]
  spark?: Chart
  /** When its sparkline was asked for (ms), and the end of the hour it shows (s). */
  sparkAt: number
  sparkEnd: number
  visible: boolean
}

export interface FleetEvents {
  refused(e: ApiError): void
}


export class Fleet {
  readonly #rows = new Map<string, Row>()
  readonly #body = $<HTMLTableElement>('fleet-table').tBodies[0]
  readonly #filter = $<HTMLInputElement>('fleet-filter')
  readonly #error = $('fleet-error')
  readonly #observer: IntersectionObserver
  readonly #queue: Row[] = []
  #sparking = 0
  #sort: { key: SortKey; direction: 1 | -1 } = { key: 'username', direction: 1 }
  #token?: string
  readonly #poller = new Poller(refreshMs, () => this.#refresh())

  constructor(private readonly status: ConnectionStatus, private readonly events: FleetEvents) {
    this.#observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const row = this.#rows.get((entry.target as HTMLElement).dataset.client ?? '')
        if (!row) continue
        row.visible = entry.isIntersecting
        if (row.visible) this.#wantSpark(row)
      }
    })
    this.#filter.addEventListener('input', () => this.#render())
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-sort]')) {
      button.addEventListener('click', () => {
        const key = button.dataset.sort as SortKey
        this.#sort = { key, direction: this.#sort.key === key ? (-this.#sort.direction as 1 | -1) : key === 'username' ? 1 : -1 }
        this.#render()
      })
    }
  }

  open(token: string): void {
    if (this.#token === token && this.#poller.running) return
    this.#token = token
    this.#poller.start()
  }

  close(): void {
    this.#poller.stop()
  }

  snapshot(): FleetSnapshot {
    return { shown: [...this.#body.rows].filter((tr) => !tr.hidden).map((tr) => tr.dataset.client ?? ''), listed: [...this.#rows.keys()] }
  }

  async #refresh(): Promise<void> {
    const token = this.#token
    if (!token || document.hidden) return
    const generation = this.#poller.mark()
    try {
      const list = await fleetList(token)
      if (this.#poller.stale(generation)) return
      this.status.ok('requests')
      this.#error.textContent = ''
      this.#update(list)
    } catch (e) {
      if (this.#poller.stale(generation)) return
      const trouble = passingTrouble(e)
      if (trouble) {
        this.status.lost('requests')
        this.#error.textContent = `The server ${trouble}: the list will catch up once it is back.`
      } else if (e instanceof ApiError && (e.status === 401 || e.status === 429)) {
        this.close()
        this.events.refused(e)
      } else if (e instanceof ApiError) this.#error.textContent = `The server refused the list: ${e.reason}.`
      else throw e
    }
  }

  #update(list: Summary[]): void {
    const seen = new Set<string>()
    for (const summary of list) {
      seen.add(summary.username)
      const row = this.#rows.get(summary.username) ?? this.#newRow(summary)
      row.summary = summary
    }
    for (const [name, row] of this.#rows) {
      if (seen.has(name)) continue
      this.#observer.unobserve(row.tr)
      row.tr.remove()
      this.#rows.delete(name)
    }
    this.#render()
    for (const row of this.#rows.values()) if (row.visible) this.#wantSpark(row)
  }

  #newRow(summary: Summary): Row {
    const tr = document.createElement('tr')
    tr.dataset.client = summary.username
    const labels = ['', 'Latest', 'CPU', 'Memory', 'Storage', '']
    const cells = labels.map((label) => {
      const td = document.createElement('td')
      if (label) td.dataset.label = label
      return td
    })
    const link = document.createElement('a')
    link.textContent = summary.username
    link.href = placeSearch({ view: 'history', client: summary.username, range: { preset: '1h' } })
    link.dataset.nav = ''
    cells[0].append(link)
    cells[5].className = 'spark'
    tr.append(...cells)
    const row: Row = { summary, tr, cells, sparkAt: 0, sparkEnd: 0, visible: false }
    this.#rows.set(summary.username, row)
    this.#observer.observe(tr)
    return row
  }

  #render(): void {
    const now = nowSeconds()
    const filter = this.#filter.value.trim().toLowerCase()
    const { key, direction } = this.#sort
    const rows = [...this.#rows.values()].sort((a, b) => compare(a.summary[key], b.summary[key], direction) || a.summary.username.localeCompare(b.summary.username))
    let shown = 0
    for (const [i, row] of rows.entries()) {
      const { username, end, cpu, mem, storage } = row.summary
      row.tr.hidden = filter !== '' && !username.toLowerCase().includes(filter)
      if (!row.tr.hidden) shown++
      const stale = end === null || now - end > staleSeconds
      const latest = row.cells[1]
      latest.textContent = end === null ? 'no sample yet ' : `${agoText(end, now)} `
      latest.title = end === null ? '' : timeText(end)
      if (stale) {
        const badge = document.createElement('span')
        badge.className = 'stale'
        badge.textContent = 'stale'
        latest.append(badge)
      }
      row.cells[2].textContent = cpu === null ? '–' : `${numberText(cpu)} %`
      row.cells[3].textContent = numberText(mem)
      row.cells[4].textContent = numberText(storage)
      // Moved only when out of place: a row taken out and put back loses the keyboard focus of its link.
      if (this.#body.rows[i] !== row.tr) this.#body.insertBefore(row.tr, this.#body.rows[i] ?? null)
    }
    $('fleet-count').textContent = `${shown} of ${this.#rows.size} ${this.#rows.size === 1 ? 'client' : 'clients'}`
    for (const th of document.querySelectorAll<HTMLTableCellElement>('#fleet-table th')) {
      const sortKey = th.querySelector<HTMLButtonElement>('[data-sort]')?.dataset.sort
      if (sortKey === key) th.setAttribute('aria-sort', direction === 1 ? 'ascending' : 'descending')
      else th.removeAttribute('aria-sort')
    }
  }

  #wantSpark(row: Row): void {
    if (Date.now() - row.sparkAt < spark.maxAgeMs || this.#queue.includes(row)) return
    this.#queue.push(row)
    this.#nextSpark()
  }

  #nextSpark(): void {
    const token = this.#token
    while (token && this.#sparking < spark.atOnce && this.#queue.length > 0) {
      const row = this.#queue.shift()!
      if (!row.visible || !this.#rows.has(row.summary.username)) continue
      this.#sparking++
      row.sparkAt = Date.now()
      const now = nowSeconds()
      averages(asAdmin(row.summary.username, token), { start: now - spark.seconds, end: now }, spark.step)
        .then((points) => this.#drawSpark(row, now, points.map((p) => p.unix_time), points.map((p) => p.cpu)))
        // A sparkline that could not be had is tried again later; the list says whether the server is there.
        .catch(() => (row.sparkAt = 0))
        .finally(() => {
          this.#sparking--
          this.#nextSpark()
        })
    }
  }

  #drawSpark(row: Row, now: number, x: number[], cpu: (number | null)[]): void {
    row.sparkEnd = now
    const range = (): [number, number] => [row.sparkEnd - spark.seconds, row.sparkEnd]
    const label = cpu.length === 0 ? 'no samples in the last hour' : `CPU over the last hour, ${x.length} minutes with samples`
    if (!row.spark && x.length === 0) {
      const none = document.createElement('span')
      none.className = 'hint'
      none.textContent = label
      row.cells[5].replaceChildren(none)
      return
    }
    if (!row.spark) {
      const box = document.createElement('div')
      box.className = 'chart'
      box.setAttribute('role', 'img')
      row.cells[5].replaceChildren(box)
      row.spark = new Chart(box, 32, sparkOptions(range), [x, cpu])
    } else row.spark.setData([x, cpu])
    row.spark.describe(label)
  }
}

/** In `direction` (1 ascending, -1 descending), a client with nothing to compare last either way. */
function compare(a: string | number | null, b: string | number | null, direction: number): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return direction * (typeof a === 'string' && typeof b === 'string' ? a.localeCompare(b) : Number(a) - Number(b))
}
