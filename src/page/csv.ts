// A range's points as CSV: a header of the API's keys, then a line a point; a metric without a value is empty.
export function toCsv(columns: readonly string[], rows: readonly Readonly<Record<string, number | null>>[]): string {
  const lines = [columns.join(','), ...rows.map((row) => columns.map((c) => row[c] ?? '').join(','))]
  return lines.join('\r\n') + '\r\n'
}
