/**
 * Command line of the lab LMA: `mag lma --config FILE [--log-level LEVEL]` when mounted on the
 * main CLI with `lmaCommand(program)`, or standalone through `runLmaCli(process.argv)`.
 * Runs until SIGINT/SIGTERM. Exit codes: 0 stopped by a signal, 2 bad configuration or options,
 * 1 could not start (e.g. no CAP_NET_RAW for the raw MH socket).
 */
import { Command, Option } from 'commander'
import { ConfigError, loadConfigFile } from './config'
import { createJsonLogger, LOG_LEVELS, type LogLevel } from './logger'
import { startLma } from './lma'
import { setThreadRealtime } from '@pmip6/rawsock'

interface LmaCliOptions {
  config: string
  logLevel: LogLevel
}

function addLmaOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--config <file>', 'LMA configuration (YAML or JSON)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action((opts: LmaCliOptions) => runLma(opts))
}

async function runLma(opts: LmaCliOptions): Promise<void> {
  let config
  try {
    config = loadConfigFile(opts.config)
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`lma: ${e.message}\n`)
      process.exitCode = 2
      return
    }
    throw e
  }
  const log = createJsonLogger(opts.logLevel)
  let handle
  try {
    // The event-loop thread only (issue 23): under load each PBU otherwise waits for a CPU.
    if (config.realtimePriority !== undefined) {
      try {
        setThreadRealtime(config.realtimePriority)
      } catch (e) {
        throw new Error(`realtimePriority: cannot run at SCHED_RR priority ${config.realtimePriority} (${(e as Error).message})`)
      }
    }
    // The data plane (when configured), then the MH socket, then the control socket: see lma.ts.
    handle = await startLma(config, { log })
  } catch (e) {
    log.error('lma failed to start', { error: e instanceof Error ? e.message : String(e) })
    process.exitCode = 1
    return
  }
  const h = handle
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      log.info('signal', { signal: sig })
      void h.stop().then(resolve)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/** Registers `lma` on the main `mag` program. */
export function lmaCommand(program: Command): Command {
  return addLmaOptions(program.command('lma').description('run the lab Local Mobility Anchor (RFC 5213 §5) for labs and tests'))
}

/** Standalone entry: `lab-lma --config FILE [--log-level LEVEL]`; argv as process.argv. */
export async function runLmaCli(argv: readonly string[]): Promise<void> {
  const program = addLmaOptions(new Command('lab-lma').description('lab Local Mobility Anchor (RFC 5213 §5)').showHelpAfterError())
  await program.parseAsync([...argv])
}
