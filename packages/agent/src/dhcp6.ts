/**
 * Wires the DHCPv6 relay (RFC 5213 §6.11, @pmip6/dhcp6-relay) to the daemon: the relay learns
 * the bindings through the daemon's change hook (never from the core directly), each with
 * whether its profile allows stateful configuration, and shows its counters in `mag status`
 * under `dhcp6.`.
 */
import { Dhcp6Relay, type RelayBinding } from '@pmip6/dhcp6-relay'
import type { BindingView } from '@pmip6/core'
import type { Logger } from '@pmip6/driver-api'
import type { Dhcp6RelayConfig } from './config'
import type { MagDaemon } from './daemon'

export interface Dhcp6RelayHandle {
  readonly relay: Dhcp6Relay
  stop(): void
}

/** Opens the relay's socket and keeps it fed; throws if the socket cannot be opened. */
export function startDhcp6Relay(daemon: MagDaemon, cfg: Dhcp6RelayConfig, log: Logger, opts: { port?: number; serverPort?: number } = {}): Dhcp6RelayHandle {
  const relay = new Dhcp6Relay({
    servers: cfg.servers,
    source: daemon.cfg.address,
    interfaceIdFormat: cfg.interfaceIdFormat,
    links: Object.keys(daemon.cfg.core.links ?? {}),
    log,
    ...(cfg.multicastInterface ? { multicastInterface: cfg.multicastInterface } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.serverPort !== undefined ? { serverPort: opts.serverPort } : {}),
  })
  relay.start()
  relay.setBindings(relayBindings(daemon))
  // Once per event-loop turn, not once per change, and only the MNs that changed: a storm of
  // 10,000 registrations, or 100,000 bindings refreshing, would otherwise rebuild the whole
  // list again and again (issue 8). A client's message follows the RA that announced its
  // binding by at least one turn, so it always sees the new state.
  let changed: Set<string> | 'all' = new Set()
  let pending: NodeJS.Immediate | null = null
  const feed = (): void => {
    pending = null
    const which = changed
    changed = new Set()
    if (which === 'all') {
      relay.setBindings(relayBindings(daemon))
      return
    }
    for (const mnId of which) {
      const b = daemon.binding(mnId)
      if (b === undefined) relay.removeBinding(mnId)
      else relay.upsertBinding(relayBinding(daemon, b))
    }
  }
  const unsubscribeNow = daemon.onBindingsChanged((which) => {
    if (which === 'all') changed = 'all'
    else if (changed !== 'all') for (const mnId of which) changed.add(mnId)
    pending ??= setImmediate(feed)
  })
  const unsubscribe = (): void => {
    unsubscribeNow()
    if (pending) clearImmediate(pending)
  }
  daemon.addCounters('dhcp6.', () => relay.status().counters)
  return {
    relay,
    stop() {
      unsubscribe()
      relay.stop()
    },
  }
}

/** The daemon's bindings as the relay needs them. */
export function relayBindings(daemon: MagDaemon): RelayBinding[] {
  return daemon.bindings().map((b) => relayBinding(daemon, b))
}

/** One binding as the relay needs it. */
export function relayBinding(daemon: MagDaemon, b: BindingView): RelayBinding {
  const ac = daemon.addressConfigOf(b.mnId)
  return {
    mnId: b.mnId,
    link: b.link,
    mac: b.mac,
    mode: b.mode,
    state: b.state,
    prefixes: b.prefixes,
    stateful: ac === 'stateful' || ac === 'both',
    routerAddress: b.routerAddress,
  }
}
