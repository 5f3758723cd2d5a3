// Which uWebSockets.js binary this process loads. The project publishes its binaries outside the npm
// registry; two republishes on it carry them for different Node.js ABIs and C libraries (uws-binaries.json,
// the preferred first: 20.57 needs glibc 2.38 on Linux, 20.30 runs on older ones but only up to Node.js 20).
// Each binary made for this platform, architecture and ABI is tried in that order, and the first that loads
// is used: loading is the only test of a C library that is sure. Where a binary is depends on how the server
// runs: uws-locate.ts finds the installed packages', and build.mjs puts its own locate in a build.
import type * as UWS from 'uWebSockets.js'
import table from './uws-binaries.json' with { type: 'json' }
import { locate } from './uws-locate.js'

export type Uws = typeof UWS

/** One native binary: the uWebSockets.js release it is from and its file name there. */
export interface Binary {
  version: string
  /** The directory the installed package keeps its binaries in, from the project's root. */
  dir: string
  file: string
}

export type Native = { uws: Uws; binary: Binary } | { problem: string }

/**
 * `maxHeadBytes`: the longest request head (request line and headers) 20.57 reads, which it takes from the
 * environment when it loads; past it, it answers 431 itself. Its own default, 4 KiB, would refuse what 20.30
 * serves (a 10 kB username in the path and its client_id in a header): 20.30 has no such limit, but drops a head
 * over 4 KiB that does not come in one read. A head is held only while it is being read.
 */
export function loadNative(maxHeadBytes: number): Native {
  process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(maxHeadBytes)
  const abi = process.versions.modules
  const file = `uws_${process.platform}_${process.arch}_${abi}.node`
  const problems: string[] = []
  for (const { version, dir, abis } of table) {
    if (!abis.includes(abi)) continue
    const binary = { version, dir, file }
    try {
      const module = { exports: {} }
      process.dlopen(module, locate(binary))
      return { uws: module.exports as Uws, binary }
    } catch (e) {
      problems.push(`${version}: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`)
    }
  }
  return { problem: problems.join('; ') || `no uWebSockets.js release here has a binary for ABI ${abi}` }
}
