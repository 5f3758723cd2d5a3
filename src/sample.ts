// A sample as every layer knows it, from the formats that read one to the store that keeps it.
export interface Sample {
  /** Unix seconds. */
  t: number
  cpu: number | null
  mem: number | null
  storage: number | null
}

/** The metrics a sample carries, as the store and the contract's rows name them. */
export const metrics = ['cpu', 'mem', 'storage'] as const
