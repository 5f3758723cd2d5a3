// Text exactly as Python's json.dumps writes it with its defaults (contract, "Encoding rules"):
// ", " and ": " separators, ensure_ascii escapes, and floats that keep their ".0".

/** A number together with the text Python would print for it: `7.0` for a float, `7` for an int. */
export class Num {
  constructor(readonly value: number, readonly text: string) {}
  toJSON(): number {
    return this.value
  }
}

export const float = (n: number): Num => new Num(n, floatRepr(n))

/** A JSON number lexeme as Python's json.loads would read it and json.dumps print it again. */
export function numFromLexeme(lexeme: string): Num {
  if (/[.eE]/.test(lexeme)) return float(Number(lexeme))
  // Python ints are exact at any size, so an int is printed back with its own digits.
  return new Num(Number(lexeme), lexeme === '-0' ? '0' : lexeme)
}

/** Python's repr(float): shortest round-trip digits, fixed notation for exponents -4..15. */
export function floatRepr(n: number): string {
  // Where both print fixed notation, JavaScript's shortest round-trip digits are Python's (the hot case).
  const abs = Math.abs(n)
  if (abs >= 1e-4 && abs < 1e16) {
    const text = String(n)
    return text.includes('.') ? text : text + '.0'
  }
  if (Number.isNaN(n)) return 'NaN'
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity'
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0'
  const [mantissa, expText] = n.toExponential().split('e')
  const exp = Number(expText)
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+'
    const digits = String(Math.abs(exp)).padStart(2, '0')
    return `${mantissa}e${sign}${digits}`
  }
  const text = String(n)
  return text.includes('.') ? text : text + '.0'
}

const nonAscii = /[\u007f-\uffff]/g
const escapeUnit = (c: string) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')

const plain = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

export function quote(s: string): string {
  if (plain.test(s)) return `"${s}"`
  // JSON.stringify already escapes control characters and lone surrogates as Python does.
  return JSON.stringify(s).replace(nonAscii, escapeUnit)
}

export type PyValue = null | boolean | number | string | Num | readonly PyValue[] | { readonly [k: string]: PyValue | undefined }

/** Plain JS numbers are printed as ints when integral and as floats otherwise; wrap in Num to choose. */
export function dumps(value: PyValue): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return quote(value)
    case 'number':
      return Number.isInteger(value) ? String(value) : floatRepr(value)
    case 'boolean':
      return value ? 'true' : 'false'
  }
  if (value instanceof Num) return value.text
  if (Array.isArray(value)) return '[' + value.map(dumps).join(', ') + ']'
  // Concatenated in place, not through an array of parts: a DATA_RETURN echo renders one per sample.
  let text = ''
  for (const k in value) {
    const v = (value as { readonly [k: string]: PyValue | undefined })[k]
    if (v !== undefined) text += (text === '' ? '' : ', ') + quote(k) + ': ' + dumps(v)
  }
  return '{' + text + '}'
}
