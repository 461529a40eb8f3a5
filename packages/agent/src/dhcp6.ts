/**
 * Wires the DHCPv6 relay (RFC 5213 §6.11, @pmip6/dhcp6-relay) to the daemon: the relay learns
 * the bindings through the daemon's change hook (never from the core directly), each with
 * whether its profile allows stateful configuration, and shows its counters in `mag status`
 * under `dhcp6.`.
 */
import { Dhcp6Relay, type RelayBinding } from '@pmip6/dhcp6-relay'
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
  const feed = (): void => relay.setBindings(relayBindings(daemon))
  feed()
  // Once per event-loop turn, not once per change: a storm of 10,000 registrations would
  // otherwise rebuild the whole list 10,000 times. A client's message follows the RA that
  // announced its binding by at least one turn, so it always sees the new list.
  let pending: NodeJS.Immediate | null = null
  const unsubscribeNow = daemon.onBindingsChanged(() => {
    pending ??= setImmediate(() => {
      pending = null
      feed()
    })
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
  return daemon.bindings().map((b) => {
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
  })
}
