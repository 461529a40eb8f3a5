/**
 * A DHCPv4 reply as a whole IPv4/UDP packet, for a packet socket on the MN's access link
 * (service.ts, `replyVia: 'link'`). A UDP socket sends a reply where the MAG's routes say; two
 * MNs at one MAG holding the same IPv4 home address (RFC 5845: GRE keys tell their flows apart)
 * have no route of their own to it in the MAG's main table, and one address could not name two
 * links anyway. The lease names the link and the MAC: the frame goes there. Pure.
 */
import { internetSum } from '@pmip6/wire'
import { ip4 } from './codec'

/** IPv4 header without options (RFC 791 §3.1). */
export const IPV4_HEADER_LENGTH = 20
export const UDP_HEADER_LENGTH = 8
export const IPPROTO_UDP = 17
/** Time to live of the replies: the MN is one hop away; 64 as the kernel's default. */
export const REPLY_TTL = 64

/**
 * The IPv4 packet (RFC 791) carrying `payload` in UDP (RFC 768) from src:sport to dst:dport,
 * with its header checksum and its UDP checksum over the pseudo-header (0 sent as 0xffff).
 */
export function udp4Packet(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Buffer {
  const udpLen = UDP_HEADER_LENGTH + payload.length
  const total = IPV4_HEADER_LENGTH + udpLen
  if (total > 0xffff) throw new RangeError(`UDP payload of ${payload.length} bytes does not fit an IPv4 packet`)
  const b = Buffer.alloc(total)
  const s = ip4(src)
  const d = ip4(dst)
  b[0] = 0x45 // version 4, 5 words of header
  b.writeUInt16BE(total, 2)
  b[8] = REPLY_TTL
  b[9] = IPPROTO_UDP
  b.set(s, 12)
  b.set(d, 16)
  b.writeUInt16BE(~internetSum(b.subarray(0, IPV4_HEADER_LENGTH)) & 0xffff, 10)
  const u = b.subarray(IPV4_HEADER_LENGTH)
  u.writeUInt16BE(sport, 0)
  u.writeUInt16BE(dport, 2)
  u.writeUInt16BE(udpLen, 4)
  u.set(payload, UDP_HEADER_LENGTH)
  // Pseudo-header (RFC 768): source, destination, zero, protocol, UDP length.
  const pseudo = internetSum(s) + internetSum(d) + IPPROTO_UDP + udpLen
  const c = ~internetSum(u, pseudo) & 0xffff
  u.writeUInt16BE(c === 0 ? 0xffff : c, 6)
  return b
}
