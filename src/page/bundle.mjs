// How the dashboard is built, in one place for build.mjs (which embeds the files in the bundle and the executable)
// and for a server run from source (src/http/page-files.ts, on first use): esbuild bundles main.ts with uPlot, and
// the style sheets it imports, minified; index.html names the two by their content hash.
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = (name) => fileURLToPath(new URL(name, import.meta.url))

/** The dashboard's files: index.html, then its script and its style sheet. */
export async function bundlePage() {
  const [result, template] = await Promise.all([
    build({
      entryPoints: [here('main.ts')],
      bundle: true,
      minify: true,
      format: 'iife',
      target: ['chrome109', 'firefox115', 'safari16'],
      write: false,
      outdir: here('out'),
      entryNames: 'app-[hash]',
      legalComments: 'none',
      // uPlot's licence asks for its notice in every copy.
      banner: { js: '/*! uPlot, MIT licensed, (c) 2025 Leon Sorokin */' },
      logLevel: 'silent',
    }),
    readFile(here('index.html'), 'utf8'),
  ])
  const files = result.outputFiles.map((f) => ({ name: basename(f.path), text: f.text }))
  const named = (extension) => files.find((f) => f.name.endsWith(extension)).name
  const html = template.replace('%script%', `/dashboard/${named('.js')}`).replace('%style%', `/dashboard/${named('.css')}`)
  return [{ name: 'index.html', text: html }, ...files]
}
