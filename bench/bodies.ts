// What the ingest load sends. Each body carries consecutive times from its first one, and a generator never
// reuses a time within a client: samples of one second would merge into one row, and the rows-equal-acks
// check would fail for the wrong reason. bench/ingest.lua builds the same bodies and requests for wrk.

export type BodyKind = 'form' | 'json-array' | 'ndjson' | 'line-protocol'

export const samplesPerBody: Record<BodyKind, number> = { form: 1, 'json-array': 1000, ndjson: 1000, 'line-protocol': 1000 }

export const contentTypes: Record<BodyKind, string> = {
  form: 'application/x-www-form-urlencoded',
  'json-array': 'application/json',
  ndjson: 'application/x-ndjson',
  'line-protocol': 'text/plain; charset=utf-8',
}

/** Where a client's body goes: its own path; line protocol to InfluxDB's v2 write route, the client_id its token, as Telegraf sends it. */
export function target(kind: BodyKind, clientPath: string): { path: string; authorization?: string } {
  if (kind !== 'line-protocol') return { path: clientPath }
  return { path: '/api/v2/write?org=bench&bucket=bench&precision=s', authorization: `Token ${decodeURIComponent(clientPath.slice('/client/'.length))}` }
}

/** The samples an answer says were stored: a single sample's 202, a batch's 202 {"accepted": N}, a write's 204 (all `sent`); else undefined. */
export function accepted(kind: BodyKind, status: number, text: string, sent = samplesPerBody[kind]): number | undefined {
  if (status === 204 && kind === 'line-protocol') return sent
  if (status !== 202) return undefined
  return kind === 'form' ? 1 : (JSON.parse(text) as { accepted: number }).accepted
}

// Compact, so that 1,000 of them fit the server's default 64 KiB body limit.
const sampleJson = (time: number) => `{"cpu_load":1.5,"mem":10,"storage":20,"time":${time}}`
// The line protocol's own measurement: one line a sample.
const sampleLine = (time: number) => `system cpu_load=1.5,mem=10i,storage=20i ${time}`

export function body(kind: BodyKind, firstTime: number, count = samplesPerBody[kind]): string {
  // The GUI client's form: the commonest single-sample body.
  if (kind === 'form') return `cpu_load=1.5&mem=10&storage=20&time=${firstTime}`
  const samples = Array.from({ length: count }, (_, i) => (kind === 'line-protocol' ? sampleLine : sampleJson)(firstTime + i))
  return kind === 'json-array' ? `[${samples.join(',')}]` : samples.join('\n') + '\n'
}

/** The WebSocket message of the GUI client for one sample. */
export const clientData = (clientId: string, time: number) =>
  `{"type": "CLIENT_DATA", "data": {"cpu_load": 1.5, "mem": 10, "storage": 20, "time": ${time}}, "interval": 1, "client_id": ${JSON.stringify(clientId)}}`
