/** `mag ppp install-hooks`: writes pppd's ipv6-up.d/ipv6-down.d hooks for the ppp driver. */
import type { Command } from 'commander'
import { DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_PPP_DIR, DEFAULT_PPP_SOCKET, installHooks } from '@pmip6/driver-ppp'
import { CliError } from './daemon-commands'

export function addPppCommands(program: Command): void {
  const ppp = program.command('ppp').description('PPP access links: pppd hook scripts for the ppp driver')
  ppp
    .command('install-hooks')
    .description('write /etc/ppp/ipv6-up.d/mag-pmip6 and ipv6-down.d/mag-pmip6, which hand pppd sessions to the agent')
    .option('--dir <dir>', "pppd's configuration directory", DEFAULT_PPP_DIR)
    .option('--socket <path>', 'the ppp driver socket (drivers.ppp.socket in the agent config)', DEFAULT_PPP_SOCKET)
    .option('--timeout-ms <ms>', 'how long a hook waits for the agent before it gives up (and exits 0)', String(DEFAULT_HOOK_TIMEOUT_MS))
    .option('--node <path>', 'absolute path of node for the scripts (pppd sets no PATH)', process.execPath)
    .action((o: { dir: string; socket: string; timeoutMs: string; node: string }) => {
      const timeoutMs = Number(o.timeoutMs)
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) throw new CliError('--timeout-ms must be an integer between 100 and 60000')
      try {
        const r = installHooks(o.dir, { socket: o.socket, timeoutMs, node: o.node })
        process.stdout.write(`installed ${r.up}\ninstalled ${r.down}\n`)
      } catch (e) {
        throw new CliError(`cannot install the hooks: ${(e as Error).message}`)
      }
    })
}
