// client_id is base64("username:password") (contract, "Register or log in"): a credential, like a Basic token.

// Safe in a URL path and in base64 "user:pass": a letter first, then letters, digits, '_', '.', '-'.
const usernamePattern = /^\p{L}[\p{L}\p{N}_.-]{0,63}$/u

export const isSupportedUsername = (username: string): boolean =>
  usernamePattern.test(username) && username.normalize('NFC') === username

export const makeClientId = (username: string, password: string): string =>
  Buffer.from(`${username}:${password}`, 'utf8').toString('base64')

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface Credentials {
  username: string
  password: string
}

/** undefined unless the token is canonical base64 of UTF-8 "username:password". */
export function parseClientId(token: string): Credentials | undefined {
  if (token.length === 0 || token.length > 4096 || !base64.test(token)) return undefined
  const bytes = Buffer.from(token, 'base64')
  if (bytes.toString('base64') !== token) return undefined
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return undefined
  }
  const colon = text.indexOf(':')
  if (colon < 1) return undefined
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

/**
 * The token of an Authorization header: the bare client_id, "Basic <client_id>" (what HTTP Basic makes of a
 * username and password), or "Token <client_id>" (InfluxDB v2's, Telegraf's `token`); a Token holding a ':'
 * is "username:password", as InfluxDB 1.8 takes one.
 */
export const tokenOfHeader = (header: string): string => {
  const value = header.trim()
  if (/^basic\s/i.test(value)) return value.slice(6).trim()
  if (!/^token\s/i.test(value)) return value
  const token = value.slice(6).trim()
  const colon = token.indexOf(':')
  return colon < 0 ? token : makeClientId(token.slice(0, colon), token.slice(colon + 1))
}
