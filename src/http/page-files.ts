// The dashboard's built files (src/page/bundle.mjs). build.mjs puts the files it built in this module's place in
// the bundle and the executable; from source they are built here, once, when the page is first asked for, with
// esbuild (a devDependency): a server run from source needs no build step, and one that never serves the page
// never pays for it.
import type { PageFile } from '../page/bundle.mjs'

let built: Promise<PageFile[]> | undefined

export function pageFiles(): Promise<PageFile[]> {
  // A build that failed (a mistake in the page being edited) is tried again on the next request.
  built ??= import('../page/bundle.mjs')
    .then((page) => page.bundlePage())
    .catch((e: unknown) => {
      built = undefined
      throw e
    })
  return built
}
