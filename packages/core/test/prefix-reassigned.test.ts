// RFC 5213 §2.2 (Per-MN-Prefix model only): when the LMA grants one MN a prefix that another MN
// at this MAG still holds (an LMA that restarted lost its bindings and hands out its pool in the
// order PBUs reach it), the other MN's hold on it is stale. Seen in the heartbeat e2e test under
// load: mn2's forwarding for the prefix failed in the kernel (the route was mn1's) and mn2 ended
// 'failed' while the LMA held all three bindings.
import { LMA2, MAC2, NAI, Harness, config, profile, deadPrefixes, hnpsOf, lastPbu, livePrefixes, ofType, pbaFor, pbus, ras, states } from './harness'

const P0 = '2001:db8:100::/64'
const P1 = '2001:db8:100:1::/64'
const MN2 = 'mn2@example.com'

test('a prefix granted to another MN is withdrawn from its holder first, and the holder registers again', () => {
  const h = new Harness()
  h.register([P0])
  expect(h.view(NAI)).toMatchObject({ state: 'registered', prefixes: [P0] })
  // mn2's registration (with an LMA that restarted since mn1's) is granted mn1's prefix.
  const cmds = h.pba(pbaFor(lastPbu(h.attach({ link: 'ppp1', mnId: MN2, llId: MAC2 })), 0, { prefixes: [P0] }))
  const fwd = cmds.filter((c) => c.type === 'forwarding-up' || c.type === 'forwarding-down').map((c) => [c.type, (c as { mnId: string }).mnId, (c as { prefixes: readonly string[] }).prefixes.join()])
  // mn1's routes for P0 go before mn2's are added: the kernel refuses a second route for P0.
  const downMn1 = fwd.findIndex(([t, mn, p]) => t === 'forwarding-down' && mn === NAI && p === P0)
  const upMn2 = fwd.findIndex(([t, mn, p]) => t === 'forwarding-up' && mn === MN2 && p === P0)
  expect(downMn1).toBeGreaterThanOrEqual(0)
  expect(upMn2).toBeGreaterThan(downMn1)
  // mn1 is told P0 is gone (lifetime 0 on its link) and asks the LMA again, not for P0.
  const ra1 = ras(cmds).filter((r) => r.link === 'ppp0')
  expect(ra1.flatMap((r) => deadPrefixes(r.ra))).toContain(P0)
  expect(ra1.flatMap((r) => livePrefixes(r.ra))).not.toContain(P0)
  expect(states(cmds).filter((s) => s.mnId === NAI).map((s) => [s.to, s.reason])).toEqual([['registering', 'prefix-reassigned']])
  const pbu1 = pbus(cmds).filter((p) => p.mnId === NAI)
  expect(pbu1).toHaveLength(1)
  expect(hnpsOf(pbu1[0]!.pbu)).toEqual(['::/0'])
  expect(h.core.counters()['prefix-reassigned']).toBe(1)
  expect(h.view(MN2)).toMatchObject({ state: 'registered', prefixes: [P0] })
  // The LMA gives mn1 a prefix of its choosing: both served, each its own.
  h.pba(pbaFor(pbu1[0]!.pbu, 0, { prefixes: [P1] }))
  expect(h.view(NAI)).toMatchObject({ state: 'registered', prefixes: [P1] })
  expect(h.view(MN2)).toMatchObject({ state: 'registered', prefixes: [P0] })
})

test('a prefix freed by a de-registration, or kept by its own refresh, reassigns nothing', () => {
  const h = new Harness()
  h.register([P0])
  h.pba(pbaFor(lastPbu(h.detach()), 0, { lifetime: 0 }))
  expect(h.view(NAI)).toBeUndefined()
  const cmds = h.pba(pbaFor(lastPbu(h.attach({ link: 'ppp1', mnId: MN2, llId: MAC2 })), 0, { prefixes: [P0] }))
  expect(ofType(cmds, 'forwarding-up').map((c) => c.prefixes)).toEqual([[P0]])
  // Its refresh, granted the same prefix: nothing moves.
  let refresh = pbus([]).filter((p) => p.mnId === MN2)
  for (let s = 0; s < 36_000 && refresh.length === 0; s++) refresh = pbus(h.advanceBy(1000)).filter((p) => p.mnId === MN2)
  expect(refresh.length).toBeGreaterThan(0)
  const again = h.pba(pbaFor(refresh[0]!.pbu, 0, { prefixes: [P0] }))
  expect(ofType(again, 'forwarding-up')).toEqual([])
  expect(h.core.counters()['prefix-reassigned'] ?? 0).toBe(0)
  expect(h.view(MN2)).toMatchObject({ state: 'registered', prefixes: [P0] })
})

test('another LMA granting the same prefix does not speak for the first LMA: nothing is withdrawn', () => {
  const h = new Harness(config({ profiles: [profile(), { mnId: MN2, lma: LMA2, macs: ['00:aa:bb:cc:dd:ee'] }] }))
  h.register([P0])
  const cmds = h.pba(pbaFor(lastPbu(h.attach({ link: 'ppp1', mnId: MN2, llId: MAC2 })), 0, { prefixes: [P0] }), LMA2)
  expect(states(cmds).filter((s) => s.mnId === NAI)).toEqual([])
  expect(ofType(cmds, 'forwarding-down')).toEqual([])
  expect(h.core.counters()['prefix-reassigned'] ?? 0).toBe(0)
  expect(h.view(NAI)).toMatchObject({ state: 'registered', prefixes: [P0] })
})
