// Home-link emulation: RFC 5213 §6.7, §6.9.2, §6.9.3, §6.9.5, §6.12 with RFC 4861 §6.2 timing.
import { nd } from '@pmip6/wire'
import { RA_10_3 } from '../../wire/test/vectors'
import { Harness, config, profile, lastPbu, ras, ofType, pbaFor, piosOf, livePrefixes, deadPrefixes, NAI, LMA, MAC, MAC2 } from './harness'

const P1 = '2001:db8:1:1::/64'

describe('RFC 5213 §6.9.2 / §6.7 Router Advertisements', () => {
  test('§10.3 golden: the first RA after acceptance encodes to the exact bytes of the worked example (checksum aside)', () => {
    const h = new Harness()
    const cmds = h.register([P1])
    const send = ras(cmds)[0]!
    expect(send).toMatchObject({ link: 'ppp0', to: 'ff02::1', src: 'fe80::1', llDst: null, mnId: NAI })
    const golden = Buffer.from(RA_10_3)
    golden[2] = 0
    golden[3] = 0
    expect(nd.encode(send.ra).toString('hex')).toBe(golden.toString('hex'))
  })

  test('§6.9.2 item 1-2: no RA (and so no HNP) before the binding is accepted; RS before acceptance is dropped and counted', () => {
    const h = new Harness()
    const a = h.attach()
    expect(ras(a)).toEqual([])
    expect(h.rs()).toEqual([])
    expect(h.core.counters()['rs-dropped:no-binding']).toBe(1)
  })

  test('§6.9.2 RS with a hop limit other than 255 is dropped and counted (RFC 4861 §6.1.1)', () => {
    const h = new Harness()
    h.register()
    expect(h.rs({ hopLimit: 64 })).toEqual([])
    expect(h.core.counters()['rs-dropped:hop-limit']).toBe(1)
  })

  test('§6.9.2 RS is answered within MAX_RA_DELAY_TIME (0.5 s), to the soliciting address, with the HNP', () => {
    const h = new Harness(config({ ra: { minDelayBetweenRasMs: 0 } }))
    h.register()
    const arm = ofType(h.rs(), 'arm-timer')[0]!
    expect(arm.key).toBe(`rs/${NAI}`)
    expect(arm.at - h.now).toBeGreaterThanOrEqual(0)
    expect(arm.at - h.now).toBeLessThanOrEqual(500)
    const reply = ras(h.advance(arm.at))
    expect(reply).toHaveLength(1)
    expect(reply[0]!.to).toBe('fe80::211:22ff:fe33:4455')
    expect(livePrefixes(reply[0]!.ra)).toEqual([P1])
  })

  test('§6.9.2 RS from the unspecified address is answered to all-nodes', () => {
    const h = new Harness(config({ ra: { minDelayBetweenRasMs: 0 } }))
    h.register()
    h.rs({ from: '::' })
    expect(ras(h.advanceBy(500))[0]!.to).toBe('ff02::1')
  })

  test('§6.9.2 the random RS delay comes from the seeded PRNG: same seed, same schedule', () => {
    const delays = (seed: number): number[] => {
      const h = new Harness(config({ seed, ra: { minDelayBetweenRasMs: 0 } }))
      h.register()
      const out: number[] = []
      for (let i = 0; i < 5; i++) {
        const arm = ofType(h.rs(), 'arm-timer')[0]!
        out.push(arm.at - h.now)
        h.advance(arm.at)
      }
      return out
    }
    expect(delays(7)).toEqual(delays(7))
    expect(delays(7)).not.toEqual(delays(8))
  })

  test('§6.9.2 RS flood: at most one RA per MIN_DELAY_BETWEEN_RAS per MN, drops counted', () => {
    const h = new Harness(config({ ra: { maxIntervalMs: 600_000, minIntervalMs: 200_000 } }))
    h.register()
    const start = h.now
    let sent = 0
    for (let i = 0; i < 1000; i++) {
      sent += ras(h.rs()).length
      sent += ras(h.advanceBy(10)).filter((r) => r.to !== 'ff02::1').length
    }
    // 10 s of flood at 3 s spacing: at most 4 solicited RAs.
    expect(h.now - start).toBe(10_000)
    expect(sent).toBeLessThanOrEqual(4)
    expect(sent).toBeGreaterThanOrEqual(3)
    expect(h.core.counters()['rs-dropped:rate-limited']).toBeGreaterThan(900)
  })

  test('RFC 4861 §6.2.4: initial burst of MAX_INITIAL_RTR_ADVERTISEMENTS at intervals up to 16 s, then periodic RAs within [Min, MaxRtrAdvInterval]', () => {
    const h = new Harness()
    const t0 = h.now
    h.register()
    const times: number[] = [0]
    for (let i = 0; i < 6; i++) {
      const at = h.timers.get(`ra/${NAI}`)!
      ras(h.advance(at))
      times.push(h.now - t0)
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    expect(gaps[0]).toBeLessThanOrEqual(16_000)
    expect(gaps[1]).toBeLessThanOrEqual(16_000)
    for (const g of gaps.slice(2)) {
      expect(g).toBeGreaterThanOrEqual(20_000)
      expect(g).toBeLessThanOrEqual(60_000)
    }
  })

  test('§6.7 prefix lifetimes are tied to the binding lifetime: valid and preferred = the granted lifetime in every RA, not what is left of it', () => {
    const h = new Harness(config({ profiles: [profile({ prefixLifetime: 100_000 })] }))
    const pbu = lastPbu(h.attach())
    h.pba(pbaFor(pbu, 0, { prefixes: [P1], lifetime: 600 }))
    h.advanceBy(100_000)
    const r = ras(h.advance(h.timers.get(`ra/${NAI}`)!))[0]!
    const pio = piosOf(r.ra)[0]!
    expect(h.view()!.lifetimeLeft).toBeLessThan(600)
    expect(pio).toMatchObject({ validLifetime: 600, preferredLifetime: 600 })
  })

  test('§6.7 the profile prefix lifetime caps the advertised lifetime', () => {
    const h = new Harness(config({ profiles: [profile({ prefixLifetime: 300 })] }))
    const r = ras(h.register())[0]!
    expect(piosOf(r.ra)[0]).toMatchObject({ validLifetime: 300, preferredLifetime: 300 })
  })

  test('§6.4 stateless only: L+A, no M; stateful only: A off, M on, O on; both: A, M; O from the profile', () => {
    const flags = (addressConfig: 'stateless' | 'stateful' | 'both', otherConfig?: boolean) => {
      const h = new Harness(config({ profiles: [profile({ addressConfig, ...(otherConfig === undefined ? {} : { otherConfig }) })] }))
      const ra = ras(h.register())[0]!.ra
      const pio = piosOf(ra)[0]!
      return { L: pio.onLink, A: pio.autonomous, M: ra.flags.managed, O: ra.flags.other }
    }
    expect(flags('stateless')).toEqual({ L: true, A: true, M: false, O: false })
    expect(flags('stateful')).toEqual({ L: true, A: false, M: true, O: true })
    expect(flags('both', false)).toEqual({ L: true, A: true, M: true, O: false })
    expect(flags('stateless', true)).toEqual({ L: true, A: true, M: false, O: true })
  })

  test('§6.9.5 MTU option = min(tunnel MTU, access link MTU); an mtu event updates it and sends an additional RA', () => {
    const h = new Harness(config({ tunnelMtu: 1400, links: { ppp0: { mtu: 1492 } } }))
    const mtuOf = (cmds: ReturnType<Harness['step']>): number | undefined => {
      const o = ras(cmds)[0]?.ra.options.find((x) => x.type === 'mtu')
      return o && o.type === 'mtu' ? o.mtu : undefined
    }
    expect(mtuOf(h.register())).toBe(1400)
    const lower = h.step({ type: 'mtu', at: h.now, lma: LMA, mtu: 1300 })
    expect(mtuOf(lower)).toBe(1300)
    const higher = h.step({ type: 'mtu', at: h.now, lma: LMA, mtu: 9000 })
    expect(mtuOf(higher)).toBe(1492)
    const link = h.step({ type: 'mtu', at: h.now, link: 'ppp0', mtu: 1280 })
    expect(mtuOf(link)).toBe(1280)
    expect(h.step({ type: 'mtu', at: h.now, lma: LMA, mtu: 100 })).toEqual([])
  })

  test('§6.9.5 per-LMA tunnel MTU from the config', () => {
    const h = new Harness(config({ lmaMtu: { '2001:db8:ffff:0:0:0:0:2': 1420 } }))
    const mtu = ras(h.register())[0]!.ra.options.find((x) => x.type === 'mtu')
    expect(mtu).toEqual({ type: 'mtu', mtu: 1420 })
  })

  test('§6.9.3 RAs come from the fixed link-local address with the fixed link-layer address as SLLA; without them, the interface own', () => {
    const fixed = ras(new Harness().register())[0]!
    expect(fixed.src).toBe('fe80::1')
    expect(fixed.ra.options[0]).toEqual({ type: 'source-ll-addr', address: Buffer.from('0200000000fe', 'hex') })
    const none = ras(new Harness(config({ fixedLinkLocal: undefined, fixedLinkLayer: undefined })).register())[0]!
    expect(none.src).toBe('::')
    expect(none.ra.options.some((o) => o.type === 'source-ll-addr')).toBe(false)
    const perLink = ras(new Harness(config({ fixedLinkLocal: undefined, links: { ppp0: { linkLocal: 'FE80::9' } } })).register())[0]!
    expect(perLink.src).toBe('fe80::9')
  })

  test('§6.3 shared link: each MN gets its own RAs, sent to its MAC (llDst), never another MN prefix', () => {
    const cfg = config({ links: { wlan0: { shared: true } } })
    const h = new Harness(cfg)
    const a = h.register(['2001:db8:1:1::/64'], { link: 'wlan0', llId: MAC })
    const b = h.register(['2001:db8:2:2::/64'], { link: 'wlan0', mnId: 'mn2@example.com', llId: MAC2 })
    expect(ras(a)[0]).toMatchObject({ link: 'wlan0', llDst: '00:11:22:33:44:55', mnId: NAI })
    expect(livePrefixes(ras(a)[0]!.ra)).toEqual(['2001:db8:1:1::/64'])
    expect(ras(b)[0]).toMatchObject({ link: 'wlan0', llDst: '00:aa:bb:cc:dd:ee', mnId: 'mn2@example.com' })
    expect(livePrefixes(ras(b)[0]!.ra)).toEqual(['2001:db8:2:2::/64'])
    // An RS is attributed by its link-layer source.
    h.rs({ link: 'wlan0', llId: MAC2 })
    const reply = ras(h.advanceBy(3500)).filter((r) => r.to !== 'ff02::1')
    expect(reply.map((r) => r.mnId)).toEqual(['mn2@example.com'])
    // Without a MAC the RS cannot be attributed on a shared link.
    expect(h.rs({ link: 'wlan0', llId: undefined })).toEqual([])
    expect(h.core.counters()['rs-dropped:unknown-mn']).toBe(1)
    // And an attach without a MAC is refused there.
    expect(h.attach({ link: 'wlan0', mnId: 'x@example.com', llId: undefined })).toEqual([])
    // Detach of one MN tears down only that station.
    const d = h.detach({ link: 'wlan0', mnId: undefined, llId: MAC })
    expect(ras(d)[0]!.llDst).toBe('00:11:22:33:44:55')
    h.advanceBy(1000)
    expect(h.core.bindings().map((v) => v.mnId)).toEqual(['mn2@example.com'])
  })

  test('§6.9.2 / §6.12 withdrawal on detach: zero lifetimes and router lifetime 0; nothing advertised afterwards', () => {
    const h = new Harness()
    h.register()
    const r = ras(h.detach())[0]!.ra
    expect(r.routerLifetime).toBe(0)
    expect(deadPrefixes(r)).toEqual([P1])
    expect(livePrefixes(r)).toEqual([])
    expect(h.rs()).toEqual([])
    expect(ras(h.advanceBy(600_000))).toEqual([])
  })

})
