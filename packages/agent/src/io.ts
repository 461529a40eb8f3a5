/**
 * The daemon's packet I/O, behind a small interface so the daemon can run on real raw sockets
 * (production, labs, e2e tests) or on an in-memory link (benchmarks of the daemon alone).
 * The real one: one raw IPPROTO_MH socket for signalling, one ICMPv6 socket filtered to RS
 * (the MAG does not process RAs) with the ff02::2 membership on each access link
 * (protocol-reference §9.2), and to Packet Too Big (RFC 5213 §6.9.5: the path MTU to each LMA).
 */
import { networkInterfaces } from 'node:os'
import { openIcmp6Socket, openMhSocket, ifNameToIndex, ifIndexToName, ipv6Packet, parseMac, PacketSocket, IPV6_HEADER_LENGTH, type RawSocket, type RawMessage, type SendOptions } from '@pmip6/rawsock'
import { parseIp6, setIcmp6Checksum, IPPROTO_ICMPV6 } from '@pmip6/wire'

export interface Packet {
  readonly data: Buffer
  readonly src: string
  readonly dst: string
  /** Name of the interface it arrived on; '' when unknown (gone by the time it was read). */
  readonly link: string
  readonly hopLimit: number
}

export interface MagIo {
  sendMh(bytes: Buffer, dst: string, src: string): void
  /**
   * An ND message on an access link. `llDst` (a MAC) on a shared link: the frame goes to that
   * station only, whatever the IPv6 destination (RFC 6085), so no other MN hears the prefixes.
   */
  sendNd(bytes: Buffer, link: string, dst: string, src: string, llDst?: string | null): void
  /** An ICMPv6 error (RFC 4443) routed like any unicast packet. */
  sendIcmp(bytes: Buffer, dst: string, src: string): void
  onMh(fn: (p: Packet) => void): void
  onNd(fn: (p: Packet) => void): void
  /** Starts hearing RSs on an access link (idempotent). */
  addLink(link: string): void
  removeLink(link: string): void
  close(): void
}

const ALL_ROUTERS = 'ff02::2' // RFC 4291 §2.7.1: RSs go here
const ND_HOP_LIMIT = 255 // RFC 4861 §6.1.2
const ICMP6_ROUTER_SOLICIT = 133
const ICMP6_PACKET_TOO_BIG = 2 // RFC 4443 §3.2
const MH_RECEIVE_BUFFER = 32 << 20
const ND_RECEIVE_BUFFER = 4 << 20
/**
 * How long an interface index keeps the name it was last seen with: the name decides whether
 * signalling is taken (ingress.ts), one if_indextoname() per interface and second costs
 * nothing, and an interface renamed (or a PPP unit gone) is seen again within it.
 */
const IFNAME_CACHE_MS = 1_000

export class RawIo implements MagIo {
  private readonly mh: RawSocket
  private readonly icmp: RawSocket
  private readonly links = new Map<string, number>()
  private readonly names = new Map<number, string>()
  private mhSrc = ''
  private mhOpts: SendOptions = {}
  private readonly ifnames = new Map<number, { name: string; at: number }>()
  /** Opened on the first RA to one station of a shared link (needs CAP_NET_RAW, as the raw sockets do). */
  private packet: PacketSocket | null = null
  /** The link-local address of each shared access link, the source of RAs sent in frames. */
  private readonly linkLocals = new Map<string, Buffer>()

  constructor() {
    // Room for a registration storm's PBAs and an RS flood between two reads (issue 8).
    this.mh = openMhSocket({ receiveBuffer: MH_RECEIVE_BUFFER })
    try {
      this.icmp = openIcmp6Socket({ types: [ICMP6_ROUTER_SOLICIT, ICMP6_PACKET_TOO_BIG], receiveBuffer: ND_RECEIVE_BUFFER })
    } catch (e) {
      this.mh.close()
      throw e
    }
  }

  sendMh(bytes: Buffer, dst: string, src: string): void {
    // Always the MAG's address: the options object is made once, not per PBU.
    if (src !== this.mhSrc) {
      this.mhSrc = src
      this.mhOpts = src && src !== '::' ? { src } : {}
    }
    this.mh.send(bytes, dst, this.mhOpts)
  }

