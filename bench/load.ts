// The load generators, behind one interface: wrk when installed, else Node worker processes for HTTP, and
// Node worker processes for the WebSocket. Each worker process ("lane") drives its own share of the clients.
import { availableParallelism } from 'node:os'
import type { BodyKind } from './bodies.js'
import { runWorker } from './child.js'
import { deal } from './fleet.js'
import { Histogram, type HistogramJson } from './histogram.js'
import { runWrk, wrkThreads, wrkVersion } from './wrk.js'

export interface HttpLoad {
  /** http://host:port */
  url: string
  /** The clients' `/client/<client_id>`s: each request is from the next client of its lane. */
  paths: string[]
  kind: BodyKind
  connections: number
  seconds: number
  firstTime: number
}

export interface WsLoad {
  /** ws://host:port/echo */
  url: string
  /** Dealt over the connections; each message is from the next client of its connection. */
  clientIds: string[]
  connections: number
  /** Messages in flight per connection. */
  window: number
  seconds: number
  firstTime: number
}

export interface LoadResult {
  seconds: number
  /** Requests or messages sent. */
  sent: number
  /** Those answered 202 or DATA_RETURN. */
  acked: number
  /** Samples those answers accepted. */
  samples: number
  /** Answered with anything else: nothing stored. */
  rejected: number
  /** Never answered (socket error, timeout, or in flight when the generator stopped): stored or not. */
  lost: number
  firstError?: string
  p50Ms: number
  p99Ms: number
}

/** What a WebSocket worker is given: its connections, each with its clients. */
export type WsWorkerLoad = Omit<WsLoad, 'clientIds' | 'connections'> & { connections: string[][] }

/** What a Node worker prints: its latencies whole, to be merged with the other workers' before percentiles. */
export type WorkerResult = Omit<LoadResult, 'p50Ms' | 'p99Ms'> & { histogram: HistogramJson }

// The server under test needs a core of its own; the rest go to the generator.
const nodeLanes = Math.max(1, availableParallelism() - 1)

export interface HttpGenerator {
  name: string
  lanes: number
  run(load: HttpLoad): Promise<LoadResult>
}

/** wrk if it is on PATH, unless `forceNode`. */
export function httpGenerator(forceNode: boolean): HttpGenerator {
  const wrk = forceNode ? undefined : wrkVersion()
  if (wrk) return { name: wrk, lanes: wrkThreads, run: runWrk }
  return {
    name: `node sockets (${nodeLanes} process${nodeLanes > 1 ? 'es' : ''})`,
    lanes: nodeLanes,
    run: (load) => {
      const lanes = deal(load.paths, nodeLanes)
      return mergeWorkers(
        lanes.map((paths, lane) =>
          runWorker<WorkerResult>('node-load.ts', { ...load, paths, connections: share(load.connections, lanes.length, lane) } satisfies HttpLoad, timeout(load.seconds)),
        ),
      )
    },
  }
}

export const wsGeneratorName = `ws (${nodeLanes} process${nodeLanes > 1 ? 'es' : ''})`

export function runWsLoad({ clientIds, connections, ...load }: WsLoad): Promise<LoadResult> {
  const lanes = deal(deal(clientIds, connections), nodeLanes)
  return mergeWorkers(lanes.map((connections) => runWorker<WorkerResult>('ws-load.ts', { ...load, connections } satisfies WsWorkerLoad, timeout(load.seconds))))
}

const share = (total: number, parts: number, index: number) => Math.floor(total / parts) + (index < total % parts ? 1 : 0)

const timeout = (seconds: number) => (seconds + 60) * 1000

async function mergeWorkers(workers: Promise<WorkerResult>[]): Promise<LoadResult> {
  const results = await Promise.all(workers)
  const histogram = new Histogram()
  for (const r of results) histogram.merge(r.histogram)
  const sum = (key: 'sent' | 'acked' | 'samples' | 'rejected' | 'lost') => results.reduce((n, r) => n + r[key], 0)
  return {
    seconds: Math.max(...results.map((r) => r.seconds)),
    sent: sum('sent'),
    acked: sum('acked'),
    samples: sum('samples'),
    rejected: sum('rejected'),
    lost: sum('lost'),
    firstError: results.find((r) => r.firstError)?.firstError,
    p50Ms: histogram.percentileMs(50),
    p99Ms: histogram.percentileMs(99),
  }
}
