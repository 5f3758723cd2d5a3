// The ceiling for HTTP and WebSocket ingest: uWebSockets.js answering the bench's requests the way the server
// does, minus everything between the socket and the database. POST: read the body, answer 202. /echo: HELLO
// gets WELCOME, anything else is echoed back as a DATA_RETURN. Prints the same "listening on" line.
import uWS from 'uWebSockets.js'

const decoder = new TextDecoder()

const app = uWS
  .App()
  .post('/*', (res) => {
    let aborted = false
    res.onAborted(() => (aborted = true))
    // The body is read to its end (and dropped) so that the cost of receiving it is in the ceiling too.
    res.onData((_chunk, isLast) => {
      if (isLast && !aborted) res.cork(() => res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end('{"accepted": 1}'))
    })
  })
  .ws('/echo', {
    message: (ws, message) => {
      const request = JSON.parse(decoder.decode(message))
      ws.send(
        request.type === 'HELLO'
          ? '{"type": "WELCOME", "payload": {"welcome": "WELCOME"}}'
          : `{"type": "DATA_RETURN", "payload": {"data": ${JSON.stringify(request.data)}}}`,
      )
    },
  })

const host = process.env.HOST ?? '127.0.0.1'
// LIBUS_LISTEN_EXCLUSIVE_PORT, as src/transport/uws.ts listens.
app.listen(host, Number(process.env.PORT ?? 0), 1, (token) => {
  if (!token) {
    console.error(`bare-uws: cannot listen on ${host}:${process.env.PORT}`)
    process.exit(1)
  }
  console.log(`listening on http://${host}:${uWS.us_socket_local_port(token)}`)
  process.on('SIGTERM', () => process.exit(0))
})
