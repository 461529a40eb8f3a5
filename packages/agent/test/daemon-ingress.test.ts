// What the daemon takes from the network (issue 17 items 1, 4, 5), on the in-memory link:
// Mobility Headers only from the transport side and known LMAs (RFC 5213 §4), RFC 6275 §9.2
// answers to peers (Binding Error status 2, ICMPv6 Parameter Problem) under the RFC 4443 §2.4
// rate limit, and the RFC 4861 §6.1.1 validity rules for Router Solicitations.
import { mh, nd, parameterProblem, parseIp6, parseMac, PBA_FLAGS, type BindingAck, type MhMessage } from '@pmip6/wire'
import { formatMetrics, validateConfig, ConfigError } from '../src'
import { ERROR_BUCKET_SIZE, ERROR_RATE_PER_S } from '../src/ingress'
import { LMA, MAG, world } from './helpers/world'

const MN = 'mn1@example.com'
const HNP = Buffer.from('20010db8000100010000000000000000', 'hex')
const FORGED = Buffer.from('20010db8666600000000000000000000', 'hex')

/** A PBA for the MN's outstanding PBU, with `prefix` as its home network prefix. */
function pbaFor(w: ReturnType<typeof world>, prefix: Buffer): BindingAck {
  const pbu = w.pbus().at(-1)!
  return { kind: 'binding-ack', status: 0, flags: PBA_FLAGS, sequence: pbu.sequence, lifetime: pbu.lifetime, options: [...pbu.options.filter((o) => o.type !== 'hnp'), { type: 'hnp', prefixLength: 64, prefix }] }
}

const packet = (msg: MhMessage | Buffer, o: { src?: string; link?: string; dst?: string } = {}) => ({
  data: Buffer.isBuffer(msg) ? msg : mh.encode(msg),
  src: o.src ?? LMA,
  dst: o.dst ?? MAG,
  link: o.link ?? 'up0',
  hopLimit: 64,
})

async function attached(opts: Parameters<typeof world>[0] = {}) {
  const w = world(opts)
  await w.d.start()
  w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, att: 4, llId: parseMac('02:00:00:00:01:01') })
  expect(w.pbus()).toHaveLength(1)
  return w
}

const counters = (w: ReturnType<typeof world>) => w.d.status().counters
const state = (w: ReturnType<typeof world>) => w.d.binding(MN)?.state

