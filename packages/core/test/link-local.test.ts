// RFC 5213 §6.8 and §6.9.1.2 item 15: the link-local address the LMA supplies (ALL_ZERO
// FixedMAGLinkLocalAddressOnAllAccessLinks) goes on the MN's access link before any RA comes
// from it, leaves with its last user, and is replaced when DAD finds the MN using it.
// RFC 5213 §6.9.5: the MTU option follows the uplink's and the path's MTU.
import { BaStatus, parseIp6 } from '@pmip6/wire'
import type { MagCommand } from '../src'
import { Harness, config, lastPbu, opt, pbus, ras, states, ofType, pbaFor, MAC, MAC2, NAI, LMA } from './harness'

const P1 = '2001:db8:1:1::/64'
const LLA = 'fe80::abcd'
const allZero = () => new Harness(config({ fixedLinkLocal: '::' }))

/** Attach and accept with the LMA naming `lla`; returns the accept step's commands. */
function accepted(h: Harness, lla = LLA, over: Parameters<Harness['attach']>[0] = {}, prefixes = [P1]): MagCommand[] {
  return h.pba(pbaFor(lastPbu(h.attach(over)), 0, { prefixes, lla }))
}

const ready = (h: Harness, address = LLA, link = 'ppp0') => h.step({ type: 'link-address', at: h.now, link, address, result: 'ready' })
const llaOf = (cmds: readonly MagCommand[]): string | undefined => {
  const p = pbus(cmds)
  const o = p.length > 0 ? opt(p[p.length - 1]!.pbu, 'link-local-address') : undefined
  return o === undefined ? undefined : o.address.toString('hex')
}

