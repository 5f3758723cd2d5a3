// The process under test as the kernel sees it, from /proc/<pid>: VmRSS sampled through a phase (its peak is
// that phase's), VmHWM (the peak over the whole life of the process), and the CPU it used in the phase, which
// tells whether the server or something behind it (the database, the generator) was the bottleneck.
import { readdirSync, readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

const sampleMs = 50
// Linux reports utime and stime in USER_HZ, which is 100 on every architecture it exports to user space.
const ticksPerSecond = 100

function statusBytes(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const kb = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}

/**
 * Fields after the command name, which is in parentheses and may hold spaces: ppid is 4, utime and stime 14 and
 * 15, cutime and cstime (those of its children that ended and were waited for) 16 and 17.
 */
const statFields = (pid: number | string) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** User plus system CPU time, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/**
 * CPU seconds of a process, and of its descendants (the server's embedded PostgreSQL and its backends), those
 * that ended included: an autovacuum worker's work is in its postmaster's cutime once it has exited, and a
 * sum of the live processes alone lost it, or lost what a worker had done before a phase began.
 */
export interface TreeCpu {
  own: number
  descendants: number
}

export function treeCpu(pid: number): TreeCpu {
  const children = new Map<number, number[]>()
  const seconds = new Map<number, { own: number; ended: number }>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const fields = statFields(entry)
      const parent = Number(fields[1])
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)])
      seconds.set(Number(entry), { own: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond, ended: (Number(fields[13]) + Number(fields[14])) / ticksPerSecond })
    } catch {
      // gone meanwhile
    }
  }
  const all = (p: number) => (seconds.get(p)?.own ?? 0) + (seconds.get(p)?.ended ?? 0)
  const below = (p: number): number => (children.get(p) ?? []).reduce((sum, c) => sum + all(c) + below(c), 0)
  return { own: seconds.get(pid)?.own ?? 0, descendants: below(pid) }
}

export const peakRss = (pid: number) => statusBytes(pid, 'VmHWM')

export interface Observed<T> {
  value: T
  /** The largest VmRSS seen, in bytes. */
  rss: number
  /** CPU time over wall time: 1 is one core kept busy. */
  cpu: number
}

/** Runs `phase` while watching the process. */
export async function observe<T>(pid: number, phase: () => Promise<T>): Promise<Observed<T>> {
  let rss = statusBytes(pid, 'VmRSS')
  const cpuBefore = cpuSeconds(pid)
  const start = performance.now()
  const timer = setInterval(() => {
    try {
      rss = Math.max(rss, statusBytes(pid, 'VmRSS'))
    } catch {
      // the process is gone: the phase itself will fail and say why
    }
  }, sampleMs)
  try {
    const value = await phase()
    const cpu = (cpuSeconds(pid) - cpuBefore) / ((performance.now() - start) / 1000)
    return { value, rss: Math.max(rss, statusBytes(pid, 'VmRSS')), cpu }
  } finally {
    clearInterval(timer)
  }
}
