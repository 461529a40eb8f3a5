/**
 * The lab LMA's end of the data plane (RFC 5213 §5.6.1): the same @pmip6/dataplane the MAG
 * uses, driven by the runner's binding events. A binding's prefixes are routed into the tunnel
 * to its MAG; a handoff moves them to the new MAG's tunnel; the tunnel goes with its last MN.
 *
 * The runner opens it before its MH socket (a binding made before the data plane is open would
 * never get its route) and holds each PBA until the binding's forwarding change is done, so a
 * MAG never forwards into a route the LMA has not installed yet.
 */
import { DataPlane, type ForwardingRequest, type LogFn } from '@pmip6/dataplane'
import type { LmaDataplaneConfig } from './config'
import type { BindingEvent } from './lma'
import type { Logger } from './logger'

/** What the runner needs of a data plane (the kernel's, or a test's). */
export interface LmaDataPlane {
  /** 'seg6' / 'ip6tnl' for the kernel's; anything for a test's. */
  readonly backend: string
  /** The kernel makes ip6gre devices (RFC 5845 keys can be carried); absent: a test's, no GRE. */
  readonly gre?: boolean
  up(req: ForwardingRequest): Promise<void>
  down(id: string): Promise<void>
  idle(): Promise<void>
  close(): Promise<void>
  snapshot?(): unknown
}

export interface LmaForwarding {
  readonly dataplane: LmaDataPlane
  /** Applies one binding change; never rejects (a failure is logged and counted). */
  apply(ev: BindingEvent): Promise<void>
  /** Waits for the changes handed over so far. */
  idle(): Promise<void>
  readonly failures: number
  close(): Promise<void>
}

/** Opens the kernel data plane for the LMA role (RFC 5213 §5.6). */
export async function openKernelDataPlane(address: string, cfg: LmaDataplaneConfig, log: Logger, ipv4 = false): Promise<LmaDataPlane> {
  const logFn: LogFn = (level, msg, fields) => log[level](msg, fields ?? {})
  const dp = await DataPlane.open({
    role: 'lma',
    self: address,
    backend: cfg.backend,
    table: cfg.table,
    rulePriority: cfg.rulePriority,
    maxTunnels: cfg.maxTunnels,
    // RFC 5844: with an IPv4 pool, the MNs' IPv4 home addresses go through the tunnels too.
    ipv4,
    ...(cfg.pathMtu !== undefined ? { pathMtu: cfg.pathMtu } : {}),
    log: logFn,
  })
  return {
    backend: dp.backend,
    gre: dp.gre,
    up: (req) => dp.up(req),
    down: (id) => dp.down(id),
    idle: () => dp.idle(),
    close: () => dp.close(),
    snapshot: () => dp.snapshot(),
  }
}

/** RFC 5844: the binding's IPv4 home address for the data plane ("192.0.2.2/24" -> ["192.0.2.2"]). */
export function ipv4Of(ev: BindingEvent): { ipv4?: readonly string[] } {
  const a = ev.binding.ipv4Address
  return a === undefined ? {} : { ipv4: [a.slice(0, a.indexOf('/'))] }
}

/**
 * RFC 5845: the binding's keys for the data plane when both are known (the uplink key assigned
 * here, the downlink key the MAG chose): the binding then gets its own ip6gre device.
 */
export function greOf(ev: BindingEvent): { gre?: { uplink: number; downlink: number } } {
  const { greUplinkKey: uplink, greDownlinkKey: downlink } = ev.binding
  return uplink === undefined || downlink === undefined ? {} : { gre: { uplink, downlink } }
}

/** Follows binding events on `dp`. */
export function lmaForwarding(dp: LmaDataPlane, log: Logger): LmaForwarding {
  let failures = 0
  const change = (ev: BindingEvent): Promise<void> => {
    switch (ev.type) {
      case 'binding-created':
      case 'binding-moved':
        return dp.up({ id: ev.mnId, link: '', prefixes: ev.prefixes, peer: ev.mag, ...ipv4Of(ev), ...greOf(ev) })
      case 'binding-updated':
        // §5.3.5: a de-registered binding forwards nothing while it waits to be deleted.
        return ev.reason === 'deregistered' ? dp.down(ev.mnId) : dp.up({ id: ev.mnId, link: '', prefixes: ev.prefixes, peer: ev.mag, ...ipv4Of(ev), ...greOf(ev) })
      case 'binding-deleted':
        return dp.down(ev.mnId)
    }
  }
  return {
    dataplane: dp,
    apply: (ev) =>
      change(ev).catch((e: unknown) => {
        failures++
        log.error('lma forwarding change failed', { mnId: ev.mnId, event: ev.type, error: e instanceof Error ? e.message : String(e) })
      }),
    idle: () => dp.idle(),
    get failures() {
      return failures
    },
    close: () => dp.close(),
  }
}
