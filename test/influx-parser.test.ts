// The line protocol parser against the reference's cases: a table of valid lines and what they hold, and of
// invalid ones and the line and reason the refusal names.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Refusal } from '../src/errors.js'
import { parseLineProtocol, parsePrecision, secondsOf, type FieldValue } from '../src/ingest/formats/line-protocol.js'

interface Expected {
  measurement: string
  tags?: Record<string, string>
  fields: Record<string, FieldValue>
  timestamp?: string
  line?: number
}

const plain = (text: string) =>
  [...parseLineProtocol(text)].map((p) => ({
    measurement: p.measurement,
    tags: Object.fromEntries(p.tags),
    fields: Object.fromEntries(p.fields),
    timestamp: p.timestamp,
    line: p.line,
  }))

const valid: [string, string, Expected[]][] = [
  ['the reference example', 'weather,location=us-midwest temperature=82 1465839830100400200', [{ measurement: 'weather', tags: { location: 'us-midwest' }, fields: { temperature: 82 }, timestamp: '1465839830100400200' }]],
  ['no tags, no timestamp', 'weather temperature=82', [{ measurement: 'weather', fields: { temperature: 82 } }]],
  ['several tags and fields', 'weather,location=us-midwest,season=summer temperature=82,humidity=71i 1', [{ measurement: 'weather', tags: { location: 'us-midwest', season: 'summer' }, fields: { temperature: 82, humidity: 71 }, timestamp: '1' }]],
  ['a comma and a space escaped in a measurement', 'wea\\,ther\\ now temp=1', [{ measurement: 'wea,ther now', fields: { temp: 1 } }]],
  ['an equals sign needs no escape in a measurement', 'wea=ther temp=1', [{ measurement: 'wea=ther', fields: { temp: 1 } }]],
  ['escapes in tag keys and values', 'weather,loc\\ ation=us\\,mid\\=west\\ x temp=1', [{ measurement: 'weather', tags: { 'loc ation': 'us,mid=west x' }, fields: { temp: 1 } }]],
  ['escapes in field keys', 'weather temp\\=rature=82,hu\\ mi\\,dity=1', [{ measurement: 'weather', fields: { 'temp=rature': 82, 'hu mi,dity': 1 } }]],
  ['a backslash before another character is itself', 'my\\Measurement f=1', [{ measurement: 'my\\Measurement', fields: { f: 1 } }]],
  ['two backslashes are one', 'my\\\\Measurement f=1', [{ measurement: 'my\\Measurement', fields: { f: 1 } }]],
  ['three backslashes are two', 'my\\\\\\Measurement f=1', [{ measurement: 'my\\\\Measurement', fields: { f: 1 } }]],
  ['four backslashes are two', 'my\\\\\\\\Measurement f=1', [{ measurement: 'my\\\\Measurement', fields: { f: 1 } }]],
  ['string fields with spaces, commas and equals signs', 'weather temp="too warm, is it=yes",e=""', [{ measurement: 'weather', fields: { temp: 'too warm, is it=yes', e: '' } }]],
  ['escaped quotes and backslashes in a string field', 'weather temp="too\\"hot\\"",b="a\\\\b",c="a\\b"', [{ measurement: 'weather', fields: { temp: 'too"hot"', b: 'a\\b', c: 'a\\b' } }]],
  ['integers and unsigned integers to their limits', 'm a=1i,b=-1i,c=9223372036854775807i,d=-9223372036854775808i,e=18446744073709551615u,f=0u', [{ measurement: 'm', fields: { a: 1, b: -1, c: 9223372036854775807, d: -9223372036854775808, e: 18446744073709551615, f: 0 } }]],
  ['floats in every notation', 'm a=1,b=-1.5,c=1e3,d=1.,e=.5,f=-1.234456e+78,g=2E-2', [{ measurement: 'm', fields: { a: 1, b: -1.5, c: 1000, d: 1, e: 0.5, f: -1.234456e78, g: 0.02 } }]],
  ['booleans in every spelling', 'm a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE', [{ measurement: 'm', fields: { a: true, b: true, c: true, d: true, e: true, f: false, g: false, h: false, i: false, j: false } }]],
  ['comments, blank lines and indentation', '# a comment\n\nm f=1\n   # indented\n  m f=2\n\n', [{ measurement: 'm', fields: { f: 1 }, line: 3 }, { measurement: 'm', fields: { f: 2 }, line: 5 }]],
  ['CRLF line ends', 'm f=1 1\r\nm f=2\r\n', [{ measurement: 'm', fields: { f: 1 }, timestamp: '1' }, { measurement: 'm', fields: { f: 2 }, line: 2 }]],
  ['several spaces between the parts, and after them', 'm  f=1   1  \nm f=2 ', [{ measurement: 'm', fields: { f: 1 }, timestamp: '1' }, { measurement: 'm', fields: { f: 2 }, line: 2 }]],
  ['a raw newline inside a string field', 'm s="a\nb" 1\nm f=2', [{ measurement: 'm', fields: { s: 'a\nb' }, timestamp: '1' }, { measurement: 'm', fields: { f: 2 }, line: 3 }]],
  ['a negative timestamp', 'm f=1 -1', [{ measurement: 'm', fields: { f: 1 }, timestamp: '-1' }]],
  ['a field given twice: the last one', 'm f=1,f=2', [{ measurement: 'm', fields: { f: 2 } }]],
  ['names in any script', '温度,地点=東京 値=1', [{ measurement: '温度', tags: { 地点: '東京' }, fields: { 値: 1 } }]],
  ['an empty body and one of comments only', '\n# nothing\n', []],
]

