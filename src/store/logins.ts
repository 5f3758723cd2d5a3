// The login throttle's state, shared by every server on this database: failed password checks and the locks
// they set, the addresses a username's right password came from, and registrations by address. A lock set by
// one server reaches the others at once (NOTIFY), so that no server lets a locked-out address try again.
import type { Sql } from 'postgres'
import type { Health } from './health.js'

/** A lock in force until `until` (ms since the epoch): of one address, or of the whole username (address '*'). */
export interface Lock {
  username: string
  address: string
  until: number
}

export const wholeUsername = '*'

export interface Limits {
  /** Failures of one username from one address, and of one username from anywhere, that set a lock. */
  maxPerAddress: number
  maxPerUsername: number
  /** How long a lock holds, and the window failures are counted in. */
  lockMs: number
}

export interface LoginStore {
  /** Counts a failed check of a known username's password from `address`: the locks it set, if any. */
  failed(username: string, address: string, limits: Limits): Promise<Lock[]>
  succeeded(username: string, address: string): Promise<void>
  /** Every lock in force now. */
  locks(): Promise<Lock[]>
  /** Until when (ms) a lock in force holds the address back from the username, as any server set it; 0 for none. */
  lockedUntil(username: string, address: string): Promise<number>
  /** The addresses the username's right password came from lately, which a lock of the whole username spares. */
  knownAddresses(username: string): Promise<string[]>
  /** Counts a registration from `address`: refused, with the seconds until it may, when it has had `max` in `windowMs`. */
  register(address: string, max: number, windowMs: number): Promise<{ allowed: boolean; retryAfterSeconds: number }>
  /** Calls `listener` with every lock any server sets from now on; resolves with the way to stop. */
  onLock(listener: (lock: Lock) => void): Promise<() => Promise<void>>
  /** Forgets what no longer counts: failures and locks older than `lockMs`, registrations older than `registerWindowMs`. */
  purge(lockMs: number, registerWindowMs: number): Promise<void>
}

const channel = 'system_monitor_login_lock'
// An address that had the right password within this long is known to its username.
const knownDays = 30

export function loginStore(sql: Sql, health: Health): LoginStore {
  return {
    async failed(username, address, { maxPerAddress, maxPerUsername, lockMs }) {
      const lock = `${lockMs} milliseconds`
      const rows = await health.guard(
        () => sql<{ address: string; until: number; fresh: boolean }[]>`
          with counted as (
            insert into login_throttle as l (username, address, failures, since, locked_until)
            select ${username}, a, case when 1 >= m then 0 else 1 end, now(), case when 1 >= m then now() + ${lock}::interval end
            from (values (${address}::text, ${maxPerAddress}::int), (${wholeUsername}, ${maxPerUsername}::int)) as v (a, m)
            on conflict (username, address) do update set
              failures = case
                when l.since < now() - ${lock}::interval then 1
                when l.failures + 1 >= (case when l.address = ${wholeUsername} then ${maxPerUsername}::int else ${maxPerAddress}::int end) then 0
                else l.failures + 1 end,
              since = case
                when l.since < now() - ${lock}::interval then now()
                when l.failures + 1 >= (case when l.address = ${wholeUsername} then ${maxPerUsername}::int else ${maxPerAddress}::int end) then now()
                else l.since end,
              locked_until = case
                when l.since >= now() - ${lock}::interval
                  and l.failures + 1 >= (case when l.address = ${wholeUsername} then ${maxPerUsername}::int else ${maxPerAddress}::int end)
                  then now() + ${lock}::interval
                else l.locked_until end
            returning address, (extract(epoch from locked_until) * 1000)::float8 as until, locked_until = now() + ${lock}::interval as fresh
          )
          select address, until, fresh,
            case when fresh then pg_notify(${channel}, json_build_object('username', ${username}::text, 'address', address, 'until', until)::text) end
          from counted`,
      )
      return rows.filter((r) => r.fresh).map((r) => ({ username, address: r.address, until: r.until }))
    },

    async succeeded(username, address) {
      await health.guard(
        () => sql`
          insert into login_throttle (username, address, failures, since, succeeded_at) values (${username}, ${address}, 0, now(), now())
          on conflict (username, address) do update set failures = 0, since = now(), succeeded_at = now()`,
      )
    },

    async locks() {
      const rows = await health.guard(
        () => sql<Lock[]>`
          select username, address, (extract(epoch from locked_until) * 1000)::float8 as until
          from login_throttle where locked_until > now()`,
      )
      return rows.map((r) => ({ username: r.username, address: r.address, until: r.until }))
    },

    async lockedUntil(username, address) {
      const [row] = await health.guard(
        () => sql<{ until: number }[]>`
          select coalesce(max(extract(epoch from l.locked_until) * 1000), 0)::float8 as until from login_throttle l
          where l.username = ${username} and l.locked_until > now() and (l.address = ${address} or l.address = ${wholeUsername} and not exists (
            select 1 from login_throttle k
            where k.username = ${username} and k.address = ${address} and k.succeeded_at > now() - ${`${knownDays} days`}::interval))`,
      )
      return row.until
    },

    async knownAddresses(username) {
      const rows = await health.guard(
        () => sql<{ address: string }[]>`
          select address from login_throttle
          where username = ${username} and succeeded_at > now() - ${`${knownDays} days`}::interval`,
      )
      return rows.map((r) => r.address)
    },

    async register(address, max, windowMs) {
      const window = `${windowMs} milliseconds`
      const [row] = await health.guard(
        () => sql<{ count: number; left: number }[]>`
          insert into registrations_by_address as r (address, count, since) values (${address}, 1, now())
          on conflict (address) do update set
            count = case when r.since < now() - ${window}::interval then 1 else r.count + 1 end,
            since = case when r.since < now() - ${window}::interval then now() else r.since end
          returning count, extract(epoch from since + ${window}::interval - now())::float8 as left`,
      )
      return { allowed: row.count <= max, retryAfterSeconds: Math.max(1, Math.ceil(row.left)) }
    },

    async onLock(listener) {
      const { unlisten } = await sql.listen(channel, (payload) => {
        const lock = JSON.parse(payload) as Lock
        listener({ username: String(lock.username), address: String(lock.address), until: Number(lock.until) })
      })
      return unlisten
    },

    async purge(lockMs, registerWindowMs) {
      const lock = `${lockMs} milliseconds`
      await health.guard(
        () => sql`
          delete from login_throttle
          where (locked_until is null or locked_until < now()) and since < now() - ${lock}::interval
            and (succeeded_at is null or succeeded_at < now() - ${`${knownDays} days`}::interval)`,
      )
      await health.guard(() => sql`delete from registrations_by_address where since < now() - ${`${registerWindowMs} milliseconds`}::interval`)
    },
  }
}
