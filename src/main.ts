// Start-up: configuration, database, app, transport; and the shutdown on SIGINT/SIGTERM, which undoes the
// start-up's steps in reverse order.
import { createApp } from './app.js'
import { AdminGate } from './auth/admin.js'
import { Authenticator } from './auth/authenticator.js'
import { LoginThrottle } from './auth/throttle.js'
import { ConfigError, helpText, loadConfig, type Config } from './config.js'
import { LoadLog } from './host/load-log.js'
import { HostSampler } from './host/sampler.js'
import { GroupWriter } from './ingest/writer.js'
import { ServerMetrics } from './metrics.js'
import { clientStore } from './store/clients.js'
import { Maintenance } from './store/maintenance.js'
import { openDatabase } from './store/db.js'
import { loginStore } from './store/logins.js'
import { sampleStore } from './store/samples.js'
import type { Serve } from './transport/policy.js'
import { loadTls } from './transport/tls.js'

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`)
const logError = (message: string, error: unknown) =>
  console.error(`${new Date().toISOString()} ${message}:`, error instanceof Error ? (error.stack ?? error.message) : error)

function fail(message: string, code = 1): never {
  console.error(`system-monitor: ${message}`)
  process.exit(code)
}

// Deno's own global, which this Node project has no declarations for.
declare const Deno: { version: { deno: string } }

/**
 * The transport for this runtime, and the runtime's name for the start-up log. It is loaded only when it is
 * the one used: the uWS module loads a native binary, which no other runtime can.
 */
async function loadTransport(config: Config): Promise<{ serve: Serve; runtime: string }> {
  if ('Deno' in globalThis) return { serve: (await import('./transport/deno.js')).serve, runtime: `Deno ${Deno.version.deno} (Deno.serve)` }
  const node = `Node.js ${process.versions.node} on ${process.platform}-${process.arch}`
  const uws = (await import('./transport/uws.js')).loadUws(config.maxHeaderBytes)
  if ('problem' in uws) {
    fail(
      `no uWebSockets.js binary loads on ${node} (ABI ${process.versions.modules}): ${uws.problem}. ` +
        'It runs on Node.js 20, 22 and 24; on Linux, 22 and 24 need glibc 2.38 or newer (Debian 13, Ubuntu 24.04). ' +
        'Use the single executable (npm run build:exe), the Docker image or Deno, which carry a runtime it supports.',
    )
  }
  return { serve: uws.serve, runtime: `${node}, uWebSockets.js ${uws.binary.version} (${uws.binary.file})` }
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
  // Checked first: a certificate that cannot serve stops the server before the database is started for nothing.
  const tls = config.tlsCertFile && config.tlsKeyFile ? loadTls({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, passphrase: config.tlsKeyPassphrase }) : undefined
  const { serve, runtime } = await loadTransport(config)
  log(`runtime: ${runtime}`)
  const startedAt = new Date()
  // The first host snapshot and the database start-up take the longest: do them at once, and if either
  // fails, leave nothing running (an embedded PostgreSQL would outlive us).
  const [sampled, opened] = await Promise.allSettled([
    HostSampler.start(config.storagePath, config.samplePeriodMs),
    openDatabase(
      {
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        poolSize: config.dbPoolSize,
        writeConnections: config.ingestConcurrency,
        timeoutMs: config.dbTimeoutMs,
        statementTimeoutMs: config.dbStatementTimeoutMs,
        fatal: (e) => void shutDown(`${e.message}\nexiting so that a supervisor can start the server again`, 1),
      },
      log,
    ),
  ])
  if (sampled.status === 'fulfilled') steps.add(sampled.value, (s) => s.stop())
  if (opened.status === 'fulfilled') steps.add(opened.value, (db) => db.close())
  if (sampled.status === 'rejected') throw sampled.reason
  if (opened.status === 'rejected') throw opened.reason
  const sampler = sampled.value
  const db = opened.value
  const samples = sampleStore(db.sql, db.writeSql, db.health)
  const maintenance = steps.add(
    new Maintenance(db.sql, {
      rollupIntervalMs: config.rollupIntervalMs,
      rollupQueueSamples: config.rollupQueueSamples,
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
  const metrics = config.metrics ? new ServerMetrics() : undefined
  const writer = steps.add(
    new GroupWriter(async (ids, rows) => {
      await samples.write(ids, rows)
      maintenance.written(rows.length)
    }, {
      maxQueued: config.ingestMaxQueued,
      queueWaitMs: config.ingestQueueWaitMs,
      maxBatchRows: config.ingestBatchRows,
      concurrency: config.ingestConcurrency,
      committed: metrics && ((rows, seconds) => metrics.statement(rows, seconds)),
    }),
    (w) => w.drain(),
  )
  metrics?.watch({ writer: () => writer.stats, statements: () => db.health.statements, pools: { read: config.dbPoolSize, write: config.ingestConcurrency } })
  const throttle = steps.add(
    await LoginThrottle.start(loginStore(db.sql, db.health), {
      maxFailures: config.loginMaxFailures,
      maxFailuresPerUsername: config.loginMaxFailuresPerUsername,
      lockSeconds: config.loginLockSeconds,
      registerMax: config.registerMaxPerAddress,
      registerWindowSeconds: config.registerWindowSeconds,
      refused: metrics && ((limit) => metrics.loginRefused(limit)),
    }),
    (t) => t.stop(),
  )
  const clients = clientStore(db.sql, db.health)
  const app = createApp({
    auth: new Authenticator(clients, throttle, { cacheSize: config.authCacheSize }),
    writer,
    samples,
    sampler,
    startedAt,
    databaseReady: async () => void (await db.health.guard(() => db.sql`select 1`)),
    now: () => Math.floor(Date.now() / 1000),
    maxBatchSamples: config.maxBatchSamples,
    maxInflatedBytes: config.maxInflatedBytes,
    monitorMaxWaiting: config.monitorMaxWaiting,
    logError,
    ws: {
      maxSubscriptions: config.wsMaxSubscriptions,
      maxPending: config.wsMaxPending,
      maxBufferedBytes: config.wsMaxBufferedBytes,
      stallMs: config.stallSeconds * 1000,
    },
    metrics,
    admin: config.adminToken === undefined ? undefined : { gate: new AdminGate(config.adminToken, throttle), clients },
  })
  if (config.loadLogPath !== 'off') {
    const options = { path: config.loadLogPath, maxBytes: config.loadLogMaxBytes, keep: config.loadLogKeep }
    steps.add(await LoadLog.open(options, sampler, logError), (l) => l.close())
  }
  const server = steps.add(
    await serve(app, {
      host: config.host,
      port: config.port,
      tls,
      maxBodyBytes: config.maxBodyBytes,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      maxBufferedBodyBytesPerPeer: config.maxBufferedBodyBytesPerPeer,
      bodyTimeoutSeconds: config.bodyTimeoutSeconds,
      maxSocketBackpressure: config.wsMaxBufferedBytes * 4,
      socketIdleSeconds: config.wsIdleSeconds,
      stallMs: config.stallSeconds * 1000,
      trustedProxies: config.trustedProxies ?? [],
    }),
    (s) => s.close(),
  )
  process.on('SIGINT', () => void shutDown('SIGINT: shutting down', 0))
  process.on('SIGTERM', () => void shutDown('SIGTERM: shutting down', 0))
  // Only now, with the shutdown in place: whoever waits for this line may stop the server at once.
  log(`database: ${db.description}`)
  if (config.loadLogPath !== 'off') log(`writing the server's load to ${config.loadLogPath}`)
  log(`listening on ${tls ? 'https' : 'http'}://${config.host}:${server.port}`)
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
let stopping = false
/**
 * Undoes the start-up, then exits with `code`; past SHUTDOWN_SECONDS (a database that does not answer, a slice
 * still streaming) it exits all the same, with 1.
 */
async function shutDown(reason: string, code: number): Promise<void> {
  if (stopping) return
  stopping = true
  log(reason)
  setTimeout(() => {
    log(`still shutting down after ${config.shutdownSeconds} s: exiting`)
    process.exit(1)
  }, config.shutdownSeconds * 1000).unref()
  await steps.undo()
  process.exit(code)
}
main(config, steps).catch(async (e: unknown) => {
  await steps.undo()
  fail(e instanceof Error ? e.message : String(e))
})