describe('RFC 5213 §6.8 / §6.9.1.2 item 15: the LMA-supplied link-local address', () => {
  test('§6.9.1.1 item 9: with ALL_ZERO the initial PBU asks for the address with an ALL_ZERO Link-local Address option', () => {
    expect(llaOf(allZero().attach())).toBe('0'.repeat(32))
  })

  test('§6.9.1.2 item 15: the address is configured on the access link first; no RA (nor RS answer) before it is ready', () => {
    const h = allZero()
    const cmds = accepted(h)
    expect(ofType(cmds, 'link-address-up')).toEqual([{ type: 'link-address-up', link: 'ppp0', address: LLA }])
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'forwarding-up')).toHaveLength(1)
    expect(h.view()).toMatchObject({ state: 'registered', routerAddress: LLA })
    expect(ras(h.rs())).toEqual([])
    expect(ras(h.advanceBy(5_000))).toEqual([])
    expect(h.core.counters()['rs-dropped:router-address-pending']).toBe(1)
    const now = ready(h)
    expect(ras(now).map((r) => r.src)).toEqual([LLA])
    expect(ofType(now, 'arm-timer').map((a) => a.kind)).toEqual(['ra'])
    // Then it is ordinary home-link emulation: periodic RAs and RS answers from that address.
    expect(ras(h.advanceBy(20_000)).every((r) => r.src === LLA)).toBe(true)
  })

  test('§6.9.1.2 item 15: the refresh PBU carries the address back; a ready event for nothing held is stale', () => {
    const h = allZero()
    accepted(h)
    ready(h)
    expect(llaOf(h.advanceBy(2_880_000))).toBe('fe80000000000000000000000000abcd')
    expect(ready(h, 'fe80::9')).toEqual([])
    expect(h.core.counters()['link-address-stale']).toBe(1)
  })

  test('§6.9.1.4: on detach the final RA goes from the address, then the address leaves the link', () => {
    const h = allZero()
    accepted(h)
    ready(h)
    const cmds = h.detach()
    const ra = cmds.findIndex((c) => c.type === 'send-ra')
    const down = cmds.findIndex((c) => c.type === 'link-address-down')
    expect(ra).toBeGreaterThanOrEqual(0)
    expect(down).toBeGreaterThan(ra)
    expect(cmds[down]).toEqual({ type: 'link-address-down', link: 'ppp0', address: LLA })
    expect(ras(cmds)[0]!.ra.routerLifetime).toBe(0)
  })

  test('§6.8: a detach before the address came up removes it; nothing is advertised from it', () => {
    const h = allZero()
    accepted(h)
    const cmds = h.detach()
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'link-address-down')).toEqual([{ type: 'link-address-down', link: 'ppp0', address: LLA }])
  })

  test('§6.8: one address shared by two MNs on a shared link is configured once and removed after the last one leaves', () => {
    const h = new Harness(config({ fixedLinkLocal: '::', links: { wlan0: { shared: true } } }))
    const a = accepted(h, LLA, { link: 'wlan0', llId: MAC })
    const b = h.pba(pbaFor(lastPbu(h.attach({ link: 'wlan0', mnId: 'mn2@example.com', llId: MAC2 })), 0, { prefixes: ['2001:db8:1:2::/64'], lla: LLA }))
    expect(ofType([...a, ...b], 'link-address-up')).toHaveLength(1)
    // Both wait for the one address, both advertise when it is up.
    expect(ras(ready(h, LLA, 'wlan0')).map((r) => r.mnId).sort()).toEqual(['mn1@example.com', 'mn2@example.com'])
    expect(ofType(h.detach({ link: 'wlan0' }), 'link-address-down')).toEqual([])
    expect(ofType(h.detach({ link: 'wlan0', mnId: 'mn2@example.com' }), 'link-address-down')).toEqual([{ type: 'link-address-down', link: 'wlan0', address: LLA }])
  })

  test('§6.8: a handoff to another access link of this MAG moves the address with the MN', () => {
    const h = allZero()
    accepted(h)
    ready(h)
    const move = h.attach({ link: 'ppp1', hint: 'same-interface' })
    expect(ofType(move, 'link-address-down')).toEqual([{ type: 'link-address-down', link: 'ppp0', address: LLA }])
    // The PBU for the new link names the address in use, so the LMA keeps it (§6.8).
    expect(llaOf(move)).toBe('fe80000000000000000000000000abcd')
    const acc = h.pba(pbaFor(lastPbu(move), 0, { prefixes: [P1], lla: LLA }))
    expect(ofType(acc, 'link-address-up')).toEqual([{ type: 'link-address-up', link: 'ppp1', address: LLA }])
    expect(ras(ready(h, LLA, 'ppp1')).map((r) => [r.link, r.src])).toEqual([['ppp1', LLA]])
  })

  test('§6.9.1.2 item 15: DAD finds the MN using the address: a different one is configured and uploaded to the LMA at once', () => {
    const h = allZero()
    accepted(h)
    const dup = h.step({ type: 'link-address', at: h.now, link: 'ppp0', address: LLA, result: 'duplicate' })
    const up = ofType(dup, 'link-address-up')
    expect(up).toHaveLength(1)
    const fresh = up[0]!.address
    expect(fresh).toMatch(/^fe80::/)
    expect(fresh).not.toBe(LLA)
    expect(ofType(dup, 'link-address-down')).toEqual([])
    expect(states(dup)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'registered', to: 'refreshing', reason: 'router-address-in-use' }])
    const pbu = lastPbu(dup)
    expect(pbu.lifetime).toBeGreaterThan(0)
    expect(opt(pbu, 'link-local-address')!.address).toEqual(parseIp6(fresh))
    expect(ras(dup)).toEqual([])
    // An LMA that still answers with the address in use does not get it back.
    const acc = h.pba(pbaFor(pbu, 0, { prefixes: [P1], lla: LLA }))
    expect(ofType(acc, 'link-address-up')).toEqual([])
    expect(h.view()).toMatchObject({ state: 'registered', routerAddress: fresh })
    expect(ras(ready(h, fresh)).map((r) => r.src)).toEqual([fresh])
  })

  test('§6.9.1.2 item 15: when every replacement collides too, the binding fails visibly and is de-registered', () => {
    const h = allZero()
    accepted(h)
    let address = LLA
    let last: MagCommand[] = []
    for (let i = 0; i <= 3; i++) {
      h.advanceBy(1_000) // DAD takes its time; no PBU waits for the rate limit (§6.9.4)
      last = h.step({ type: 'link-address', at: h.now, link: 'ppp0', address, result: 'duplicate' })
      const up = ofType(last, 'link-address-up')
      if (up.length > 0) address = up[0]!.address
    }
    expect(ofType(last, 'link-address-up')).toEqual([])
    expect(ras(last)).toEqual([])
    expect(lastPbu(last).lifetime).toBe(0)
    h.pba(pbaFor(lastPbu(last), 0))
    expect(h.view()).toMatchObject({ state: 'failed', reason: 'router-address-in-use' })
  })

  test('§6.9.1.2 item 15: a kernel refusal ends the binding with the reason (no silent MN)', () => {
    const h = allZero()
    accepted(h)
    const cmds = h.step({ type: 'link-address', at: h.now, link: 'ppp0', address: LLA, result: 'failed', reason: 'add address fe80::abcd: ENODEV' })
    expect(lastPbu(cmds).lifetime).toBe(0)
    h.pba(pbaFor(lastPbu(cmds), 0))
    expect(h.view()).toMatchObject({ state: 'failed', reason: 'router-address-failed: add address fe80::abcd: ENODEV' })
  })

  test('§6.9.3: with a fixed link-local address nothing is configured by the core (the operator puts it on every access link)', () => {
    const h = new Harness()
    const cmds = h.pba(pbaFor(lastPbu(h.attach()), BaStatus.ACCEPTED, { prefixes: [P1], lla: LLA }))
    expect(ofType(cmds, 'link-address-up')).toEqual([])
    expect(ras(cmds).map((r) => r.src)).toEqual(['fe80::1'])
  })
})

