// Byte units of the self-monitoring routes (contract, "Units"): byte counts floor-divided by 1024^k.
const powers = { TB: 4, GB: 3, MB: 2, KB: 1, B: 0 } as const
export type Unit = keyof typeof powers

/** The unit a query asks for (`GB` when absent; lower case accepted), or undefined when it names none. */
export function parseUnit(raw: string | null): Unit | undefined {
  if (raw === null) return 'GB'
  const unit = raw.toUpperCase()
  return Object.hasOwn(powers, unit) ? (unit as Unit) : undefined
}

export const inUnit = (bytes: number, unit: Unit): number => Math.floor(bytes / 1024 ** powers[unit])
