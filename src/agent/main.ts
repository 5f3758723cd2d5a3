// `system-monitor agent`: start-up (options, the spool, a first reading of the host) and the way it ends: on
// SIGINT/SIGTERM with what is unsent kept in the spool, or when the server refuses it for good.
// Exit status: 0 stopped (or --once sent everything), 1 --once could not send (the sample stays spooled),
// 2 bad options or an unusable spool, 3 refused by the server (a wrong password, ...): not worth restarting.
import { readLoad } from '../host/sampler.js'
import { ConfigError } from '../config.js'
import { Agent } from './agent.js'
import { agentHelp, agentOptions, type AgentOptions } from './options.js'
import { Spool } from './spool.js'
import { Uploader } from './uploader.js'

const log = {
  info: (line: string) => console.log(`${new Date().toISOString()} ${line}`),
  error: (line: string) => console.error(`${new Date().toISOString()} ${line}`),
}

function usageError(message: string): number {
  console.error(`system-monitor agent: ${message}`)
  return 2
}

/** Runs the agent until it is stopped or refused; resolves with the exit status. */
export async function runAgent(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let options: AgentOptions
  try {
    const read = agentOptions(argv, env)
    if (read === 'help') {
      console.log(agentHelp())
      return 0
    }
    options = read
  } catch (e) {
    if (e instanceof ConfigError) return usageError(e.message)
    throw e
  }
  let spool: Spool
  try {
    // The first reading of the CPU measures a window of its own; it also shows the storage path can be read.
    await readLoad(options.storagePath)
    spool = Spool.open(options.spool, options.spoolMaxBytes)
  } catch (e) {
    return usageError((e as Error).message)
  }
  const uploader = new Uploader(options.server, options.timeout * 1000)
  return new Promise<number>((resolve) => {
    let ending = false
    const end = async (code: number) => {
      if (ending) return
      ending = true
      await agent.stop()
      spool.close()
      resolve(code)
    }
    const agent = new Agent(options, spool, uploader, log, (message) => {
      console.error(`system-monitor agent: ${message}`)
      void end(3)
    })
    if (options.once) {
      void agent.once().then((sent) => {
        if (!sent) log.info(`not sent: the spool ${options.spool} keeps it for the next run`)
        void end(sent ? 0 : 1)
      })
      return
    }
    log.info(
      `sending ${options.metrics.join(', ')} of this host every ${options.interval} s to ${options.server} as ${options.user}; ` +
        `spool ${options.spool} (at most ${options.spoolMaxBytes} bytes)`,
    )
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        log.info(`${signal}: stopping; what the server has not acknowledged stays in the spool`)
        void end(0)
      })
    }
    agent.start()
  })
}
