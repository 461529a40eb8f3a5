// RFC 6612 §3.3 switch back to network mode (issue 17, item 12): no router lifetime 0 for a
// router address that stays (RFC 4861 §6.2.5 is for a router that goes).
import { Harness, config, profile, lastPbu, pbaFor, ras, livePrefixes, deadPrefixes, NAI } from './harness'

const P1 = '2001:db8:1:1::/64'
const POOL = '2001:db8:aa00::/48'

describe('RFC 6612 §3.3 host -> network keeps the default router', () => {
  test('§3.3 / RFC 5213 §6.9.3 with a fixed link-local address: the local prefix is withdrawn in an RA that keeps the router lifetime; the HNP RA follows the PBA', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL }))
    h.attach()
    const sw = h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'network' })
    const r = ras(sw)
    expect(r).toHaveLength(1)
    expect(r[0]!.src).toBe('fe80::1')
    expect(r[0]!.ra.routerLifetime).toBe(1800)
    expect(deadPrefixes(r[0]!.ra)).toEqual(['2001:db8:aa00::/64'])
    expect(livePrefixes(r[0]!.ra)).toEqual([])
    const acc = h.pba(pbaFor(lastPbu(sw), 0, { prefixes: [P1] }))
    expect(ras(acc)[0]!.ra.routerLifetime).toBe(1800)
    expect(livePrefixes(ras(acc)[0]!.ra)).toEqual([P1])
    // No RA with router lifetime 0 anywhere in between.
    expect(h.log.filter((c) => c.type === 'send-ra' && c.ra.routerLifetime === 0)).toEqual([])
  })

  test('§3.3 if the registration after the switch is rejected, the router that was kept is withdrawn then (router lifetime 0)', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL }))
    h.attach()
    const sw = h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'network' })
    const rej = h.pba(pbaFor(lastPbu(sw), 129))
    expect(h.view()!.state).toBe('denied')
    const r = ras(rej)
    expect(r).toHaveLength(1)
    expect(r[0]!.ra.routerLifetime).toBe(0)
  })

  test('§3.3 without a fixed link-local address (the LMA may give a new one, §6.9.1.2 item 15) the old router is withdrawn as before', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL, fixedLinkLocal: '::', links: { ppp0: { linkLocal: 'fe80::7' } } }))
    h.attach()
    const sw = h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'network' })
    expect(ras(sw)[0]!.ra.routerLifetime).toBe(0)
  })
})
