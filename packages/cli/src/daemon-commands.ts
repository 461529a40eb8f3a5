/**
 * The `mag` subcommands that run the daemon or talk to it over its control socket:
 * run, attach, detach, bindings, policy, status, admin-clear, reload.
 * Errors from the daemon are printed as one clear line with a non-zero exit.
 */
import type { Command } from 'commander'
import { controlRequest, runMag, DEFAULT_CONTROL_SOCKET, ConfigError, type ControlRequest } from '@pmip6/agent'
import type { BindingPage, BindingView } from '@pmip6/core'

export class CliError extends Error {}

interface AaaServer {
  server: string
  kind: string
  state: string
  requests: number
  retransmissions: number
  timeouts: number
  answers: Record<string, number>
  dropped: Record<string, number>
  latencyUs: { count: number; p50: number | null; p99: number | null }
}

const socketOpt = ['--socket <path>', 'control socket of the daemon', process.env['MAG_SOCKET'] ?? DEFAULT_CONTROL_SOCKET] as const

async function ask(socket: string, req: ControlRequest): Promise<unknown> {
  try {
    return await controlRequest(socket, req)
  } catch (e) {
    throw new CliError((e as Error).message)
  }
}

function out(v: unknown): void {
  process.stdout.write(typeof v === 'string' ? v : JSON.stringify(v, null, 2) + '\n')
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length)
}

/** A readable table of the Binding Update List. */
const BINDING_HEAD = ['MN', 'LINK', 'STATE', 'MODE', 'LMA', 'PREFIXES', 'IPV4', 'LIFETIME', 'STATUS', 'RETX', 'REASON']
/** Bindings asked for per request by `mag bindings`. */
const LIST_PAGE = 1000

function bindingRow(b: BindingView): string[] {
  return [
    b.mnId,
    b.link,
    b.state,
    b.mode,
    b.lma ?? '-',
    b.prefixes.join(',') || '-',
    // RFC 5844: the IPv4 home address, or why an MN asking for one has none.
    ipv4Cell(b),
    b.lifetimeLeft > 0 ? `${b.lifetimeLeft}s` : '-',
    b.lastStatus === null ? '-' : String(b.lastStatus),
    String(b.retransmissions),
    b.reason,
  ]
}

/**
 * The IPV4 column: the address (or why none), and the one the MN's DHCP client asked for when it
 * is not the address it has (RFC 5844 §3.3.1), e.g. `192.0.2.9/24 asked:192.0.2.77=assigned-other:192.0.2.9`.
 */
function ipv4Cell(b: BindingView): string {
  const have = b.ipv4Address ?? (b.ipv4Reason !== '' ? `(${b.ipv4Reason})` : '-')
  // A daemon of an earlier version sends no ipv4Requested.
  const asked = (b.ipv4Requested as BindingView['ipv4Requested'] | undefined) ?? null
  return asked === null || asked.outcome === 'used' ? have : `${have} asked:${asked.address}=${asked.outcome}`
}

/** Column widths fitting these bindings (a long list is laid out by its first page). */
export function tableWidths(list: readonly BindingView[]): number[] {
  const rows = list.map(bindingRow)
  return BINDING_HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 1)
}

/** The table of `mag bindings`; `widths` and `head` let pages of one long list share the layout. */
export function formatBindings(list: readonly BindingView[], widths = tableWidths(list), head = true): string {
  if (list.length === 0) return 'no bindings\n'
  const rows = list.map(bindingRow)
  return [...(head ? [BINDING_HEAD] : []), ...rows].map((r) => r.map((c, i) => pad(c, widths[i]!)).join('').trimEnd()).join('\n') + '\n'
}

