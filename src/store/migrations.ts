// Versioned schema changes, applied in order at start-up inside one transaction under an advisory lock, so
// that several instances starting against one database at once apply each change exactly once.
import type { Sql } from 'postgres'

const migrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'clients and samples',
    sql: `
      create table clients (
        id integer generated always as identity primary key,
        username text not null unique,
        password_hash text not null,
        created_at timestamptz not null default now()
      );
      -- One row per client and second: the key is both the index for per-client time ranges and the merge rule.
      -- No foreign key to clients: only authenticated client ids reach it, and the check would cost every insert.
      create table samples (
        client_id integer not null,
        t bigint not null,
        cpu double precision,
        mem double precision,
        storage double precision,
        primary key (client_id, t)
      );
    `,
  },
  {
    version: 2,
    name: 'login throttle',
    sql: `
      -- Failed password checks of known usernames, per address and (address '*') per username, and the locks they
      -- set; kept here, not in one server's memory, so that several servers on this database count together.
      create table login_throttle (
        username text not null,
        address text not null,
        failures integer not null default 0,
        since timestamptz not null default now(),
        locked_until timestamptz,
        -- The last right password from this address: a lock of the whole username does not hold it back.
        succeeded_at timestamptz,
        primary key (username, address)
      );
      create table registrations_by_address (
        address text primary key,
        count integer not null,
        since timestamptz not null
      );
    `,
  },
]

// Any constant shared by every instance of this server; pg_advisory_xact_lock takes a bigint.
const lockKey = 0x5359534d4f4e // "SYSMON"

export async function migrate(sql: Sql): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${lockKey})`
    // A migration may rewrite a whole history: the server's deadline for statements is not for it.
    await tx`set local statement_timeout = 0`
    await tx`create table if not exists schema_migrations (
      version integer primary key, name text not null, applied_at timestamptz not null default now())`
    const done = new Set((await tx<{ version: number }[]>`select version from schema_migrations`).map((r) => r.version))
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      await tx.unsafe(m.sql)
      await tx`insert into schema_migrations (version, name) values (${m.version}, ${m.name})`
      applied.push(m.version)
    }
    return applied
  })
}
