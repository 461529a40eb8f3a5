/**
 * Byte encoders for the rtnetlink attributes npm `netlink` 0.3.0 only carries as raw buffers:
 * the lightweight-tunnel encapsulations of a route (RTA_ENCAP) and the ip6tnl link info
 * (IFLA_LINKINFO). Pure: numbers in, Buffers out. Numbers come from the kernel's uapi headers
 * (named where each constant is defined).
 */
import { parseIp6 } from '@pmip6/wire'

/** linux/lwtunnel.h `enum lwtunnel_encap_types`. */
export const LWTUNNEL_ENCAP_SEG6 = 5
export const LWTUNNEL_ENCAP_SEG6_LOCAL = 7
/** linux/seg6_iptunnel.h */
export const SEG6_IPTUNNEL_SRH = 1
export const SEG6_IPTUN_MODE_ENCAP_RED = 3
/** linux/seg6.h: routing header type 4 (RFC 8754 §2). */
export const IPV6_SRCRT_TYPE_4 = 4
/** linux/seg6_local.h */
export const SEG6_LOCAL_ACTION = 1
export const SEG6_LOCAL_TABLE = 3
export const SEG6_LOCAL_NH4 = 4
export const SEG6_LOCAL_ACTION_END_DX4 = 6
export const SEG6_LOCAL_ACTION_END_DT6 = 7
/** linux/if_link.h: IFLA_INFO_* and IFLA_IPTUN_* (protocol-reference.md §9.3). */
export const IFLA_INFO_KIND = 1
export const IFLA_INFO_DATA = 2
export const IFLA_IPTUN_LOCAL = 2
export const IFLA_IPTUN_REMOTE = 3
export const IFLA_IPTUN_TTL = 4
export const IFLA_IPTUN_FLAGS = 8
export const IFLA_IPTUN_PROTO = 9
/** linux/ip6_tunnel.h: no Tunnel Encapsulation Limit option, so the overhead is exactly 40 bytes. */
export const IP6_TNL_F_IGN_ENCAP_LIMIT = 0x1
/** RFC 2473 §3: the next header of the outer packet for an IPv6 payload. */
export const IPPROTO_IPV6 = 41
/** RFC 2473 §3 / RFC 2003: the next header of the outer packet for an IPv4 payload (RFC 5844 §3 data plane). */
export const IPPROTO_IPIP = 4
/** ip6tnl `mode any`: IPv4 and IPv6 payloads on one device (linux/ip6_tunnel.c: proto 0). */
export const IP6TNL_PROTO_ANY = 0
/** Bytes an IPv6-in-IPv6 encapsulation adds (RFC 2473 §6.1, no encapsulation limit option). */
export const IPV6_IN_IPV6_OVERHEAD = 40
/** linux/if_link.h IFLA_INET6_ADDR_GEN_MODE and `enum in6_addr_gen_mode`: no link-local address. */
export const IFLA_INET6_ADDR_GEN_MODE = 8
export const IN6_ADDR_GEN_MODE_NONE = 1
/** Netlink marks nested attributes with this bit (linux/netlink.h NLA_F_NESTED). */
const NLA_F_NESTED = 0x8000

/** One netlink attribute: length, type, payload, padded to 4 bytes (linux/netlink.h NLA_ALIGN). */
export function nlattr(type: number, payload: Buffer, nested = false): Buffer {
  const len = 4 + payload.length
  const b = Buffer.alloc((len + 3) & ~3)
  b.writeUInt16LE(len, 0)
  b.writeUInt16LE(nested ? type | NLA_F_NESTED : type, 2)
  payload.copy(b, 4)
  return b
}

/**
 * IFLA_AF_SPEC of a device that makes no IPv6 link-local address of its own: a tunnel carries
 * the MNs' packets only, no router solicitations, MLD reports or DAD probes of the MAG's, and
 * the lab and tests need no namespace-wide addr_gen_mode. The kernel takes it on RTM_SETLINK,
 * not on create (EAFNOSUPPORT: the device has no IPv6 state yet), and while the device is down.
 */
export function noLinkLocalAfSpec(): Map<number, Buffer> {
  return new Map([[AF_INET6, nlattr(IFLA_INET6_ADDR_GEN_MODE, Buffer.from([IN6_ADDR_GEN_MODE_NONE]))]])
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v >>> 0)
  return b
}

/**
 * RTA_ENCAP payload for `encap seg6 mode encap.red segs <to>`: a single segment in reduced
 * mode means no routing header goes on the wire, only an outer IPv6 header with next header 41,
 * i.e. plain RFC 2473 IPv6-in-IPv6 (design.md, protocol-reference.md §12.1). The kernel still
 * wants the SRH in the request (struct seg6_iptunnel_encap { int mode; struct ipv6_sr_hdr srh; }).
 */