export function addDaemonCommands(program: Command): void {
  program
    .command('run')
    .description('run the MAG daemon (root: raw sockets)')
    .requiredOption('--config <file>', 'configuration file (YAML or JSON)')
    .option('--log-level <level>', 'error, warn, info or debug (overrides the config)')
    .option('--socket <path>', 'control socket path (overrides the config)')
    .action(async (o: { config: string; logLevel?: string; socket?: string }) => {
      try {
        await runMag({ config: o.config, ...(o.logLevel ? { logLevel: o.logLevel } : {}), ...(o.socket ? { socket: o.socket } : {}) })
      } catch (e) {
        if (e instanceof ConfigError) throw new CliError(e.message)
        const err = e as NodeJS.ErrnoException
        if (err.code === 'EPERM' || err.code === 'EACCES') throw new CliError(`${err.message}: mag run needs root (or CAP_NET_RAW and CAP_NET_ADMIN)`)
        throw e
      }
    })

  program
    .command('attach')
    .description('attach a mobile node on a link (mock driver)')
    .requiredOption('--link <iface>', 'access link (interface name)')
    .option('--mn <id>', 'MN identifier (NAI)')
    .option('--mac <mac>', 'link-layer address of the MN')
    .option('--att <tech>', 'access technology: wifi, ppp, ethernet, virtual or a number')
    .option('--hint <hint>', 'handoff hint: new, same-interface, other-interface, unknown')
    .option('--count <n>', 'attach N synthetic MNs <prefix><i>@example.com with MACs 0a:00:00:xx:xx:xx (labs, benchmarks)')
    .option('--start <i>', 'first index with --count', '1')
    .option('--mn-prefix <p>', 'identifier prefix with --count', 'mn')
    .option(...socketOpt)
    .action(async (o: { link: string; mn?: string; mac?: string; att?: string; hint?: string; count?: string; start: string; mnPrefix: string; socket: string }) => {
      if (o.count !== undefined) {
        out(await ask(o.socket, { cmd: 'attach-range', link: o.link, count: Number(o.count), start: Number(o.start), mnPrefix: o.mnPrefix, att: o.att }))
        return
      }
      if (!o.mn && !o.mac) throw new CliError('attach needs --mn or --mac')
      const r = await ask(o.socket, { cmd: 'attach', link: o.link, mn: o.mn, mac: o.mac, att: o.att, hint: o.hint })
      out(r)
    })

  program
    .command('detach')
    .description('detach a mobile node (mock driver)')
    .option('--mn <id>', 'MN identifier')
    .option('--link <iface>', 'access link')
    .option('--mac <mac>', 'link-layer address')
    .option(...socketOpt)
    .action(async (o: { mn?: string; link?: string; mac?: string; socket: string }) => {
      if (!o.mn && !o.link && !o.mac) throw new CliError('detach needs --mn, --link or --mac')
      out(await ask(o.socket, { cmd: 'detach', mn: o.mn, link: o.link, mac: o.mac }))
    })

  program
    .command('bindings')
    .description('list the binding update list')
    .option('--json', 'JSON output')
    .option(...socketOpt)
    .action(async (o: { json?: boolean; socket: string }) => {
      // Page by page, printed as they come: the MAG never builds a million-entry answer, and
      // the first lines show at once (issue 23). A page may be short, even empty (the MAG looks
      // at a bounded number of slots per request): only next: null ends the list.
      let after: number | null = 0
      let widths: number[] | undefined
      let n = 0
      if (o.json) process.stdout.write('[')
      while (after !== null) {
        const page = (await ask(o.socket, { cmd: 'bindings', limit: LIST_PAGE, after })) as BindingPage
        if (o.json) process.stdout.write(page.bindings.map((b) => (n++ === 0 ? '\n  ' : ',\n  ') + JSON.stringify(b)).join(''))
        else if (page.bindings.length > 0) {
          widths ??= tableWidths(page.bindings)
          process.stdout.write(formatBindings(page.bindings, widths, n === 0))
          n += page.bindings.length
        }
        after = page.next
      }
      if (o.json) process.stdout.write(n === 0 ? ']\n' : '\n]\n')
      else if (n === 0) out(formatBindings([]))
    })

  program
    .command('policy')
    .description('switch a mobile node between PMIPv6 (network) and Scenario B (host) at run time')
    .requiredOption('--mn <id>', 'MN identifier')
    .argument('<mode>', 'network or host')
    .option(...socketOpt)
    .action(async (mode: string, o: { mn: string; socket: string }) => {
      if (mode !== 'network' && mode !== 'host') throw new CliError('mode must be network or host')
      out(await ask(o.socket, { cmd: 'policy', mn: o.mn, mode }))
    })

  /** Registration latency split into the LMA's share and ours, p50/p99 in microseconds. */
  const latencyLines = (s: Record<string, unknown>): string[] => {
    const f = (k: string, label: string): string => {
      const v = s[k] as { count: number; p50: number | null; p99: number | null } | undefined
      if (!v || v.count === 0) return `${pad(label, 13)}-`
      return `${pad(label, 13)}p50 ${Math.round(v.p50 ?? 0)} us, p99 ${Math.round(v.p99 ?? 0)} us (${v.count} samples)`
    }
    return [f('registrationLatencyUs', 'registration'), f('lmaRoundTripUs', 'lma rtt'), f('magProcessingUs', 'mag share')]
  }

  /** RFC 5847 heartbeat state, one line per LMA. */
  const lmaLines = (s: Record<string, unknown>): string[] => {
    const lmas = (s['lmas'] ?? []) as { lma: string; state: string; reason: string; intervalS?: number; bindings: number; requestsSent: number; responses: number; misses: number; restartCounter: number | null }[]
    const every = (l: { intervalS?: number }): string => (l.intervalS === undefined ? '' : l.intervalS === 0 ? ' (off)' : ` every ${l.intervalS} s`)
    return lmas.map((l) => `lma          ${l.lma} ${l.state} (${l.reason || '-'}) bindings ${l.bindings}, heartbeats${every(l)} ${l.requestsSent} sent / ${l.responses} answered / ${l.misses} missed, restart counter ${l.restartCounter ?? '-'}`)
  }

  /** The data plane: backend, tunnels with their MNs, kernel objects held, failed set-ups. */
  const dataplaneLines = (s: Record<string, unknown>): string[] => {
    const d = s['dataplane'] as { name: string; state?: { uplinkSelect: string; uplink: string; tunnelMtu: number; tunnels: { peer: string; users: number; device: string | null }[]; bindings: number; objects: number; failures: number; reversePathFiltered?: string[]; reversePathFix?: string } } | undefined
    if (!d) return []
    if (!d.state) return [`dataplane    ${d.name} (signalling only: nothing is forwarded)`]
    const st = d.state
    const tunnels = st.tunnels.map((t) => `${t.peer} (${t.users} MN${t.users === 1 ? '' : 's'}${t.device ? `, ${t.device}` : ''})`).join(', ') || 'none'
    const rpf = st.reversePathFiltered ?? []
    return [
      `dataplane    ${d.name}, ${st.uplinkSelect}, uplink ${st.uplink}, tunnel MTU ${st.tunnelMtu}; ${st.bindings} bindings, ${st.objects} kernel objects, ${st.failures} failed set-ups`,
      `tunnels      ${tunnels}`,
      ...(rpf.length > 0 ? [`warning      rp_filter drops GRE-keyed MNs' IPv4 uplink on ${rpf.join(', ')}: ${st.reversePathFix ?? ''}`] : []),
    ]
  }

  /** The RADIUS policy source: MNs it holds, then one line per server. */
  const aaaLines = (s: Record<string, unknown>): string[] => {
    const a = s['aaa'] as
      | { source: string; cached: number; pending: number; unreachable: number; denied: number; servers: AaaServer[]; accounting?: AaaServer[] }
      | undefined
    if (!a) return []
    const server = (v: AaaServer): string => {
      const answers = Object.entries(v.answers).map(([k, n]) => `${n} ${k}`).join(', ') || 'no answers'
      const dropped = Object.values(v.dropped).reduce((x, y) => x + y, 0)
      const lat = v.latencyUs.count > 0 ? `, p50 ${Math.round(v.latencyUs.p50 ?? 0)} us, p99 ${Math.round(v.latencyUs.p99 ?? 0)} us` : ''
      return `radius       ${v.kind} ${v.server} ${v.state}: ${v.requests} requests, ${v.retransmissions} retransmitted, ${v.timeouts} timed out; ${answers}; ${dropped} dropped${lat}`
    }
    return [`policy       ${a.source}: ${a.cached} cached, ${a.pending} pending, ${a.unreachable} aaa-unreachable, ${a.denied} denied`, ...a.servers.map(server), ...(a.accounting ?? []).map(server)]
  }

  /** The links `status` names (the first 64) and how many more there are (linkCount). */
  const linksLine = (s: Record<string, unknown>): string => {
    const named = s['links'] as string[]
    const count = typeof s['linkCount'] === 'number' ? s['linkCount'] : named.length
    return (named.join(', ') || '-') + (count > named.length ? ` and ${count - named.length} more (${count} links)` : '')
  }

  program
    .command('status')
    .description('counters, uptime, drivers, data plane, LMAs')
    .option('--json', 'JSON output')
    .option(...socketOpt)
    .action(async (o: { json?: boolean; socket: string }) => {
      const s = (await ask(o.socket, { cmd: 'status' })) as Record<string, unknown>
      if (o.json) return out(s)
      const lines = [
        `ready        ${s['ready'] === false ? 'no' : 'yes'}`,
        `uptime       ${String(s['uptimeS'])} s`,
        `address      ${String(s['address'])}`,
        `drivers      ${(s['drivers'] as string[]).join(', ') || '-'}`,
        `links        ${linksLine(s)}`,
        `bindings     ${String(s['bindings'])} ${JSON.stringify(s['states'])}`,
        ...latencyLines(s),
        ...dataplaneLines(s),
        ...lmaLines(s),
        ...aaaLines(s),
        'counters:',
        ...Object.entries(s['counters'] as Record<string, number>).map(([k, v]) => `  ${pad(k, 40)}${v}`),
      ]
      out(lines.join('\n') + '\n')
    })

  program
    .command('admin-clear')
    .description('administrative action: release MNs held or denied (RFC 5213 §6.9.1.2)')
    .option('--mn <id>', 'one MN (default: all)')
    .option(...socketOpt)
    .action(async (o: { mn?: string; socket: string }) => out(await ask(o.socket, { cmd: 'admin-clear', mn: o.mn })))

  program
    .command('clock-synced')
    .description('declare the clock synchronised again (after TIMESTAMP_MISMATCH, RFC 5213 §6.9.1.2)')
    .option(...socketOpt)
    .action(async (o: { socket: string }) => out(await ask(o.socket, { cmd: 'clock-synced' })))

  program
    .command('reload')
    .description('reload the policy profiles from the config file')
    .option(...socketOpt)
    .action(async (o: { socket: string }) => out(await ask(o.socket, { cmd: 'reload' })))
}
