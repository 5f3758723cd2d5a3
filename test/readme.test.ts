// The README's examples work as written: every `$ command` in its console blocks is run with bash against a
// fresh server, and must print exactly the lines shown under it. The configuration table lists every setting.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { exited, freshDatabase, root, spawnServer, startServer, type FreshDatabase, type RunningServer } from './server.js'

const readme = readFileSync(join(root, 'README.md'), 'utf8')

interface Example {
  command: string
  output: string
}

function examples(): Example[] {
  const found: Example[] = []
  for (const block of readme.matchAll(/```console\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      if (line.startsWith('$ ')) found.push({ command: line.slice(2), output: '' })
      else if (line !== '') found[found.length - 1].output += line + '\n'
    }
  }
  return found
}

let server: RunningServer
// The examples begin with registering "wood", as a new user would on a new server: a database of their own.
let fresh: FreshDatabase
before(async () => {
  fresh = await freshDatabase('readme')
  // The token of the fleet API's examples.
  server = await startServer({ DATABASE_URL: fresh.url, ADMIN_TOKEN: 'the-operators-secret-token' })
})
after(async () => {
  assert.equal(await server.stop(), 0)
  await fresh.drop()
})

test('every console example prints what the README shows', () => {
  const list = examples()
  assert.ok(list.length >= 10, `only ${list.length} examples found`)
  for (const { command, output } of list) {
    const local = command.replaceAll('localhost:5000', `127.0.0.1:${server.port}`)
    const printed = execFileSync('bash', ['-c', local.replace(/^curl /, 'curl -sS ')], { encoding: 'utf8' })
    // curl's output has no trailing newline (a pipe's may); the README shows one line per reply.
    assert.equal(printed.endsWith('\n') ? printed : `${printed}\n`, output, command)
  }
})

test('the configuration table lists every setting that --help lists', async () => {
  const { output } = await exited(spawnServer(['--help']))
  const variables = [...output.matchAll(/^\s+--[\w-]+\s+([A-Z_]+)\s/gm)].map((m) => m[1])
  assert.ok(variables.length >= 10)
  for (const variable of variables) assert.match(readme, new RegExp(`^\\| \`${variable}\` \\|`, 'm'), variable)
})
