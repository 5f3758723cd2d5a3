// One route table: method + path matching, path aliases, HEAD wherever GET, which requests take a body, and the
// 404/405 decisions.
import { badRequest, methodNotAllowed, notFound } from '../errors.js'
import type { Reply, Request } from './reply.js'

/** params are the decoded values of the pattern's ':name' segments, in order. */
export type Handler = (req: Request, params: string[]) => Reply | Promise<Reply>
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
export type Methods = Partial<Record<Method, Handler>>

/** How a route's refusals are written: the contract's `{"error": ...}`, or InfluxDB's `{"code", "message"}`. */
export type ErrorStyle = 'contract' | 'influx'

export interface RouteOptions {
  /** The methods whose request body the handler reads; any other request's body is never read. */
  body?: readonly Method[]
  errors?: ErrorStyle
}

interface Route {
  /** As added: '/client/:s', never a path as sent (it can hold a client_id). */
  pattern: string
  segments: (string | null)[]
  methods: Methods
  allow: string[]
  body: readonly string[]
  errors: ErrorStyle
}

export interface Match {
  handler: Handler
  params: string[]
  /** The route's pattern as added (see patternOf). */
  pattern: string
}

export class Router {
  readonly #static = new Map<string, Route>()
  readonly #dynamic: Route[] = []

  /** Each pattern in `patterns` names the same route ('/api/x' and '/x'); ':name' matches one segment. */
  add(patterns: string | string[], methods: Methods, options: RouteOptions = {}): this {
    // HEAD is answered wherever GET is (uptime checkers use it), with GET's headers and no body.
    const allow = Object.keys(methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]))
    for (const pattern of typeof patterns === 'string' ? [patterns] : patterns) {
      const segments = pattern.split('/').map((s) => (s.startsWith(':') ? null : s))
      const route = { pattern, segments, methods, allow, body: options.body ?? [], errors: options.errors ?? 'contract' }
      if (segments.includes(null)) this.#dynamic.push(route)
      else this.#static.set(pattern, route)
    }
    return this
  }

  /** Throws the 404, 405 or 400 (undecodable segment) that the request deserves. */
  match(method: string, rawPath: string): Match {
    const found = this.#find(rawPath)
    if (!found) throw notFound()
    return pick(found.route, method, found.params)
  }

  /**
   * Whether the request's body is to be read: only for a route and method that take one. Any other is answered
   * without reading it, so that a body nobody wants never takes memory (a 404 is sent as soon as it is known).
   */
  takesBody(method: string, rawPath: string): boolean {
    return this.#find(rawPath)?.route.body.includes(method) ?? false
  }

  /** The pattern a path falls under, to name a request in a log without what its path carries. */
  patternOf(rawPath: string): string {
    return this.#find(rawPath)?.route.pattern ?? '(no route)'
  }

  /** How refusals on this path are written (a path of no route: the contract's way). */
  errorStyle(rawPath: string): ErrorStyle {
    return this.#find(rawPath)?.route.errors ?? 'contract'
  }

  #find(rawPath: string): { route: Route; params: string[] } | undefined {
    // '/client/' is '/client' (the original redirected the slash forms), but '/' stays '/'.
    const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath
    const found = this.#static.get(path)
    if (found) return { route: found, params: [] }
    const parts = path.split('/')
    for (const route of this.#dynamic) {
      const params = matchSegments(route.segments, parts)
      if (params) return { route, params }
    }
    return undefined
  }
}

function matchSegments(segments: (string | null)[], parts: string[]): string[] | undefined {
  if (segments.length !== parts.length) return undefined
  const params: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const want = segments[i]
    if (want === null) {
      if (parts[i] === '') return undefined
      params.push(parts[i])
    } else if (want !== parts[i]) return undefined
  }
  return params
}

function pick(route: Route, method: string, rawParams: string[]): Match {
  const handler = route.methods[(method === 'HEAD' ? 'GET' : method) as Method]
  if (!handler) throw methodNotAllowed(route.allow)
  return { handler, params: rawParams.map(decodeSegment), pattern: route.pattern }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw badRequest('path is not valid percent-encoded UTF-8')
  }
}
