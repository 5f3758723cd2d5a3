// Runs a load generator as a process of its own, so that it never shares an event loop with the
// orchestrator, and kills it (by its pid) if it overruns: the bench must end by itself.
import { spawn, type ChildProcess } from 'node:child_process'

const running = new Set<ChildProcess>()

/** Kills the generators still running (the bench was interrupted). */
export const killChildren = () => running.forEach((child) => child.kill('SIGKILL'))

export interface ChildOutput {
  code: number | null
  stdout: string
  stderr: string
}

export function runChild(file: string, args: string[], timeoutMs: number): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      running.delete(child)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      if (signal) stderr += `\n(${file} killed by ${signal})`
      resolve({ code, stdout, stderr })
    })
  })
}

/** A bench/*.ts worker, run like the bench itself; its last stdout line is its JSON result. */
export async function runWorker<T>(script: string, config: unknown, timeoutMs: number): Promise<T> {
  const path = new URL(script, import.meta.url).pathname
  const out = await runChild(process.execPath, ['--import', import.meta.resolve('tsx'), path, JSON.stringify(config)], timeoutMs)
  const last = out.stdout.trim().split('\n').pop() ?? ''
  if (out.code !== 0 || !last.startsWith('{')) throw new Error(`${script} failed (exit ${out.code}):\n${out.stderr || out.stdout}`)
  return JSON.parse(last) as T
}
