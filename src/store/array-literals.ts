// Array parameters as PostgreSQL's text literals: numbers only, so nothing needs quoting, and building them
// here costs a fraction of postgres.js's generic array serializer (the write path's main cost in Node).

/** An element: NULL, or the number's shortest text, -0 kept (String gives "0"). */
export const element = (n: number | null) => (n === null ? 'NULL' : Object.is(n, -0) ? '-0' : String(n))

/** An array of whole numbers (ids, times). */
export const wholeNumbers = (a: readonly number[]) => `{${a.join(',')}}`
