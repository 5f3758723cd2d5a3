// What can be checked of the deployment files without a Docker engine: the compose file validates and wires
// the server to its database as documented, and the Dockerfile builds with the same scripts CI runs and
// ships what the bundle target of this suite runs (server.js and the native binaries, nothing else) on a
// Node.js and a distribution that load them.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { root } from './server.js'

test('docker-compose.yml validates and wires the server to a healthy PostgreSQL', () => {
  // Debian's docker-compose (.ci/run installs it) normalises the file; no engine is needed for that. Debian 12's
  // (1.29) and Debian 13's (2.26) write volumes and ports each in its own long or short form.
  const config = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], { encoding: 'utf8' })
  const db = /\n  db:\n([\s\S]*?)\n  server:\n/.exec(config)?.[1] ?? ''
  const server = /\n  server:\n([\s\S]*?)\n(?:networks|volumes|version):/.exec(config)?.[1] ?? ''
  const env = (block: string, key: string) => new RegExp(`\\n\\s+${key}: (\\S+)`).exec(block)?.[1]
  assert.match(db, /image: postgres:1[7-9]/)
  assert.match(db, /pg_isready -U monitor -d monitor/)
  assert.match(db, /- db-data:\/var\/lib\/postgresql\/data|- type: volume\n\s+source: db-data\n\s+target: \/var\/lib\/postgresql\/data\n/)
  const url = new URL(env(server, 'DATABASE_URL')!)
  assert.deepEqual(
    [url.username, url.password, url.hostname, url.port, url.pathname],
    [env(db, 'POSTGRES_USER'), env(db, 'POSTGRES_PASSWORD'), 'db', '5432', `/${env(db, 'POSTGRES_DB')}`],
  )
  assert.match(server, /depends_on:\n\s+db:\n\s+condition: service_healthy/)
  assert.match(server, /- published: 5000\n\s+target: 5000\n|- mode: ingress\n\s+target: 5000\n\s+published: "5000"\n/)
  for (const block of [db, server]) assert.match(block, /restart: unless-stopped/)
  // The agent beside them: the image run as `agent`, sending to the server, its spool kept in a volume.
  const agent = /\n  agent:\n([\s\S]*?)\n  db:\n/.exec(config)?.[1] ?? ''
  assert.match(agent, /command:\n\s+- agent\n\s+- --server\n\s+- http:\/\/server:5000\n\s+- --user\n/)
  assert.match(agent, /SYSTEM_MONITOR_PASSWORD: \S+/)
  assert.match(agent, /- agent-spool:\/app\/agent-spool:rw/)
  assert.match(agent, /restart: unless-stopped/)
})

test('the Dockerfile builds with the scripts CI runs and ships the bundle alone, as a non-root user', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
  const [build, runtime] = dockerfile.split(/^FROM /m).slice(1)
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> }
  // A Node.js LTS that engines names, on Debian 13: its glibc (2.41) loads uWebSockets.js 20.57's binaries,
  // the only ones for Node.js 22 and 24 (bookworm's 2.36 does not). Both stages on it: the build picks the
  // binary for its own Node.js (--this-node), which must be the one the runtime stage runs.
  const image = /^node:(\d+)-trixie-slim AS build\n/.exec(build)
  assert.ok(image, build)
  assert.ok(['22', '24'].includes(image[1]) && packageJson.engines.node.split(' || ').includes(`^${image[1]}.0.0`), image[0])
  assert.ok(runtime.startsWith(`node:${image[1]}-trixie-slim\n`), runtime)
  assert.match(build, /RUN npm ci\n/)
  assert.match(build, /RUN npx tsc -p \. && npm run build -- --this-node\n/)
  assert.match(runtime, /COPY --from=build \/app\/dist\/server\.js \/app\/dist\/uws_\*\.node \.\//)
  assert.doesNotMatch(runtime, /npm (ci|install)|node_modules/)
  assert.match(runtime, /\nUSER node\n/)
  assert.match(runtime, /HEALTHCHECK .*\/readyz/)
  const scripts = packageJson.scripts
  // The image runs the bundle with the Node flags that npm start gives it (V8's heap sizing), as its entry point:
  // `docker run IMAGE agent ...` hands `agent ...` to it. The agent's spool is a directory the node user owns.
  const [node, ...words] = scripts.start.split(' ')
  assert.equal(node, 'node')
  assert.equal(words.at(-1), 'dist/server.js')
  assert.ok(runtime.includes(`ENTRYPOINT ${JSON.stringify(['node', ...words.slice(0, -1), 'server.js']).replaceAll(',', ', ')}`), runtime)
  assert.doesNotMatch(runtime, /\nCMD /)
  assert.match(runtime, /RUN mkdir \/app\/agent-spool && chown node:node \/app \/app\/agent-spool\n/)
  assert.equal(scripts.build, 'node build.mjs')
})
