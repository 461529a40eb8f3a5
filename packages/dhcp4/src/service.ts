/**
 * The DHCPv4 server's sockets and link set-up (RFC 5844 §3.4.1): one UDP socket on 0.0.0.0:67.
 * A request is matched to its MN by the client hardware address (the lease names the MN's MAC
 * and access link). Replies go by unicast to the MN's home address, as RFC 2131 §4.1 asks of a
 * server that can: the lease's `setLease` puts the router address on the access link (the
 * source of the replies and the MN's next hop) and a permanent neighbour entry for the home
 * address with the MN's MAC, so the reply needs no ARP answer from a client that has no address
 * yet (dhclient and udhcpc read port 68 on a packet socket before they are configured).
 * The router address goes again with the last lease on that link that names it.
 *
 * `replyVia: 'link'` (the agent's): replies leave as frames on the lease's access link to the
 * MN's MAC, through a packet socket (frame.ts), not through the MAG's routes. Two MNs holding the
 * same home address at one MAG (RFC 5845 GRE keys, different LMAs) each get their own replies on
 * their own link; a UDP socket (no IP_PKTINFO in node:dgram) could send to the address only
 * where the routing table says, and a GRE-keyed MN's address is in no table a local packet uses.
 */
import { createSocket, type Socket } from 'node:dgram'
import { execFile } from 'node:child_process'
import { PacketSocket, ifNameToIndex, parseMac } from '@pmip6/rawsock'
import { CLIENT_PORT, SERVER_PORT, Dhcp4Error, decode, encode } from './codec'
import { udp4Packet } from './frame'
import { Dhcp4Server, type Dhcp4Lease, type Dhcp4Outcome, type Dhcp4Requested } from './server'

/** How the service changes the access link; the default runs iproute2. */
export interface LinkSetup {
  /** The lease's router address on its access link (a /32), idempotent. */
  addRouter(link: string, router: string): Promise<void>
  /** Takes the router address off the link again (the last lease using it there is gone). */
  delRouter(link: string, router: string): Promise<void>
  /** A permanent neighbour entry: the home address at the MN's MAC on the link. */
  addNeighbour(link: string, address: string, mac: string): Promise<void>
  delNeighbour(link: string, address: string): Promise<void>
}

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: 10_000 }, (e, _out, err) => (e ? reject(new Error(`ip ${args.join(' ')}: ${String(err).trim() || e.message}`)) : resolve()))
  })
}

export const IPROUTE2_LINK_SETUP: LinkSetup = {
  addRouter: (link, router) => ip(['-4', 'addr', 'replace', `${router}/32`, 'dev', link]),
  delRouter: (link, router) => ip(['-4', 'addr', 'del', `${router}/32`, 'dev', link]),
  addNeighbour: (link, address, mac) => ip(['-4', 'neigh', 'replace', address, 'lladdr', mac, 'dev', link, 'nud', 'permanent']),
  delNeighbour: (link, address) => ip(['-4', 'neigh', 'del', address, 'dev', link]),
}

/** Sends a whole IPv4 packet in a frame to `mac` on access link `link`. */
export interface LinkSender {
  send(link: string, mac: string, ipv4: Buffer): void
  close(): void
}

/** A send-only packet socket (CAP_NET_RAW), opened on first use. */
export function packetLinkSender(): LinkSender {
  let sock: PacketSocket | null = null
  return {
    send: (link, mac, ipv4) => {
      sock ??= PacketSocket.open()
      sock.sendIpv4(ipv4, ifNameToIndex(link), parseMac(mac))
    },
    close: () => sock?.close(),
  }
}

export type Dhcp4Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void

export interface Dhcp4ServiceOptions {
  readonly port?: number
  readonly clientPort?: number
  readonly setup?: LinkSetup
  readonly log?: Dhcp4Log
  /** A client without a lease asked for an address (RFC 5844 §3.4.1): the agent tells the core. */
  readonly onRequested?: (r: Dhcp4Requested) => void
  /**
   * 'socket' (default): replies through the UDP socket, routed by the MAG's tables. 'link': as
   * frames on the lease's access link to the MN's MAC (see above).
   */
  readonly replyVia?: 'socket' | 'link'
  /** For 'link': how frames are sent; default a packet socket. */
  readonly linkSender?: LinkSender
}

export class Dhcp4Service {
  readonly server = new Dhcp4Server()
  readonly #sock: Socket
  readonly #setup: LinkSetup
  readonly #log: Dhcp4Log
  readonly #clientPort: number
  readonly #onRequested: ((r: Dhcp4Requested) => void) | undefined
  readonly #link: LinkSender | null
  #malformed = 0

