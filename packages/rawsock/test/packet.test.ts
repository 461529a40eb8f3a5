// The pure parts of the packet-socket path (packet.ts): the IPv6 header it builds and the MAC
// text it takes. The frame on the wire is checked by test/e2e/shared-link.test.ts with tshark.
import { ETH_P_IPV6, IPV6_HEADER_LENGTH, ipv6Packet, parseMac } from '../src/index'

const addr = (last: number, first = 0xfe): Uint8Array => {
  const a = new Uint8Array(16)
  a[0] = first
  a[1] = 0x80
  a[15] = last
  return a
}

test('RFC 8200 §3: version 6, class and flow 0, payload length, next header, hop limit, then the addresses and the payload', () => {
  const payload = Uint8Array.from([0x86, 0, 0xaa, 0xbb, 1, 2])
  const p = ipv6Packet(addr(1), addr(2, 0xff), 58, 255, payload)
  expect(p.length).toBe(IPV6_HEADER_LENGTH + 6)
  expect(p.readUInt32BE(0)).toBe(0x60000000)
  expect(p.readUInt16BE(4)).toBe(6)
  expect(p[6]).toBe(58)
  expect(p[7]).toBe(255)
  expect([...p.subarray(8, 24)]).toEqual([...addr(1)])
  expect([...p.subarray(24, 40)]).toEqual([...addr(2, 0xff)])
  expect([...p.subarray(40)]).toEqual([...payload])
  expect(ETH_P_IPV6).toBe(0x86dd)
})

test('addresses of the wrong size and payloads past 65535 bytes are refused', () => {
  expect(() => ipv6Packet(new Uint8Array(4), addr(2), 58, 255, new Uint8Array(8))).toThrow(RangeError)
  expect(() => ipv6Packet(addr(1), addr(2), 58, 255, new Uint8Array(65536))).toThrow(/jumbogram/)
})

test('MAC text: colons or dashes, either case; anything else is a RangeError', () => {
  expect([...parseMac('02:00:00:00:0b:01')]).toEqual([2, 0, 0, 0, 0x0b, 1])
  expect([...parseMac('02-AA-bb-00-00-FF')]).toEqual([2, 0xaa, 0xbb, 0, 0, 0xff])
  for (const bad of ['', '02:00:00:00:0b', '02:00:00:00:0b:01:02', '02:00:00:00:0b:1', 'zz:00:00:00:0b:01']) expect(() => parseMac(bad)).toThrow(RangeError)
})
