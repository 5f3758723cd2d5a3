// Migration 3 brings a database's existing history into the rollup tiers: a database of migration 1 with
// samples in it, opened by this server, answers downsampled slices from the tiers at once (no pass runs).
// Source only: the migration is the same SQL on every target.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import postgres from 'postgres'
import { hashPassword } from '../src/auth/password.js'
import { assertRows, expected, Log } from './buckets.js'
import { basic, client } from './http.js'
import { freshDatabase, startServer, target } from './server.js'

test('an existing history is rolled up by the migration', { skip: target === 'source' ? false : 'the migration is the same SQL on every target' }, async () => {
  const fresh = await freshDatabase('history')
  const sql = postgres(fresh.url, { max: 1, onnotice: () => undefined })
  try {
    // Migration 1's schema, as a server of before the tiers left it.
    await sql.unsafe(`
      create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now());
      insert into schema_migrations (version, name) values (1, 'clients and samples');
      create table clients (id integer generated always as identity primary key, username text not null unique, password_hash text not null, created_at timestamptz not null default now());
      create table samples (client_id integer not null, t bigint not null, cpu double precision, mem double precision, storage double precision, primary key (client_id, t));
    `)
    const log = new Log()
    const first = 1_650_000_000
    for (const [username, seconds] of [['old', 3 * 3600 + 17], ['other', 100]] as const) {
      const [{ id }] = await sql<{ id: number }[]>`insert into clients (username, password_hash) values (${username}, ${await hashPassword('pw')}) returning id`
      await sql`
        insert into samples select ${id}, g, (g % 101) / 4.0, case when g % 3 = 0 then null else g % 1000 end, case when g % 60 = 7 then g % 13 end
        from generate_series(${first}::int8, ${first + seconds - 1}::int8) g`
    }
    for (let t = first; t < first + 3 * 3600 + 17; t++) log.add(t, { cpu: (t % 101) / 4, mem: t % 3 === 0 ? null : t % 1000, storage: t % 60 === 7 ? t % 13 : null })

    const server = await startServer({ DATABASE_URL: fresh.url, ROLLUP_INTERVAL_MS: '3600000' })
    try {
      assert.match(server.output(), /applied migrations 2, 3\n/)
      const http = client(server.url)
      for (const [step, aggs] of [[60, ['avg', 'min', 'max', 'last']], [3600, ['last', 'max']], [600, ['avg']], [1800, ['min', 'last']]] as const) {
        const res = await http.get(`/client/${basic('old', 'pw')}/time/report?step=${step}&agg=${aggs.join(',')}`)
        assert.equal(res.status, 200, res.text)
        assertRows(res.text, expected(log, step, [...aggs]), [...aggs], `step=${step}`)
      }
      const [counts] = await sql<{ minutes: number; tens: number; hours: number }[]>`
        select (select count(*)::int4 from samples_1m) as minutes, (select count(*)::int4 from samples_10m) as tens, (select count(*)::int4 from samples_1h) as hours`
      assert.deepEqual({ ...counts }, { minutes: 181 + 2, tens: 19 + 1, hours: 4 + 1 })
    } finally {
      assert.equal(await server.stop(), 0, server.output())
    }
  } finally {
    await sql.end()
    await fresh.drop()
  }
})
