// Passwords are kept only as salted scrypt hashes: "scrypt$N$r$p$salt$hash", salt and hash in base64.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// OWASP's scrypt equivalent of N=2^17 with a sixth of the memory: N=2^14, r=8, p=5.
const params = { N: 2 ** 14, r: 8, p: 5 }
const keyLength = 32

const derive = (password: string, salt: Buffer, options: ScryptOptions, length: number) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, length, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) => (err ? reject(err) : resolve(key))),
  )

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, params, keyLength)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt') throw new Error('unknown password hash scheme')
  const expected = Buffer.from(hash, 'base64')
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: +N, r: +r, p: +p }, expected.length)
  return timingSafeEqual(key, expected)
}
