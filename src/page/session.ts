// What the page remembers of a login: in sessionStorage only (gone with the tab; never in the URL, never in a
// cookie), the client's username and client_id, and the admin token.
import * as v from 'valibot'

const loginKey = 'system-monitor.login'
const tokenKey = 'system-monitor.admin-token'

const login = v.object({ username: v.string(), clientId: v.string() })
export type Login = v.InferOutput<typeof login>

function read(key: string): unknown {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null')
  } catch {
    return null
  }
}

export function savedLogin(): Login | undefined {
  const parsed = v.safeParse(login, read(loginKey))
  return parsed.success ? parsed.output : undefined
}
export const saveLogin = (value: Login) => sessionStorage.setItem(loginKey, JSON.stringify(value))
export const forgetLogin = () => sessionStorage.removeItem(loginKey)

export function savedToken(): string | undefined {
  const parsed = v.safeParse(v.string(), read(tokenKey))
  return parsed.success ? parsed.output : undefined
}
export const saveToken = (token: string) => sessionStorage.setItem(tokenKey, JSON.stringify(token))
export const forgetToken = () => sessionStorage.removeItem(tokenKey)
