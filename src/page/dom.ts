// The page's elements by id: index.html has every one the modules ask for.
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