for (const [name, text, expected] of valid) {
  test(`valid: ${name}`, () => {
    assert.deepEqual(
      plain(text),
      expected.map((e) => ({ measurement: e.measurement, tags: e.tags ?? {}, fields: e.fields, timestamp: e.timestamp, line: e.line ?? 1 })),
    )
  })
}

const invalid: [string, number, RegExp][] = [
  ['weather', 1, /missing fields/],
  ['weather,location=us-midwest', 1, /missing fields/],
  ['weather ', 1, /missing fields/],
  ['weather temperature=', 1, /missing field value/],
  ['weather temperature', 1, /missing field value of temperature/],
  ['weather =82', 1, /missing field key/],
  ['weather f=1,', 1, /missing field key/],
  ['weather,=x f=1', 1, /missing tag key/],
  ['weather,location f=1', 1, /missing tag value of location/],
  ['weather,location= f=1', 1, /missing tag value of location/],
  ['weather,a=b=c f=1', 1, /unescaped '='/],
  [',tag=a f=1', 1, /missing measurement/],
  ['  f=1', 1, /missing fields/],
  ['weather f="unterminated', 1, /unterminated string/],
  ['weather f=1.2.3', 1, /invalid field value 1\.2\.3/],
  ['weather f=abc', 1, /invalid field value abc/],
  ['weather f=+1', 1, /invalid field value/],
  ['weather f=NaN', 1, /invalid field value/],
  ['weather f=1e999', 1, /out of range/],
  ['weather f=1i2', 1, /invalid field value/],
  ['weather f=TRUE1', 1, /invalid field value/],
  ['weather f=9223372036854775808i', 1, /invalid integer/],
  ['weather f=1.5i', 1, /invalid integer/],
  ['weather f=-1u', 1, /invalid unsigned integer/],
  ['weather f=18446744073709551616u', 1, /invalid unsigned integer/],
  ['weather f=1 abc', 1, /invalid timestamp abc/],
  ['weather f=1 1.5', 1, /invalid timestamp/],
  ['weather f=1 9223372036854775808', 1, /invalid timestamp/],
  ['weather f=1 1 extra', 1, /unexpected "e"/],
  ['weather f=1 1\r2', 1, /unexpected "\\r"/],
  ['m f=1\nm f=\n', 2, /missing field value/],
  ['m s="a\nb"\n\nm f=1\nm f=x', 5, /invalid field value x/],
]

for (const [text, line, reason] of invalid) {
  test(`invalid: ${JSON.stringify(text)} is refused, naming line ${line}`, () => {
    assert.throws(
      () => [...parseLineProtocol(text)],
      (e: unknown) => {
        assert.ok(e instanceof Refusal)
        assert.equal(e.status, 400)
        assert.equal(e.reason, 'invalid line protocol')
        assert.equal(e.detail.line, line)
        assert.match(String(e.detail.detail), reason)
        assert.match(String(e.detail.detail), /^unable to parse '/)
        return true
      },
    )
  })
}

test('a refusal quotes its line, cut at 120 characters', () => {
  const long = `m ${'f'.repeat(200)}=`
  assert.throws(
    () => [...parseLineProtocol(`m f=1\r\n${long}\r\n`)],
    (e: unknown) => e instanceof Refusal && e.detail.detail === `unable to parse '${long.slice(0, 120)}…': missing field value`,
  )
})

test('timestamps in each precision, truncated to the second', () => {
  assert.equal(secondsOf('1465839830100400200', 'ns'), 1465839830)
  assert.equal(secondsOf('1465839830100400', 'us'), 1465839830)
  assert.equal(secondsOf('1465839830999', 'ms'), 1465839830)
  assert.equal(secondsOf('1465839830', 's'), 1465839830)
  assert.equal(secondsOf('999999999', 'ns'), 0)
  assert.equal(secondsOf('2', 'm'), 120)
  assert.equal(secondsOf('2', 'h'), 7200)
  assert.equal(secondsOf('-1500', 'ms'), -2)
  assert.deepEqual(
    [null, '', 'ns', 'n', 'us', 'u', 'ms', 's', 'm', 'h', 'x', 'NS'].map(parsePrecision),
    ['ns', 'ns', 'ns', 'ns', 'us', 'us', 'ms', 's', 'm', 'h', undefined, undefined],
  )
})
