// One table of settings: each row is an environment variable and a flag (the flag wins), validated with valibot.
import { parseArgs } from 'node:util'
import * as v from 'valibot'

const integer = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, `expected a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `expected a whole number from ${min} to ${max}`),
    v.maxValue(max, `expected a whole number from ${min} to ${max}`),
  )
const text = v.pipe(v.string(), v.minLength(1, 'expected a non-empty value'))
const postgresUrl = v.pipe(v.string(), v.regex(/^postgres(ql)?:\/\/./, 'expected a postgres:// or postgresql:// URL'))

interface Row<S extends v.GenericSchema<string, unknown>, D extends string | undefined = string | undefined> {
  env: string
  flag: string
  schema: S
  /** undefined: the setting is optional and absent unless given. */
  default: D
  help: string
}
const row = <S extends v.GenericSchema<string, unknown>, D extends string | undefined>(r: Row<S, D>) => r

const settings = {
  port: row({ env: 'PORT', flag: 'port', schema: integer(0, 65535), default: '5000', help: 'HTTP and WebSocket port (0: any free port)' }),
  host: row({ env: 'HOST', flag: 'host', schema: text, default: '0.0.0.0', help: 'address to listen on' }),
  databaseUrl: row({
    env: 'DATABASE_URL',
    flag: 'database-url',
    schema: postgresUrl,
    default: undefined,
    help: 'PostgreSQL 12+ to use; without it an embedded PostgreSQL runs in DATA_DIR',
  }),
  dataDir: row({ env: 'DATA_DIR', flag: 'data-dir', schema: text, default: './data', help: 'where the embedded PostgreSQL keeps its files' }),
  dbPoolSize: row({ env: 'DB_POOL_SIZE', flag: 'db-pool-size', schema: integer(1, 100), default: '10', help: 'PostgreSQL connections for reads and logins' }),
  ingestConcurrency: row({
    env: 'INGEST_CONCURRENCY',
    flag: 'ingest-concurrency',
    schema: integer(1, 64),
    // Two: a statement commits while the next is sent. More made smaller statements that cost PostgreSQL
    // more per row, and were slower, single or in batches.
    default: '2',
    help: 'insert statements in flight at once (each on its own PostgreSQL connection)',
  }),
  ingestBatchRows: row({
    env: 'INGEST_BATCH_ROWS',
    flag: 'ingest-batch-rows',
    schema: integer(1, 100_000),
    default: '2000',
    help: 'samples grouped into one insert statement, at most',
  }),
  ingestMaxQueued: row({
    env: 'INGEST_MAX_QUEUED',
    flag: 'ingest-max-queued',
    schema: integer(1, 10_000_000),
    default: '100000',
    help: 'samples waiting for the database, at most; past it senders wait, then get 503',
  }),
  ingestQueueWaitMs: row({
    env: 'INGEST_QUEUE_WAIT_MS',
    flag: 'ingest-queue-wait-ms',
    schema: integer(0, 60_000),
    default: '1000',
    help: 'how long a sender waits for room in a full queue before its 503',
  }),
  maxBodyBytes: row({
    env: 'MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    schema: integer(1024, 64 * 1024 * 1024),
    default: String(1024 * 1024),
    help: 'largest request body (larger ones get 413) and WebSocket message',
  }),
  maxInflatedBytes: row({
    env: 'MAX_INFLATED_BYTES',
    flag: 'max-inflated-bytes',
    schema: integer(1024, 1024 ** 3),
    default: String(16 * 1024 * 1024),
    help: 'largest gzip-encoded body once inflated; larger ones get 413',
  }),
  maxBatchSamples: row({
    env: 'MAX_BATCH_SAMPLES',
    flag: 'max-batch-samples',
    schema: integer(1, 1_000_000),
    default: '10000',
    help: 'samples in one batch upload (JSON array or NDJSON), at most',
  }),
  maxBufferedBodyBytes: row({
    env: 'MAX_BUFFERED_BODY_BYTES',
    flag: 'max-buffered-body-bytes',
    schema: integer(1024 * 1024, 1024 ** 4),
    default: String(64 * 1024 * 1024),
    help: 'request bodies held in memory at once, across all connections; past it requests get 503',
  }),
  authCacheSize: row({
    env: 'AUTH_CACHE_SIZE',
    flag: 'auth-cache-size',
    schema: integer(0, 10_000_000),
    default: '10000',
    help: 'verified client_ids kept in memory so ingest does not rerun scrypt',
  }),
  loginMaxFailures: row({
    env: 'LOGIN_MAX_FAILURES',
    flag: 'login-max-failures',
    schema: integer(1, 1000),
    default: '5',
    help: 'failed logins of one username from one address before that address is refused with 429',
  }),
  loginLockSeconds: row({
    env: 'LOGIN_LOCK_SECONDS',
    flag: 'login-lock-seconds',
    schema: integer(1, 86400),
    default: '60',
    help: 'how long that address then stays refused for that username',
  }),
  samplePeriodMs: row({
    env: 'SAMPLE_PERIOD_MS',
    flag: 'sample-period-ms',
    schema: integer(100, 60_000),
    default: '1000',
    help: "how often the host is sampled (the load log's line period)",
  }),
  storagePath: row({ env: 'STORAGE_PATH', flag: 'storage-path', schema: text, default: '/', help: 'the filesystem whose storage the server reports' }),
  loadLogPath: row({
    env: 'LOAD_LOG_PATH',
    flag: 'load-log-path',
    schema: text,
    default: 'server_system_load.csv',
    help: "CSV file the server appends its own load to every second; 'off' for none",
  }),
  loadLogMaxBytes: row({
    env: 'LOAD_LOG_MAX_BYTES',
    flag: 'load-log-max-bytes',
    schema: integer(1024, 1024 ** 4),
    default: String(10 * 1024 * 1024),
    help: 'size past which the load log is rotated to <path>.1',
  }),
  loadLogKeep: row({ env: 'LOAD_LOG_KEEP', flag: 'load-log-keep', schema: integer(0, 100), default: '3', help: 'rotated load logs kept' }),
  wsMaxBufferedBytes: row({
    env: 'WS_MAX_BUFFERED_BYTES',
    flag: 'ws-max-buffered-bytes',
    schema: integer(1024, 1024 ** 3),
    default: String(256 * 1024),
    help: 'queued bytes past which a WebSocket gets no EVENTs (and at 4 times this, is closed)',
  }),
  stallSeconds: row({
    env: 'STALL_SECONDS',
    flag: 'stall-seconds',
    schema: integer(1, 86400),
    default: '30',
    help: 'a subscribed WebSocket, or a streamed log slice, whose reader takes nothing for this long is closed',
  }),
  wsIdleSeconds: row({
    env: 'WS_IDLE_SECONDS',
    flag: 'ws-idle-seconds',
    // uWS times idle sockets in 4-second ticks, from 8 seconds on.
    schema: v.pipe(integer(8, 960), v.check((n) => n % 4 === 0, 'expected a multiple of 4 from 8 to 960')),
    default: '120',
    help: 'a WebSocket that sends nothing, not even a pong to our pings, for this long is closed',
  }),
  wsMaxSubscriptions: row({
    env: 'WS_MAX_SUBSCRIPTIONS',
    flag: 'ws-max-subscriptions',
    schema: integer(1, 10_000),
    default: '64',
    help: 'SUBSCRIBEs one WebSocket may hold at once',
  }),
  wsMaxPending: row({
    env: 'WS_MAX_PENDING',
    flag: 'ws-max-pending',
    schema: integer(1, 1_000_000),
    default: '4096',
    help: 'messages of one WebSocket waiting for their replies; a client that sends more is disconnected',
  }),
}

type Settings = typeof settings
export type Config = {
  [K in keyof Settings]: Settings[K] extends Row<infer S, infer D> ? v.InferOutput<S> | (D extends string ? never : undefined) : never
}

export class ConfigError extends Error {}

export function helpText(): string {
  const lines = Object.values(settings).map((r: Row<v.GenericSchema<string, unknown>>) => {
    const def = r.default === undefined ? '' : ` (default: ${r.default})`
    return `  --${r.flag.padEnd(22)} ${r.env.padEnd(22)} ${r.help}${def}`
  })
  return ['Usage: system-monitor [options]', '', 'Every option can also be set by its environment variable; the flag wins.', '', ...lines, '  --help                                        show this text'].join('\n')
}

/** Reads flags, then environment, then defaults; throws ConfigError naming the bad setting. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' {
  const options = Object.fromEntries([
    ...Object.values(settings).map((r) => [r.flag, { type: 'string' as const }]),
    ['help', { type: 'boolean' as const }],
  ])
  let flags: Record<string, unknown>
  try {
    flags = parseArgs({ args: argv, options, allowPositionals: false }).values
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\nRun with --help to list the options.`)
  }
  if (flags.help) return 'help'
  const out: Record<string, unknown> = {}
  for (const [key, r] of Object.entries(settings) as [keyof Settings, Row<v.GenericSchema<string, unknown>>][]) {
    const flag = flags[r.flag]
    const raw = typeof flag === 'string' ? flag : env[r.env] !== undefined && env[r.env] !== '' ? env[r.env] : r.default
    if (raw === undefined) continue
    const result = v.safeParse(r.schema, raw.trim())
    if (!result.success) {
      throw new ConfigError(`Invalid ${r.env} (--${r.flag}) ${JSON.stringify(raw)}: ${result.issues[0].message}`)
    }
    out[key] = result.output
  }
  return out as Config
}
