// RFC 5844 §3.3 IPv4 options and the RFC 5845 GRE Key: golden bytes written out by hand from
// the option formats, typed errors for bad lengths and prefix lengths, names for `mag decode`.
import {
  mh,
  decodeAny,
  parseIp4,
  formatIp4,
  isIp4,
  ip4ToNumber,
  numberToIp4,
  WireError,
  PBU_FLAGS,
  PBA_FLAGS,
  BaStatus,
  BA_STATUS_NAMES,
  Ipv4HoaReplyStatus,
  IPV4_HOA_REPLY_STATUS_NAMES,
  OptType,
  type BindingUpdate,
  type BindingAck,
} from '../src'

// PBU: IPv4 HoA Request 0.0.0.0/32 (allocate), GRE Key without a key (RFC 5845 §3.1 request).
const PBU4: BindingUpdate = {
  kind: 'binding-update',
  sequence: 0x1234,
  flags: PBU_FLAGS,
  lifetime: 3600,
  options: [
    { type: 'ipv4-hoa-request', prefixLength: 32, address: parseIp4('0.0.0.0') },
    { type: 'gre-key', key: null },
  ],
}
const PBU4_HEX = [
  '3b020500', '0000', '1234', '8200', '0384', // MH header, sequence, flags A|P, lifetime 900 units
  '24068000', '00000000', // type 36, len 6, Prefix-len 32 << 2 = 0x80, reserved, 0.0.0.0 (MH offset 12: 4n)
  '21020000', // GRE Key without key (offset 20: 4n)
].join('')

// PBA: Reply 0 192.0.2.10/24, Default-Router 192.0.2.1, DHCP Support Mode S=1, GRE Key 0x01020304.
const PBA4: BindingAck = {
  kind: 'binding-ack',
  status: 0,
  flags: PBA_FLAGS,
  sequence: 0x1234,
  lifetime: 3600,
  options: [
    { type: 'ipv4-hoa-reply', status: 0, prefixLength: 24, address: parseIp4('192.0.2.10') },
    { type: 'ipv4-default-router', address: parseIp4('192.0.2.1') },
    { type: 'ipv4-dhcp-support-mode', server: true },
    { type: 'gre-key', key: 0x01020304 },
  ],
}
const PBA4_HEX = [
  '3b040600', '0000', '00', '20', '1234', '0384', // status 0, flags P, sequence, lifetime
  '25060060', 'c000020a', // type 37, len 6, status 0, Prefix-len 24 << 2 = 0x60, 192.0.2.10
  '26060000', 'c0000201', // type 38, len 6, reserved, 192.0.2.1
  '27020001', // type 39, len 2, S flag set (no alignment rule)
  '21060000', '01020304', // GRE Key at offset 32 (4n)
].join('')

function reasonOf(fn: () => unknown): { reason: string; offset: number; type?: number } {
  try {
    fn()
  } catch (e) {
    if (e instanceof WireError) return { reason: e.reason, offset: e.offset, ...(e.details.type !== undefined ? { type: e.details.type } : {}) }
    throw e
  }
  throw new Error('did not throw')
}

describe('RFC 5844 / RFC 5845 options: golden bytes', () => {
  test('code points are those of the IANA registry', () => {
    expect(OptType).toMatchObject({ GRE_KEY: 33, IPV4_HOA_REQUEST: 36, IPV4_HOA_REPLY: 37, IPV4_DEFAULT_ROUTER: 38, IPV4_DHCP_SUPPORT_MODE: 39 })
  })

  test('PBU with an IPv4 HoA Request and a key-less GRE Key encodes byte for byte', () => {
    expect(mh.encode(PBU4).toString('hex')).toBe(PBU4_HEX)
    expect(mh.decode(Buffer.from(PBU4_HEX, 'hex'))).toEqual(PBU4)
  })

  test('PBA with Reply, Default-Router, DHCP Support Mode and GRE Key encodes byte for byte', () => {
    expect(mh.encode(PBA4).toString('hex')).toBe(PBA4_HEX)
    expect(mh.decode(Buffer.from(PBA4_HEX, 'hex'))).toEqual(PBA4)
  })

  test('reserved bits are ignored on receipt and zero on sending', () => {
    const b = Buffer.from(PBA4_HEX, 'hex')
    b[15] |= 0x03 // Reply: the 2 Res bits
    b[22] = 0xff // Default-Router reserved
    b[30] |= 0xfe // DSM reserved bits, S kept
    expect(mh.decode(b)).toEqual(PBA4)
    const r = Buffer.from(PBU4_HEX, 'hex')
    r[14] |= 0x03
    r[15] = 0xff
    expect(mh.decode(r)).toEqual(PBU4)
  })

  test('S flag clear is relay mode', () => {
    const b = Buffer.from(PBA4_HEX, 'hex')
    b[31] = 0
    const d = mh.decode(b)
    expect(d.kind === 'binding-ack' && d.options[2]).toEqual({ type: 'ipv4-dhcp-support-mode', server: false })
  })
})

