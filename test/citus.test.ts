// Ready for Citus: every statement the server can send that touches a table holding samples (one with a client_id
// column: samples, and any tier of them) names its client, so that Citus routes it to the one shard that holds that
// client; and the README's statements that distribute the schema name exactly those tables. Read from the source:
// every template literal in src/ is a statement the server may send, found however rarely it runs.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, test } from 'node:test'
import { root, target } from './server.js'

const skip = target !== 'source' && 'it reads the source, which is the same for every target'

interface Template {
  file: string
  line: number
  /** The literal's text, each `${...}` as $1, $2, ... */
  text: string
}

/**
 * Every template literal in a TypeScript source, also those nested in another's `${...}`. It skips comments,
 * strings and regular expressions (told from a division by what comes before, as a TypeScript scanner does).
 */
function templates(file: string, source: string): Template[] {
  const found: Template[] = []
  const lineAt = (i: number) => source.slice(0, i).split('\n').length
  let i = 0
  const skipQuoted = (quote: string) => {
    for (i++; source[i] !== quote; i++) if (source[i] === '\\') i++
    i++
  }
  // Code up to `until` (a closing brace of a `${`, or the end), collecting the templates in it.
  const code = (until: string | undefined) => {
    let depth = 0
    let previous = ''
    while (i < source.length) {
      const c = source[i]
      if (c === until && depth === 0) return
      if (source.startsWith('//', i)) i = source.indexOf('\n', i)
      else if (source.startsWith('/*', i)) i = source.indexOf('*/', i) + 2
      else if (c === "'" || c === '"') skipQuoted(c)
      else if (c === '`') template()
      else if (c === '/' && (previous === '' || '(,=:[!&|?{};+-*%<>~^'.includes(previous) || /\b(return|typeof|case)$/.test(source.slice(0, i).trimEnd()))) {
        let inClass = false
        for (i++; inClass || source[i] !== '/'; i++) {
          if (source[i] === '\\') i++
          else if (source[i] === '[') inClass = true
          else if (source[i] === ']') inClass = false
        }
        i++
      } else {
        if (c === '{') depth++
        if (c === '}') depth--
        i++
      }
      if (!/\s/.test(c)) previous = source[i - 1]
    }
    if (until !== undefined) throw new Error(`${file}:${lineAt(i)}: no '${until}' before the end`)
  }
  const template = () => {
    const start = i
    const at = found.push({ file, line: lineAt(start), text: '' }) - 1
    let text = ''
    let holes = 0
    for (i++; source[i] !== '`'; ) {
      if (i >= source.length) throw new Error(`${file}:${lineAt(start)}: a template literal without its end`)
      if (source.startsWith('${', i)) {
        i += 2
        code('}')
        i++
        text += `$${++holes}`
      } else {
        if (source[i] === '\\') text += source[i++]
        text += source[i++]
      }
    }
    i++
    found[at].text = text
  }
  code(undefined)
  return found
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  )

const srcTemplates = () => sourceFiles(join(root, 'src')).flatMap((path) => templates(relative(root, path), readFileSync(path, 'utf8')))

/** A statement's text without its comments, in lower case, its white space one space. */
const normal = (sql: string) => sql.replace(/--[^\n]*/g, ' ').replace(/\s+/g, ' ').toLowerCase()

/** The tables the migrations create with a client_id column: the ones Citus distributes by client. */
function clientTables(): string[] {
  const migrations = readFileSync(join(root, 'src/store/migrations.ts'), 'utf8')
  const tables: string[] = []
  for (const { text } of templates('src/store/migrations.ts', migrations)) {
    for (const m of normal(text).matchAll(/create table (?:if not exists )?(\w+) \((.*?)\);/g)) {
      const like = /^ ?like (\w+)/.exec(m[2])
      if (like ? tables.includes(like[1]) : /(^|,) ?client_id /.test(m[2])) tables.push(m[1])
    }
  }
  return tables
}

