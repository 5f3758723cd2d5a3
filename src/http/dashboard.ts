// The dashboard (README, "Dashboard"): its page at /dashboard and the script and style sheet it names, each served
// with an ETag and, to a client that takes it, as gzip. The page is revalidated on every load; the assets are
// named by their content's hash, so a browser keeps them for good and a new build names new ones.
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { notFound } from '../errors.js'
import type { PageFile } from '../page/bundle.mjs'
import { pageFiles } from './page-files.js'
import type { Reply, Request } from './reply.js'
import type { Router } from './router.js'

interface Served {
  headers: Record<string, string>
  etag: string
  identity: Uint8Array
  gzip: Uint8Array
}

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
}

// Nothing but this server: no other origin is ever asked for anything, and no other page may frame this one.
const pageHeaders = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
}
const assetHeaders = { 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' }

function served(file: PageFile, text: string): Served {
  const identity = new TextEncoder().encode(text)
  const extension = file.name.slice(file.name.lastIndexOf('.') + 1)
  const headers = { 'content-type': types[extension], vary: 'accept-encoding', ...(extension === 'html' ? pageHeaders : assetHeaders) }
  const etag = createHash('sha256').update(identity).digest('base64url').slice(0, 22)
  return { headers, etag, identity, gzip: gzipSync(identity, { level: 9 }) }
}

/** Whether an Accept-Encoding takes gzip: named (or `*`) without q=0. */
function takesGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase())
    return (coding === 'gzip' || coding === '*') && !params.some((p) => /^q=0(\.0{0,3})?$/.test(p))
  })
}

/** Whether If-None-Match names this ETag (weak comparison) or is `*`. */
const matches = (header: string | undefined, etag: string) =>
  header !== undefined && header.split(',').some((tag) => ['*', etag].includes(tag.trim().replace(/^W\//, '')))

function reply(file: Served, req: Request): Reply {
  const gzip = takesGzip(req.headers['accept-encoding'])
  // A strong ETag for each representation.
  const etag = `"${file.etag}${gzip ? '-gzip' : ''}"`
  const headers: Record<string, string> = { ...file.headers, etag }
  if (gzip) headers['content-encoding'] = 'gzip'
  // A 304's body is never sent: it is the representation the client holds, so that its length can be told.
  return { status: matches(req.headers['if-none-match'], etag) ? 304 : 200, headers, body: gzip ? file.gzip : file.identity }
}

/** `fleet`: whether ADMIN_TOKEN is set, which the page is told so that it shows the fleet's tab or not. */
export function dashboardRoutes(router: Router, fleet: boolean): void {
  let files: Promise<Map<string, Served>> | undefined
  const load = () =>
    (files ??= pageFiles().then((built) => {
      const byName = new Map<string, Served>()
      for (const file of built) byName.set(file.name, served(file, file.name === 'index.html' ? file.text.replace('data-fleet="off"', `data-fleet="${fleet ? 'on' : 'off'}"`) : file.text))
      return byName
    }).catch((e: unknown) => {
      // A failed build (from source) is tried again by the next request, not answered 500 for ever.
      files = undefined
      throw e
    }))
  router.add('/dashboard', { GET: async (req) => reply((await load()).get('index.html')!, req) })
  router.add('/dashboard/:file', {
    GET: async (req, [name]) => {
      const file = name === 'index.html' ? undefined : (await load()).get(name)
      if (!file) throw notFound()
      return reply(file, req)
    },
  })
}
