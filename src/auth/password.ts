// Passwords are kept only as salted scrypt hashes: "scrypt$N$r$p$salt$hash", salt and hash in base64.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// OWASP's scrypt equivalent of N=2^17 with a quarter of the memory: N=2^15, r=8, p=3. A run holds
// 128·N·r bytes plus a little, just over 32 MiB: glibc serves blocks over 32 MiB with mmap and gives them
// back when freed, where it kept smaller ones (N=2^14's 16 MiB) in each thread pool thread's arena for
// good, 64 MiB of the server's memory after a few logins.
const params = { N: 2 ** 15, r: 8, p: 3 }
const keyLength = 32

// Two runs at a time bound that memory while logins last, and leave the pool's other threads to the rest. A
// registration may take one of them only: a flood of them never keeps a known client's check waiting.
const slots = 2
const registrationSlots = 1
type Kind = 'verify' | 'register'
let running = 0
let registering = 0
const queues: Record<Kind, (() => void)[]> = { verify: [], register: [] }

const free = (kind: Kind) => running < slots && (kind === 'verify' || registering < registrationSlots)
function take(kind: Kind): void {
  running++
  if (kind === 'register') registering++
}

function acquire(kind: Kind): Promise<void> {
  if (free(kind) && queues[kind].length === 0) {
    take(kind)
    return Promise.resolve()
  }
  return new Promise((resolve) => queues[kind].push(resolve))
}

function release(kind: Kind): void {
  running--
  if (kind === 'register') registering--
  for (const next of ['verify', 'register'] as const) {
    if (queues[next].length > 0 && free(next)) {
      take(next)
      return queues[next].shift()!()
    }
  }
}

/** `ready` runs once a slot is had, before the work: it may refuse it still (a lock set meanwhile). */
async function derive(kind: Kind, password: string, salt: Buffer, options: ScryptOptions, length: number, ready = () => {}): Promise<Buffer> {
  await acquire(kind)
  try {
    ready()
    return await new Promise<Buffer>((resolve, reject) =>
      scrypt(password, salt, length, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) => (err ? reject(err) : resolve(key))),
    )
  } finally {
    release(kind)
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive('register', password, salt, params, keyLength)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function verifyPassword(password: string, stored: string, ready?: () => void): Promise<boolean> {
  const [scheme, N, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt') throw new Error('unknown password hash scheme')
  const expected = Buffer.from(hash, 'base64')
  const key = await derive('verify', password, Buffer.from(salt, 'base64'), { N: +N, r: +r, p: +p }, expected.length, ready)
  return timingSafeEqual(key, expected)
}