  private constructor(sock: Socket, opts: Dhcp4ServiceOptions) {
    this.#sock = sock
    this.#setup = opts.setup ?? IPROUTE2_LINK_SETUP
    this.#log = opts.log ?? (() => undefined)
    this.#clientPort = opts.clientPort ?? CLIENT_PORT
    this.#onRequested = opts.onRequested
    this.#link = opts.replyVia === 'link' ? (opts.linkSender ?? packetLinkSender()) : null
    sock.on('message', (b) => this.#onMessage(b))
    sock.on('error', (e) => this.#log('error', 'dhcp4 socket error', { error: e.message }))
  }

  /** Binds 0.0.0.0:67 (root or CAP_NET_BIND_SERVICE). */
  static open(opts: Dhcp4ServiceOptions = {}): Promise<Dhcp4Service> {
    const sock = createSocket({ type: 'udp4', reuseAddr: true })
    return new Promise((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(opts.port ?? SERVER_PORT, '0.0.0.0', () => {
        sock.off('error', reject)
        sock.setBroadcast(true)
        resolve(new Dhcp4Service(sock, opts))
      })
    })
  }

  get counters(): Record<string, number> {
    return { ...this.server.counters, malformed: this.#malformed }
  }

  /** The narrow interface the agent fills from the core's IPv4 binding facts. */
  async setLease(l: Dhcp4Lease): Promise<void> {
    const old = this.server.lease(l.mnId)
    if (old !== undefined && (old.link !== l.link || old.address !== l.address)) await this.#setup.delNeighbour(old.link, old.address).catch(() => undefined)
    await this.#setup.addRouter(l.link, l.router)
    await this.#setup.addNeighbour(l.link, l.address, l.mac)
    this.server.setLease(l)
    if (old !== undefined && (old.link !== l.link || old.router !== l.router)) await this.#dropRouterIfUnused(old.link, old.router)
    this.#log('info', 'dhcp4 lease', { mnId: l.mnId, link: l.link, address: `${l.address}/${l.prefixLength}`, router: l.router })
  }

  async clearLease(mnId: string): Promise<void> {
    const l = this.server.lease(mnId)
    if (l === undefined) return
    this.server.clearLease(mnId)
    await this.#setup.delNeighbour(l.link, l.address).catch(() => undefined)
    await this.#dropRouterIfUnused(l.link, l.router)
    this.#log('info', 'dhcp4 lease gone', { mnId, link: l.link, address: l.address })
  }

  /**
   * The MAG is an MN's IPv4 default router only while the MN has an IPv4 binding (RFC 5844
   * §3.4): the router address leaves the access link with the last lease that names it there,
   * so a detach leaves no address (and no local route) behind.
   */
  async #dropRouterIfUnused(link: string, router: string): Promise<void> {
    if (this.server.leases().some((o) => o.link === link && o.router === router)) return
    await this.#setup.delRouter(link, router).catch((e: unknown) => this.#log('warn', 'dhcp4 router address not removed', { link, router, error: e instanceof Error ? e.message : String(e) }))
  }

  #onMessage(b: Buffer): void {
    let m
    try {
      m = decode(b)
    } catch (e) {
      if (!(e instanceof Dhcp4Error)) throw e
      this.#malformed++ // hostile input: counted and dropped
      this.#log('debug', 'dhcp4 malformed', { reason: e.reason, offset: e.offset })
      return
    }
    // Without the arrival interface the lease's own link stands (the MAC names the MN).
    const mac = m.hlen === 6 ? [...m.chaddr.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':') : ''
    const lease = this.server.leases().find((l) => l.mac === mac)
    const out: Dhcp4Outcome = this.server.handle(lease?.link ?? '', m)
    if (out.kind === 'drop') {
      this.#log('debug', 'dhcp4 dropped', { reason: out.reason, mac, ...(out.requested !== undefined ? { requested: out.requested.address } : {}) })
      if (out.requested !== undefined) this.#onRequested?.(out.requested)
      return
    }
    if (out.kind === 'noted') {
      this.#log(out.type === 'decline' ? 'warn' : 'info', `dhcp4 ${out.type}`, { mnId: out.mnId, address: out.address })
      return
    }
    const to = out.to.kind === 'unicast' ? out.to.address : lease!.address
    if (this.#link !== null) {
      // From the router address (the server identifier), on the lease's link, to its MN's MAC.
      try {
        this.#link.send(lease!.link, lease!.mac, udp4Packet(lease!.router, to, SERVER_PORT, this.#clientPort, encode(out.message)))
      } catch (e) {
        this.#log('warn', 'dhcp4 send failed', { mnId: out.mnId, to, link: lease!.link, error: e instanceof Error ? e.message : String(e) })
        return
      }
    } else {
      this.#sock.send(encode(out.message), this.#clientPort, to, (e) => {
        if (e) this.#log('warn', 'dhcp4 send failed', { mnId: out.mnId, to, error: e.message })
      })
    }
    this.#log('debug', `dhcp4 ${out.type}`, { mnId: out.mnId, to, ...(this.#link !== null ? { link: lease!.link } : {}) })
  }

  close(): Promise<void> {
    this.#link?.close()
    return new Promise((resolve) => this.#sock.close(() => resolve()))
  }
}
