// RFC 6612 §3.3 Scenario B (and RFC 5213 §6.14): host-mode MNs get a local prefix, no PBU; run-time switch.
import { PrefixPool } from '../src'
import { Harness, config, profile, lastPbu, pbus, ras, states, ofType, pbaFor, livePrefixes, deadPrefixes, opt, NAI, LMA } from './harness'

const P1 = '2001:db8:1:1::/64'
const POOL = '2001:db8:aa00::/48'

describe('RFC 6612 §3.3 Scenario B', () => {
  test('§3.3 a host-mode MN gets no PBU: a local prefix carved from the pool, routed natively, advertised at once', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL }))
    const cmds = h.attach()
    expect(pbus(cmds)).toEqual([])
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: null, to: 'local', reason: 'attached' }])
    expect(ofType(cmds, 'forwarding-up')).toEqual([{ type: 'forwarding-up', mnId: NAI, link: 'ppp0', prefixes: ['2001:db8:aa00::/64'], mode: 'local', lma: null }])
    const ra = ras(cmds)[0]!.ra
    expect(livePrefixes(ra)).toEqual(['2001:db8:aa00::/64'])
    expect(ra.flags.homeAgent).toBe(false)
    expect(h.view()).toMatchObject({ state: 'local', mode: 'host', lma: null, prefixes: ['2001:db8:aa00::/64'] })
  })

  test('§3.3 each host-mode MN gets its own /64 from the /48; freed prefixes are reused', () => {
    const pool = new PrefixPool(POOL, 64)
    expect([0, 1, 2, 0xffff].map((i) => pool.prefixText(i))).toEqual(['2001:db8:aa00::/64', '2001:db8:aa00:1::/64', '2001:db8:aa00:2::/64', '2001:db8:aa00:ffff::/64'])
    expect([pool.allocate(), pool.allocate(), pool.allocate()]).toEqual([0, 1, 2])
    pool.release(1)
    expect(pool.allocate()).toBe(1)
    expect(pool.allocate()).toBe(3)
    expect(() => new PrefixPool(POOL, 40)).toThrow(RangeError)
  })

  test('§3.3 the link local prefix, when configured, is used instead of the pool', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL, links: { ppp0: { localPrefix: '2001:db8:77::/64' } } }))
    expect(livePrefixes(ras(h.attach())[0]!.ra)).toEqual(['2001:db8:77::/64'])
  })

  test('§3.3 RS from a host-mode MN is answered with the local prefix', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL, ra: { minDelayBetweenRasMs: 0 } }))
    h.attach()
    h.rs()
    expect(livePrefixes(ras(h.advanceBy(500))[0]!.ra)).toEqual(['2001:db8:aa00::/64'])
  })

  test('§3.3 policy network -> host at run time: de-registers, withdraws the HNP (zero lifetime) and advertises the local prefix; no link teardown', () => {
    const h = new Harness(config({ localPool: POOL }))
    h.register([P1])
    const cmds = h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'host' })
    const dereg = lastPbu(cmds)
    expect(dereg.lifetime).toBe(0)
    expect(opt(dereg, 'handoff-indicator')!.value).toBe(4)
    expect(ofType(cmds, 'forwarding-down')).toEqual([{ type: 'forwarding-down', mnId: NAI, link: 'ppp0', prefixes: [P1], mode: 'tunnel', lma: LMA }])
    expect(ofType(cmds, 'forwarding-up')).toEqual([{ type: 'forwarding-up', mnId: NAI, link: 'ppp0', prefixes: ['2001:db8:aa00::/64'], mode: 'local', lma: null }])
    const ra = ras(cmds)[0]!.ra
    expect(deadPrefixes(ra)).toEqual([P1])
    expect(livePrefixes(ra)).toEqual(['2001:db8:aa00::/64'])
    expect(ra.routerLifetime).toBeGreaterThan(0)
    expect(ofType(cmds, 'link-teardown')).toEqual([])
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'registered', to: 'local', reason: 'policy:host' }])
    // The de-registration's PBA (or its timeout) leaves the MN where it is.
    expect(states(h.pba(pbaFor(dereg, 0)))).toEqual([])
    expect(h.view()!.state).toBe('local')
    // No HNP is ever advertised again in host mode.
    for (const r of ras(h.advanceBy(600_000))) expect(livePrefixes(r.ra)).toEqual(['2001:db8:aa00::/64'])
  })

  test('§3.3 policy host -> network: withdraws the local prefix, registers, advertises the HNP only after acceptance', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })], localPool: POOL }))
    h.attach()
    const cmds = h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'network' })
    const ra = ras(cmds)[0]!.ra
    expect(deadPrefixes(ra)).toEqual(['2001:db8:aa00::/64'])
    expect(livePrefixes(ra)).toEqual([])
    expect(ofType(cmds, 'forwarding-down')[0]).toMatchObject({ mode: 'local', prefixes: ['2001:db8:aa00::/64'] })
    const pbu = lastPbu(cmds)
    expect(pbu.lifetime).toBe(3600)
    expect(opt(pbu, 'handoff-indicator')!.value).toBe(4)
    expect(ras(cmds)).toHaveLength(1)
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'local', to: 'registering', reason: 'policy:network' }])
    const acc = h.pba(pbaFor(pbu, 0, { prefixes: [P1] }))
    expect(livePrefixes(ras(acc)[0]!.ra)).toEqual([P1])
  })

  test('§3.3 the switch also applies to later attaches (per-MN override), and flipping back quickly supersedes the pending de-registration', () => {
    const h = new Harness(config({ localPool: POOL }))
    h.register([P1])
    const dereg = lastPbu(h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'host' }))
    const back = h.step({ type: 'policy', at: h.now + 100, mnId: NAI, mode: 'network' })
    const reg = lastPbu(back)
    expect(reg.lifetime).toBe(3600)
    // It asks for the prefix it had, which the LMA still holds during MinDelayBeforeBCEDelete.
    expect(h.pba(pbaFor(dereg, 0))).toEqual([])
    h.pba(pbaFor(reg, 0, { prefixes: [P1] }))
    expect(h.view()!.state).toBe('registered')
    // Override to host persists across detach/attach.
    h.step({ type: 'policy', at: h.now, mnId: NAI, mode: 'host' })
    h.detach()
    h.advanceBy(2000)
    const again = h.attach()
    expect(pbus(again)).toEqual([])
    expect(h.view()!.state).toBe('local')
  })

  test('§3.3 a policy for an MN not attached is stored and counted', () => {
    const h = new Harness(config({ localPool: POOL }))
    expect(h.step({ type: 'policy', at: h.now, mnId: 'mn2@example.com', mode: 'host' })).toEqual([])
    expect(h.core.counters()['policy-stored']).toBe(1)
    const cmds = h.step({ type: 'attached', at: h.now, link: 'ppp1', mnId: 'mn2@example.com', att: 3 })
    expect(states(cmds)[0]).toMatchObject({ to: 'local' })
  })

  test('RFC 5213 §6.14 an MN switched to host mode needs no profile', () => {
    const h = new Harness(config({ localPool: POOL }))
    h.step({ type: 'policy', at: h.now, mnId: 'guest@example.com', mode: 'host' })
    const cmds = h.attach({ mnId: 'guest@example.com', link: 'ppp5' })
    expect(states(cmds)[0]).toMatchObject({ to: 'local' })
    // Flipping it to network mode without a profile keeps it served locally: never lose the node.
    const flip = h.step({ type: 'policy', at: h.now, mnId: 'guest@example.com', mode: 'network' })
    expect(pbus(flip)).toEqual([])
    expect(h.view('guest@example.com')).toMatchObject({ state: 'local', mode: 'host' })
  })

  test('§3.3 host-mode detach withdraws the local prefix, removes routes and the entry, and frees the prefix', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' }), { mnId: 'mn2@example.com', lma: LMA, mode: 'host' }], localPool: POOL }))
    h.attach()
    const cmds = h.detach()
    expect(pbus(cmds)).toEqual([])
    expect(ras(cmds)[0]!.ra.routerLifetime).toBe(0)
    expect(ofType(cmds, 'forwarding-down')[0]).toMatchObject({ mode: 'local' })
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'local', to: 'removed', reason: 'detached:left' }])
    expect(h.keysOf(NAI)).toEqual([])
    const other = h.step({ type: 'attached', at: h.now, link: 'ppp1', mnId: 'mn2@example.com', att: 3 })
    expect(livePrefixes(ras(other)[0]!.ra)).toEqual(['2001:db8:aa00::/64'])
  })

  test('§3.3 without any local prefix the MN stays local (reason says so) and nothing is advertised', () => {
    const h = new Harness(config({ profiles: [profile({ mode: 'host' })] }))
    const cmds = h.attach()
    expect(states(cmds)[0]).toMatchObject({ to: 'local', reason: 'attached:no-local-prefix' })
    expect(ras(cmds)).toEqual([])
  })
})
