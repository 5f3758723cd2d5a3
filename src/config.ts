// One table of settings: each row is an environment variable and a flag (the flag wins), validated with valibot.
// The agent (src/agent/options.ts) reads a table of its own the same way.
import { parseArgs } from 'node:util'
import * as v from 'valibot'

export const integer = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, `expected a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `expected a whole number from ${min} to ${max}`),
    v.maxValue(max, `expected a whole number from ${min} to ${max}`),
  )
export const text = v.pipe(v.string(), v.minLength(1, 'expected a non-empty value'))
const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }
/** Seconds, or undefined for 'off'. */
const duration = v.pipe(
  v.string(),
  v.regex(/^(off|[1-9]\d{0,8}[smhd])$/, "expected a duration such as 90d, 12h, 30m, 45s, or 'off'"),
  v.transform((s) => (s === 'off' ? undefined : Number(s.slice(0, -1)) * durationUnits[s.slice(-1)])),
)
const addressOrRange = /^(\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?|[\da-f:]*:[\da-f:.]*(\/\d{1,3})?)$/i
const addresses = v.pipe(
  v.string(),
  v.transform((s) => s.split(',').map((a) => a.trim()).filter((a) => a !== '')),
  v.check((list) => list.every((a) => addressOrRange.test(a)), 'expected IP addresses or CIDR ranges, separated by commas'),
)
const onOff = v.pipe(
  v.string(),
  v.check((s) => s === 'on' || s === 'off', 'expected on or off'),
  v.transform((s) => s === 'on'),
)
const postgresUrl = v.pipe(v.string(), v.regex(/^postgres(ql)?:\/\/./, 'expected a postgres:// or postgresql:// URL'))

export interface Row<S extends v.GenericSchema<string, unknown>, D extends string | undefined = string | undefined> {
  env: string
  /** The server's: the environment variable's name in lower case, '-' for '_': PORT is --port, DATA_DIR is --data-dir. */
  flag: string
  schema: S
  /** undefined: the setting is optional and absent unless given. */
  default: D
  help: string
}
const row = <S extends v.GenericSchema<string, unknown>, D extends string | undefined>(env: string, schema: S, fallback: D, help: string): Row<S, D> => ({
  env,
  flag: env.toLowerCase().replaceAll('_', '-'),
  schema,
  default: fallback,
  help,
})

const KiB = 1024
const MiB = 1024 * KiB

const settings = {
  port: row('PORT', integer(0, 65535), '5000', 'HTTP and WebSocket port (0: any free port)'),
  host: row('HOST', text, '0.0.0.0', 'address to listen on'),
  tlsCertFile: row('TLS_CERT_FILE', text, undefined, 'PEM certificate (chain) to serve HTTPS and WSS with; with TLS_KEY_FILE'),
  tlsKeyFile: row('TLS_KEY_FILE', text, undefined, "PEM private key of TLS_CERT_FILE's certificate"),
  tlsKeyPassphrase: row('TLS_KEY_PASSPHRASE', text, undefined, 'passphrase of an encrypted TLS_KEY_FILE'),
  databaseUrl: row('DATABASE_URL', postgresUrl, undefined, 'PostgreSQL 12+ to use; without it an embedded PostgreSQL runs in DATA_DIR'),
  dataDir: row('DATA_DIR', text, './data', 'where the embedded PostgreSQL keeps its files'),
  dbPoolSize: row('DB_POOL_SIZE', integer(1, 100), '10', 'PostgreSQL connections for reads and logins'),
  dbTimeoutMs: row('DB_TIMEOUT_MS', integer(100, 60_000), '500', 'a database that does not answer the heartbeat for this long is away: requests get 503 at once'),
  dbStatementTimeoutMs: row('DB_STATEMENT_TIMEOUT_MS', integer(100, 3_600_000), '30000', 'PostgreSQL cancels a statement that runs longer (503)'),
  // Two: a statement commits while the next is sent. More made smaller statements that cost PostgreSQL more per
  // row, and were slower, single or in batches.
  ingestConcurrency: row('INGEST_CONCURRENCY', integer(1, 64), '2', 'insert statements in flight at once (each on its own PostgreSQL connection)'),
  ingestBatchRows: row('INGEST_BATCH_ROWS', integer(1, 100_000), '2000', 'samples grouped into one insert statement, at most'),
  ingestMaxQueued: row('INGEST_MAX_QUEUED', integer(1, 10_000_000), '100000', 'samples waiting for the database, at most; past it senders wait, then get 503'),
  ingestQueueWaitMs: row('INGEST_QUEUE_WAIT_MS', integer(0, 60_000), '1000', 'how long a sender waits for room in a full queue before its 503'),
  maxHeaderBytes: row('MAX_HEADER_BYTES', integer(4 * KiB, 1024 * KiB), String(32 * KiB), 'longest request line and headers together (uWebSockets.js 20.57 answers 431 past it)'),
  maxBodyBytes: row('MAX_BODY_BYTES', integer(KiB, 64 * MiB), String(MiB), 'largest request body (larger ones get 413) and WebSocket message'),
  maxInflatedBytes: row('MAX_INFLATED_BYTES', integer(KiB, 1024 * MiB), String(16 * MiB), 'largest gzip-encoded body once inflated; larger ones get 413'),
  maxBatchSamples: row('MAX_BATCH_SAMPLES', integer(1, 1_000_000), '10000', 'samples in one batch upload (JSON array or NDJSON), at most'),
  maxBufferedBodyBytes: row(
    'MAX_BUFFERED_BODY_BYTES',
    integer(MiB, 1024 ** 4),
    String(64 * MiB),
    'request bodies held in memory at once, across all connections; past it requests get 503',
  ),
  maxBufferedBodyBytesPerPeer: row(
    'MAX_BUFFERED_BODY_BYTES_PER_PEER',
    integer(64 * KiB, 1024 ** 4),
    String(8 * MiB),
    'of those, bodies still arriving from one peer address, at most; past it that address gets 503',
  ),
  bodyTimeoutSeconds: row('BODY_TIMEOUT_SECONDS', integer(1, 3600), '10', 'a request body not received whole within this long gets 408'),
  authCacheSize: row('AUTH_CACHE_SIZE', integer(0, 10_000_000), '10000', 'verified client_ids kept in memory so ingest does not rerun scrypt'),
  loginMaxFailures: row('LOGIN_MAX_FAILURES', integer(1, 1000), '5', 'failed logins of one username from one address before that address is refused with 429'),
  loginMaxFailuresPerUsername: row(
    'LOGIN_MAX_FAILURES_PER_USERNAME',
    integer(1, 100_000),
    '20',
    'failed logins of one username from anywhere before it is refused with 429 to every address it has not logged in from',
  ),
  loginLockSeconds: row('LOGIN_LOCK_SECONDS', integer(1, 86400), '60', 'how long such a lock lasts, and the window failures are counted in'),
  registerMaxPerAddress: row('REGISTER_MAX_PER_ADDRESS', integer(1, 1_000_000), '100', 'registrations from one address in REGISTER_WINDOW_SECONDS, at most; past it 429'),
  registerWindowSeconds: row('REGISTER_WINDOW_SECONDS', integer(1, 86400 * 30), '3600', 'the window registrations are counted in'),
  trustedProxies: row(
    'TRUSTED_PROXIES',
    addresses,
    undefined,
    'reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For or Forwarded header names the client',
  ),
  monitorMaxWaiting: row('MONITOR_MAX_WAITING', integer(1, 1_000_000), '1000', 'requests for cpu/load?interval= that may wait at once for the history to fill (soon after start); past it 503'),
  samplePeriodMs: row('SAMPLE_PERIOD_MS', integer(100, 60_000), '1000', "how often the host is sampled (the load log's line period)"),
  storagePath: row('STORAGE_PATH', text, '/', 'the filesystem whose storage the server reports'),
  loadLogPath: row('LOAD_LOG_PATH', text, 'server_system_load.csv', "CSV file the server appends its own load to every second; 'off' for none"),
  loadLogMaxBytes: row('LOAD_LOG_MAX_BYTES', integer(KiB, 1024 ** 4), String(10 * MiB), 'size past which the load log is rotated to <path>.1'),
  loadLogKeep: row('LOAD_LOG_KEEP', integer(0, 100), '3', 'rotated load logs kept'),
  wsMaxBufferedBytes: row(
    'WS_MAX_BUFFERED_BYTES',
    integer(KiB, 1024 * MiB),
    String(256 * KiB),
    'queued bytes past which a WebSocket gets no EVENTs (and at 4 times this, is closed)',
  ),
  stallSeconds: row(
    'STALL_SECONDS',
    integer(1, 86400),
    '30',
    'a subscribed WebSocket, or a streamed log slice, whose reader takes nothing for this long is closed',
  ),
  wsIdleSeconds: row(
    'WS_IDLE_SECONDS',
    // uWS times idle sockets in 4-second ticks, from 8 seconds on.
    v.pipe(integer(8, 960), v.check((n) => n % 4 === 0, 'expected a multiple of 4 from 8 to 960')),
    '120',
    'a WebSocket that sends nothing, not even a pong to our pings, for this long is closed',
  ),
  wsMaxSubscriptions: row('WS_MAX_SUBSCRIPTIONS', integer(1, 10_000), '64', 'SUBSCRIBEs one WebSocket may hold at once'),
  shutdownSeconds: row('SHUTDOWN_SECONDS', integer(1, 3600), '8', 'on SIGTERM/SIGINT, exit after at most this long, whatever is left'),
  wsMaxPending: row('WS_MAX_PENDING', integer(1, 1_000_000), '4096', 'messages of one WebSocket waiting for their replies; a client that sends more is disconnected'),
  rollupIntervalMs: row('ROLLUP_INTERVAL_MS', integer(10, 3_600_000), '60000', 'how often the samples written since are folded into the 1-minute, 10-minute and 1-hour rollups'),
  rollupQueueSamples: row('ROLLUP_QUEUE_SAMPLES', integer(1, 10_000_000), '200000', 'samples this server writes that start a rollup pass before ROLLUP_INTERVAL_MS is up'),
  // Coarser tiers are built from finer ones: each limit is at least the finer one's (checked below).
  retentionRaw: row('RETENTION_RAW', duration, 'off', "how long samples are kept (90d, 12h, ...; 'off': for ever)"),
  retention1m: row('RETENTION_1M', duration, 'off', 'how long 1-minute rollups are kept; at least RETENTION_RAW'),
  retention10m: row('RETENTION_10M', duration, 'off', 'how long 10-minute rollups are kept; at least RETENTION_1M'),
  retention1h: row('RETENTION_1H', duration, 'off', 'how long 1-hour rollups are kept; at least RETENTION_10M'),
  retentionCheckSeconds: row('RETENTION_CHECK_SECONDS', integer(1, 86400), '60', 'how often retention looks for data past its limits'),
  retentionUnitRows: row('RETENTION_UNIT_ROWS', integer(100, 1_000_000), '5000', 'rows one retention statement removes at most (then it pauses as long as it took)'),
  metrics: row('METRICS', onOff, 'on', "GET /metrics in Prometheus's text format; off: no such route (404)"),
  adminToken: row(
    'ADMIN_TOKEN',
    // As an Authorization header carries it: one word.
    v.pipe(v.string(), v.minLength(16, 'expected at least 16 characters'), v.regex(/^\S+$/, 'expected no spaces')),
    undefined,
    "a bearer token that may read every client's log (GET /api/clients...) and the dashboard's fleet; without it those routes answer 404",
  ),
}

type AnyRow = Row<v.GenericSchema<string, unknown>>
/** What a table of rows reads as: each row's output, or undefined for an optional one not given. */
export type Values<T extends Record<string, AnyRow>> = {
  [K in keyof T]: T[K] extends Row<infer S, infer D> ? v.InferOutput<S> | (D extends string ? never : undefined) : never
}
export type Config = Values<typeof settings>

export class ConfigError extends Error {}

/** --help: a table's rows with their defaults, then `more` [flag, variable, what it does], in aligned columns. */
export function helpLines(table: Record<string, AnyRow>, more: [string, string, string][] = []): string[] {
  const rows = [...Object.values(table).map((r) => [`--${r.flag}`, r.env, `${r.help}${r.default === undefined ? '' : ` (default: ${r.default})`}`]), ...more]
  const width = Math.max(24, ...rows.map(([, env]) => env.length))
  return rows.map(([flag, env, help]) => `  ${flag.padEnd(26)} ${env.padEnd(width)} ${help}`)
}

export function helpText(): string {
  return ['Usage: system-monitor [options]', '', 'Every option can also be set by its environment variable; the flag wins.', '', ...helpLines(settings, [['--help', '', 'show this text']])].join('\n')
}

/**
 * A table's settings from flags, then environment, then defaults; throws ConfigError naming the bad setting.
 * `switches` are flags without a value: the ones given are in `on`. --help is one of every table's.
 */
export function readTable<T extends Record<string, AnyRow>>(table: T, argv: string[], env: NodeJS.ProcessEnv, switches: readonly string[] = []): { values: Values<T>; on: Set<string> } | 'help' {
  const options = Object.fromEntries([
    ...Object.values(table).map((r) => [r.flag, { type: 'string' as const }]),
    ...['help', ...switches].map((name) => [name, { type: 'boolean' as const }]),
  ])
  let flags: Record<string, unknown>
  try {
    flags = parseArgs({ args: argv, options, allowPositionals: false }).values
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\nRun with --help to list the options.`)
  }
  if (flags.help) return 'help'
  const out: Record<string, unknown> = {}
  for (const [key, r] of Object.entries(table)) {
    const flag = flags[r.flag]
    const raw = typeof flag === 'string' ? flag : env[r.env] !== undefined && env[r.env] !== '' ? env[r.env] : r.default
    if (raw === undefined) continue
    const result = v.safeParse(r.schema, raw.trim())
    if (!result.success) {
      throw new ConfigError(`Invalid ${r.env} (--${r.flag}) ${JSON.stringify(raw)}: ${result.issues[0].message}`)
    }
    out[key] = result.output
  }
  return { values: out as Values<T>, on: new Set(switches.filter((name) => flags[name] === true)) }
}

