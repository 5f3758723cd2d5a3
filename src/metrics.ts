// The server's metrics in Prometheus's text format, for GET /metrics: the one module that knows prom-client. The
// parts of the server report through small interfaces of their own (ingest/entry.ts's IngestReport, ws/echo.ts's
// SessionReport, the writer's and the login throttle's callbacks), which main.ts and app.ts connect to this; what
// is a level already somewhere (the queue, the statements under way) is read from there when scraped.
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client'
import type { ThrottleLimit } from './auth/throttle.js'
import type { RefusalKind } from './errors.js'
import type { Format, Transport } from './ingest/entry.js'
import type { WriterStats } from './ingest/writer.js'
import type { SessionReport } from './ws/echo.js'

/** What the server reports as it runs; with METRICS=off, `unmeasured` takes it and keeps nothing. */
export interface Reports extends SessionReport {
  /** The samples of an upload, once committed. */
  committed(transport: Transport, format: Format, samples: number): void
  /** An upload (a sample or a batch) the ingest entry refused whole. */
  refused(transport: Transport, kind: RefusalKind): void
  /** An HTTP reply, by its route's pattern (never the path as sent: it can hold a client_id) and status. */
  request(route: string, status: number): void
  /** An insert statement committed: its rows and how long it took. */
  statement(rows: number, seconds: number): void
  loginRefused(limit: ThrottleLimit): void
}

const ignore = () => undefined
export const unmeasured: Reports = {
  committed: ignore,
  refused: ignore,
  request: ignore,
  statement: ignore,
  loginRefused: ignore,
  connections: ignore,
  subscriptions: ignore,
}

/** The levels read when scraped. */
export interface Sources {
  writer: () => WriterStats
  /** Database statements under way, on all pools. */
  statements: () => number
  /** The connections of each pool (DB_POOL_SIZE, INGEST_CONCURRENCY). */
  pools: { read: number; write: number }
}

const prefix = 'system_monitor_'

/**
 * A counter by two labels kept as plain numbers, and handed to prom-client only when scraped: every request and
 * every commit adds to a number instead of having its label set hashed (prom-client's inc).
 */
class Tally<A extends string, B extends string | number> {
  readonly #counts = new Map<A, Map<B, number>>()

  constructor(registry: Registry, name: string, help: string, [first, second]: [string, string]) {
    const counts = this.#counts
    new Counter({
      name: prefix + name,
      help,
      labelNames: [first, second],
      registers: [registry],
      collect() {
        this.reset()
        for (const [a, row] of counts) for (const [b, n] of row) this.inc({ [first]: a, [second]: b }, n)
      },
    })
  }

  add(a: A, b: B, n: number): void {
    let row = this.#counts.get(a)
    if (!row) this.#counts.set(a, (row = new Map()))
    row.set(b, (row.get(b) ?? 0) + n)
  }
}

export class ServerMetrics implements Reports {
  readonly #registry = new Registry()
  readonly #committed = new Tally<Transport, Format>(this.#registry, 'samples_committed_total', 'Samples committed, counted as their uploads are acknowledged', [
    'transport',
    'format',
  ])
  readonly #requests = new Tally<string, number>(this.#registry, 'http_requests_total', 'HTTP requests answered, by route pattern and status', ['route', 'status'])
  readonly #refused = new Counter({
    name: prefix + 'uploads_refused_total',
    help: 'Uploads (an HTTP ingest request or a CLIENT_DATA message: a sample or a batch) refused whole, by the kind of refusal',
    labelNames: ['transport', 'reason'],
    registers: [this.#registry],
  })
  readonly #rows = new Histogram({
    name: prefix + 'ingest_statement_rows',
    help: 'Rows of each insert statement committed (samples of one client and second are one row)',
    buckets: exponentialBuckets(1, 4, 8),
    registers: [this.#registry],
  })
  readonly #seconds = new Histogram({
    name: prefix + 'ingest_commit_seconds',
    help: 'Time from sending an insert statement to its commit',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30],
    registers: [this.#registry],
  })
  readonly #connections = new Gauge({ name: prefix + 'websocket_connections', help: 'WebSocket connections open', registers: [this.#registry] })
  readonly #subscriptions = new Gauge({ name: prefix + 'websocket_subscriptions', help: 'SUBSCRIBEs held by open WebSockets', registers: [this.#registry] })
  readonly #logins = new Counter({
    name: prefix + 'login_throttle_refusals_total',
    help: "Requests the login throttle refused (429), by the limit: an address's lock on a username, the whole username's, registrations",
    labelNames: ['limit'],
    registers: [this.#registry],
  })

  constructor() {
    // Process CPU, memory, event-loop lag and the runtime's heap, under their usual names.
    collectDefaultMetrics({ register: this.#registry })
  }

  /** Reads these levels whenever scraped. */
  watch({ writer, statements, pools }: Sources): void {
    const level = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: prefix + name,
        help,
        registers: [this.#registry],
        collect() {
          this.set(read())
        },
      })
    level('ingest_queue_samples', 'Samples waiting for an insert statement', () => writer().queued)
    level('ingest_queue_capacity_samples', 'Samples that may wait for an insert statement (INGEST_MAX_QUEUED)', () => writer().capacity)
    level('ingest_statements_in_flight', 'Insert statements under way, each on a write connection', () => writer().inFlight)
    level('db_statements_in_flight', 'Database statements under way, each on a pool connection (or waiting for one)', statements)
    const size = new Gauge({ name: prefix + 'db_pool_connections', help: 'Connections of each database pool', labelNames: ['pool'], registers: [this.#registry] })
    size.set({ pool: 'read' }, pools.read)
    size.set({ pool: 'write' }, pools.write)
  }

  get contentType(): string {
    return this.#registry.contentType
  }

  scrape(): Promise<string> {
    return this.#registry.metrics()
  }

  committed(transport: Transport, format: Format, samples: number): void {
    this.#committed.add(transport, format, samples)
  }

  refused(transport: Transport, kind: RefusalKind): void {
    this.#refused.inc({ transport, reason: kind })
  }

  request(route: string, status: number): void {
    this.#requests.add(route, status, 1)
  }

  statement(rows: number, seconds: number): void {
    this.#rows.observe(rows)
    this.#seconds.observe(seconds)
  }

  loginRefused(limit: ThrottleLimit): void {
    this.#logins.inc({ limit })
  }

  connections(change: number): void {
    this.#connections.inc(change)
  }

  subscriptions(change: number): void {
    this.#subscriptions.inc(change)
  }
}
