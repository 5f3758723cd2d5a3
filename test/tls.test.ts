// HTTPS and WSS served by the server itself (TLS_CERT_FILE, TLS_KEY_FILE), with a self-signed pair made here:
// the core flow over them on every target, and on one the start-up errors of a pair that cannot serve.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { basic, client, uniqueName } from './http.js'
import { exited, seenByServer, spawnServer, startServer, target, tempDirectory } from './server.js'
import { connect } from './ws.js'

const dir = tempDirectory()
const file = (name: string) => join(dir, name)
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
const curve = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
const subject = ['-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']
const passphrase = 'correct horse'
// A certificate whose key is encrypted (AES: Deno's node:crypto cannot decrypt the 3DES that `openssl req` uses
// unless told otherwise), and another whose key is not.
openssl('genpkey', ...curve, '-aes-256-cbc', '-pass', `pass:${passphrase}`, '-out', file('encrypted.key'))
openssl('req', '-x509', '-key', file('encrypted.key'), '-passin', `pass:${passphrase}`, ...subject, '-out', file('encrypted.crt'))
openssl('genpkey', ...curve, '-out', file('plain.key'))
openssl('req', '-x509', '-key', file('plain.key'), ...subject, '-out', file('plain.crt'))

/** The settings that serve with a pair, as the server under test names its files. */
const tls = (cert: string, key: string, pass?: string) => ({
  TLS_CERT_FILE: seenByServer(file(cert)),
  TLS_KEY_FILE: seenByServer(file(key)),
  ...(pass === undefined ? {} : { TLS_KEY_PASSPHRASE: pass }),
})

test('over HTTPS and WSS: it registers, sends a sample, reads it back, and sends one over the WebSocket', async () => {
  const server = await startServer(tls('encrypted.crt', 'encrypted.key', passphrase))
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    const ca = readFileSync(file('encrypted.crt'), 'utf8')
    const http = client(server.url, undefined, false, ca)
    const username = uniqueName('tls')
    const clientId = basic(username, 'pw')
    const registered = await http.post('/client', JSON.stringify({ username, password: 'pw' }))
    assert.deepEqual([registered.status, registered.text], [200, `{"registration": "${username}", "client_id": "${clientId}"}`])
    const sent = await http.post(`/client/${clientId}`, 'cpu_load=25.9&mem=6172&time=1646650624')
    assert.deepEqual([sent.status, sent.text], [202, '{"cpu_load": 25.9, "mem": 6172, "time": 1646650624}'])

    const ws = await connect(server.url, '/echo', ca)
    ws.send('{"type": "HELLO"}')
    assert.equal(await ws.next(), '{"type": "WELCOME", "payload": {"welcome": "WELCOME"}}')
    ws.send(`{"type": "CLIENT_DATA", "data": {"time": 1646650625, "storage": 95888}, "client_id": "${clientId}"}`)
    assert.equal(await ws.next(), '{"type": "DATA_RETURN", "payload": {"data": {"time": 1646650625, "storage": 95888}}}')
    ws.close()
    assert.equal(await ws.closed, 1005)

    const slice = await http.get(`/client/${clientId}/time/report?start=1646650624&end=1646650625`)
    assert.deepEqual(
      [slice.status, slice.text],
      [
        200,
        '{"payload": [{"cpu": 25.9, "mem": 6172.0, "storage": null, "unix_time": 1646650624}, ' +
          '{"cpu": null, "mem": null, "storage": 95888.0, "unix_time": 1646650625}]}',
      ],
    )
    // Served with that certificate: a client that does not trust it is refused at the handshake.
    await assert.rejects(client(server.url).get('/healthz'), /self-signed certificate/)
  } finally {
    assert.equal(await server.stop(), 0)
  }
})

describe('a pair that cannot serve stops the server at start, saying why', { skip: target !== 'source' && 'the same checks on every target' }, () => {
  test('a key that is not encrypted needs no passphrase', async () => {
    const server = await startServer(tls('plain.crt', 'plain.key'))
    try {
      const res = await client(server.url, undefined, false, readFileSync(file('plain.crt'), 'utf8')).get('/healthz')
      assert.deepEqual([res.status, res.text], [200, '{"status": "ok"}'])
    } finally {
      assert.equal(await server.stop(), 0)
    }
  })

  for (const [what, env, code, message] of [
    ['a certificate without a key', { TLS_CERT_FILE: file('plain.crt') }, 2, /TLS_CERT_FILE \(--tls-cert-file\) and TLS_KEY_FILE \(--tls-key-file\) go together/],
    ['a key without a certificate', { TLS_KEY_FILE: file('plain.key') }, 2, /go together: set both to serve HTTPS, or neither/],
    ['a passphrase without a key', { TLS_KEY_PASSPHRASE: 'x' }, 2, /TLS_KEY_PASSPHRASE \(--tls-key-passphrase\) is for a TLS_KEY_FILE, and none is set/],
    ['a certificate file that is not there', tls('missing.crt', 'plain.key'), 1, /cannot read TLS_CERT_FILE .*missing\.crt: ENOENT/],
    ['a key as the certificate', tls('plain.key', 'plain.key'), 1, /TLS_CERT_FILE .*plain\.key holds no PEM certificate/],
    ['an encrypted key without its passphrase', tls('encrypted.crt', 'encrypted.key'), 1, /TLS_KEY_FILE .*encrypted\.key cannot be read: not a PEM private key, or an encrypted one without TLS_KEY_PASSPHRASE/],
    ['a wrong passphrase', tls('encrypted.crt', 'encrypted.key', 'wrong'), 1, /TLS_KEY_FILE .*encrypted\.key cannot be read: not a PEM private key, or TLS_KEY_PASSPHRASE is wrong/],
    ['the key of another certificate', tls('plain.crt', 'encrypted.key', passphrase), 1, /TLS_KEY_FILE .*encrypted\.key is not the key of the certificate in TLS_CERT_FILE .*plain\.crt/],
  ] as const) {
    test(`${what}: exit ${code}`, async () => {
      const { code: exitCode, output } = await exited(spawnServer([], env))
      assert.equal(exitCode, code, output)
      assert.match(output, message)
      assert.ok(!output.includes(passphrase), output)
    })
  }
})
