// The host's memory and storage as psutil defines them (contract, "Server self-monitoring"), in bytes.
import { readFile, statfs } from 'node:fs/promises'

// systeminformation is loaded where it is read (off Linux, and for the CPU's cores and frequency): loading it
// costs a process 10 MB, which the agent (src/agent/) does without.
let loading: Promise<typeof import('systeminformation')> | undefined
const si = () => (loading ??= import('systeminformation').then((m) => m.default))

export interface Memory {
  total: number
  available: number
  /** Percent of total not available, to one decimal. */
  percent: number
  used: number
  free: number
  active: number
  inactive: number
  buffers: number
  cached: number
  shared: number
  slab: number
}

export interface Storage {
  total: number
  used: number
  free: number
  percent: number
}

const oneDecimal = (n: number) => Math.round(n * 10) / 10

/**
 * On Linux psutil reads /proc/meminfo, and so do we: systeminformation has no Active, Inactive or Shmem,
 * and its "active" means something else. Elsewhere systeminformation's figures are the closest there are.
 */
export async function readMemory(): Promise<Memory> {
  if (process.platform !== 'linux') {
    const m = await (await si()).mem()
    return { total: m.total, available: m.available, percent: oneDecimal(((m.total - m.available) / m.total) * 100), used: m.used, free: m.free, active: m.active, inactive: 0, buffers: m.buffers, cached: m.cached, shared: 0, slab: m.slab }
  }
  const fields = new Map<string, number>()
  for (const line of (await readFile('/proc/meminfo', 'latin1')).split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line)
    if (m) fields.set(m[1], Number(m[2]) * 1024)
  }
  const kb = (name: string) => fields.get(name) ?? 0
  const total = kb('MemTotal')
  const free = kb('MemFree')
  const buffers = kb('Buffers')
  const cached = kb('Cached') + kb('SReclaimable')
  const available = fields.get('MemAvailable') ?? free + buffers + cached
  let used = total - free - buffers - cached
  if (used < 0) used = total - free
  return {
    total,
    available,
    percent: oneDecimal(((total - available) / total) * 100),
    used,
    free,
    active: kb('Active'),
    inactive: kb('Inactive'),
    buffers,
    cached,
    shared: kb('Shmem'),
    slab: kb('Slab'),
  }
}

/** psutil.disk_usage: statfs, where "free" is what an unprivileged user may still use. */
export async function readStorage(path: string): Promise<Storage> {
  const s = await statfs(path)
  const total = s.blocks * s.bsize
  const free = s.bavail * s.bsize
  const used = (s.blocks - s.bfree) * s.bsize
  return { total, used, free, percent: used + free === 0 ? 0 : oneDecimal((used / (used + free)) * 100) }
}

export interface CpuInfo {
  physicalCores: number
  logicalCores: number
  /** MHz: current, min, max; 0 where the platform does not say (as psutil). */
  frequency: [number, number, number]
}

const mhz = (ghz: number | undefined) => Math.round((ghz ?? 0) * 1_000_000) / 1000

/** Cores and frequency range, which do not change: systeminformation runs lscpu for them, so read once. */
export async function readCpuInfo(): Promise<CpuInfo> {
  const cpu = await (await si()).cpu()
  return { physicalCores: cpu.physicalCores, logicalCores: cpu.cores, frequency: [mhz(cpu.speed), mhz(cpu.speedMin), mhz(cpu.speedMax)] }
}

/** The current frequency in MHz, averaged over the cores. */
export const readCpuMhz = async (): Promise<number> => mhz((await (await si()).cpuCurrentSpeed()).avg)

export interface CpuTicks {
  busy: number
  total: number
}

let previousTicks: CpuTicks | undefined

/** Ticks since boot, from the "cpu" line of /proc/stat as psutil reads it (guest time is inside user). */
async function procStatTicks(): Promise<CpuTicks> {
  const text = await readFile('/proc/stat', 'latin1')
  const [, ...fields] = text.slice(0, text.indexOf('\n')).trim().split(/\s+/)
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields.map(Number)
  const total = user + nice + system + idle + iowait + irq + softirq + steal
  return { busy: total - idle - iowait, total }
}

/**
 * CPU ticks since the previous call; the first call measures a window of its own (half a second). On Linux
 * /proc/stat is read directly: systeminformation runs `cat /proc/stat | grep cpu` through a shell,
 * synchronously, every time, which blocked the event loop for milliseconds each second.
 */
export async function readCpuTicks(): Promise<CpuTicks> {
  if (process.platform !== 'linux') {
    const load = await (await si()).currentLoad()
    return { busy: load.rawCurrentLoad, total: load.rawCurrentLoad + load.rawCurrentLoadIdle }
  }
  if (!previousTicks) {
    previousTicks = await procStatTicks()
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  const now = await procStatTicks()
  const since = { busy: now.busy - previousTicks.busy, total: now.total - previousTicks.total }
  previousTicks = now
  return since
}