describe('issue 17 item 1: Mobility Headers only from the transport side and known LMAs (RFC 5213 §4)', () => {
  test('a PBA with the LMA source address arriving on the access link is dropped; the same PBA on the transport side registers', async () => {
    const w = await attached()
    w.deliver(packet(pbaFor(w, FORGED), { link: 'mn1' }))
    expect(state(w)).toBe('registering')
    expect(counters(w)).toMatchObject({ 'mh.rx.dropped': 1, 'mh.rx.dropped.access-link': 1 })
    expect(counters(w)['core.pba-received']).toBeUndefined()
    w.deliver(packet(pbaFor(w, HNP)))
    expect(state(w)).toBe('registered')
    expect(w.d.binding(MN)!.prefixes).toEqual(['2001:db8:1:1::/64'])
  })

  test('a link a driver reported, a PPP unit and a hostapd per-station VLAN are access links too', async () => {
    const w = await attached({
      mag: {},
    })
    w.d.onFact('mock', { type: 'attached', link: 'acc7', mnId: 'other@example.com', att: 4 })
    w.deliver(packet(pbaFor(w, FORGED), { link: 'acc7' }))
    expect(counters(w)['mh.rx.dropped.access-link']).toBe(1)
    const cfg = validateConfig({
      mag: { address: MAG },
      links: { mn1: null },
      drivers: { ppp: {}, hostapd: { interfaces: [{ name: 'wlan0', perStaVif: true }] } },
      profiles: [{ mnId: MN, lma: LMA }],
    })
    const { MhIngress, ingressConfigOf } = await import('../src/ingress')
    const ing = new MhIngress(ingressConfigOf(cfg))
    ing.setPeers([LMA])
    expect(ing.check('ppp3', LMA)).toBe('access-link')
    expect(ing.check('wlan0', LMA)).toBe('access-link')
    expect(ing.check('wlan0.sta12', LMA)).toBe('access-link')
    expect(ing.check('mn1', LMA)).toBe('access-link')
    expect(ing.check('wlan0x', LMA)).toBeNull()
    expect(ing.check('eth0', LMA)).toBeNull()
    expect(ing.check('lo', LMA)).toBeNull()
  })

  test('from an unknown host on the transport side: PBAs and heartbeats dropped, nothing answered', async () => {
    const w = await attached()
    const stranger = '2001:db8:ffff::99'
    w.deliver(packet(pbaFor(w, FORGED), { src: stranger }))
    w.deliver(packet({ kind: 'heartbeat', flags: { u: false, r: false }, sequence: 7, options: [] }, { src: stranger }))
    w.deliver(packet({ kind: 'other', mhType: 99, body: Buffer.alloc(2) }, { src: stranger }))
    expect(state(w)).toBe('registering')
    expect(counters(w)).toMatchObject({ 'mh.rx.dropped': 3, 'mh.rx.dropped.unknown-peer': 3 })
    expect(w.sent.filter((s) => s.msg.kind !== 'binding-update')).toEqual([])
    expect(w.icmp).toEqual([])
  })

  test('an interface whose name is gone (a PPP unit that hung up) is not trusted', async () => {
    const w = await attached()
    w.deliver(packet(pbaFor(w, HNP), { link: '' }))
    expect(state(w)).toBe('registering')
    expect(counters(w)['mh.rx.dropped.unknown-interface']).toBe(1)
  })

  test('mag.transportInterfaces: only those interfaces; the address text may be in any spelling', async () => {
    const w = await attached({ mag: { transportInterfaces: ['up0'] } })
    w.deliver(packet(pbaFor(w, HNP), { link: 'eth1' }))
    expect(counters(w)['mh.rx.dropped.not-transport-interface']).toBe(1)
    expect(state(w)).toBe('registering')
    w.deliver(packet(pbaFor(w, HNP), { src: '2001:DB8:FFFF:0:0:0:0:2' }))
    expect(state(w)).toBe('registered')
  })

  test('a profile reload: an LMA still holding a binding of ours stays a peer until its answer; one nobody names any more is dropped', async () => {
    const w = await attached()
    w.accept(w.pbus()[0]!)
    w.d.enqueue({ type: 'detached', at: w.now(), link: 'mn1', mnId: MN, cause: 'left' })
    const dereg = w.pbus().at(-1)!
    expect(dereg.lifetime).toBe(0)
    // The profile now names another LMA, while the de-registration at the old one is in flight.
    w.d.enqueue({ type: 'profiles', at: w.now(), profiles: [{ mnId: MN, lma: '2001:db8:ffff::4' }] })
    w.fromLma({ kind: 'binding-ack', status: 0, flags: PBA_FLAGS, sequence: dereg.sequence, lifetime: 0, options: dereg.options })
    expect(counters(w)['mh.rx.dropped']).toBeUndefined()
    expect(w.d.binding(MN)).toBeUndefined()
    // Now nothing ties the MAG to the old LMA: it is a stranger; the new one is a peer.
    w.d.enqueue({ type: 'profiles', at: w.now(), profiles: [{ mnId: MN, lma: '2001:db8:ffff::4' }] })
    const hb = { kind: 'heartbeat', flags: { u: false, r: false }, sequence: 9, options: [] } as const
    w.deliver(packet(hb))
    expect(counters(w)['mh.rx.dropped.unknown-peer']).toBe(1)
    w.deliver(packet(hb, { src: '2001:db8:ffff::4' }))
    expect(counters(w)['mh.rx.dropped.unknown-peer']).toBe(1)
  })

  test('the drops are in the Prometheus metrics by reason', async () => {
    const w = await attached()
    w.deliver(packet(pbaFor(w, FORGED), { link: 'mn1' }))
    expect(formatMetrics(w.d.status())).toContain('mag_mh_rx_dropped_total{reason="access-link"} 1')
  })

  test('config: a transport interface cannot be an access link; an empty list is refused', () => {
    const base = { links: { mn1: null }, profiles: [{ mnId: MN, lma: LMA }] }
    expect(() => validateConfig({ ...base, mag: { address: MAG, transportInterfaces: ['mn1'] } })).toThrow(/mag\.transportInterfaces\[0\]: mn1 is an access link/)
    expect(() => validateConfig({ ...base, mag: { address: MAG, transportInterfaces: [] } })).toThrow(ConfigError)
    expect(() => validateConfig({ ...base, drivers: { ppp: {} }, mag: { address: MAG, transportInterfaces: ['ppp0'] } })).toThrow(/interfacePattern/)
    expect(validateConfig({ ...base, mag: { address: MAG, transportInterfaces: ['up0', 'lo'] } }).transportInterfaces).toEqual(['up0', 'lo'])
  })
})

