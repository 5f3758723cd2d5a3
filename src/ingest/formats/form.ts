// A form-encoded sample (the GUI client's `cpu_load=25.9&mem=6172&storage=95888&time=1646650624`), its values
// read as Python reads them with int() or float().
import { float, Num } from '../../wire/pyjson.js'

type SampleField = 'cpu_load' | 'mem' | 'storage' | 'time'
export type FormSample = Record<SampleField, unknown>

const formNumber = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** A form value as Python would read it with int() or float(); anything else stays a string. */
function formValue(value: string): unknown {
  const s = value.trim()
  if (!formNumber.test(s)) return value
  if (s.includes('.') || s.includes('e') || s.includes('E')) return float(Number(s))
  return new Num(Number(s), pythonIntText(s))
}

/**
 * How Python prints int() of an integer text: without a plus sign or leading zeros, and "0" for any zero.
 * By string, not BigInt: parsing a megabyte of digits into a BigInt blocked the event loop for a long time.
 */
function pythonIntText(s: string): string {
  const c = s.charCodeAt(0)
  if (c > 0x30 || s === '0') return s // the usual case: 1-9 first
  const digits = s.replace(/^[+-]?0*/, '') || '0'
  return s[0] === '-' && digits !== '0' ? '-' + digits : digits
}

/** Keeps the first value of each sample field (as Flask's request.form.get); other fields are not read. */
function keepFirst(fields: FormSample, key: string, value: string): void {
  if ((key === 'cpu_load' || key === 'mem' || key === 'storage' || key === 'time') && fields[key] === undefined) fields[key] = formValue(value)
}

/** A form body's sample fields, in an object of one shape whatever a client sends. */
export function parseForm(text: string): FormSample {
  const fields: FormSample = { cpu_load: undefined, mem: undefined, storage: undefined, time: undefined }
  if (text[0] === '?' || /[%+]/.test(text)) {
    for (const [key, value] of new URLSearchParams(text)) keepFirst(fields, key, value)
    return fields
  }
  // Without escapes a form decodes to itself: split in place, a fraction of URLSearchParams's cost (hot path).
  for (let start = 0; start < text.length; ) {
    const amp = text.indexOf('&', start)
    const end = amp < 0 ? text.length : amp
    const eq = text.indexOf('=', start)
    if (eq >= 0 && eq < end) keepFirst(fields, text.slice(start, eq), text.slice(eq + 1, end))
    else if (end > start) keepFirst(fields, text.slice(start, end), '')
    start = end + 1
  }
  return fields
}
