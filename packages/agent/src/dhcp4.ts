/**
 * Wires the DHCPv4 server (RFC 5844 §3.4, @pmip6/dhcp4) to the daemon: it follows the core's
 * `ipv4-lease` commands (the IPv4 home address, prefix length and default router of an accepted
 * binding; null when the binding is gone), hands the core the address an MN without a lease asks
 * for (ipv4-requested), and shows its counters in `mag status` under `dhcp4.`.
 * An MN without a MAC (PPP) gets its IPv4 address from IPCP instead, not from here.
 */
import { Dhcp4Service } from '@pmip6/dhcp4'
import type { Ipv4LeaseCommand } from '@pmip6/core'
import type { Logger } from '@pmip6/driver-api'
import type { Dhcp4Config } from './config'
import type { MagDaemon } from './daemon'

export interface Dhcp4Handle {
  readonly service: Dhcp4Service
  stop(): Promise<void>
}

/** The lease the DHCPv4 server hands out for an `ipv4-lease` command, or null to take it back. */
export function leaseFor(c: Ipv4LeaseCommand, cfg: Dhcp4Config): Parameters<Dhcp4Service['setLease']>[0] | null {
  if (c.lease === null || c.llId === null) return null
  return {
    mnId: c.mnId,
    link: c.link,
    mac: c.llId.toLowerCase(),
    address: c.lease.address,
    prefixLength: c.lease.prefixLength,
    router: c.lease.router,
    leaseSeconds: Math.max(1, Math.min(cfg.maxLeaseSeconds, c.lease.lifetime)),
    ...(cfg.dns.length > 0 ? { dns: cfg.dns } : {}),
  }
}

export async function startDhcp4(daemon: MagDaemon, cfg: Dhcp4Config, log: Logger): Promise<Dhcp4Handle> {
  const service = await Dhcp4Service.open({
    log: (level, msg, fields) => log[level](msg, fields ?? {}),
    // RFC 5844 §3.4.1: what an MN without a lease asks for may go into its next PBU (the core's rules).
    onRequested: (r) => daemon.ipv4Requested(r),
    // Each reply on its lease's access link to its MN's MAC: two MNs of different LMAs may hold
    // one IPv4 home address here (RFC 5845 GRE keys), which no route of the MAG's tells apart.
    replyVia: 'link',
  })
  // Lease changes of one MN run in order; a failure (iproute2 refusing) is logged, never thrown.
  const chains = new Map<string, Promise<void>>()
  daemon.onIpv4Lease((c) => {
    const lease = leaseFor(c, cfg)
    const prev = chains.get(c.mnId) ?? Promise.resolve()
    const next = prev
      .then(() => (lease ? service.setLease(lease) : service.clearLease(c.mnId)))
      .catch((e: unknown) => log.warn('dhcp4 lease change failed', { mnId: c.mnId, error: e instanceof Error ? e.message : String(e) }))
    chains.set(c.mnId, next)
  })
  daemon.addCounters('dhcp4.', () => service.counters)
  return { service, stop: () => service.close() }
}
