// DHCPv4 codec (RFC 2131 §2, RFC 2132) and the MAG's server logic (RFC 5844 §3.4): golden bytes
// written out by hand, every message type, nothing answered without a binding, fuzzing.
import fc from 'fast-check'
import { decode, encode, Dhcp4Error, Dhcp4Server, MsgType, Opt, messageType, requestedAddress, type Dhcp4Message, type Dhcp4Lease } from '../src'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 20_000)
const z = (n: number): string => '00'.repeat(n)
// DISCOVER from 02:00:00:00:00:01, xid 0x12345678, asking for mask, router, DNS.
const DISCOVER_HEX =
  '01010600' + '12345678' + '0000' + '0000' + z(4) + z(4) + z(4) + z(4) + '020000000001' + z(10) + z(64) + z(128) + '63825363' + '350101' + '370301' + '0306' + 'ff'
const LEASE: Dhcp4Lease = { mnId: 'mn1@example.com', link: 'a0', mac: '02:00:00:00:00:01', address: '192.0.2.2', prefixLength: 24, router: '192.0.2.1', leaseSeconds: 600 }

const req = (type: number, extra: { code: number; data: Buffer }[] = [], over: Partial<Dhcp4Message> = {}): Dhcp4Message => ({
  ...decode(Buffer.from(DISCOVER_HEX, 'hex')),
  options: [{ code: Opt.MESSAGE_TYPE, data: Buffer.from([type]) }, ...extra],
  ...over,
})
const ipOpt = (code: number, a: string): { code: number; data: Buffer } => ({ code, data: Buffer.from(a.split('.').map(Number)) })

describe('DHCPv4 codec', () => {
  test('a DISCOVER decodes field by field and re-encodes (padded to 300 bytes)', () => {
    const b = Buffer.from(DISCOVER_HEX, 'hex')
    const m = decode(b)
    expect(m).toMatchObject({ op: 1, htype: 1, hlen: 6, xid: 0x12345678, flags: 0 })
    expect(m.chaddr.subarray(0, 6).toString('hex')).toBe('020000000001')
    expect(m.options).toEqual([
      { code: 53, data: Buffer.from([1]) },
      { code: 55, data: Buffer.from([1, 3, 6]) },
    ])
    const out = encode(m)
    expect(out.length).toBe(300)
    expect(out.subarray(0, b.length).toString('hex')).toBe(DISCOVER_HEX)
    expect(out.subarray(b.length).every((x) => x === 0)).toBe(true)
  })

  test('the OFFER: yiaddr, server id, lease, T1, T2, mask, router, byte for byte', () => {
    const s = new Dhcp4Server()
    s.setLease(LEASE)
    const o = s.handle('a0', decode(Buffer.from(DISCOVER_HEX, 'hex')))
    if (o.kind !== 'reply') throw new Error(o.kind)
    const b = encode(o.message)
    expect(b.subarray(0, 4).toString('hex')).toBe('02010600') // BOOTREPLY
    expect(b.subarray(16, 20).toString('hex')).toBe('c0000202') // yiaddr 192.0.2.2
    // 53 OFFER, 54 server id, 51 lease 600 s, 58 T1 300 s, 59 T2 525 s, 1 mask /24, 3 router, End.
    expect(b.subarray(240, 240 + 40).toString('hex')).toBe('350102' + '3604c0000201' + '330400000258' + '3a040000012c' + '3b040000020d' + '0104ffffff00' + '0304c0000201' + 'ff')
    expect(messageType(decode(b))).toBe(MsgType.OFFER)
  })

  test('malformed input is one typed error with its reason', () => {
    const reason = (b: Buffer): string => {
      try {
        decode(b)
      } catch (e) {
        if (e instanceof Dhcp4Error) return e.reason
        throw e
      }
      return 'decoded'
    }
    const good = Buffer.from(DISCOVER_HEX, 'hex')
    expect(reason(good.subarray(0, 100))).toBe('truncated')
    const bad = Buffer.from(good)
    bad[236] = 0
    expect(reason(bad)).toBe('bad-magic')
    expect(reason(good.subarray(0, good.length - 1))).toBe('missing-end')
    const over = Buffer.from(good)
    over[244] = 200
    expect(reason(over)).toBe('option-overflow')
    const op = Buffer.from(good)
    op[0] = 9
    expect(reason(op)).toBe('bad-op')
  })

  test(`fuzz: decode throws only Dhcp4Error (${RUNS} cases)`, () => {
    const good = Buffer.from(DISCOVER_HEX, 'hex')
    const mutated = fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat()).map(([flips, cut]) => {
      const c = Buffer.from(good)
      for (const [i, v] of flips) c[i % c.length] = v
      return c.subarray(0, cut % (c.length + 1))
    })
    const raw = fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u))
    fc.assert(
      fc.property(fc.oneof(mutated, raw), (b) => {
        try {
          const m = decode(b)
          expect(decode(encode(m)).options).toEqual(m.options)
        } catch (e) {
          if (!(e instanceof Dhcp4Error)) throw e
        }
      }),
      { numRuns: RUNS },
    )
  })
})