describe('RFC 5213 §6.9.5: the MTU option follows the path', () => {
  const mtuOf = (cmds: readonly MagCommand[]): number[] =>
    ras(cmds).flatMap((r) => r.ra.options.flatMap((o) => (o.type === 'mtu' ? [o.mtu] : [])))

  test('§6.9.5: an uplink change (mtu event without lma or link) adjusts every tunnel without its own value, with an additional RA', () => {
    const h = new Harness(config({ tunnelMtu: 1460 }))
    expect(mtuOf(h.register())).toEqual([1460])
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, mtu: 1360 }))).toEqual([1360])
    // And every later RA carries it.
    expect(mtuOf(h.advanceBy(20_000)).every((m) => m === 1360)).toBe(true)
  })

  test('§6.9.5: a per-LMA path value wins over the uplink default; no additional RA when the MN sees no change', () => {
    const h = new Harness(config({ tunnelMtu: 1460 }))
    h.register()
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, lma: LMA, mtu: 1300 }))).toEqual([1300])
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, mtu: 1400 }))).toEqual([])
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, lma: LMA, mtu: 1300 }))).toEqual([])
    expect(h.core.counters()['mtu-changed']).toBe(3)
  })

  test('§6.9.5: the access link MTU still caps the option', () => {
    const h = new Harness(config({ tunnelMtu: 1460, links: { ppp0: { mtu: 1400 } } }))
    expect(mtuOf(h.register())).toEqual([1400])
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, mtu: 8960 }))).toEqual([])
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, mtu: 1300 }))).toEqual([1300])
  })

  test('§6.9.5 with item 15: the additional RA waits for the router address like any other', () => {
    const h = allZero()
    accepted(h)
    expect(mtuOf(h.step({ type: 'mtu', at: h.now, mtu: 1300 }))).toEqual([])
    expect(mtuOf(ready(h))).toEqual([1300])
  })
})
