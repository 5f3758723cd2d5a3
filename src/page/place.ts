// Where the page is, as its URL keeps it, so that a reload or a shared link shows the same view:
// ?view=history&client=wood&range=1h, or &start=1700000000&end=1700003600 for fixed bounds.
import { isPreset, type Range } from './range.js'

export const views = ['server', 'history', 'fleet'] as const
export type View = (typeof views)[number]

export interface Place {
  view: View
  client?: string
  range: Range
}

const defaultRange: Range = { preset: '1h' }
const seconds = (s: string | null) => (s !== null && /^\d{1,12}$/.test(s) ? Number(s) : undefined)

export function readPlace(search: string): Place {
  const query = new URLSearchParams(search)
  const view = views.find((v) => v === query.get('view')) ?? 'server'
  const client = query.get('client') || undefined
  const preset = query.get('range') ?? ''
  const start = seconds(query.get('start'))
  const end = seconds(query.get('end'))
  const range: Range = isPreset(preset) ? { preset } : start !== undefined && end !== undefined && start <= end ? { start, end } : defaultRange
  return { view, client, range }
}

export function placeSearch({ view, client, range }: Place): string {
  const query = new URLSearchParams({ view })
  if (view !== 'history') return `?${query}`
  if (client) query.set('client', client)
  if ('preset' in range) query.set('range', range.preset)
  else {
    query.set('start', String(range.start))
    query.set('end', String(range.end))
  }
  return `?${query}`
}
