// The agent's settings (`system-monitor agent --help`): a table read as the server's is (config.ts), each row a
// flag and a SYSTEM_MONITOR_* variable. The password is never a flag (a command line is visible to every user of
// the host): it comes from --password-file or SYSTEM_MONITOR_PASSWORD, as it is, untrimmed.
import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import { isSupportedUsername } from '../auth/client-id.js'
import { ConfigError, helpLines, integer, readTable, text, type Row, type Values } from '../config.js'
import { parseUnit, type Unit } from '../wire/units.js'

const row = <S extends v.GenericSchema<string, unknown>, D extends string | undefined>(flag: string, schema: S, fallback: D, help: string): Row<S, D> => ({
  env: `SYSTEM_MONITOR_${flag.toUpperCase().replaceAll('-', '_')}`,
  flag,
  schema,
  default: fallback,
  help,
})

const seconds = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+(\.\d+)?$/, `expected seconds from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `expected seconds from ${min} to ${max}`),
    v.maxValue(max, `expected seconds from ${min} to ${max}`),
  )
const serverUrl = v.pipe(
  v.string(),
  v.regex(/^https?:\/\/[^/?#]+/i, 'expected an http:// or https:// URL'),
  v.transform((s) => s.replace(/\/+$/, '')),
)
const username = v.pipe(v.string(), v.check(isSupportedUsername, 'expected a letter, then letters, digits, _, . or -, at most 64 characters'))
export const metricNames = ['cpu', 'mem', 'storage'] as const
export type Metric = (typeof metricNames)[number]
const metrics = v.pipe(
  v.string(),
  v.transform((s) => s.split(',').map((m) => m.trim().toLowerCase())),
  v.check((list) => list.every((m) => (metricNames as readonly string[]).includes(m)) && new Set(list).size === list.length, 'expected some of cpu, mem, storage, comma-separated'),
  v.transform((list) => list as Metric[]),
)
const unit = v.pipe(
  v.string(),
  v.check((s) => parseUnit(s) !== undefined, 'expected TB, GB, MB, KB or B'),
  v.transform((s) => parseUnit(s) as Unit),
)

const table = {
  server: row('server', serverUrl, undefined, 'the server to send to, e.g. http://monitor.example:5000 (required)'),
  user: row('user', username, undefined, 'the username to send as; registered on first use (required)'),
  passwordFile: row('password-file', text, undefined, 'a file holding the password (a final newline is not part of it); else SYSTEM_MONITOR_PASSWORD'),
  interval: row('interval', seconds(1, 3600), '1', 'seconds between samples: one sample each (the server keeps one a second)'),
  metrics: row('metrics', metrics, 'cpu,mem,storage', 'what each sample holds, comma-separated'),
  units: row('units', unit, 'MB', 'the unit of mem and storage (TB, GB, MB, KB, B): bytes floor-divided, as the GUI client sends them'),
  storagePath: row('storage-path', text, '/', 'the filesystem whose used storage is sent'),
  spool: row('spool', text, 'agent-spool', 'directory of the samples not yet acknowledged (in the working directory unless absolute); one agent a directory'),
  spoolMaxBytes: row('spool-max-bytes', integer(1024, 1024 ** 4), String(64 * 1024 * 1024), 'the spool on disk, at most: past it the oldest samples are dropped (and counted)'),
  maxRetryDelay: row('max-retry-delay', seconds(1, 3600), '30', 'longest wait between tries while the server is away (doubling from 0.5 s, jittered; a Retry-After is waited out)'),
  timeout: row('timeout', seconds(1, 600), '10', 'seconds a request may take before it counts as failed'),
}

export type AgentOptions = Omit<Values<typeof table>, 'server' | 'user' | 'passwordFile'> & {
  server: string
  user: string
  password: string
  /** Send one sample (and whatever the spool holds) and exit. */
  once: boolean
}

export function agentHelp(): string {
  return [
    'Usage: system-monitor agent --server URL --user NAME [options]',
    '',
    "Samples this host and sends it to a system-monitor server; samples wait in a spool on disk until the server has them.",
    'Every option can also be set by its environment variable; the flag wins.',
    '',
    ...helpLines(table, [
      ['', 'SYSTEM_MONITOR_PASSWORD', 'the password, unless --password-file is given'],
      ['--once', '', 'send one sample (and what the spool holds), then exit: for cron'],
      ['--help', '', 'show this text'],
    ]),
  ].join('\n')
}

/** The password as a file holds it: its content less one final line end. */
const passwordIn = (path: string) => {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '')
  } catch (e) {
    throw new ConfigError(`Cannot read SYSTEM_MONITOR_PASSWORD_FILE (--password-file) ${JSON.stringify(path)}: ${(e as Error).message}`)
  }
}

/** The agent's options from its flags and environment; throws ConfigError naming what is wrong or missing. */
export function agentOptions(argv: string[], env: NodeJS.ProcessEnv): AgentOptions | 'help' {
  const read = readTable(table, argv, env, ['once'])
  if (read === 'help') return 'help'
  const { server, user, passwordFile, ...rest } = read.values
  if (server === undefined) throw new ConfigError('--server (SYSTEM_MONITOR_SERVER) is required: the URL of the system-monitor server')
  if (user === undefined) throw new ConfigError('--user (SYSTEM_MONITOR_USER) is required: the username to send as')
  const password = passwordFile !== undefined ? passwordIn(passwordFile) : env.SYSTEM_MONITOR_PASSWORD
  if (password === undefined || password === '') throw new ConfigError('no password: give it in a file (--password-file) or in SYSTEM_MONITOR_PASSWORD')
  return { ...rest, server, user, password, once: read.on.has('once') }
}
