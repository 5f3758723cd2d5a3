// Start-up: configuration, database, app, transport; and the shutdown on SIGINT/SIGTERM, which undoes the
// start-up's steps in reverse order.
import { createApp } from './app.js'
import { Authenticator } from './auth/authenticator.js'
import { ConfigError, helpText, loadConfig, type Config } from './config.js'
import { LoadLog } from './host/load-log.js'
import { HostSampler } from './host/sampler.js'
import { GroupWriter } from './ingest/writer.js'
import { clientStore } from './store/clients.js'
import { Maintenance } from './store/maintenance.js'
import { openDatabase } from './store/db.js'
import { sampleStore } from './store/samples.js'
import type { Serve } from './transport/policy.js'

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`)
const logError = (message: string, error: unknown) =>
  console.error(`${new Date().toISOString()} ${message}:`, error instanceof Error ? (error.stack ?? error.message) : error)

function fail(message: string, code = 1): never {
  console.error(`system-monitor: ${message}`)
  process.exit(code)
}

/**
 * The transport for this runtime, loaded only when it is the one used: the uWS module loads a native binary
 * (in the bundle it exits without one), which no other runtime can.
 */
async function loadTransport(): Promise<Serve> {
  if ('Deno' in globalThis) return (await import('./transport/deno.js')).serve
  const { nativeLoaded, serve } = await import('./transport/uws.js')
  if (!nativeLoaded) {
    fail(
      "uWebSockets.js's native binary did not load (see the warning above). " +
        `This build supports Node.js 16, 18 and 20 on ${process.platform}-${process.arch}; this is Node.js ${process.versions.node}. ` +
        'Use the single executable (npm run build:exe), the Docker image or Deno, which carry a runtime it supports.',
    )
  }
  return serve
}

/** What start-up has brought up so far, each with the step that takes it down again. */
class Steps {
  readonly #undo: (() => unknown)[] = []
  add<T>(value: T, undo: (value: T) => unknown): T {
    this.#undo.push(() => undo(value))
    return value
  }
  /** Undoes every step, the last one first; a failing step is logged and the rest still run. */
  async undo(): Promise<void> {
    for (const undo of this.#undo.splice(0).reverse()) await Promise.resolve().then(undo).catch((e) => logError('shutting down', e))
  }
}

async function main(config: Config, steps: Steps): Promise<void> {
  const serve = await loadTransport()
  const startedAt = new Date()
  // The first host snapshot and the database start-up take the longest: do them at once, and if either
  // fails, leave nothing running (an embedded PostgreSQL would outlive us).
  const [sampled, opened] = await Promise.allSettled([
    HostSampler.start(config.storagePath, config.samplePeriodMs),
    openDatabase(
      { databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, writeConnections: config.ingestConcurrency },
      log,
    ),
  ])
  if (sampled.status === 'fulfilled') steps.add(sampled.value, (s) => s.stop())
  if (opened.status === 'fulfilled') steps.add(opened.value, (db) => db.close())
  if (sampled.status === 'rejected') throw sampled.reason
  if (opened.status === 'rejected') throw opened.reason
  const sampler = sampled.value
  const db = opened.value
  const samples = sampleStore(db.sql, db.writeSql)
  steps.add(
    new Maintenance(db.sql, {
      rollupIntervalMs: config.rollupIntervalMs,
      retention: {
        limits: [config.retentionRaw, config.retention1m, config.retention10m, config.retention1h],
        checkMs: config.retentionCheckSeconds * 1000,
        unitRows: config.retentionUnitRows,
      },
      now: () => Date.now() / 1000,
      logError,
    }),
    (m) => m.stop(),
  )
  const writer = steps.add(
    new GroupWriter((ids, rows) => samples.write(ids, rows), {
      maxQueued: config.ingestMaxQueued,
      queueWaitMs: config.ingestQueueWaitMs,
      maxBatchRows: config.ingestBatchRows,
      concurrency: config.ingestConcurrency,
    }),
    (w) => w.drain(),
  )
  const app = createApp({
    auth: new Authenticator(clientStore(db.sql), {
      cacheSize: config.authCacheSize,
      maxFailures: config.loginMaxFailures,
      lockSeconds: config.loginLockSeconds,
    }),
    writer,
    samples,
    sampler,
    startedAt,
    databaseReady: async () => void (await db.sql`select 1`),
    now: () => Math.floor(Date.now() / 1000),
    maxBatchSamples: config.maxBatchSamples,
    maxInflatedBytes: config.maxInflatedBytes,
    logError,
    ws: {
      maxSubscriptions: config.wsMaxSubscriptions,
      maxPending: config.wsMaxPending,
      maxBufferedBytes: config.wsMaxBufferedBytes,
      stallMs: config.stallSeconds * 1000,
    },
  })
  if (config.loadLogPath !== 'off') {
    const options = { path: config.loadLogPath, maxBytes: config.loadLogMaxBytes, keep: config.loadLogKeep }
    steps.add(await LoadLog.open(options, sampler, logError), (l) => l.close())
  }
  const server = steps.add(
    await serve(app, {
      host: config.host,
      port: config.port,
      maxBodyBytes: config.maxBodyBytes,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      maxSocketBackpressure: config.wsMaxBufferedBytes * 4,
      socketIdleSeconds: config.wsIdleSeconds,
      stallMs: config.stallSeconds * 1000,
    }),
    (s) => s.close(),
  )
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    log(`${signal}: shutting down`)
    await steps.undo()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  // Only now, with the shutdown in place: whoever waits for this line may stop the server at once.
  log(`database: ${db.description}`)
  if (config.loadLogPath !== 'off') log(`writing the server's load to ${config.loadLogPath}`)
  log(`listening on http://${config.host}:${server.port}`)
}

let config: Config
try {
  const loaded = loadConfig(process.argv.slice(2), process.env)
  if (loaded === 'help') {
    console.log(helpText())
    process.exit(0)
  }
  config = loaded
} catch (e) {
  if (e instanceof ConfigError) fail(e.message, 2)
  throw e
}
const steps = new Steps()
main(config, steps).catch(async (e: unknown) => {
  await steps.undo()
  fail(e instanceof Error ? e.message : String(e))
})