export function seg6EncapRed(to: string): Buffer {
  const srh = Buffer.alloc(8 + 16)
  srh[0] = 0 // next header: filled in by the kernel
  srh[1] = 2 // hdrlen: 16 bytes of segments in 8-octet units
  srh[2] = IPV6_SRCRT_TYPE_4
  srh[3] = 0 // segments left
  srh[4] = 0 // first segment (last entry index)
  parseIp6(to).copy(srh, 8)
  return nlattr(SEG6_IPTUNNEL_SRH, Buffer.concat([u32(SEG6_IPTUN_MODE_ENCAP_RED), srh]))
}

/** RTA_ENCAP payload for `encap seg6local action End.DT6 table <table>`: strip the outer header, look the inner one up. */
export function seg6LocalEndDt6(table: number): Buffer {
  return Buffer.concat([nlattr(SEG6_LOCAL_ACTION, u32(SEG6_LOCAL_ACTION_END_DT6)), nlattr(SEG6_LOCAL_TABLE, u32(table))])
}

/**
 * RTA_ENCAP payload for `encap seg6local action End.DX4 nh4 0.0.0.0`: strip the outer header and
 * route the inner IPv4 packet on its own destination (net/ipv6/seg6_local.c input_action_end_dx4:
 * a zero nh4 means the inner destination is the next hop), through the IPv4 policy rules.
 */
export function seg6LocalEndDx4(): Buffer {
  return Buffer.concat([nlattr(SEG6_LOCAL_ACTION, u32(SEG6_LOCAL_ACTION_END_DX4)), nlattr(SEG6_LOCAL_NH4, Buffer.alloc(4))])
}

/**
 * IFLA_LINKINFO payload for an ip6tnl tunnel (`ip link add NAME type ip6tnl mode ip6ip6 local L
 * remote R encaplimit none`); `proto` IP6TNL_PROTO_ANY makes it `mode any` (IPv4 too, RFC 5844).
 */
export function ip6tnlLinkInfo(local: string, remote: string, hopLimit = 64, proto = IPPROTO_IPV6): Buffer {
  const data = Buffer.concat([
    nlattr(IFLA_IPTUN_LOCAL, parseIp6(local)),
    nlattr(IFLA_IPTUN_REMOTE, parseIp6(remote)),
    nlattr(IFLA_IPTUN_TTL, Buffer.from([hopLimit])),
    nlattr(IFLA_IPTUN_FLAGS, u32(IP6_TNL_F_IGN_ENCAP_LIMIT)),
    nlattr(IFLA_IPTUN_PROTO, Buffer.from([proto])),
  ])
  return Buffer.concat([nlattr(IFLA_INFO_KIND, Buffer.from('ip6tnl\0', 'latin1')), nlattr(IFLA_INFO_DATA, data, true)])
}

/** linux/if_tunnel.h `enum { IFLA_GRE_UNSPEC, IFLA_GRE_LINK, ... }`: the ip6gre link attributes we set. */
export const IFLA_GRE_IFLAGS = 2
export const IFLA_GRE_OFLAGS = 3
export const IFLA_GRE_IKEY = 4
export const IFLA_GRE_OKEY = 5
export const IFLA_GRE_LOCAL = 6
export const IFLA_GRE_REMOTE = 7
export const IFLA_GRE_TTL = 8
export const IFLA_GRE_FLAGS = 13
/** linux/if_tunnel.h GRE_KEY (`__cpu_to_be16(0x2000)`): the Key Present bit of RFC 2890 §2. */
export const GRE_KEY = 0x2000
/** RFC 2784 §2 / RFC 5845 §3: IP protocol number of GRE (the outer Next Header). */
export const IPPROTO_GRE = 47

/** A 16-bit value in network byte order (the `__be16` GRE flag attributes). */
function be16(v: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(v)
  return b
}
/** A 32-bit value in network byte order (the `__be32` GRE keys). */
function be32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(v >>> 0)
  return b
}

/**
 * IFLA_LINKINFO payload for an ip6gre device with keys (`ip link add NAME type ip6gre local L
 * remote R ikey I okey O encaplimit none`, RFC 5845 §3): the Key Present bit on both directions,
 * keys in network byte order. The kernel's changelink reads every parameter from the request,
 * so a key change sends the whole set again (NetlinkRtnl.changeGreLink).
 */
