// Where a uWebSockets.js binary is when the server runs from source: in its installed package. The bundle
// and the executable carry theirs elsewhere; build.mjs puts their own locate in place of this file.
import { fileURLToPath } from 'node:url'
import type { Binary } from './uws-native.js'

const root = new URL('../../', import.meta.url)

export const locate = (binary: Binary): string => fileURLToPath(new URL(`${binary.dir}/${binary.file}`, root))
