/**
 * `mag`: the command line of the PMIPv6 Mobile Access Gateway. Each group of subcommands lives
 * in its own module; this file only wires them to commander and turns errors into one line.
 */
import { Command, CommanderError } from 'commander'
import { runDecode } from './decode'
import { addDaemonCommands, CliError } from './daemon-commands'
import { addLabCommands } from './lab-commands'
import { addPppCommands } from './ppp-commands'
import { lmaCommand } from '@pmip6/lab-lma'
import { addConfigCommands } from './config-commands'
import { addTraceCommands } from './trace-commands'

export function buildProgram(): Command {
  const program = new Command()
  program
    .name('mag')
    .description('Proxy Mobile IPv6 (RFC 5213) Mobile Access Gateway')
    .version('0.1.0')
    .showHelpAfterError()

  program
    .command('decode')
    .description('decode a Mobility Header (PBU, PBA, Heartbeat, ...) or an RS/RA and print it as JSON')
    .option('--hex <hex>', 'the message as hex digits (spaces and colons allowed)')
    .option('--file <path>', 'a file holding the raw message bytes')
    .option('--compact', 'one line of JSON')
    .action((opts: { hex?: string; file?: string; compact?: boolean }) => {
      const r = runDecode(opts)
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      process.exitCode = r.code
    })

  addDaemonCommands(program)
  addLabCommands(program)
  addPppCommands(program)
  lmaCommand(program)
  addConfigCommands(program)
  addTraceCommands(program)
  return program
}

export async function main(argv: readonly string[]): Promise<void> {
  // `mag bindings | head`: a closed pipe ends the output, not the program with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
  try {
    await buildProgram().parseAsync([...argv])
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`mag: ${e.message}\n`)
      process.exitCode = 1
      return
    }
    if (e instanceof CommanderError) return
    throw e
  }
}