describe('issue 17 item 4: RFC 6275 §9.2 answers to peers', () => {
  test('§9.2 an unknown MH type from the LMA gets a Binding Error, status 2, Home Address unspecified (RFC 6275 §6.1.9)', async () => {
    const w = await attached()
    w.deliver(packet({ kind: 'other', mhType: 42, body: Buffer.alloc(2) }))
    const be = w.sent.filter((s) => s.msg.kind === 'binding-error')
    expect(be).toEqual([{ to: LMA, src: MAG, msg: { kind: 'binding-error', status: 2, homeAddress: Buffer.alloc(16), options: [] } }])
    expect(counters(w)['mh.tx.binding-error']).toBe(1)
  })

  test('§9.2 Payload Proto not 59: Parameter Problem code 0 pointing at it (octet 40 of the invoking packet)', async () => {
    const w = await attached()
    const bad = Buffer.from(mh.encode({ kind: 'heartbeat', flags: { u: false, r: true }, sequence: 1, options: [] }))
    bad[0] = 6
    w.deliver(packet(bad))
    expect(w.icmp).toHaveLength(1)
    expect(w.icmp[0]).toMatchObject({ to: LMA, src: MAG })
    const pp = parameterProblem.decode(w.icmp[0]!.bytes)
    expect(pp).toMatchObject({ code: 0, pointer: 40 })
    expect(pp.invoking.subarray(8, 24).equals(parseIp6(LMA))).toBe(true)
    expect(pp.invoking[6]).toBe(135)
    expect(pp.invoking.subarray(40).equals(bad)).toBe(true)
    expect(counters(w)['icmp6.tx.parameter-problem']).toBe(1)
  })

  test('§9.2 Header Len too small for the type: Parameter Problem pointing at Header Len (octet 41)', async () => {
    const w = await attached()
    // A Binding Acknowledgement of 8 octets (Header Len 0; it needs at least 1).
    w.deliver(packet(Buffer.from('3b00060000000000', 'hex')))
    // A Binding Error of 16 octets (Header Len 1; it needs at least 2).
    w.deliver(packet(Buffer.from('3b01070000000000' + '0000000000000000', 'hex')))
    expect(w.icmp.map((i) => parameterProblem.decode(i.bytes).pointer)).toEqual([41, 41])
  })

  test('§9.2 truncated messages and bad options are dropped without an answer', async () => {
    const w = await attached()
    w.deliver(packet(Buffer.from('3b0006', 'hex')))
    w.deliver(packet(Buffer.from('3b03060000000000', 'hex'))) // Header Len says 32 octets, 8 came
    expect(w.icmp).toEqual([])
    expect(w.sent.filter((s) => s.msg.kind === 'binding-error')).toEqual([])
    expect(counters(w)['mh.malformed']).toBe(2)
  })

  test('no answers towards the untrusted side: access links and unknown hosts are dropped silently', async () => {
    const w = await attached()
    const bad = Buffer.from('0601060000000000' + '0000000000000000', 'hex')
    w.deliver(packet(bad, { link: 'mn1' }))
    w.deliver(packet({ kind: 'other', mhType: 42, body: Buffer.alloc(2) }, { link: 'mn1' }))
    w.deliver(packet(bad, { src: '2001:db8:ffff::99' }))
    w.deliver(packet({ kind: 'other', mhType: 42, body: Buffer.alloc(2) }, { src: '2001:db8:ffff::99' }))
    expect(w.icmp).toEqual([])
    expect(w.sent.filter((s) => s.msg.kind === 'binding-error')).toEqual([])
    expect(counters(w)['mh.rx.dropped']).toBe(4)
  })

  test('RFC 4443 §2.4 (f): a token bucket of ERROR_BUCKET_SIZE, refilled at ERROR_RATE_PER_S, shared by both kinds', async () => {
    const w = await attached()
    const unknown = packet({ kind: 'other', mhType: 42, body: Buffer.alloc(2) })
    const badProto = packet(Buffer.from('0601060000000000' + '0000000000000000', 'hex'))
    for (let i = 0; i < 30; i++) w.deliver(i % 2 === 0 ? unknown : badProto)
    const answered = () => w.icmp.length + w.sent.filter((s) => s.msg.kind === 'binding-error').length
    expect(answered()).toBe(ERROR_BUCKET_SIZE)
    expect(counters(w)['mh.errors.rate-limited']).toBe(30 - ERROR_BUCKET_SIZE)
    w.tick(1000)
    for (let i = 0; i < 30; i++) w.deliver(unknown)
    expect(answered()).toBe(ERROR_BUCKET_SIZE + ERROR_RATE_PER_S)
  })
})