describe('the MAG DHCPv4 server (RFC 5844 §3.4, RFC 2131 §4.3)', () => {
  const server = (): Dhcp4Server => {
    const s = new Dhcp4Server()
    s.setLease(LEASE)
    return s
  }
  const kind = (o: ReturnType<Dhcp4Server['handle']>): string => (o.kind === 'reply' ? o.type : o.kind === 'drop' ? `drop:${o.reason}` : o.type)

  test('nothing is answered for an MN without an accepted IPv4 binding, or on another link', () => {
    const s = new Dhcp4Server()
    expect(kind(s.handle('a0', req(MsgType.DISCOVER)))).toBe('drop:no-binding')
    s.setLease(LEASE)
    expect(kind(s.handle('a1', req(MsgType.DISCOVER)))).toBe('drop:wrong-link')
    s.clearLease(LEASE.mnId)
    expect(kind(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.2')])))).toBe('drop:no-binding')
  })

  test('REQUEST: selecting, init-reboot and renewing get an ACK for the binding address, NAK for any other', () => {
    const s = server()
    expect(kind(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.2'), ipOpt(Opt.SERVER_ID, '192.0.2.1')])))).toBe('ack')
    expect(kind(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.2'), ipOpt(Opt.SERVER_ID, '192.0.2.99')])))).toBe('drop:other-server')
    expect(kind(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.7')])))).toBe('nak')
    const renew = s.handle('a0', req(MsgType.REQUEST, [], { ciaddr: Buffer.from([192, 0, 2, 2]) }))
    expect(kind(renew)).toBe('ack')
    expect(renew.kind === 'reply' && renew.to).toEqual({ kind: 'unicast', address: '192.0.2.2' })
    const nak = s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '10.0.0.1')]))
    expect(nak.kind === 'reply' && nak.to).toEqual({ kind: 'broadcast' })
    expect(nak.kind === 'reply' && nak.message.yiaddr.toString('hex')).toBe('00000000')
  })

  test('RELEASE and DECLINE are noted, not answered; INFORM gets configuration without a lease', () => {
    const s = server()
    expect(kind(s.handle('a0', req(MsgType.RELEASE, [], { ciaddr: Buffer.from([192, 0, 2, 2]) })))).toBe('release')
    expect(kind(s.handle('a0', req(MsgType.DECLINE, [ipOpt(Opt.REQUESTED_IP, '192.0.2.2')])))).toBe('decline')
    const inf = s.handle('a0', req(MsgType.INFORM, [], { ciaddr: Buffer.from([192, 0, 2, 2]) }))
    expect(kind(inf)).toBe('ack')
    expect(inf.kind === 'reply' && inf.message.options.some((o) => o.code === Opt.LEASE_TIME)).toBe(false)
    expect(s.counters).toMatchObject({ release: 1, decline: 1 })
  })

  test('a handoff to another link moves the lease (same address); relayed and BOOTP requests are not served', () => {
    const s = server()
    s.setLease({ ...LEASE, link: 'a1' })
    expect(kind(s.handle('a0', req(MsgType.DISCOVER)))).toBe('drop:wrong-link')
    expect(kind(s.handle('a1', req(MsgType.DISCOVER)))).toBe('offer')
    expect(kind(s.handle('a1', req(MsgType.DISCOVER, [], { giaddr: Buffer.from([10, 0, 0, 1]) })))).toBe('drop:relayed')
    expect(kind(s.handle('a1', { ...req(MsgType.DISCOVER), options: [] }))).toBe('drop:no-message-type')
  })
})

describe('RFC 5844 §3.4.1: the address a client without a lease asks for is handed on', () => {
  const MAC = '02:00:00:00:00:01'
  const requested = (o: ReturnType<Dhcp4Server['handle']>) => (o.kind === 'drop' ? (o.requested ?? null) : `not dropped: ${o.kind}`)

  test('option 50 of a DISCOVER or an init-reboot REQUEST, the ciaddr of a renewing/rebinding REQUEST', () => {
    const s = new Dhcp4Server()
    expect(requested(s.handle('a0', req(MsgType.DISCOVER, [ipOpt(Opt.REQUESTED_IP, '192.0.2.77')])))).toEqual({ mac: MAC, address: '192.0.2.77', via: 'option-50' })
    expect(requested(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.78')])))).toEqual({ mac: MAC, address: '192.0.2.78', via: 'option-50' })
    expect(requested(s.handle('a0', req(MsgType.REQUEST, [], { ciaddr: Buffer.from([192, 0, 2, 79]) })))).toEqual({ mac: MAC, address: '192.0.2.79', via: 'ciaddr' })
    // Option 50 wins over ciaddr when a client sends both.
    expect(requested(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.80')], { ciaddr: Buffer.from([192, 0, 2, 79]) })))).toMatchObject({ address: '192.0.2.80' })
    expect(s.counters).toMatchObject({ requested: 4, 'drop.no-binding': 4 })
  })

  test('nothing is handed on: no address asked, 0.0.0.0, a bad option length, a SELECTING REQUEST (some server\'s offer), other message types', () => {
    const s = new Dhcp4Server()
    expect(requested(s.handle('a0', req(MsgType.DISCOVER)))).toBeNull()
    expect(requested(s.handle('a0', req(MsgType.DISCOVER, [ipOpt(Opt.REQUESTED_IP, '0.0.0.0')])))).toBeNull()
    expect(requested(s.handle('a0', req(MsgType.DISCOVER, [{ code: Opt.REQUESTED_IP, data: Buffer.from([192, 0, 2]) }])))).toBeNull()
    expect(requested(s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.77'), ipOpt(Opt.SERVER_ID, '192.0.2.1')])))).toBeNull()
    expect(requested(s.handle('a0', req(MsgType.DISCOVER, [], { ciaddr: Buffer.from([192, 0, 2, 79]) })))).toBeNull()
    for (const t of [MsgType.DECLINE, MsgType.INFORM, MsgType.RELEASE]) expect(requested(s.handle('a0', req(t, [ipOpt(Opt.REQUESTED_IP, '192.0.2.77')], { ciaddr: Buffer.from([192, 0, 2, 79]) })))).toBeNull()
    expect(s.counters['requested']).toBeUndefined()
  })

  test('with a lease the binding\'s address stands: a REQUEST for another gets a NAK and nothing is handed on (RFC 2131 §4.3.2)', () => {
    const s = new Dhcp4Server()
    s.setLease(LEASE)
    const o = s.handle('a0', req(MsgType.REQUEST, [ipOpt(Opt.REQUESTED_IP, '192.0.2.77')]))
    expect(o.kind === 'reply' && o.type).toBe('nak')
    const offer = s.handle('a0', req(MsgType.DISCOVER, [ipOpt(Opt.REQUESTED_IP, '192.0.2.77')]))
    expect(offer.kind === 'reply' && offer.message.yiaddr.toString('hex')).toBe('c0000202')
    expect(s.counters['requested']).toBeUndefined()
  })

  test('requestedAddress on its own: only DISCOVER and REQUEST', () => {
    const m = req(MsgType.DISCOVER, [ipOpt(Opt.REQUESTED_IP, '192.0.2.77')])
    expect(requestedAddress(m, MsgType.DISCOVER, MAC)).toEqual({ mac: MAC, address: '192.0.2.77', via: 'option-50' })
    expect(requestedAddress(m, MsgType.OFFER, MAC)).toBeUndefined()
  })
})
