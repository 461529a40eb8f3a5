/**
 * The daemon's kernel data plane: turns the core's forwarding-up/-down commands into
 * @pmip6/dataplane calls (RFC 5213 §6.10). A change that fails comes back to the core as a
 * `forwarding-failed` event (the daemon does that), so the binding fails with the kernel's reason.
 */
import { DataPlane as Kernel, type LogFn, type Rtnl } from '@pmip6/dataplane'
import type { Logger } from '@pmip6/driver-api'
import type { AgentConfig, DataplaneConfig } from './config'
import type { DataPlane, ForwardingChange } from './daemon'

export interface KernelDataPlane extends DataPlane {
  readonly tunnelMtu: number
  /** The kernel makes ip6gre devices (RFC 5845 GRE keys can be carried). */
  readonly gre: boolean
}

/**
 * The config fields that turn GRE keys on (RFC 5845: `profiles[i].greKey`, `unknownMn.greKey`,
 * `lmas.<addr>.greKey`): a data plane without ip6gre cannot carry what they ask for.
 */
export function greKeyFields(cfg: AgentConfig): string[] {
  const out: string[] = []
  cfg.core.profiles.forEach((p, i) => {
    if (p.greKey === true) out.push(`profiles[${i}].greKey`)
  })
  const u = cfg.core.unknownMn
  if (u !== undefined && u !== 'refuse' && u.profile.greKey === true) out.push('unknownMn.greKey')
  for (const [addr, l] of Object.entries(cfg.core.lmas ?? {})) if (l.greKey === true) out.push(`lmas.${addr}.greKey`)
  return out
}

/** The start-up refusal for GRE keys on a data plane without ip6gre, or null when there is none. */
export function greStartProblem(cfg: AgentConfig, gre: boolean): string | null {
  if (gre) return null
  const fields = greKeyFields(cfg)
  if (fields.length === 0) return null
  return `${fields.join(', ')}: GRE keys (RFC 5845) need ip6gre devices in the data plane, and this kernel makes none (CONFIG_IPV6_GRE, modprobe ip6_gre); turn greKey off or run on a kernel with ip6gre`
}

export async function openKernelDataPlane(cfg: AgentConfig, dcfg: DataplaneConfig, log: Logger, rtnl?: Rtnl): Promise<KernelDataPlane> {
  const logFn: LogFn = (level, msg, fields) => log[level](msg, fields ?? {})
  const k = await Kernel.open({
    role: 'mag',
    self: cfg.address,
    backend: dcfg.backend,
    table: dcfg.table,
    rulePriority: dcfg.rulePriority,
    maxTunnels: dcfg.maxTunnels,
    uplinkSelect: dcfg.uplinkSelect,
    localRouting: dcfg.localRouting,
    ...(dcfg.pathMtu !== undefined ? { pathMtu: dcfg.pathMtu } : {}),
    enableForwarding: dcfg.enableForwarding,
    // RFC 5844: the MNs' IPv4 home addresses through the same tunnels.
    ipv4: dcfg.ipv4,
    // RFC 5845: bindings with GRE keys, each its own ip6gre device and two tables.
    greTable: dcfg.greTable,
    maxGre: dcfg.maxGre,
    // Configured access links are guarded from the start: no MN is forwarded before its binding.
    accessLinks: Object.keys(cfg.core.links ?? {}),
    log: logFn,
    ...(rtnl ? { rtnl } : {}),
  })
  return {
    name: `kernel-${k.backend}`,
    tunnelMtu: k.tunnelMtu,
    gre: k.gre,
    apply(c: ForwardingChange): Promise<void> {
      const v4 = c.ipv4 ?? []
      // RFC 5845: a binding with GRE keys gets its own ip6gre device (refused, with the reason,
      // on a kernel without ip6gre: the core then de-registers the MN).
      if (c.type === 'forwarding-up') return k.up({ id: c.mnId, link: c.link, prefixes: c.prefixes, peer: c.mode === 'tunnel' ? c.lma : null, ...(v4.length > 0 ? { ipv4: v4 } : {}), ...(c.greKeys ? { gre: c.greKeys } : {}) })
      return k.down(c.mnId, [...c.prefixes, ...v4])
    },
    setPathMtu: (peer: string | null, pathMtu: number) => k.setPathMtu(peer, pathMtu),
    status: () => k.snapshot(),
    idle: () => k.idle(),
    close: (keep: boolean) => k.close({ keep }),
  }
}
