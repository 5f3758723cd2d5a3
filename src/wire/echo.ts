// What an HTTP ingest answers (contract, "Send a sample"): the sample echoed, or how many a batch stored.
import { floatRepr, type Num } from './pyjson.js'

/** The fields a sample was sent with, each as its number and its text as sent; time added when absent. */
export interface Echo {
  cpu_load: Num | null
  mem: Num | null
  storage: Num | null
  time: Num
}

/** Python's json.dumps of the dict of the fields that were sent, cpu_load printed as a float whatever was sent. */
export function sampleEcho(echo: Echo): string {
  let text = '{'
  if (echo.cpu_load) text += `"cpu_load": ${floatRepr(echo.cpu_load.value)}, `
  if (echo.mem) text += `"mem": ${echo.mem.text}, `
  if (echo.storage) text += `"storage": ${echo.storage.text}, `
  return text + `"time": ${echo.time.text}}`
}

export const acceptedEcho = (count: number) => `{"accepted": ${count}}`
