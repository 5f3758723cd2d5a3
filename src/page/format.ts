// Numbers and times as the page shows them, in the reader's locale and time zone.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
const plain = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 })

export const timeText = (unixSeconds: number) => dateTime.format(new Date(unixSeconds * 1000))
export const numberText = (n: number | null) => (n === null ? '–' : plain.format(n))

/**
 * An axis label with the digits its ticks' spacing needs: 5,002 and 5,004 (not 5K twice), 1.235M and 1.236M,
 * 0.25 and 0.5.
 */
export function axisText(n: number, increment: number): string {
  const incrementDigit = lastDigit(increment)
  if (Math.abs(n) >= 10_000) {
    const significant = Math.max(1, Math.min(21, Math.floor(Math.log10(Math.abs(n))) - incrementDigit + 1))
    return n.toLocaleString(undefined, { notation: 'compact', maximumSignificantDigits: significant })
  }
  return n.toLocaleString(undefined, { maximumFractionDigits: Math.max(0, Math.min(6, -incrementDigit)) })
}

/** The power of ten of a number's last significant digit: 2 for 500, 4 for 250,000, -2 for 0.25. */
function lastDigit(x: number): number {
  const power = Math.floor(Math.log10(x))
  const mantissa = String(Number((x / 10 ** power).toPrecision(6)))
  return power - (mantissa.split('.')[1]?.length ?? 0)
}

/** A duration as its largest units: "30 days", "2 h 5 min", "45 s". */
export function durationText(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'days'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ]
  const parts: string[] = []
  let left = Math.max(0, Math.round(seconds))
  for (const [size, name] of units) {
    const n = Math.floor(left / size)
    if (n > 0 && parts.length < 2) {
      parts.push(`${n} ${n === 1 && name === 'days' ? 'day' : name}`)
      left -= n * size
    }
  }
  return parts.length > 0 ? parts.join(' ') : '0 s'
}

/** How long ago: "5 s ago", "3 min ago". */
export const agoText = (unixSeconds: number, now: number) => `${durationText(now - unixSeconds).split(' ').slice(0, 2).join(' ')} ago`

/** `<input type="datetime-local">`'s value for a time, in local time to the second. */
export function localInput(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}

/** Unix seconds of a datetime-local value, or undefined for none. */
export function fromLocalInput(value: string): number | undefined {
  const ms = new Date(value).getTime()
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined
}
