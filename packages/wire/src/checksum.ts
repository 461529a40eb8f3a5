/**
 * Internet checksum over the IPv6 pseudo-header (RFC 8200 §8.1): used for the Mobility
 * Header (next header 135, checksum at offset 4; RFC 6275 §6.1.1) and ICMPv6 (58, offset 2).
 * On Linux raw sockets the kernel fills both in; this is for captures, tests and peers.
 */
export const IPPROTO_ICMPV6 = 58
export const IPPROTO_MH = 135

/**
 * The RFC 1071 sum of `b` added to `start`: 16-bit big-endian words (an odd last byte padded
 * with zero), carries folded back in; not complemented. IPv4 and UDP (dhcp4) use it too.
 */
export function internetSum(b: Uint8Array, start = 0): number {
  let sum = start
  const len = b.length
  const even = len & ~1
  for (let i = 0; i < even; i += 2) sum += (b[i]! << 8) | b[i + 1]!
  if (len & 1) sum += b[len - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return sum
}

export function pseudoHeaderChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < 16; i += 2) sum += ((src[i]! << 8) | src[i + 1]!) + ((dst[i]! << 8) | dst[i + 1]!)
  const len = payload.length
  sum += (len >>> 16) + (len & 0xffff) + nextHeader
  return ~internetSum(payload, sum) & 0xffff
}

/** Computes and writes the MH checksum of `mh` (the checksum field is zeroed first). */
export function setMhChecksum(mh: Buffer, src: Uint8Array, dst: Uint8Array): number {
  mh.writeUInt16BE(0, 4)
  const c = pseudoHeaderChecksum(src, dst, IPPROTO_MH, mh)
  mh.writeUInt16BE(c, 4)
  return c
}

/** Computes and writes the ICMPv6 checksum of `msg`. */
export function setIcmp6Checksum(msg: Buffer, src: Uint8Array, dst: Uint8Array): number {
  msg.writeUInt16BE(0, 2)
  const c = pseudoHeaderChecksum(src, dst, IPPROTO_ICMPV6, msg)
  msg.writeUInt16BE(c, 2)
  return c
}

/** True when a received message's checksum is right (the sum over it all comes out zero). */
export function verifyChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array): boolean {
  return pseudoHeaderChecksum(src, dst, nextHeader, payload) === 0
}