export function ip6greLinkInfo(local: string, remote: string, ikey: number, okey: number, hopLimit = 64): Buffer {
  const data = Buffer.concat([
    nlattr(IFLA_GRE_IFLAGS, be16(GRE_KEY)),
    nlattr(IFLA_GRE_OFLAGS, be16(GRE_KEY)),
    nlattr(IFLA_GRE_IKEY, be32(ikey)),
    nlattr(IFLA_GRE_OKEY, be32(okey)),
    nlattr(IFLA_GRE_LOCAL, parseIp6(local)),
    nlattr(IFLA_GRE_REMOTE, parseIp6(remote)),
    nlattr(IFLA_GRE_TTL, Buffer.from([hopLimit])),
    nlattr(IFLA_GRE_FLAGS, u32(IP6_TNL_F_IGN_ENCAP_LIMIT)),
  ])
  return Buffer.concat([nlattr(IFLA_INFO_KIND, Buffer.from('ip6gre\0', 'latin1')), nlattr(IFLA_INFO_DATA, data, true)])
}

// ---------------------------------------------------------------- whole rule and route messages
// The hot path (a few objects per binding) is encoded here and sent in batches (batch.ts);
// numbers from linux/rtnetlink.h and linux/fib_rules.h.

/** linux/rtnetlink.h message types. */
export const RTM_NEWROUTE = 24
export const RTM_DELROUTE = 25
export const RTM_NEWRULE = 32
export const RTM_DELRULE = 33
/** linux/netlink.h */
export const NLM_F_REQUEST = 0x1
export const NLM_F_ACK = 0x4
export const NLM_F_EXCL = 0x200
export const NLM_F_CREATE = 0x400
export const NLMSG_ERROR = 2
export const NLMSG_HDRLEN = 16
/** linux/socket.h */
export const AF_INET6 = 10
const AF_INET = 2
/** rtattr types (linux/rtnetlink.h enum rtattr_type_t). */
const RTA_DST = 1
const RTA_SRC = 2
const RTA_OIF = 4
const RTA_METRICS = 8
const RTA_TABLE = 15
const RTA_ENCAP_TYPE = 21
const RTA_ENCAP = 22
const RTAX_MTU = 2
const RTN_UNICAST = 1
const RT_SCOPE_UNIVERSE = 0
/** linux/fib_rules.h */
const FRA_DST = 1
const FRA_SRC = 2
const FRA_IIFNAME = 3
const FRA_PRIORITY = 6
const FRA_TABLE = 15
const FRA_PROTOCOL = 21
const FRA_IP_PROTO = 22
export const FR_ACT_TO_TBL = 1
export const FR_ACT_BLACKHOLE = 6

const MSG_SCRATCH = Buffer.alloc(512)

/**
 * Builds one netlink message in a single buffer: header space first (filled in when it is
 * sent, see batch.ts), then the family header and the attributes, padded to 4 bytes.
 */
class MsgWriter {
  /**
   * One scratch buffer for every message, copied out at its exact length by done(): a 512-byte
   * buffer per message took a fresh 8 KiB pool slab every 16 routes of a storm (issue 23).
   * Messages are built synchronously, one at a time.
   */
  private readonly b = MSG_SCRATCH
  private off = NLMSG_HDRLEN

  zeros(n: number): void {
    this.b.fill(0, this.off, this.off + n)
    this.off += n
  }
  setU8(at: number, v: number): void {
    this.b[NLMSG_HDRLEN + at] = v
  }
  private head(type: number, len: number): number {
    const at = this.off
    this.b.writeUInt16LE(len, at)
    this.b.writeUInt16LE(type, at + 2)
    const padded = (len + 3) & ~3
    this.b.fill(0, at + len, at + padded)
    this.off += padded
    return at + 4
  }
  u8(type: number, v: number): void {
    this.b[this.head(type, 5)] = v
  }
  u16(type: number, v: number): void {
    this.b.writeUInt16LE(v, this.head(type, 6))
  }
  u32(type: number, v: number): void {
    this.b.writeUInt32LE(v >>> 0, this.head(type, 8))
  }
  bytes(type: number, v: Uint8Array): void {
    this.b.set(v, this.head(type, 4 + v.length))
  }
  str(type: number, v: string): void {
    const at = this.head(type, 4 + Buffer.byteLength(v, 'latin1') + 1)
    this.b.write(v, at, 'latin1')
    this.b[at + v.length] = 0
  }
  /** A nested attribute holding pre-encoded attributes. */
  nested(type: number, inner: Uint8Array): void {
    this.b.set(inner, this.head(type | NLA_F_NESTED, 4 + inner.length))
  }
  done(): Buffer {
    return Buffer.from(this.b.subarray(0, this.off))
  }
}

