// The one way in for samples: every transport and every format ends here. Authenticate the sender, parse
// what it sent, validate, write (resolving only after the commit), and answer in the caller's own words.
import type { Authenticator } from '../auth/authenticator.js'
import type { Detail } from '../errors.js'
import { toSample, toSamples, type Accepted } from './validate.js'
import type { Writer } from './writer.js'

/** The ways samples come: over HTTP or a WebSocket, in what each body or message is written in. */
export type Transport = 'http' | 'ws'
export type Format = 'form' | 'json' | 'ndjson' | 'line_protocol'

/** What a format makes of a body: one sample (as the format gives it, I), or a batch; each still to be validated. */
export type Parsed<I = unknown> = { one: I; format: Format } | Batch

export interface Batch {
  many: unknown[]
  format: Format
  /** Where in the body the batch's sample `index` came from, for a refusal to name it: its index unless said. */
  where?: (index: number) => Detail
  /** What the format read and set aside as nothing to store: a batch of only that is answered, not refused. */
  ignored?: number
}

/** Who sends, as the contract's authentication reads it (contract, "Authentication of /client/{S}"). */
export interface Sender {
  transport: Transport
  /** The path segment: a username or a client_id (or the client_id a WebSocket message carries). */
  segment: string
  authorization?: string
  /** The peer's address, asked for only when the login throttle needs it. */
  remote: () => string
}

/** How a caller answers a stored sample (given with what the format made of it) or batch: an HTTP reply, a DATA_RETURN frame, ... */
export interface Answer<R, I = unknown> {
  one(accepted: Accepted, input: I): R
  many(count: number): R
}

/** What the entry tells the metrics: the samples of each upload committed, and each upload refused (whole). */
export interface IngestReport {
  committed(transport: Transport, format: Format, samples: number): void
  refused(transport: Transport, error: unknown): void
}

export interface IngestServices {
  auth: Authenticator
  writer: Writer
  /** Unix seconds, for samples sent without a time. */
  now: () => number
  maxBatchSamples: number
  report: IngestReport
}

export type Ingest = <R, I>(sender: Sender, parse: () => Parsed<I> | Promise<Parsed<I>>, answer: Answer<R, I>) => Promise<R>

export const createIngest =
  ({ auth, writer, now, maxBatchSamples, report }: IngestServices): Ingest =>
  async (sender, parse, answer) => {
    try {
      // A cached client and a body parsed at once are not awaited: every sample takes this way (hot path).
      const authenticated = auth.authenticate(sender.segment, sender.authorization, sender.remote)
      const clientId = typeof authenticated === 'number' ? authenticated : await authenticated
      const parsing = parse()
      const parsed = parsing instanceof Promise ? await parsing : parsing
      if ('many' in parsed) {
        if (parsed.many.length === 0 && parsed.ignored) return answer.many(0)
        const samples = toSamples(parsed.many, now(), maxBatchSamples, parsed.where)
        await writer.write(clientId, samples)
        report.committed(sender.transport, parsed.format, samples.length)
        return answer.many(samples.length)
      }
      const accepted = toSample(parsed.one, now())
      await writer.write(clientId, [accepted.sample])
      report.committed(sender.transport, parsed.format, 1)
      return answer.one(accepted, parsed.one)
    } catch (e) {
      report.refused(sender.transport, e)
      throw e
    }
  }
