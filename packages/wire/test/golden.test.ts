// Golden bytes: protocol-reference.md §10 worked examples, encoded and decoded.
import {
  mh,
  nd,
  PBU_FLAGS,
  PBA_FLAGS,
  parseIp6,
  parseMac,
  formatIp6,
  setMhChecksum,
  setIcmp6Checksum,
  timestampFromMs,
  timestampToMs,
  ALL_ZERO_ADDR,
  type BindingUpdate,
  type BindingAck,
  type Heartbeat,
  type RouterAdvertisement,
  type MobilityOption,
} from '../src'
import { PBU_10_1, PBA_10_2, RA_10_3, HB_10_4, MAG_PCOA, LMA_ADDR, MN_MAC, NAI } from './vectors'

const TS_MS = Date.parse('2024-01-01T00:00:00.500Z')

const pbuOptions = (hnp: Buffer, plen: number): MobilityOption[] => [
  { type: 'mn-id', subtype: 1, id: Buffer.from(NAI) },
  { type: 'hnp', prefixLength: plen, prefix: hnp },
  { type: 'handoff-indicator', value: 1 },
  { type: 'access-tech-type', value: 4 },
  { type: 'timestamp', ...timestampFromMs(TS_MS) },
  { type: 'mn-ll-id', id: parseMac(MN_MAC) },
]

export const PBU: BindingUpdate = { kind: 'binding-update', sequence: 0x1234, flags: PBU_FLAGS, lifetime: 3600, options: pbuOptions(ALL_ZERO_ADDR, 0) }
export const PBA: BindingAck = {
  kind: 'binding-ack',
  status: 0,
  flags: PBA_FLAGS,
  sequence: 0x1234,
  lifetime: 3600,
  options: pbuOptions(parseIp6('2001:db8:1:1::'), 64),
}
const HB: Heartbeat = { kind: 'heartbeat', flags: { u: false, r: false }, sequence: 7, options: [] }
const RA: RouterAdvertisement = {
  kind: 'router-advertisement',
  curHopLimit: 64,
  flags: { managed: false, other: false, homeAgent: false, preference: 'medium', proxy: false },
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  options: [
    { type: 'source-ll-addr', address: parseMac('02:00:00:00:00:fe') },
    { type: 'mtu', mtu: 1460 },
    { type: 'prefix-info', prefixLength: 64, onLink: true, autonomous: true, routerAddress: false, validLifetime: 3600, preferredLifetime: 3600, prefix: parseIp6('2001:db8:1:1::') },
  ],
}

describe('protocol-reference §10 worked examples', () => {
  const pcoa = parseIp6(MAG_PCOA)
  const lma = parseIp6(LMA_ADDR)

  test('10.1 initial PBU encodes byte for byte, checksum over the pseudo-header', () => {
    const out = mh.encode(PBU)
    expect(out.length).toBe(88)
    setMhChecksum(out, pcoa, lma)
    expect(out.toString('hex')).toBe(PBU_10_1.toString('hex'))
  })

  test('10.1 initial PBU decodes to every field', () => {
    const m = mh.decode(PBU_10_1)
    expect(m).toEqual(PBU)
  })

  test('10.2 PBA encodes and decodes', () => {
    const out = mh.encode(PBA)
    setMhChecksum(out, lma, pcoa)
    expect(out.toString('hex')).toBe(PBA_10_2.toString('hex'))
    expect(mh.decode(PBA_10_2)).toEqual(PBA)
  })

  test('10.3 RA encodes and decodes (ICMPv6 checksum fe80::1 -> ff02::1)', () => {
    const out = nd.encode(RA)
    setIcmp6Checksum(out, parseIp6('fe80::1'), parseIp6('ff02::1'))
    expect(out.toString('hex')).toBe(RA_10_3.toString('hex'))
    expect(nd.decode(RA_10_3)).toEqual(RA)
  })

  test('10.4 Heartbeat request encodes and decodes', () => {
    const out = mh.encode(HB)
    setMhChecksum(out, pcoa, lma)
    expect(out.toString('hex')).toBe(HB_10_4.toString('hex'))
    expect(mh.decode(HB_10_4)).toEqual(HB)
  })

  test('timestamp 0000659200808000 is 2024-01-01T00:00:00.5Z (RFC 5213 §8.8, 1970 epoch)', () => {
    const t = timestampFromMs(TS_MS)
    expect(t).toEqual({ seconds: 0x659200_80, fraction: 0x8000 })
    expect(timestampToMs(t)).toBe(TS_MS)
  })

  test('encoding into the middle of a larger buffer writes only its own bytes', () => {
    const big = Buffer.alloc(300, 0xee)
    const out = mh.encode(PBU, big, 100)
    expect(out.length).toBe(88)
    expect(big[99]).toBe(0xee)
    expect(big[188]).toBe(0xee)
    expect(mh.decode(big, 100, 188)).toEqual(PBU)
    const ra = nd.encode(RA, big, 200)
    expect(big[199]).toBe(0xee)
    expect(nd.decode(big, 200, 200 + ra.length)).toEqual(RA)
  })

  test('prefix text is RFC 5952', () => {
    expect(formatIp6(parseIp6('2001:0db8:0001:0001:0000:0000:0000:0000'))).toBe('2001:db8:1:1::')
    expect(formatIp6(parseIp6('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1')
    expect(formatIp6(parseIp6('fe80::1%eth0'))).toBe('fe80::1')
    expect(formatIp6(parseIp6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1')
  })
})
