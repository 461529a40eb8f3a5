// A send-only AF_PACKET socket: a whole IPv6 packet to one link-layer address. A raw IPv6
// socket maps a multicast destination to its multicast frame address (ff02::1 ->
// 33:33:00:00:00:01) and every station hears it; RFC 6085 lets a unicast frame carry a multicast
// IPv6 destination, which is how a per-MN Router Advertisement reaches one station of a shared
// link and no other (RFC 5213 §6.2: an MN's home network prefix is advertised to that MN only).
import { native } from './native'

/** EtherType of IPv6 (IEEE 802 numbers; RFC 2464 §3). */
export const ETH_P_IPV6 = 0x86dd
/** EtherType of IPv4 (RFC 894). */
export const ETH_P_IP = 0x0800
/** IPv6 fixed header length (RFC 8200 §3). */
export const IPV6_HEADER_LENGTH = 40

const CLOSED = -1

/** "02:00:00:00:01:01" -> 6 bytes; throws a RangeError for anything else. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) throw new RangeError(`not a MAC address: ${text}`)
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)))
}

/**
 * The IPv6 header (RFC 8200 §3) in front of `payload`: traffic class and flow label 0. The
 * payload's own checksum (ICMPv6, MH) is the caller's: it covers this header's addresses.
 */
export function ipv6Packet(src: Uint8Array, dst: Uint8Array, nextHeader: number, hopLimit: number, payload: Uint8Array): Buffer {
  if (src.length !== 16 || dst.length !== 16) throw new RangeError('IPv6 addresses are 16 bytes')
  if (payload.length > 0xffff) throw new RangeError(`payload of ${payload.length} bytes needs a jumbogram`)
  const b = Buffer.allocUnsafe(IPV6_HEADER_LENGTH + payload.length)
  b.writeUInt32BE(0x60000000, 0)
  b.writeUInt16BE(payload.length, 4)
  b[6] = nextHeader
  b[7] = hopLimit
  b.set(src, 8)
  b.set(dst, 24)
  b.set(payload, IPV6_HEADER_LENGTH)
  return b
}

export class PacketSocket {
  #fd: number

  private constructor(fd: number) {
    this.#fd = fd
  }

  /** socket(AF_PACKET, SOCK_DGRAM, 0): receives nothing (protocol 0), needs CAP_NET_RAW. */
  static open(): PacketSocket {
    return new PacketSocket(native().openPacket())
  }

  get closed(): boolean {
    return this.#fd === CLOSED
  }

  /** Sends the IPv6 packet `ipv6` (header included) in a frame to `lladdr` on interface `ifindex`. */
  sendIpv6(ipv6: Uint8Array, ifindex: number, lladdr: Uint8Array): number {
    if (this.#fd === CLOSED) throw new Error('packet socket is closed')
    return native().sendPacket(this.#fd, ipv6, ifindex, lladdr, ETH_P_IPV6)
  }

  /** Sends the IPv4 packet `ipv4` (header included) in a frame to `lladdr` on interface `ifindex`. */
  sendIpv4(ipv4: Uint8Array, ifindex: number, lladdr: Uint8Array): number {
    if (this.#fd === CLOSED) throw new Error('packet socket is closed')
    return native().sendPacket(this.#fd, ipv4, ifindex, lladdr, ETH_P_IP)
  }

  close(): void {
    if (this.#fd === CLOSED) return
    const fd = this.#fd
    this.#fd = CLOSED
    native().close(fd)
  }
}
