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
  {
    version: 3,
    name: 'rollup tiers',
    sql: `
      -- Per client and bucket (b: its first second): samples, and per metric how many carried it, their sum,
      -- min and max, and the value and time of the latest that carried it. A minute's bucket is built from the
      -- samples, a 10 minutes' from its minutes, an hour's from its 10 minutes (store/tiers.ts).
      create table samples_1m (
        client_id integer not null,
        b bigint not null,
        n integer not null,
        cpu_n integer not null, cpu_sum double precision not null,
        cpu_min double precision, cpu_max double precision, cpu_last double precision, cpu_last_t bigint,
        mem_n integer not null, mem_sum double precision not null,
        mem_min double precision, mem_max double precision, mem_last double precision, mem_last_t bigint,
        storage_n integer not null, storage_sum double precision not null,
        storage_min double precision, storage_max double precision, storage_last double precision, storage_last_t bigint,
        primary key (client_id, b)
      );
      create table samples_10m (like samples_1m including all);
      create table samples_1h (like samples_1m including all);
      -- What each write added, not yet in the tiers: one row a write statement, no index (each rollup pass
      -- takes every row there is). kind 0: new samples (client_ids[i], keys[i], cpu[i], mem[i], storage[i]);
      -- 1: keys[i] is a minute and stats[19i+1..19i+19] the aggregate of the statement's new samples of it;
      -- 2: the samples of minute keys[i] may have changed (a merge) and the minute is recomputed from them.
      create table rollup_queue (
        kind smallint not null,
        client_ids integer[] not null,
        keys bigint[] not null,
        stats double precision[],
        cpu double precision[],
        mem double precision[],
        storage double precision[]
      );
      -- Per client and level (0 the samples, 1 the minutes, 2 the 10 minutes, 3 the hours): retention removed
      -- that level's rows before this time.
      create table tier_horizons (
        client_id integer not null,
        level smallint not null,
        before bigint not null,
        primary key (client_id, level)
      );
      -- The history so far, client by client: minutes from the samples, then each coarser tier from the finer.
      do $$
      declare
        c integer;
        tier record;
      begin
        for c in select id from clients loop
          insert into samples_1m
          select client_id, t / 60 * 60, count(*), count(cpu), coalesce(sum(cpu), 0), min(cpu), max(cpu),
              (max(array[t::float8, cpu]) filter (where cpu is not null))[2], max(t) filter (where cpu is not null),
              count(mem), coalesce(sum(mem), 0), min(mem), max(mem),
              (max(array[t::float8, mem]) filter (where mem is not null))[2], max(t) filter (where mem is not null),
              count(storage), coalesce(sum(storage), 0), min(storage), max(storage),
              (max(array[t::float8, storage]) filter (where storage is not null))[2], max(t) filter (where storage is not null)
          from samples where client_id = c group by 1, 2;
          for tier in select * from (values ('samples_10m', 600, 'samples_1m'), ('samples_1h', 3600, 'samples_10m')) as v(target, width, finer) loop
            execute format($sql$
              insert into %I
              select client_id, b / %s * %s, sum(n), sum(cpu_n), sum(cpu_sum), min(cpu_min), max(cpu_max),
                  (max(array[cpu_last_t::float8, cpu_last]) filter (where cpu_n > 0))[2], max(cpu_last_t),
                  sum(mem_n), sum(mem_sum), min(mem_min), max(mem_max),
                  (max(array[mem_last_t::float8, mem_last]) filter (where mem_n > 0))[2], max(mem_last_t),
                  sum(storage_n), sum(storage_sum), min(storage_min), max(storage_max),
                  (max(array[storage_last_t::float8, storage_last]) filter (where storage_n > 0))[2], max(storage_last_t)
              from %I where client_id = $1 group by 1, 2
            $sql$, tier.target, tier.width, tier.width, tier.finer) using c;
          end loop;
        end loop;
      end $$;
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
