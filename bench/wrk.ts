// The HTTP load generator of choice: wrk, driven by bench/ingest.lua.
import { spawnSync } from 'node:child_process'
import { runChild } from './child.js'
import type { HttpLoad, LoadResult } from './load.js'

/** wrk's version line, or undefined when it is not installed. */
export function wrkVersion(): string | undefined {
  // wrk prints its version with the usage text and exits 1.
  const out = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
  if (out.error) return undefined
  return /^wrk \S+/.exec(out.stdout + out.stderr)?.[0]
}

const script = new URL('ingest.lua', import.meta.url).pathname

// One thread: on a small machine a second one would only take CPU from the server.
export const wrkThreads = 1

export async function runWrk(load: HttpLoad): Promise<LoadResult> {
  const threads = Math.min(wrkThreads, load.paths.length)
  const args = [
    `-t${threads}`,
    `-c${load.connections}`,
    `-d${load.seconds}s`,
    // A batch of 1,000 may queue behind others for seconds; wrk's default of 2 s would count it as lost.
    '--timeout', '30s',
    '--latency',
    '-s', script,
    load.url,
    // Each thread takes its share of the paths (bench/ingest.lua).
    '--', load.kind, String(load.firstTime), String(threads), ...load.paths,
  ]
  const out = await runChild('wrk', args, (load.seconds + 60) * 1000)
  const line = /^BENCH_RESULT (.*)$/m.exec(out.stdout)?.[1]
  if (out.code !== 0 || !line) throw new Error(`wrk failed (exit ${out.code}):\n${out.stdout}\n${out.stderr}`)
  const r = JSON.parse(line) as {
    sent: number; acked: number; samples: number; rejected: number; socketErrors: number; durationUs: number; p50Us: number; p99Us: number
  }
  return {
    seconds: r.durationUs / 1e6,
    sent: r.sent,
    acked: r.acked,
    samples: r.samples,
    rejected: r.rejected,
    // wrk stops with requests in flight, uncounted; their samples may still be committed.
    lost: r.sent - r.acked - r.rejected,
    firstError: /^BENCH_FIRST_ERROR (.*)$/m.exec(out.stdout)?.[1] ?? (r.socketErrors > 0 ? `${r.socketErrors} socket errors or timeouts` : undefined),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
  }
}
