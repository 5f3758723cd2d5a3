// The one write path: every sample from every transport is stored here, and write() resolves only after
// its rows are committed. Group commit (issue 4) will live here without touching the callers.
import type { SampleStore } from '../store/samples.js'
import type { Sample } from './sample.js'

export interface Writer {
  write(clientId: number, samples: Sample[]): Promise<void>
}

/** Samples of one client for one second merge: later fields replace earlier ones, missing ones stay. */
export function mergeSeconds(samples: Sample[]): Sample[] {
  if (samples.length < 2) return samples
  const bySecond = new Map<number, Sample>()
  for (const s of samples) {
    const prev = bySecond.get(s.t)
    bySecond.set(s.t, prev ? { t: s.t, cpu: s.cpu ?? prev.cpu, mem: s.mem ?? prev.mem, storage: s.storage ?? prev.storage } : s)
  }
  return [...bySecond.values()]
}

export const directWriter = (store: SampleStore): Writer => ({
  async write(clientId, samples) {
    const rows = mergeSeconds(samples)
    await store.upsert(
      rows.map(() => clientId),
      rows,
    )
  },
})
