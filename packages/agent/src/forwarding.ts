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
    // Configured access links are guarded from the start: no MN is forwarded before its binding.
    accessLinks: Object.keys(cfg.core.links ?? {}),
    log: logFn,
    ...(rtnl ? { rtnl } : {}),
  })
  return {
    name: `kernel-${k.backend}`,
    tunnelMtu: k.tunnelMtu,
    apply(c: ForwardingChange): Promise<void> {
      const v4 = c.ipv4 ?? []
      if (c.type === 'forwarding-up') return k.up({ id: c.mnId, link: c.link, prefixes: c.prefixes, peer: c.mode === 'tunnel' ? c.lma : null, ...(v4.length > 0 ? { ipv4: v4 } : {}) })
      return k.down(c.mnId, [...c.prefixes, ...v4])
    },
    setPathMtu: (peer: string | null, pathMtu: number) => k.setPathMtu(peer, pathMtu),
    status: () => k.snapshot(),
    idle: () => k.idle(),
    close: (keep: boolean) => k.close({ keep }),
  }
}
