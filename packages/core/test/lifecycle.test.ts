// RFC 5213 §6.9.1.3 refresh, §6.13 detachment detection, §6.9.1.4 de-registration, handoffs, §6.12 renumbering.
import { Harness, config, lastPbu, opt, pbus, ras, states, ofType, pbaFor, hnpsOf, livePrefixes, deadPrefixes, NAI, LMA } from './harness'

const P1 = '2001:db8:1:1::/64'
const P2 = '2001:db8:1:2::/64'

describe('RFC 5213 §6.9.1.3 / §6.13 binding refresh', () => {
  test('§6.9.1.3 refresh at 0.8 of the granted lifetime, after a presence check, with HI 5 and every assigned prefix', () => {
    const h = new Harness()
    const t0 = h.now
    h.register([P1, P2])
    expect(pbus(h.advance(t0 + 2_879_999))).toEqual([])
    const cmds = h.advance(t0 + 2_880_000)
    expect(ofType(cmds, 'query-presence')[0]).toMatchObject({ purpose: 'refresh', mnId: NAI })
    const pbu = lastPbu(cmds)
    expect(opt(pbu, 'handoff-indicator')!.value).toBe(5)
    expect(hnpsOf(pbu)).toEqual([P1, P2])
    expect(pbu.lifetime).toBe(3600)
    expect(opt(pbu, 'mn-ll-id')).toBeDefined()
    expect(opt(pbu, 'timestamp')).toBeDefined()
    expect(states(cmds).map((s) => [s.from, s.to, s.reason])).toEqual([['registered', 'refreshing', 'refresh']])
    // RAs go on while refreshing; the accepted refresh moves expiry and the next refresh.
    const acc = h.pba(pbaFor(pbu, 0, { prefixes: [P1, P2] }))
    expect(states(acc)[0]).toMatchObject({ from: 'refreshing', to: 'registered', reason: 'pba-accepted' })
    expect(ofType(acc, 'forwarding-up')).toEqual([])
    expect(h.view()!.lifetimeLeft).toBe(3600)
  })

  test('§6.9.1.3 refresh fraction is configurable', () => {
    const h = new Harness(config({ refreshFraction: 0.5 }))
    const t0 = h.now
    h.register()
    expect(pbus(h.advance(t0 + 1_800_000))).toHaveLength(1)
  })

  test('§6.13 an MN no longer present is not extended: it is de-registered and its entry removed', () => {
    const h = new Harness()
    h.register()
    h.presence.set(NAI, false)
    const cmds = h.advanceBy(2_880_000)
    const p = lastPbu(cmds)
    expect(p.lifetime).toBe(0)
    expect(states(cmds).map((s) => s.reason)).toEqual(['presence-lost'])
    const withdraw = ras(cmds)[ras(cmds).length - 1]!
    expect(withdraw.ra.routerLifetime).toBe(0)
    expect(deadPrefixes(withdraw.ra)).toEqual([P1])
    h.pba(pbaFor(p, 0))
    expect(h.view()).toBeUndefined()
  })

  test('§6.7 the binding expiring without a successful refresh stops the HNP and forwarding, then registers afresh', () => {
    const h = new Harness(config({ maxRetransmissions: 100 }))
    const t0 = h.now
    h.register([P1])
    const cmds = h.advance(t0 + 3_600_000)
    const st = states(cmds).map((s) => [s.to, s.reason])
    expect(st).toContainEqual(['registering', 'binding-expired'])
    expect(ofType(cmds, 'forwarding-down')).toHaveLength(1)
    const afterExpiry = cmds.slice(cmds.findIndex((c) => c.type === 'state-changed' && c.reason === 'binding-expired'))
    const p = lastPbu(afterExpiry)
    expect(opt(p, 'handoff-indicator')!.value).toBe(4)
    expect(hnpsOf(p)).toEqual([P1])
    expect(h.view()!.prefixes).toEqual([])
  })
})

