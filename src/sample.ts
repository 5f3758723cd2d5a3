// A sample as every layer knows it, from the formats that read one to the store that keeps it.
export interface Sample {
  /** Unix seconds. */
  t: number
  cpu: number | null
  mem: number | null
  storage: number | null
}