  sendNd(bytes: Buffer, link: string, dst: string, src: string, llDst?: string | null): void {
    const ifindex = this.links.get(link) ?? ifNameToIndex(link)
    if (llDst !== undefined && llDst !== null) return this.sendNdFrame(bytes, link, ifindex, dst, src, llDst)
    this.icmp.send(bytes, dst, { ifindex, hopLimit: ND_HOP_LIMIT, ...(src && src !== '::' ? { src } : {}) })
  }

  /**
   * The IPv6 packet built here (the kernel's raw socket would pick the source and the frame
   * address), in a frame to `llDst`. The source is the configured one or the link's own
   * link-local address (RFC 4861 §6.1.2: an RA from anything else is dropped by the host).
   */
  private sendNdFrame(bytes: Buffer, link: string, ifindex: number, dst: string, src: string, llDst: string): void {
    const from = src && src !== '::' ? parseIp6(src) : this.linkLocalOf(link)
    const to = parseIp6(dst)
    // The payload is copied into the packet once; its checksum is written there.
    const pkt = ipv6Packet(from, to, IPPROTO_ICMPV6, ND_HOP_LIMIT, bytes)
    setIcmp6Checksum(pkt.subarray(IPV6_HEADER_LENGTH), from, to)
    this.packet ??= PacketSocket.open()
    this.packet.sendIpv6(pkt, ifindex, parseMac(llDst))
  }

  private linkLocalOf(link: string): Buffer {
    const known = this.linkLocals.get(link)
    if (known !== undefined) return known
    const ll = (networkInterfaces()[link] ?? []).find((a) => a.family === 'IPv6' && /^fe80:/i.test(a.address) && a.scopeid !== undefined && a.scopeid !== 0)
    if (ll === undefined) throw new Error(`access link ${link} has no IPv6 link-local address yet (an RA needs one as its source)`)
    const bytes = parseIp6(ll.address.replace(/%.*$/, ''))
    this.linkLocals.set(link, bytes)
    return bytes
  }

  sendIcmp(bytes: Buffer, dst: string, src: string): void {
    this.icmp.send(bytes, dst, src && src !== '::' ? { src } : {})
  }

  onMh(fn: (p: Packet) => void): void {
    // The arrival interface decides whether signalling is taken (ingress.ts): its name, cached.
    this.mh.onMessage((m: RawMessage) => fn({ data: m.data, src: m.src, dst: m.dst, link: this.cachedName(m.ifindex), hopLimit: m.hopLimit }))
  }

  /** RSs and Packet Too Big messages (the first byte, the ICMPv6 type, tells them apart). */
  onNd(fn: (p: Packet) => void): void {
    this.icmp.onMessage((m: RawMessage) => fn({ data: m.data, src: m.src, dst: m.dst, link: this.nameOf(m.ifindex), hopLimit: m.hopLimit }))
  }

  addLink(link: string): void {
    const ifindex = ifNameToIndex(link)
    const known = this.links.get(link)
    if (known === ifindex) return
    // The same name on a new interface: pppd makes a fresh pppN (new index) per session.
    if (known !== undefined) this.removeLink(link)
    this.icmp.joinGroup(ALL_ROUTERS, ifindex)
    this.links.set(link, ifindex)
    this.names.set(ifindex, link)
  }

  removeLink(link: string): void {
    const ifindex = this.links.get(link)
    if (ifindex === undefined) return
    try {
      this.icmp.leaveGroup(ALL_ROUTERS, ifindex)
    } catch {
      // the interface may be gone already
    }
    this.links.delete(link)
    this.names.delete(ifindex)
    this.linkLocals.delete(link)
  }

  close(): void {
    this.mh.close()
    this.icmp.close()
    this.packet?.close()
  }

  private cachedName(ifindex: number): string {
    const now = Date.now()
    const c = this.ifnames.get(ifindex)
    if (c !== undefined && now - c.at < IFNAME_CACHE_MS) return c.name
    const name = this.nameOf(ifindex)
    // Bounded: interfaces come and go (PPP units); drop the lot rather than keep stale ones.
    if (this.ifnames.size >= 1024) this.ifnames.clear()
    this.ifnames.set(ifindex, { name, at: now })
    return name
  }

  private nameOf(ifindex: number): string {
    const known = this.names.get(ifindex)
    if (known !== undefined) return known
    try {
      return ifIndexToName(ifindex)
    } catch {
      return ''
    }
  }
}
