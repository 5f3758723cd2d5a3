// Start-up: configuration, database, app, transport; and the shutdown order on SIGINT/SIGTERM.
import { createApp } from './app.js'
import { Authenticator } from './auth/authenticator.js'
import { ConfigError, helpText, loadConfig, type Config } from './config.js'
import { LoadLog } from './host/load-log.js'
import { HostSampler } from './host/sampler.js'
import { GroupWriter } from './ingest/writer.js'
import { clientStore } from './store/clients.js'
import { openDatabase } from './store/db.js'
import { sampleStore } from './store/samples.js'
import type { Serve } from './transport/server.js'

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
async function loadTransport(config: Config): Promise<Serve> {
  if ('Deno' in globalThis) return (await import('./transport/deno.js')).serve
  const { nativeLoaded, serve } = await import('./transport/uws.js')
  if (!nativeLoaded) {
    if (!config.allowUwsFallback) {
      fail(
        "uWebSockets.js's native binary did not load (see the warning above), and its JS fallback is many times slower. " +
          `This build supports Node.js 16, 18 and 20 on ${process.platform}-${process.arch}; this is Node.js ${process.versions.node}. ` +
          'Use the single executable (npm run build:exe), the Docker image or Deno, which carry a runtime it supports, ' +
          'or set ALLOW_UWS_FALLBACK=true to run on the fallback anyway.',
      )
    }
    log('WARNING: running on the slow JS fallback of uWebSockets.js (ALLOW_UWS_FALLBACK)')
  }
  return serve
}

async function main(config: Config): Promise<void> {
  const serve = await loadTransport(config)
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
  if (sampled.status === 'rejected' || opened.status === 'rejected') {
    if (sampled.status === 'fulfilled') sampled.value.stop()
    if (opened.status === 'fulfilled') await opened.value.close()
    throw sampled.status === 'rejected' ? sampled.reason : (opened as PromiseRejectedResult).reason
  }
  const sampler = sampled.value
  const db = opened.value
  const samples = sampleStore(db.sql, db.writeSql)
  const writer = new GroupWriter((ids, rows) => samples.write(ids, rows), {
    maxQueued: config.ingestMaxQueued,
    queueWaitMs: config.ingestQueueWaitMs,
    maxBatchRows: config.ingestBatchRows,
    concurrency: config.ingestConcurrency,
  })
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
    maxBufferedBytes: config.wsMaxBufferedBytes,
    stallMs: config.stallSeconds * 1000,
  })
  let server
  let loadLog: LoadLog | undefined
  try {
    if (config.loadLogPath !== 'off') {
      loadLog = await LoadLog.open({ path: config.loadLogPath, maxBytes: config.loadLogMaxBytes, keep: config.loadLogKeep }, sampler, logError)
    }
    server = await serve(app, {
      host: config.host,
      port: config.port,
      maxBodyBytes: config.maxBodyBytes,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      maxSocketBackpressure: config.wsMaxBufferedBytes * 4,
      stallMs: config.stallSeconds * 1000,
    })
  } catch (e) {
    sampler.stop()
    await loadLog?.close()
    await db.close()
    throw e
  }
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    log(`${signal}: shutting down`)
    server.close()
    await writer.drain()
    sampler.stop()
    await loadLog?.close()
    await db.close().catch((e) => logError('closing the database', e))
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  // Only now, with the shutdown in place: whoever waits for this line may stop the server at once.
  log(`database: ${db.description}`)
  if (loadLog) log(`writing the server's load to ${config.loadLogPath}`)
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
main(config).catch((e) => fail(e instanceof Error ? e.message : String(e)))
