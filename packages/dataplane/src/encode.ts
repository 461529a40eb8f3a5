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
/** Bytes an IPv6-in-IPv6 encapsulation adds (RFC 2473 §6.1, no encapsulation limit option). */
export const IPV6_IN_IPV6_OVERHEAD = 40
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

/** IFLA_LINKINFO payload for an ip6ip6 tunnel (`ip link add NAME type ip6tnl mode ip6ip6 local L remote R encaplimit none`). */
export function ip6tnlLinkInfo(local: string, remote: string, hopLimit = 64): Buffer {
  const data = Buffer.concat([
    nlattr(IFLA_IPTUN_LOCAL, parseIp6(local)),
    nlattr(IFLA_IPTUN_REMOTE, parseIp6(remote)),
    nlattr(IFLA_IPTUN_TTL, Buffer.from([hopLimit])),
    nlattr(IFLA_IPTUN_FLAGS, u32(IP6_TNL_F_IGN_ENCAP_LIMIT)),
    nlattr(IFLA_IPTUN_PROTO, Buffer.from([IPPROTO_IPV6])),
  ])
  return Buffer.concat([nlattr(IFLA_INFO_KIND, Buffer.from('ip6tnl\0', 'latin1')), nlattr(IFLA_INFO_DATA, data, true)])
}
