// A WebSocket test client: messages are queued as they arrive and awaited one by one.
import type { IncomingHttpHeaders } from 'node:http'
import WebSocket from 'ws'

export interface Socket {
  ws: WebSocket
  /** The handshake's response headers (a proxy's among them). */
  headers: IncomingHttpHeaders
  send(message: string | object): void
  /** The next message not yet taken, as text. */
  next(): Promise<string>
  /** Resolves with the close code once the server closes the connection. */
  closed: Promise<number>
  close(): void
}

/** `ca`: for an https:// base, the PEM certificate (or CA) the server's is trusted by. */
export async function connect(base: string, path = '/echo', ca?: string): Promise<Socket> {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + path, { ca })
  const queue: string[] = []
  const waiting: ((text: string) => void)[] = []
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? `<binary ${String(data)}>` : String(data)
    const waiter = waiting.shift()
    if (waiter) waiter(text)
    else queue.push(text)
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  let headers: IncomingHttpHeaders = {}
  ws.once('upgrade', (res) => (headers = res.headers))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    headers,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve))),
    closed,
    close: () => ws.close(),
  }
}
