/**
 * One captured frame to what a ladder needs: link layer (Ethernet, Linux cooked v1/v2, raw IP),
 * the IPv6 header and its extension headers (RFC 8200 §4), and the upper layer decoded with the
 * project's own codecs: Mobility Header (@pmip6/wire mh), Router Solicitation/Advertisement
 * (@pmip6/wire nd), DHCPv6 (@pmip6/dhcp6-relay), ICMPv6 errors and echo (RFC 4443), and
 * IPv6-in-IPv6 (RFC 2473) recursively. A packet our codecs reject is kept, with the reason.
 *
 * Left out: IPv4 payloads beyond their addresses and protocol, fragment reassembly (a
 * non-first fragment is reported as such), ESP contents.
 */
import { formatIp6, formatMac, mh, nd, WireError, type MhMessage, type NdMessage } from '@pmip6/wire'
import { Dhcp6Error, decodeChain, type ClientServerMessage, type RelayMessage } from '@pmip6/dhcp6-relay'
import { LINKTYPE_ETHERNET, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from './pcapng'

const ETHERTYPE_IPV6 = 0x86dd
const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_VLAN = 0x8100
const ETHERTYPE_QINQ = 0x88a8

/** Next Header values (IANA protocol numbers) the dissector walks or names. */
const NH = { HOPOPT: 0, IPV4: 4, TCP: 6, UDP: 17, IPV6: 41, ROUTING: 43, FRAGMENT: 44, ESP: 50, AH: 51, ICMPV6: 58, NONE: 59, DSTOPTS: 60, MH: 135 } as const

/** ICMPv6 types (RFC 4443 §2.1, RFC 4861 §4). */
const ICMP6 = { DEST_UNREACH: 1, PACKET_TOO_BIG: 2, TIME_EXCEEDED: 3, PARAM_PROBLEM: 4, ECHO_REQUEST: 128, ECHO_REPLY: 129, RS: 133, RA: 134, NS: 135, NA: 136, REDIRECT: 137 } as const

const DHCP6_CLIENT_PORT = 546
const DHCP6_SERVER_PORT = 547

export type Upper =
  | { readonly kind: 'mh'; readonly msg: MhMessage }
  | { readonly kind: 'nd'; readonly msg: NdMessage }
  | { readonly kind: 'ns' | 'na'; readonly target: string }
  | { readonly kind: 'echo'; readonly reply: boolean; readonly id: number; readonly seq: number }
  | { readonly kind: 'icmp-error'; readonly type: number; readonly code: number; readonly value: number }
  | { readonly kind: 'icmp-other'; readonly type: number; readonly code: number }
  | { readonly kind: 'dhcp6'; readonly relays: readonly RelayMessage[]; readonly msg: ClientServerMessage }
  | { readonly kind: 'udp'; readonly sport: number; readonly dport: number }
  | { readonly kind: 'tcp'; readonly sport: number; readonly dport: number }
  | { readonly kind: 'tunnel'; readonly inner: Ip }
  | { readonly kind: 'esp'; readonly spi: number; readonly seq: number }
  | { readonly kind: 'fragment'; readonly offset: number }
  | { readonly kind: 'other'; readonly proto: number }
  | { readonly kind: 'undecodable'; readonly what: string; readonly reason: string }

export interface Ip {
  readonly version: 4 | 6
  readonly src: string
  readonly dst: string
  readonly hopLimit: number
  readonly upper: Upper
}

export interface Frame {
  readonly srcMac?: string
  readonly dstMac?: string
  /** null: not IP (ARP, LLDP...), or an IP header we could not read. */
  readonly ip: Ip | null
  /** Why `ip` is null when the frame claimed to be IP. */
  readonly error?: string
}

function why(e: unknown): string {
  if (e instanceof WireError || e instanceof Dhcp6Error) return e.message
  throw e
}

function ipv4(b: Buffer, off: number): Ip | null {
  if (b.length - off < 20) return null
  const ihl = (b[off]! & 0x0f) * 4
  const addr = (o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`
  const proto = b[off + 9]!
  const upper: Upper = proto === NH.IPV6 ? { kind: 'tunnel', inner: ipv6(b, off + ihl) ?? undecodableInner() } : { kind: 'other', proto }
  return { version: 4, src: addr(off + 12), dst: addr(off + 16), hopLimit: b[off + 8]!, upper }
}

function undecodableInner(): Ip {
  return { version: 6, src: '?', dst: '?', hopLimit: 0, upper: { kind: 'undecodable', what: 'inner packet', reason: 'truncated' } }
}

function icmp6(b: Buffer, off: number, end: number): Upper {
  if (end - off < 4) return { kind: 'undecodable', what: 'icmpv6', reason: 'shorter than its header' }
  const type = b[off]!
  const code = b[off + 1]!
  switch (type) {
    case ICMP6.RS:
    case ICMP6.RA:
      try {
        return { kind: 'nd', msg: nd.decode(b, off, end) }
      } catch (e) {
        return { kind: 'undecodable', what: type === ICMP6.RS ? 'router solicitation' : 'router advertisement', reason: why(e) }
      }
    case ICMP6.NS:
    case ICMP6.NA:
      if (end - off < 24) return { kind: 'undecodable', what: type === ICMP6.NS ? 'neighbor solicitation' : 'neighbor advertisement', reason: 'too short' }
      return { kind: type === ICMP6.NS ? 'ns' : 'na', target: formatIp6(b, off + 8) }
    case ICMP6.ECHO_REQUEST:
    case ICMP6.ECHO_REPLY:
      if (end - off < 8) return { kind: 'undecodable', what: 'echo', reason: 'too short' }
      return { kind: 'echo', reply: type === ICMP6.ECHO_REPLY, id: b.readUInt16BE(off + 4), seq: b.readUInt16BE(off + 6) }
    case ICMP6.DEST_UNREACH:
    case ICMP6.PACKET_TOO_BIG:
    case ICMP6.TIME_EXCEEDED:
    case ICMP6.PARAM_PROBLEM:
      if (end - off < 8) return { kind: 'undecodable', what: 'icmpv6 error', reason: 'too short' }
      return { kind: 'icmp-error', type, code, value: b.readUInt32BE(off + 4) }
    default:
      return { kind: 'icmp-other', type, code }
  }
}

function udp(b: Buffer, off: number, end: number): Upper {
  if (end - off < 8) return { kind: 'undecodable', what: 'udp', reason: 'shorter than its header' }
  const sport = b.readUInt16BE(off)
  const dport = b.readUInt16BE(off + 2)
  const dhcp = [DHCP6_CLIENT_PORT, DHCP6_SERVER_PORT]
  if (dhcp.includes(sport) && dhcp.includes(dport)) {
    try {
      const { relays, message } = decodeChain(b.subarray(off + 8, end))
      return { kind: 'dhcp6', relays, msg: message }
    } catch (e) {
      return { kind: 'undecodable', what: 'dhcpv6', reason: why(e) }
    }
  }
  return { kind: 'udp', sport, dport }
}

function ipv6(b: Buffer, off: number): Ip | null {
  if (b.length - off < 40 || b[off]! >> 4 !== 6) return null
  const src = formatIp6(b, off + 8)
  const dst = formatIp6(b, off + 24)
  const hopLimit = b[off + 7]!
  const end = Math.min(b.length, off + 40 + b.readUInt16BE(off + 4))
  let nh = b[off + 6]!
  let p = off + 40
  const done = (upper: Upper): Ip => ({ version: 6, src, dst, hopLimit, upper })
  // Extension headers in any order (RFC 8200 §4.1 only recommends one), each bounded by `end`.
  for (let guard = 0; guard < 16; guard++) {
    switch (nh) {
      case NH.HOPOPT:
      case NH.ROUTING:
      case NH.DSTOPTS: {
        if (end - p < 8) return done({ kind: 'undecodable', what: 'extension header', reason: 'truncated' })
        const next = b[p]!
        p += (b[p + 1]! + 1) * 8
        nh = next
        continue
      }
      case NH.FRAGMENT: {
        if (end - p < 8) return done({ kind: 'undecodable', what: 'fragment header', reason: 'truncated' })
        const fo = b.readUInt16BE(p + 2) >> 3
        if (fo !== 0) return done({ kind: 'fragment', offset: fo * 8 })
        nh = b[p]!
        p += 8
        continue
      }
      case NH.MH:
        try {
          return done({ kind: 'mh', msg: mh.decode(b, p, end) })
        } catch (e) {
          return done({ kind: 'undecodable', what: 'mobility header', reason: why(e) })
        }
      case NH.ICMPV6:
        return done(icmp6(b, p, end))
      case NH.UDP:
        return done(udp(b, p, end))
      case NH.TCP:
        return done(end - p < 4 ? { kind: 'undecodable', what: 'tcp', reason: 'truncated' } : { kind: 'tcp', sport: b.readUInt16BE(p), dport: b.readUInt16BE(p + 2) })
      case NH.IPV6: {
        const inner = ipv6(b.subarray(0, end), p)
        return done(inner ? { kind: 'tunnel', inner } : { kind: 'undecodable', what: 'inner IPv6 packet', reason: 'truncated' })
      }
      case NH.IPV4: {
        const inner = ipv4(b.subarray(0, end), p)
        return done(inner ? { kind: 'tunnel', inner } : { kind: 'undecodable', what: 'inner IPv4 packet', reason: 'truncated' })
      }
      case NH.ESP:
        return done(end - p < 8 ? { kind: 'undecodable', what: 'esp', reason: 'truncated' } : { kind: 'esp', spi: b.readUInt32BE(p), seq: b.readUInt32BE(p + 4) })
      default:
        return done({ kind: 'other', proto: nh })
    }
  }
  return done({ kind: 'undecodable', what: 'extension headers', reason: 'more than 16' })
}

function ip(b: Buffer, off: number, ethertype: number | null): Frame['ip'] {
  const v = ethertype === ETHERTYPE_IPV6 ? 6 : ethertype === ETHERTYPE_IPV4 ? 4 : ethertype === null ? (b[off] ?? 0) >> 4 : 0
  if (v === 6) return ipv6(b, off)
  if (v === 4) return ipv4(b, off)
  return null
}

/** Dissects one frame of the given link type. Never throws on packet contents. */
export function dissect(linkType: number, b: Buffer): Frame {
  let off = 0
  let ethertype: number | null = null
  let srcMac: string | undefined
  let dstMac: string | undefined
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (b.length < 14) return { ip: null, error: 'ethernet frame too short' }
      dstMac = formatMac(b, 0, 6)
      srcMac = formatMac(b, 6, 6)
      ethertype = b.readUInt16BE(12)
      off = 14
      while ((ethertype === ETHERTYPE_VLAN || ethertype === ETHERTYPE_QINQ) && b.length >= off + 4) {
        ethertype = b.readUInt16BE(off + 2)
        off += 4
      }
      break
    case LINKTYPE_LINUX_SLL:
      if (b.length < 16) return { ip: null, error: 'cooked header too short' }
      if (b.readUInt16BE(4) === 6) srcMac = formatMac(b, 6, 6)
      ethertype = b.readUInt16BE(14)
      off = 16
      break
    case LINKTYPE_LINUX_SLL2:
      if (b.length < 20) return { ip: null, error: 'cooked v2 header too short' }
      ethertype = b.readUInt16BE(0)
      if (b[11] === 6) srcMac = formatMac(b, 12, 6)
      off = 20
      break
    case LINKTYPE_RAW:
    case LINKTYPE_IPV6:
      break
    default:
      return { ip: null, error: `link type ${linkType} not supported` }
  }
  const packet = ip(b, off, ethertype)
  const claimedIp = ethertype === null || ethertype === ETHERTYPE_IPV6 || ethertype === ETHERTYPE_IPV4
  return { ...(srcMac ? { srcMac } : {}), ...(dstMac ? { dstMac } : {}), ip: packet, ...(packet === null && claimedIp ? { error: 'IP header truncated' } : {}) }
}
