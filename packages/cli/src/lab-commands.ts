/** `mag lab up|status|down|ctl|exec|move`: the network-namespace testbed (see lab/lab.ts). */
import { spawnSync } from 'node:child_process'
import type { Command } from 'commander'
import { LAB_DEFAULT_NAME, MAGS, mnId, mnMac, accessLink, type MagName } from './lab/plan'
import { requireRoot, labDown, labMoveL2, labNamespace, labRestart, labSocket, labStatus, labUp, readState, MAG_JS } from './lab/lab'
import { CliError } from './daemon-commands'
import { runDemo } from './lab/demo'
import { startLabCapture } from './lab/capture'
import { startLabPrometheus } from './lab/prometheus'
import { controlRequest } from '@pmip6/agent'

const nameOpt = ['--name <lab>', 'lab name (namespace prefix)', process.env['MAG_LAB'] ?? LAB_DEFAULT_NAME] as const

function wrap<A extends unknown[]>(fn: (...a: A) => Promise<void> | void): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await fn(...a)
    } catch (e) {
      if (e instanceof CliError) throw e
      throw new CliError((e as Error).message)
    }
  }
}

export function addLabCommands(program: Command): void {
  const lab = program.command('lab').description('network-namespace testbed: LMA, two MAGs, a correspondent and N mobile nodes (root)')

  lab
    .command('up')
    .description('create the namespaces and links and start the LMA (or two, --lmas 2) and both MAGs')
    .option(...nameOpt)
    .option('--mns <n>', 'number of mobile nodes', '2')
    .option('--log-level <level>', 'log level of the daemons', 'info')
    .option('--no-dataplane', 'signalling only: no tunnels or routes on the LMA and the MAGs')
    .option('--metrics [port]', "the MAGs serve metrics, and Debian's Prometheus scrapes them, reachable at 127.0.0.1:<port> (default 9090)")
    .option('--lmas <n>', 'LMAs: 1, or 2 (lma2 with its own CN and pools serves the even-numbered MNs; dual-stack MNs, DHCPv4 at the MAGs)', '1')
    .option('--gre-keys', 'RFC 5845 GRE keys (greKeys): both LMAs hand out IPv4 home addresses from one pool, told apart by keys (needs ip6gre in the kernel)')
    .option('--ipv4-pools <list>', "each LMA's IPv4 pool, comma-separated (overlapping only with --gre-keys)")
    .action(
      wrap(async (o: { name: string; mns: string; logLevel: string; dataplane: boolean; metrics?: string | true; lmas: string; greKeys?: boolean; ipv4Pools?: string }) => {
        const port = o.metrics === undefined ? null : o.metrics === true ? 9090 : Number(o.metrics)
        if (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new CliError('--metrics takes a TCP port')
        if (!/^\d+$/.test(o.lmas)) throw new CliError(`--lmas takes 1 or 2, not ${o.lmas}`)
        const shape = { lmas: Number(o.lmas), ...(o.greKeys ? { greKeys: true } : {}), ...(o.ipv4Pools !== undefined ? { ipv4Pools: o.ipv4Pools.split(',').map((x) => x.trim()) } : {}) }
        const s = await labUp({ name: o.name, mns: Number(o.mns), logLevel: o.logLevel, dataplane: o.dataplane, ...shape, ...(port !== null ? { metrics: true } : {}) })
        process.stdout.write(`lab ${s.name} up: ${s.namespaces.length} namespaces, data plane ${s.dataplane}; \`mag lab status --name ${s.name}\`\n`)
        if (port !== null) {
          try {
            const p = await startLabPrometheus(s.name, port)
            process.stdout.write(`prometheus scraping mag1 and mag2 at ${p.url} (config ${p.config}); Grafana: import docs/grafana/pmip6-mag-dashboard.json\n`)
          } catch (e) {
            await labDown(s.name, { quiet: true })
            throw e
          }
        }
      }),
    )

  lab
    .command('status')
    .description('nodes, namespaces, interfaces, addresses, control sockets, where each MN is attached')
    .option(...nameOpt)
    .option('--json', 'JSON output')
    .action(
      wrap((o: { name: string; json?: boolean }) => {
        const s = labStatus(o.name)
        if (o.json) {
          process.stdout.write(JSON.stringify(s, null, 2) + '\n')
          return
        }
        const nodes = s['nodes'] as Record<string, { namespace: string; interfaces: { name: string; addresses: string[] }[]; mag?: string; running?: boolean }>
        for (const [k, v] of Object.entries(nodes)) {
          const addrs = v.interfaces.map((i) => `${i.name}=${i.addresses.join(',') || '-'}`).join(' ')
          process.stdout.write(`${k.padEnd(6)} ${v.namespace.padEnd(16)} ${v.mag ? `on ${v.mag} ` : ''}${v.running === false ? 'NOT RUNNING ' : ''}${addrs}\n`)
        }
      }),
    )

  lab
    .command('down')
    .description('stop the daemons and remove every namespace of the lab (also after a crash)')
    .option(...nameOpt)
    .action(
      wrap(async (o: { name: string }) => {
        await labDown(o.name)
      }),
    )

  lab
    .command('demo')
    .description('the whole story in one command: lab up, register, ping through the tunnel, handoff under ping, Scenario B, detach, lab down')
    .option(...nameOpt)
    .option('--keep', 'leave the lab up at the end')
    .option('--json', 'print the timeline as JSON at the end')
    .option('--pcap <file>', 'capture every lab link for the whole demo into one pcapng (read it with `mag trace FILE` or Wireshark)')
    .action(
      wrap(async (o: { name: string; keep?: boolean; json?: boolean; pcap?: string }) => {
        const r = await runDemo({ name: o.name, ...(o.keep ? { keep: true } : {}), ...(o.pcap ? { pcap: o.pcap } : {}) })
        if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n')
        if (!r.ok) process.exitCode = 1
      }),
    )

  lab
    .command('capture')
    .description('capture every link of the running lab (access links, MAG-LMA links, the CN link) into one pcapng, interfaces named <node>:<link>; stops after [seconds] or on Ctrl-C')
    .argument('[seconds]', 'how long to capture (default: until Ctrl-C)')
    .option(...nameOpt)
    .option('--out <file>', 'output file', `lab-${new Date().toISOString().replace(/[:.]/g, '-')}.pcapng`)
    .action(
      wrap(async (seconds: string | undefined, o: { name: string; out: string }) => {
        requireRoot()
        const d = seconds === undefined ? undefined : Number(seconds)
        if (d !== undefined && !(d > 0)) throw new CliError('the duration must be a positive number of seconds')
        const cap = await startLabCapture(o.name, o.out)
        process.stderr.write(`capturing lab ${o.name} on every link${d ? ` for ${d} s` : ''}; Ctrl-C to stop\n`)
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve())
          process.once('SIGTERM', () => resolve())
          if (d) setTimeout(resolve, d * 1000).unref()
        })
        const r = await cap.stop()
        process.stdout.write(`${r.file}: ${r.packets} packets on ${r.interfaces.length} interfaces (${r.interfaces.join(', ')})\n`)
      }),
    )

  lab
    .command('restart')
    .description('start a lab daemon again with its configuration (e.g. after kill -9): mag lab restart mag1; the LMA comes back with its bindings lost and its Restart Counter bumped (RFC 5847)')
    .argument('<node>', 'lma, lma2 (a lab with two), mag1 or mag2')
    .option(...nameOpt)
    .action(
      wrap(async (node: string, o: { name: string }) => {
        const pid = await labRestart(o.name, node)
        process.stdout.write(`${node} running again (pid ${pid})\n`)
      }),
    )

  lab
    .command('fault')
    .description("make the lab LMA misbehave, so every MAG path can be driven: mag lab fault --drop all")
    .option('--drop <what>', "'all', 'none' or a number of PBUs to drop")
    .option('--delay <ms>', 'hold every answer this long')
    .option('--silent', 'answer nothing at all')
    .option('--no-silent', 'answer again')
    .option('--status <code...>', 'answer with these statuses, each once and in order (CODE or CODE:COUNT; CODE:always)')
    .option('--clear', 'clear every fault first')
    .option('--reset', 'forget every binding and bump the restart counter')
    .option('--json', 'JSON output')
    .option(...nameOpt)
    .action(
      wrap(async (o: { drop?: string; delay?: string; silent?: boolean; status?: string[]; clear?: boolean; reset?: boolean; json?: boolean; name: string }) => {
        const sock = labSocket(o.name, 'lma')
        const base: Record<string, unknown> = {}
        if (o.clear) base['clear'] = true
        if (o.reset) base['reset'] = true
        if (o.drop !== undefined) base['drop'] = /^\d+$/.test(o.drop) ? Number(o.drop) : o.drop
        if (o.delay !== undefined) base['delayMs'] = Number(o.delay)
        if (o.silent !== undefined) base['silent'] = o.silent
        // One request per status: the LMA keeps them as rules, the first matching one wins.
        const rules = (o.status ?? []).map((t) => {
          const m = /^(\d+)(?::(\d+|always))?$/.exec(t)
          if (!m) throw new CliError(`--status ${t}: expected CODE, CODE:COUNT or CODE:always`)
          return m[2] === 'always' ? { status: Number(m[1]) } : { status: Number(m[1]), count: m[2] === undefined ? 1 : Number(m[2]) }
        })
        let r: unknown = await controlRequest(sock, { cmd: 'fault', ...base })
        for (const status of rules) r = await controlRequest(sock, { cmd: 'fault', status })
        const faults = (r as { faults?: unknown }).faults ?? r
        process.stdout.write(o.json ? JSON.stringify(faults, null, 2) + '\n' : `lma faults: ${JSON.stringify(faults)}\n`)
      }),
    )

  lab
    .command('ctl')
    .description('run a mag subcommand against a lab MAG: mag lab ctl mag1 -- bindings --json')
    .argument('<node>', 'mag1 or mag2')
    .argument('<args...>', 'the mag subcommand and its options')
    .option(...nameOpt)
    .action(
      wrap((node: string, args: string[], o: { name: string }) => {
        const sock = labSocket(o.name, node)
        const r = spawnSync(process.execPath, [MAG_JS, ...args, '--socket', sock], { stdio: 'inherit', timeout: 60_000 })
        process.exitCode = r.status ?? 1
      }),
    )

  lab
    .command('exec')
    .description('run a command inside a lab node namespace: mag lab exec mn1 -- ip -6 addr')
    .argument('<node>', 'lma, cn, mag1, mag2, mnN')
    .argument('<cmd...>', 'command and arguments')
    .option(...nameOpt)
    .action(
      wrap((node: string, cmd: string[], o: { name: string }) => {
        const ns = labNamespace(o.name, node)
        const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit', timeout: 10 * 60_000 })
        process.exitCode = r.status ?? 1
      }),
    )

  lab
    .command('move')
    .description('hand mobile node N over to another MAG: layer-2 move, detach at the old MAG, attach at the new one')
    .argument('<mn>', 'mn1, mn2, ...')
    .requiredOption('--to <mag>', 'mag1 or mag2')
    .option('--order <order>', 'detach-first or attach-first', 'detach-first')
    .option(...nameOpt)
    .action(
      wrap(async (mn: string, o: { to: string; order: string; name: string }) => {
        const m = /^mn(\d+)$/.exec(mn)
        if (!m) throw new CliError('name the MN as mnN')
        if (!(MAGS as readonly string[]).includes(o.to)) throw new CliError('--to must be mag1 or mag2')
        const i = Number(m[1])
        const to = o.to as MagName
        const s = readState(o.name)
        const from = s.mnAt[mnId(i)] ?? 'mag1'
        if (from === to) throw new CliError(`mn${i} is already on ${to}`)
        const detach = () => controlRequest(s.sockets[from]!, { cmd: 'detach', mn: mnId(i) }).catch(() => undefined)
        const attach = () => controlRequest(s.sockets[to]!, { cmd: 'attach', mn: mnId(i), link: accessLink(i), mac: mnMac(i), att: 'wifi', hint: 'same-interface' })
        labMoveL2(o.name, i, to)
        if (o.order === 'attach-first') {
          await attach()
          await detach()
        } else {
          await detach()
          await attach()
        }
        process.stdout.write(`mn${i} moved from ${from} to ${to}\n`)
      }),
    )
}