/** The server's settings; throws ConfigError naming the bad one. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' {
  const read = readTable(settings, argv, env)
  if (read === 'help') return 'help'
  const out = read.values
  const chain = ['retentionRaw', 'retention1m', 'retention10m', 'retention1h'] as const
  for (let i = 1; i < chain.length; i++) {
    const finer = out[chain[i - 1]] as number | undefined
    const coarser = out[chain[i]] as number | undefined
    if (coarser !== undefined && (finer === undefined || coarser < finer)) {
      throw new ConfigError(`${settings[chain[i]].env} must be at least ${settings[chain[i - 1]].env}, and 'off' unless that is set too: each tier is built from the finer one`)
    }
  }
  // A body the size limit lets in but the budget never could would be refused with 503 and Retry-After for ever.
  for (const budget of ['maxBufferedBodyBytes', 'maxBufferedBodyBytesPerPeer'] as const) {
    if (out[budget] < out.maxBodyBytes) {
      throw new ConfigError(`${settings[budget].env} (${out[budget]}) must be at least MAX_BODY_BYTES (${out.maxBodyBytes}): a body of the largest size must fit it`)
    }
  }
  const { tlsCertFile, tlsKeyFile, tlsKeyPassphrase } = out
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new ConfigError(`TLS_CERT_FILE (--tls-cert-file) and TLS_KEY_FILE (--tls-key-file) go together: set both to serve HTTPS, or neither`)
  }
  if (tlsKeyPassphrase !== undefined && tlsKeyFile === undefined) throw new ConfigError('TLS_KEY_PASSPHRASE (--tls-key-passphrase) is for a TLS_KEY_FILE, and none is set')
  return out
}
