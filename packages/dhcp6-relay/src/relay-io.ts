/**
 * The relay on real sockets: one UDP socket on [::]:547 from @pmip6/rawsock, joined to
 * All_DHCP_Relay_Agents_and_Servers (ff02::1:2) on each access link.
 *
 * Why rawsock and not node:dgram: the relay must know the access link every client message
 * arrived on (it selects the MN, its prefix and the Interface-Id), and must answer from the
 * MN's router link-local on that link. dgram reports neither the arrival interface nor the
 * destination, and cannot pick a source per packet. Per-link dgram sockets do not fix it:
 * one bound to [fe80::1%link]:547 never sees multicast to ff02::1:2, one bound to
 * [ff02::1:2%link]:547 cannot choose its source, and a wildcard socket needed for the servers'
 * replies receives every link's multicast too, without saying where from. rawsock's
 * `openUdp6Socket` is a plain UDP socket read with recvmsg + IPV6_PKTINFO (arrival ifindex,
 * destination) and written with sendmsg + IN6_PKTINFO (source, outgoing interface): one
 * socket serves every link and the servers, with exact attribution.
 */
import { EventEmitter } from 'node:events'
import { ifIndexToName, ifNameToIndex, openUdp6Socket, type RawMessage, type RawSocket } from '@pmip6/rawsock'
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, DHCP6_SERVER_PORT } from './codec-constants'
import { RelayLogic, msgTypeName, type InterfaceIdFormat, type RelayAction, type RelayBinding } from './relay-logic'

/** A structured logger (winston-compatible subset). */
export interface RelayLogger {
  debug(msg: string, meta?: Record<string, unknown>): void
  info(msg: string, meta?: Record<string, unknown>): void
  warn(msg: string, meta?: Record<string, unknown>): void
}

export interface Dhcp6RelayOptions {
  /** Relay-forward destinations: unicast servers and/or ff05::1:3. */
  readonly servers: readonly string[]
  /** Source of Relay-forward messages: the MAG's own address (RFC 5213 §6.11). */
  readonly source: string
  readonly interfaceIdFormat?: InterfaceIdFormat
  /** Outgoing interface for multicast server addresses (ff05::1:3); default: the routing table's. */
  readonly multicastInterface?: string
  /** Access links to listen on from the start; links of bindings are added as they appear. */
  readonly links?: readonly string[]
  /** UDP port (tests and benchmarks use others); default 547. */
  readonly port?: number
  /** Where Relay-forward messages go; default 547 (tests use others). */
  readonly serverPort?: number
  readonly log?: RelayLogger
}

export interface Dhcp6RelayStatus {
  readonly links: readonly string[]
  readonly servers: readonly string[]
  readonly counters: Readonly<Record<string, number>>
}

const quiet: RelayLogger = { debug() {}, info() {}, warn() {} }

export class Dhcp6Relay extends EventEmitter<{ error: [Error] }> {
  readonly logic: RelayLogic
  private sock: RawSocket | null = null
  private readonly links = new Map<string, number>()
  private readonly names = new Map<number, string>()
  /** Links whose join failed once: retried on each bindings change, but warned about once. */
  private readonly failedLinks = new Set<string>()
  private readonly ioCtr: Record<string, number> = {}
  private readonly log: RelayLogger
  private mcastIfindex = 0

  constructor(private readonly o: Dhcp6RelayOptions) {
    super()
    this.logic = new RelayLogic({ servers: o.servers, ...(o.interfaceIdFormat ? { interfaceIdFormat: o.interfaceIdFormat } : {}) })
    this.log = o.log ?? quiet
  }

  start(): void {
    if (this.sock) return
    // SO_REUSEADDR: a restart must not wait for the old socket; nothing else on a MAG binds 547.
    this.sock = openUdp6Socket(this.o.port ?? DHCP6_SERVER_PORT, { reuseAddr: true })
    this.sock.on('error', (e) => {
      this.inc('io.error')
      this.log.warn('dhcp6 relay socket error', { error: e.message })
    })
    this.sock.onMessage((m) => this.onMessage(m))
    if (this.o.multicastInterface) this.mcastIfindex = ifNameToIndex(this.o.multicastInterface)
    for (const l of this.o.links ?? []) this.addLink(l)
    this.log.info('dhcp6 relay started', { port: this.o.port ?? DHCP6_SERVER_PORT, servers: this.o.servers, source: this.o.source })
  }