describe('RFC 5213 §6.9.1.4 de-registration', () => {
  test('§6.9.1.4 detach: lifetime 0, HI 4, every prefix; withdrawal RA; on the PBA the entry, routes, link and timers go', () => {
    const h = new Harness()
    h.register([P1, P2])
    const cmds = h.detach()
    const p = lastPbu(cmds)
    expect(p.lifetime).toBe(0)
    expect(opt(p, 'handoff-indicator')!.value).toBe(4)
    expect(hnpsOf(p)).toEqual([P1, P2])
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'registered', to: 'deregistering', reason: 'detached:left' }])
    const ra = ras(cmds)[0]!.ra
    expect(ra.routerLifetime).toBe(0)
    expect(deadPrefixes(ra)).toEqual([P1, P2])
    expect(ofType(cmds, 'forwarding-down')).toEqual([{ type: 'forwarding-down', mnId: NAI, link: 'ppp0', prefixes: [P1, P2], mode: 'tunnel', lma: LMA }])
    expect(h.keysOf(NAI)).toEqual([`pbu/${NAI}`])
    const done = h.pba(pbaFor(p, 0))
    expect(states(done)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'deregistering', to: 'removed', reason: 'deregistration-accepted' }])
    expect(ofType(done, 'link-teardown')).toEqual([{ type: 'link-teardown', link: 'ppp0', mnId: NAI, llId: '00:11:22:33:44:55' }])
    expect(h.view()).toBeUndefined()
    expect(h.keysOf(NAI)).toEqual([])
  })

  test('§6.9.1.4 no reply within INITIAL_BINDACK_TIMEOUT: the entry goes anyway, no retransmission', () => {
    const h = new Harness()
    h.register()
    h.detach()
    const cmds = h.advanceBy(1000)
    expect(pbus(cmds)).toEqual([])
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['removed', 'deregistration-timeout']])
    expect(h.keysOf(NAI)).toEqual([])
  })

  test('§6.9.1.4 nothing to de-register after a rejection: the entry goes at once', () => {
    const h = new Harness()
    h.pba(pbaFor(lastPbu(h.attach()), 129))
    const cmds = h.detach()
    expect(pbus(cmds)).toEqual([])
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['removed', 'detached:left']])
  })

  test('§6.9.1.4 a detach while the registration is unanswered de-registers (the LMA may have accepted it)', () => {
    const h = new Harness()
    h.attach()
    const p = lastPbu(h.detach({ cause: 'lost' }))
    expect(p.lifetime).toBe(0)
    expect(hnpsOf(p)).toEqual(['::/0'])
    expect(h.view()!.reason).toBe('detached:lost')
  })

  test('§6.9.1.4 a detach for a link the MN is not on is ignored and counted', () => {
    const h = new Harness()
    h.register()
    expect(h.detach({ link: 'ppp9' })).toEqual([])
    expect(h.detach({ mnId: 'nobody@example.com' })).toEqual([])
    expect(h.core.counters()['detach-unknown']).toBe(2)
  })

  test('§6.9.1.4 detach by link only (point-to-point link, no MN-ID)', () => {
    const h = new Harness()
    h.register()
    expect(lastPbu(h.detach({ mnId: undefined })).lifetime).toBe(0)
  })
})

