// The deployable's entry (dist/server.js, the single executable): `agent` runs the headless agent, anything else
// the server. Each is loaded only when chosen: the server's modules (PostgreSQL's client, systeminformation,
// uWebSockets.js's binary) would cost the agent about 24 MB, and the agent must run where they cannot.
if (process.argv[2] === 'agent') {
  import('./agent/main.js')
    .then(({ runAgent }) => runAgent(process.argv.slice(3), process.env))
    .then(
      (code) => process.exit(code),
      (e: unknown) => {
        console.error('system-monitor agent:', e instanceof Error ? (e.stack ?? e.message) : e)
        process.exit(1)
      },
    )
} else {
  void import('./main.js')
}
