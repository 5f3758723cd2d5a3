export interface PageFile {
  /** index.html, or an asset's name with its hash (app-XXXXXXXX.js). */
  name: string
  text: string
}

export function bundlePage(): Promise<PageFile[]>
