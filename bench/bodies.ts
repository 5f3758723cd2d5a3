// What the ingest load sends. Each body carries consecutive times from its first one, and a generator never
// reuses a time within a client: samples of one second would merge into one row, and the rows-equal-acks
// check would fail for the wrong reason. bench/ingest.lua builds the same bodies for wrk.

export type BodyKind = 'form' | 'json-array' | 'ndjson'

export const samplesPerBody: Record<BodyKind, number> = { form: 1, 'json-array': 1000, ndjson: 1000 }

export const contentTypes: Record<BodyKind, string> = {
  form: 'application/x-www-form-urlencoded',
  'json-array': 'application/json',
  ndjson: 'application/x-ndjson',
}

// Compact, so that 1,000 of them fit the server's default 64 KiB body limit.
const sampleJson = (time: number) => `{"cpu_load":1.5,"mem":10,"storage":20,"time":${time}}`

export function body(kind: BodyKind, firstTime: number, count = samplesPerBody[kind]): string {
  // The GUI client's form: the commonest single-sample body.
  if (kind === 'form') return `cpu_load=1.5&mem=10&storage=20&time=${firstTime}`
  const samples = Array.from({ length: count }, (_, i) => sampleJson(firstTime + i))
  return kind === 'ndjson' ? samples.join('\n') + '\n' : `[${samples.join(',')}]`
}

/** The WebSocket message of the GUI client for one sample. */
export const clientData = (clientId: string, time: number) =>
  `{"type": "CLIENT_DATA", "data": {"cpu_load": 1.5, "mem": 10, "storage": 20, "time": ${time}}, "interval": 1, "client_id": ${JSON.stringify(clientId)}}`
