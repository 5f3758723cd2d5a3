// The bench's one table: columns padded to their widest cell, and the number formats it uses.

export const int = (n: number) => Math.round(n).toLocaleString('en-US')

export const rate = (n: number, unit: string) => `${n >= 100 ? int(n) : n.toFixed(1)} ${unit}/s`

export const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '' : n >= 100 ? `${int(n)} ms` : `${n.toPrecision(2)} ms`)

export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`
/** Seconds as microseconds, to a tenth. */
export const us = (seconds: number) => `${(seconds * 1e6).toFixed(1)} µs`

export const mark = (ok: boolean) => (ok ? '✓' : '✗')

export function render(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n')
}