/**
 * Why a statement on those tables would not be routed to its clients' shards, or undefined when it would: each
 * table it reads, updates or deletes from needs an equality on client_id with a parameter (`client_id = $1`,
 * `client_id = any($1)`) or with another relation's client column (`client_id = x.c`: a join on the distribution
 * column, which Citus runs shard by shard, as the rollup pass's statements over many clients are), and an insert
 * into one names client_id among its columns. DDL is Citus's to propagate.
 */
function unkeyed(sql: string, tables: readonly string[]): string | undefined {
  const text = normal(sql).trim()
  if (/^(create|alter|drop|comment) /.test(text)) return undefined
  const names = tables.join('|')
  const inserts = [...text.matchAll(new RegExp(`\\binsert into (${names})\\b( \\(([^)]*)\\))?`, 'g'))]
  for (const m of inserts) if (!(m[3] ?? '').split(',').some((column) => column.trim() === 'client_id')) return `an insert into ${m[1]} without client_id among its columns`
  const reads = [...text.matchAll(new RegExp(`\\b(from|join|update|using|truncate(?: table)?)(?: only)? (${names})\\b`, 'g'))]
  const keys = [...text.matchAll(/\b(\w+\.)?client_id ?= ?((any ?\( ?)?\$\d+|\w+\.\w+\b)/g)]
  if (reads.length > keys.length) return `${reads.length} use(s) of ${reads.map((m) => m[2]).join(', ')} but ${keys.length} client_id = $n condition(s)`
  return undefined
}

describe('ready for Citus', { skip }, () => {
  const tables = clientTables()

  test('the tables that hold samples are those with a client_id column', () => {
    assert.ok(tables.includes('samples'), `found ${tables.join(', ')}`)
    assert.ok(!tables.includes('clients'))
  })

  test('the check refuses a statement that does not name its client', () => {
    for (const sql of [
      'select count(*) from samples',
      'select t from samples where t > ${1}',
      'delete from samples where client_id > $1',
      'update samples set cpu = 0 where mem is null',
      'insert into samples (t, cpu) values ($1, $2)',
      'select * from samples s join samples o on o.t = s.t where s.client_id = $1',
      'select * from samples s join touched x on s.t = x.t where s.client_id > x.c',
      'truncate samples',
    ]) {
      assert.notEqual(unkeyed(sql, ['samples']), undefined, sql)
    }
    for (const sql of [
      'select min(t) from samples where client_id = $1',
      'insert into samples (client_id, t) select * from unnest($1, $2)',
      'delete from samples where client_id = any($1)',
      'select x.c, s.n from touched x cross join lateral (select count(*) from samples where client_id = x.c) s',
    ]) {
      assert.equal(unkeyed(sql, ['samples']), undefined, sql)
    }
  })

  test("every statement in src/ on those tables names its client_id", () => {
    const all = srcTemplates()
    const touching = all.filter(({ text }) => new RegExp(`\\b(${tables.join('|')})\\b`).test(normal(text)))
    // The scan reads what it should: samples.ts's insert, upsert, span and slice at least.
    assert.ok(touching.filter((t) => t.file === 'src/store/samples.ts').length >= 4, touching.map((t) => `${t.file}:${t.line}`).join('\n'))
    const refused = touching.map((t) => [`${t.file}:${t.line}`, unkeyed(t.text, tables)]).filter(([, why]) => why !== undefined)
    assert.deepEqual(refused, [])
  })

  test("the README's statements distribute exactly those tables, by client_id, co-located", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    assert.ok(readme.includes("select create_reference_table('clients');"), 'the README makes clients a reference table')
    const distributed = [...readme.matchAll(/select create_distributed_table\('(\w+)', 'client_id'(, colocate_with => '(\w+)')?\);/g)]
    assert.deepEqual(distributed.map((m) => m[1]).sort(), [...tables].sort())
    for (const m of distributed) if (m[1] !== 'samples') assert.equal(m[3], 'samples', `${m[1]} is co-located with samples`)
  })
})
