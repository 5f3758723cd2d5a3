// Whether the server has a feature yet, asked with one small request before its load phase runs: a phase
// for a missing feature is printed as "not supported by this server" instead of failing the bench.
import WebSocket from 'ws'
import { accepted, body, contentTypes, target, type BodyKind } from './bodies.js'
import type { Client } from './clients.js'

/** undefined when supported, else why not. The probe's two samples go to `client` at times from `time`. */
export async function probeBatch(url: string, client: Client, kind: BodyKind, time: number): Promise<string | undefined> {
  const { path, authorization } = target(kind, client.path)
  const headers: Record<string, string> = { 'content-type': contentTypes[kind], ...(authorization ? { authorization } : {}) }
  const res = await fetch(url + path, { method: 'POST', headers, body: body(kind, time, 2) })
  const text = await res.text()
  if (accepted(kind, res.status, text, 2) === 2) return undefined
  return `a POST of 2 samples was answered HTTP ${res.status} ${text.slice(0, 200)}`
}

/** undefined when /echo upgrades and answers HELLO with WELCOME, else why not. */
export function probeWebSocket(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false })
    const done = (reason: string | undefined) => {
      clearTimeout(timer)
      socket.terminate()
      resolve(reason)
    }
    const timer = setTimeout(() => done('no answer to HELLO within 5 s'), 5000)
    socket.on('unexpected-response', (_req, res) => done(`the upgrade was answered HTTP ${res.statusCode}`))
    socket.on('error', (e) => done(e.message))
    socket.on('open', () => socket.send('{"type": "HELLO"}'))
    socket.on('message', (data) => {
      const text = String(data)
      done(text.startsWith('{"type": "WELCOME"') ? undefined : `HELLO was answered ${text.slice(0, 200)}`)
    })
  })
}
