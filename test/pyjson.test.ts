// wire/pyjson against Python itself: the contract's WebSocket strings are compared byte for byte by clients.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { dumps, float, floatRepr, numFromLexeme } from '../src/wire/pyjson.js'

test('floats print as Python repr prints them', () => {
  const cases: [number, string][] = [
    [7, '7.0'],
    [25.9, '25.9'],
    [-0, '-0.0'],
    [0, '0.0'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e16, '1e+16'],
    [1234567890123456, '1234567890123456.0'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e22, '1e+22'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'],
    [-123.456, '-123.456'],
  ]
  for (const [n, text] of cases) assert.equal(floatRepr(n), text, String(n))
})

test('json.dumps layout: separators, escapes, ints and floats', () => {
  assert.equal(
    dumps({ type: 'EVENT', payload: { request: '1', cpu: float(3), mem: null, ok: true, list: [1, float(2.5)] } }),
    '{"type": "EVENT", "payload": {"request": "1", "cpu": 3.0, "mem": null, "ok": true, "list": [1, 2.5]}}',
  )
  assert.equal(dumps('ü😀\u007f\n\t"\\\u0001'), '"\\u00fc\\ud83d\\ude00\\u007f\\n\\t\\"\\\\\\u0001"')
  assert.equal(dumps({ skipped: undefined, kept: 1 }), '{"kept": 1}')
  assert.equal(dumps([]), '[]')
  assert.equal(dumps({}), '{}')
})

test('JSON number lexemes come back as Python would print them after json.loads', () => {
  const cases: [string, string][] = [
    ['26', '26'],
    ['26.0', '26.0'],
    ['-0', '0'],
    ['-0.0', '-0.0'],
    ['1e3', '1000.0'],
    ['1E-5', '1e-05'],
    ['123456789012345678901234567890', '123456789012345678901234567890'],
    ['0.1', '0.1'],
  ]
  for (const [lexeme, text] of cases) assert.equal(numFromLexeme(lexeme).text, text, lexeme)
})

test('random floats and strings match python3 json.dumps exactly', () => {
  let seed = 42
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const floats: number[] = []
  for (let i = 0; i < 3000; i++) {
    const n = (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20)
    floats.push(i % 7 === 0 ? Math.round(n) : n)
  }
  const strings: string[] = []
  for (let i = 0; i < 300; i++) {
    let s = ''
    for (let j = 0; j < 8; j++) s += String.fromCharCode(Math.floor(random() * (random() < 0.5 ? 0x80 : 0xd7ff)))
    strings.push(s)
  }
  // Python reads the exact doubles (repr round-trips) and the strings, and prints them its way.
  const script = 'import json,sys\nd=json.load(sys.stdin)\nprint(json.dumps([float(x) for x in d["f"]]))\nprint(json.dumps(d["s"]))'
  const input = JSON.stringify({ f: floats.map((n) => (Object.is(n, -0) ? "-0.0" : n.toString())), s: strings })
  const [pyFloats, pyStrings] = execFileSync('python3', ['-c', script], { input, encoding: 'utf8' }).trim().split('\n')
  assert.equal(dumps(floats.map(float)), pyFloats)
  assert.equal(dumps(strings), pyStrings)
})