/** What a rule message carries (struct fib_rule_hdr + FRA_* attributes). */
export interface RuleFields {
  readonly priority: number
  readonly action: 'lookup' | 'blackhole'
  readonly table?: number
  readonly src?: { readonly bytes: Uint8Array; readonly length: number }
  readonly dst?: { readonly bytes: Uint8Array; readonly length: number }
  readonly iif?: string
  readonly ipProto?: number
  /** Set on adds so leftovers can be told apart (FRA_PROTOCOL). */
  readonly protocol?: number
  /** 4: an IPv4 rule (RFC 5844 data plane); default 6. */
  readonly family?: 4 | 6
}

/** RTM_NEWRULE / RTM_DELRULE message, with room for the netlink header in front. */
export function ruleMsg(r: RuleFields): Buffer {
  const w = new MsgWriter()
  w.zeros(12) // struct fib_rule_hdr
  w.setU8(0, r.family === 4 ? AF_INET : AF_INET6)
  w.setU8(1, r.dst?.length ?? 0)
  w.setU8(2, r.src?.length ?? 0)
  w.setU8(7, r.action === 'lookup' ? FR_ACT_TO_TBL : FR_ACT_BLACKHOLE)
  w.u32(FRA_PRIORITY, r.priority)
  if (r.action === 'lookup' && r.table !== undefined) w.u32(FRA_TABLE, r.table)
  if (r.src) w.bytes(FRA_SRC, r.src.bytes)
  if (r.dst) w.bytes(FRA_DST, r.dst.bytes)
  if (r.iif !== undefined) w.str(FRA_IIFNAME, r.iif)
  if (r.ipProto !== undefined) w.u8(FRA_IP_PROTO, r.ipProto)
  if (r.protocol !== undefined) w.u8(FRA_PROTOCOL, r.protocol)
  return w.done()
}

/** What a route message carries (struct rtmsg + RTA_* attributes). */
export interface RouteFields {
  readonly table: number
  readonly dst: { readonly bytes: Uint8Array; readonly length: number }
  readonly src?: { readonly bytes: Uint8Array; readonly length: number }
  readonly oif: number
  readonly protocol: number
  /** RTA_ENCAP_TYPE and the RTA_ENCAP payload. */
  readonly encap?: { readonly type: number; readonly data: Uint8Array }
  readonly mtu?: number
  /** 4: an IPv4 route; default 6. */
  readonly family?: 4 | 6
}

const mtuMetric = (mtu: number): Buffer => nlattr(RTAX_MTU, u32(mtu))

/** RTM_NEWROUTE / RTM_DELROUTE message, with room for the netlink header in front. */
export function routeMsg(r: RouteFields): Buffer {
  const w = new MsgWriter()
  w.zeros(12) // struct rtmsg; table RT_TABLE_UNSPEC: the table is in RTA_TABLE
  w.setU8(0, r.family === 4 ? AF_INET : AF_INET6)
  w.setU8(1, r.dst.length)
  w.setU8(2, r.src?.length ?? 0)
  w.setU8(5, r.protocol)
  w.setU8(6, RT_SCOPE_UNIVERSE)
  w.setU8(7, RTN_UNICAST)
  w.u32(RTA_TABLE, r.table)
  if (r.dst.length > 0) w.bytes(RTA_DST, r.dst.bytes)
  if (r.src && r.src.length > 0) w.bytes(RTA_SRC, r.src.bytes)
  w.u32(RTA_OIF, r.oif)
  if (r.encap) {
    w.u16(RTA_ENCAP_TYPE, r.encap.type)
    w.nested(RTA_ENCAP, r.encap.data)
  }
  if (r.mtu !== undefined) w.nested(RTA_METRICS, mtuMetric(r.mtu))
  return w.done()
}

/** Fills in the struct nlmsghdr at the front of a message from ruleMsg/routeMsg. */
export function setNlmsgHeader(msg: Buffer, type: number, flags: number, seq: number, port: number): void {
  msg.writeUInt32LE(msg.length, 0)
  msg.writeUInt16LE(type, 4)
  msg.writeUInt16LE(flags, 6)
  msg.writeUInt32LE(seq >>> 0, 8)
  msg.writeUInt32LE(port >>> 0, 12)
}

/** A whole netlink message: struct nlmsghdr, then the payload. */
export function nlmsg(type: number, flags: number, seq: number, port: number, body: Buffer): Buffer {
  const h = Buffer.alloc(NLMSG_HDRLEN)
  h.writeUInt32LE(NLMSG_HDRLEN + body.length, 0)
  h.writeUInt16LE(type, 4)
  h.writeUInt16LE(flags, 6)
  h.writeUInt32LE(seq >>> 0, 8)
  h.writeUInt32LE(port >>> 0, 12)
  return Buffer.concat([h, body])
}
