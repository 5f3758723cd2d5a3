// Style sheets imported for their effect: esbuild bundles them into the page's one style sheet.
declare module '*.css'
