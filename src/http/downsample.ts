// A log slice's downsampling parameters: `step` (seconds a bucket spans) and `agg` (aggregates, in order).
import * as v from 'valibot'
import { valueError } from '../errors.js'
import { aggregates, type Aggregate } from '../store/buckets.js'

/** A year: a chart of a decade still has ten points. */
export const maxStep = 31_536_000

const stepSchema = v.pipe(v.string(), v.regex(/^\d{1,9}$/), v.transform(Number), v.minValue(1), v.maxValue(maxStep))
const aggSchema = v.pipe(
  v.string(),
  v.transform((s) => s.split(',')),
  v.array(v.picklist(aggregates)),
  v.check((list) => new Set(list).size === list.length),
)

/** undefined without `step` (a raw slice); otherwise the step and aggregates (avg by default), or a value error. */
export function downsampling(query: URLSearchParams): { step: number; aggregates: Aggregate[] } | undefined {
  const step = query.get('step')
  if (step === null) return undefined
  const parsedStep = v.safeParse(stepSchema, step)
  const parsedAgg = v.safeParse(aggSchema, query.get('agg') ?? 'avg')
  // As for start and end, nothing beside the reason.
  if (!parsedStep.success || !parsedAgg.success) throw valueError()
  return { step: parsedStep.output, aggregates: parsedAgg.output }
}
