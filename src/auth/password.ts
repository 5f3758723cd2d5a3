// Passwords are kept only as salted scrypt hashes: "scrypt$N$r$p$salt$hash", salt and hash in base64.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// OWASP's scrypt equivalent of N=2^17 with a quarter of the memory: N=2^15, r=8, p=3. A run holds
// 128·N·r bytes plus a little, just over 32 MiB: glibc serves blocks over 32 MiB with mmap and gives them
// back when freed, where it kept smaller ones (N=2^14's 16 MiB) in each thread pool thread's arena for
// good, 64 MiB of the server's memory after a few logins.
const params = { N: 2 ** 15, r: 8, p: 3 }
const keyLength = 32

// Two runs at a time bound that memory while logins last, and leave the pool's other threads to the rest.
const maxConcurrent = 2
let running = 0
const waiting: (() => void)[] = []

async function derive(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  // A finishing run hands its slot straight to the next waiter.
  if (running >= maxConcurrent) await new Promise<void>((resolve) => waiting.push(resolve))
  else running++
  try {
    return await new Promise<Buffer>((resolve, reject) =>
      scrypt(password, salt, length, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) => (err ? reject(err) : resolve(key))),
    )
  } finally {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

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