  /** Starts hearing clients on an access link (idempotent; a missing interface is logged). */
  addLink(link: string): void {
    if (this.links.has(link) || !this.sock) return
    try {
      const ifindex = ifNameToIndex(link)
      this.sock.joinGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ifindex)
      this.links.set(link, ifindex)
      this.names.set(ifindex, link)
      this.failedLinks.delete(link)
    } catch (e) {
      this.inc('io.join-error')
      if (!this.failedLinks.has(link)) this.log.warn('dhcp6 relay cannot listen on link', { link, error: (e as Error).message })
      this.failedLinks.add(link)
    }
  }

  /** The bindings changed: the relay's view is replaced, new links are joined. */
  setBindings(bindings: readonly RelayBinding[]): void {
    this.logic.setBindings(bindings)
    for (const b of bindings) this.addLink(b.link)
  }

  /** Adds or replaces one MN's binding (see RelayLogic.upsertBinding). */
  upsertBinding(b: RelayBinding): void {
    this.logic.upsertBinding(b)
    this.addLink(b.link)
  }

  removeBinding(mnId: string): void {
    this.logic.removeBinding(mnId)
  }

  status(): Dhcp6RelayStatus {
    return { links: [...this.links.keys()], servers: this.o.servers, counters: { ...this.logic.counters(), ...this.ioCtr } }
  }

  stop(): void {
    if (!this.sock) return
    this.sock.close()
    this.sock = null
    this.links.clear()
    this.names.clear()
    this.log.info('dhcp6 relay stopped', { counters: this.logic.counters() })
  }

  private onMessage(m: RawMessage): void {
    const link = this.names.get(m.ifindex)
    // A client message arrives on an access link; everything else is the server side.
    const actions = link !== undefined ? this.logic.fromClient({ data: m.data, src: m.src, link }) : this.logic.fromServer({ data: m.data, src: m.src })
    for (const a of actions) this.execute(a, m, link)
  }

  private execute(a: RelayAction, m: RawMessage, link: string | undefined): void {
    const sock = this.sock
    if (!sock) return
    switch (a.type) {
      case 'to-server': {
        const multicast = a.to.toLowerCase().startsWith('ff')
        try {
          sock.send(a.bytes, a.to, { port: this.o.serverPort ?? DHCP6_SERVER_PORT, src: this.o.source, ...(multicast && this.mcastIfindex ? { ifindex: this.mcastIfindex } : {}) })
          this.log.debug('dhcp6 relayed to server', { mnId: a.mnId, link, server: a.to, msg: msgTypeName(a.msgType), peer: m.src })
        } catch (e) {
          this.inc('io.send-error')
          this.log.warn('dhcp6 relay-forward send failed', { server: a.to, error: (e as Error).message })
        }
        return
      }
      case 'to-client': {
        const ifindex = this.links.get(a.link) ?? this.ifindexOf(a.link)
        try {
          sock.send(a.bytes, a.to, { port: a.port, ifindex, ...(a.src !== '::' ? { src: a.src } : {}) })
          this.log.debug('dhcp6 relayed to client', { link: a.link, to: a.to, msg: msgTypeName(a.msgType), server: m.src })
        } catch (e) {
          this.inc('io.send-error')
          this.log.warn('dhcp6 reply send failed', { link: a.link, to: a.to, error: (e as Error).message })
        }
        return
      }
      case 'drop':
        this.log.debug('dhcp6 dropped', { reason: a.reason, detail: a.detail, src: m.src, link: link ?? ifName(m.ifindex) })
        return
    }
  }

  private ifindexOf(link: string): number {
    try {
      return ifNameToIndex(link)
    } catch {
      return 0
    }
  }

  private inc(k: string): void {
    this.ioCtr[k] = (this.ioCtr[k] ?? 0) + 1
  }
}

function ifName(ifindex: number): string {
  try {
    return ifIndexToName(ifindex)
  } catch {
    return String(ifindex)
  }
}
