// The DHCPv4 reply as a whole IPv4/UDP packet (frame.ts) for the packet socket on the MN's link:
// golden bytes with both checksums worked out by hand (RFC 791 header, RFC 768 pseudo-header),
// and any payload's checksums verify.
import fc from 'fast-check'
import { udp4Packet, IPV4_HEADER_LENGTH } from '../src'

/** RFC 1071 sum folded to 16 bits: 0xffff over a block whose checksum is right. */
function folded(b: Uint8Array, start = 0): number {
  let s = start
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!
  if (b.length & 1) s += b[b.length - 1]! << 8
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

describe('udp4Packet', () => {
  test('golden bytes: 192.0.2.1:67 -> 192.0.2.2:68, payload "ab" (header checksum 0xf6cb, UDP 0x19ed by hand)', () => {
    const p = udp4Packet('192.0.2.1', '192.0.2.2', 67, 68, Buffer.from('ab'))
    expect(p.toString('hex')).toBe('4500001e' + '00000000' + '4011f6cb' + 'c0000201' + 'c0000202' + '0043' + '0044' + '000a' + '19ed' + '6162')
  })

  test('any payload: the IPv4 header and the UDP checksum (with its pseudo-header) verify; lengths are right', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.ipV4(), fc.ipV4(), (payload, src, dst) => {
        const p = udp4Packet(src, dst, 67, 68, payload)
        expect(p.length).toBe(28 + payload.length)
        expect(p.readUInt16BE(2)).toBe(p.length)
        expect(folded(p.subarray(0, IPV4_HEADER_LENGTH))).toBe(0xffff)
        const u = p.subarray(IPV4_HEADER_LENGTH)
        expect(u.readUInt16BE(4)).toBe(u.length)
        expect(u.readUInt16BE(6)).not.toBe(0) // 0 would mean "no checksum" (RFC 768)
        const pseudo = folded(p.subarray(12, 20)) + 17 + u.length
        expect(folded(u, pseudo)).toBe(0xffff)
        expect(Buffer.from(u.subarray(8)).equals(Buffer.from(payload))).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  test('a payload too large for one IPv4 packet is refused', () => {
    expect(() => udp4Packet('192.0.2.1', '192.0.2.2', 67, 68, new Uint8Array(65_536))).toThrow(RangeError)
  })
})