describe('issue 17 item 5: RFC 4861 §6.1.1 Router Solicitation validity', () => {
  const SLLA = '0101020000000101'
  const rsFrom = (w: ReturnType<typeof world>, hex: string, o: { src?: string; hop?: number; link?: string } = {}) =>
    w.deliverNd({ data: Buffer.from(hex, 'hex'), src: o.src ?? 'fe80::200:ff:fe00:101', dst: 'ff02::2', link: o.link ?? 'mn1', hopLimit: o.hop ?? 255 })

  async function registered() {
    const w = await attached()
    w.accept(w.pbus()[0]!)
    expect(state(w)).toBe('registered')
    w.tick(60_000) // the initial RAs are out
    w.ras.length = 0
    return w
  }

  /** Answers are RAs after a random delay of up to MAX_RA_DELAY_TIME (RFC 4861 §6.2.6). */
  const answered = (w: ReturnType<typeof world>): number => {
    w.tick(1000)
    return w.ras.filter((r) => nd.decode(r.bytes).kind === 'router-advertisement').length
  }

  test('§6.1.1 a valid RS (link-local source, SLLA) is answered: the baseline', async () => {
    const w = await registered()
    rsFrom(w, '8500000000000000' + SLLA)
    expect(answered(w)).toBe(1)
  })

  test('§6.1.1 from the unspecified address with a Source Link-Layer Address option: silently discarded', async () => {
    const w = await registered()
    rsFrom(w, '8500000000000000' + SLLA, { src: '::' })
    rsFrom(w, '8500000000000000' + SLLA, { src: '0:0::0' })
    expect(answered(w)).toBe(0)
    expect(counters(w)['nd.drop.unspecified-source-with-slla']).toBe(2)
    // From :: without the option it is valid (answered to all-nodes).
    rsFrom(w, '8500000000000000', { src: '::' })
    expect(answered(w)).toBe(1)
  })

  test('§6.1.1 IP Hop Limit other than 255: discarded', async () => {
    const w = await registered()
    rsFrom(w, '8500000000000000' + SLLA, { hop: 254 })
    expect(answered(w)).toBe(0)
    expect(counters(w)['core.rs-dropped:hop-limit']).toBe(1)
  })

  test('§6.1.1 ICMP Code other than 0: discarded', async () => {
    const w = await registered()
    rsFrom(w, '8501000000000000' + SLLA)
    expect(answered(w)).toBe(0)
    expect(counters(w)['nd.malformed.bad-icmp-code']).toBe(1)
  })

  test('§6.1.1 ICMP length under 8 octets: discarded', async () => {
    const w = await registered()
    rsFrom(w, '85000000000000')
    expect(answered(w)).toBe(0)
    expect(counters(w)['nd.malformed.truncated']).toBe(1)
  })

  test('§6.1.1 an option with length 0: discarded', async () => {
    const w = await registered()
    rsFrom(w, '8500000000000000' + SLLA + '0e00000000000000')
    expect(answered(w)).toBe(0)
    expect(counters(w)['nd.malformed.bad-option-length']).toBe(1)
  })
})