describe('RFC 5844 options: typed errors', () => {
  test('a Request with Length 4 is too short, with Length 8 too long', () => {
    const b = Buffer.from(PBU4_HEX, 'hex')
    b[13] = 4
    expect(reasonOf(() => mh.decode(b))).toEqual({ reason: 'option-too-short', offset: 12, type: 36 })
    const long = Buffer.from(PBA4_HEX, 'hex')
    long[21] = 8 // Default-Router claims 8 bytes, runs into the DSM option
    expect(reasonOf(() => mh.decode(long))).toEqual({ reason: 'bad-option-length', offset: 20, type: 38 })
  })

  test('a Reply or DSM with a wrong length', () => {
    const b = Buffer.from(PBA4_HEX, 'hex')
    b[13] = 2
    expect(reasonOf(() => mh.decode(b))).toEqual({ reason: 'option-too-short', offset: 12, type: 37 })
    const d = Buffer.from(PBA4_HEX, 'hex')
    d[29] = 0
    expect(reasonOf(() => mh.decode(d))).toEqual({ reason: 'option-too-short', offset: 28, type: 39 })
  })

  test('a prefix length over 32 in a Request or a Reply is bad-prefix-length', () => {
    const b = Buffer.from(PBU4_HEX, 'hex')
    b[14] = 33 << 2
    expect(reasonOf(() => mh.decode(b))).toEqual({ reason: 'bad-prefix-length', offset: 12, type: 36 })
    const r = Buffer.from(PBA4_HEX, 'hex')
    r[15] = 63 << 2
    expect(reasonOf(() => mh.decode(r))).toEqual({ reason: 'bad-prefix-length', offset: 12, type: 37 })
    r[15] = 32 << 2
    expect(() => mh.decode(r)).not.toThrow()
  })

  test('the encoder refuses a prefix length over 32 and an address that is not 4 bytes', () => {
    const bad = (o: BindingUpdate['options'][number]): unknown => mh.encode({ ...PBU4, options: [o] })
    expect(reasonOf(() => bad({ type: 'ipv4-hoa-request', prefixLength: 33, address: parseIp4('192.0.2.1') })).reason).toBe('value-out-of-range')
    expect(reasonOf(() => bad({ type: 'ipv4-hoa-reply', status: 0, prefixLength: 40, address: parseIp4('192.0.2.1') })).reason).toBe('value-out-of-range')
    expect(reasonOf(() => bad({ type: 'ipv4-hoa-reply', status: 256, prefixLength: 24, address: parseIp4('192.0.2.1') })).reason).toBe('value-out-of-range')
    expect(reasonOf(() => bad({ type: 'ipv4-default-router', address: Buffer.alloc(16) })).reason).toBe('value-out-of-range')
  })
})

describe('RFC 5844 status codes and IPv4 text', () => {
  test('PBA status 170-173 and Reply status 128-132 are named once', () => {
    expect(BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE).toBe(170)
    expect(BaStatus.MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED).toBe(173)
    for (const c of [170, 171, 172, 173]) expect(BA_STATUS_NAMES[c]).toMatch(/IPV[46]/)
    expect(Ipv4HoaReplyStatus.DYNAMIC_ASSIGNMENT_NOT_AVAILABLE).toBe(132)
    for (const c of Object.values(Ipv4HoaReplyStatus)) expect(IPV4_HOA_REPLY_STATUS_NAMES[c]).toBeDefined()
  })

  test('mag decode shows each option with its name and text addresses', () => {
    const j = decodeAny(Buffer.from(PBA4_HEX, 'hex')) as { options: unknown[] }
    expect(j.options).toEqual([
      { type: 37, name: 'ipv4-home-address-reply', status: 0, statusName: 'Success', accepted: true, address: '192.0.2.10/24', prefixLength: 24 },
      { type: 38, name: 'ipv4-default-router-address', address: '192.0.2.1' },
      { type: 39, name: 'ipv4-dhcp-support-mode', server: true, mode: 'dhcp-server' },
      { type: 33, name: 'gre-key', key: 0x01020304 },
    ])
    const q = decodeAny(Buffer.from(PBU4_HEX, 'hex')) as { options: unknown[] }
    expect(q.options[0]).toEqual({ type: 36, name: 'ipv4-home-address-request', address: '0.0.0.0', prefixLength: 32, allocate: true })
  })

  test('IPv4 text parses strictly and round-trips through numbers', () => {
    expect(formatIp4(parseIp4('198.51.100.7'))).toBe('198.51.100.7')
    for (const t of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.x', '', '1..2.3']) expect(isIp4(t)).toBe(false)
    expect(ip4ToNumber(parseIp4('255.255.255.255'))).toBe(0xffffffff)
    expect(formatIp4(numberToIp4(ip4ToNumber(parseIp4('203.0.113.9')) + 1))).toBe('203.0.113.10')
  })
})