describe('handoffs (RFC 5213 §3 Figure 3, §6.9.1.1, §6.9.1.4)', () => {
  test('§6.9.1.1 new MAG: attach with hint same-interface registers with HI 3 and the MN keeps its prefix once accepted', () => {
    const nmag = new Harness()
    const p = lastPbu(nmag.attach({ hint: 'same-interface' }))
    expect(opt(p, 'handoff-indicator')!.value).toBe(3)
    const acc = nmag.pba(pbaFor(p, 0, { prefixes: [P1] }))
    expect(ras(acc).map((r) => livePrefixes(r.ra))).toEqual([[P1]])
  })

  test('§6.9.1.4 old MAG: its de-registration answered after the new MAG registered only removes local state', () => {
    const pmag = new Harness()
    pmag.register([P1])
    const dereg = lastPbu(pmag.detach())
    // The LMA has already moved the binding to the new MAG; it still answers the de-registration.
    const cmds = pmag.pba(pbaFor(dereg, 0))
    expect(cmds.map((c) => c.type).sort()).toEqual(['cancel-timer', 'link-teardown', 'state-changed'])
    expect(pbus(cmds)).toEqual([])
    expect(ras(cmds)).toEqual([])
  })

  test('§6.9.1.4 old MAG: a rejected de-registration also ends the entry', () => {
    const pmag = new Harness()
    pmag.register([P1])
    const cmds = pmag.pba(pbaFor(lastPbu(pmag.detach()), 133))
    expect(states(cmds)[0]).toMatchObject({ to: 'removed', reason: 'pba-rejected:133' })
  })

  test('re-attach on the same MAG while the de-registration is pending supersedes it and registers again', () => {
    const h = new Harness()
    h.register([P1])
    const dereg = lastPbu(h.detach())
    h.advanceBy(300)
    const cmds = h.attach({ hint: 'same-interface' })
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'deregistering', to: 'registering', reason: 'reattach-supersedes-deregistration' }])
    const reg = lastPbu(cmds)
    expect(reg.lifetime).toBe(3600)
    expect(opt(reg, 'handoff-indicator')!.value).toBe(3)
    // It asks for the prefixes it had.
    expect(hnpsOf(reg)).toEqual([P1])
    // The late PBA of the old de-registration matches nothing and removes nothing.
    expect(h.pba(pbaFor(dereg, 0))).toEqual([])
    expect(h.view()!.state).toBe('registering')
    // The de-registration timeout does not fire either.
    expect(states(h.advanceBy(900))).toEqual([])
    h.pba(pbaFor(reg, 0, { prefixes: [P1] }))
    expect(h.view()!.state).toBe('registered')
  })

  test('detach then attach on another link of the same MAG (either order) moves the entry', () => {
    const h = new Harness()
    h.register([P1])
    // Attach on ppp1 first, then the stale detach from ppp0.
    const cmds = h.attach({ link: 'ppp1', hint: 'same-interface' })
    expect(ofType(cmds, 'link-teardown')).toEqual([{ type: 'link-teardown', link: 'ppp0', mnId: NAI, llId: '00:11:22:33:44:55' }])
    expect(ofType(cmds, 'forwarding-down')[0]!.link).toBe('ppp0')
    expect(ras(cmds)[0]!.link).toBe('ppp0')
    expect(ras(cmds)[0]!.ra.routerLifetime).toBe(0)
    expect(h.detach({ link: 'ppp0' })).toEqual([])
    h.pba(pbaFor(lastPbu(cmds), 0, { prefixes: [P1] }))
    expect(h.view()).toMatchObject({ link: 'ppp1', state: 'registered' })
  })
})

describe('RFC 5213 §6.12 renumbering', () => {
  test('§6.12 a refresh PBA with another prefix set withdraws the old prefix (zero lifetime) and moves the routes', () => {
    const h = new Harness()
    h.register([P1])
    const refresh = lastPbu(h.advanceBy(2_880_000))
    const cmds = h.pba(pbaFor(refresh, 0, { prefixes: [P2] }))
    expect(ofType(cmds, 'forwarding-down').map((c) => c.prefixes)).toEqual([[P1]])
    expect(ofType(cmds, 'forwarding-up').map((c) => c.prefixes)).toEqual([[P2]])
    const ra = ras(cmds)[0]!.ra
    expect(deadPrefixes(ra)).toEqual([P1])
    expect(livePrefixes(ra)).toEqual([P2])
    expect(ra.routerLifetime).toBeGreaterThan(0)
    expect(h.view()!.prefixes).toEqual([P2])
  })
})
