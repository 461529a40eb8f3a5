// RFC 5213 §6.2 policy profiles and §6.6 MN identification; reload; timer hygiene; config checks.
import { ProfileStore, ProfileError, createMagCore } from '../src'
import { Harness, config, profile, lastPbu, pbus, states, ofType, pbaFor, hnpsOf, NAI, LMA, LMA2, MAC } from './harness'

describe('RFC 5213 §6.2 policy store', () => {
  test('§6.2 lookup by MN-ID and by MAC; canonical LMA and prefixes', () => {
    const s = new ProfileStore([{ mnId: 'a@x', lma: '2001:DB8:FFFF:0::2', homePrefixes: ['2001:db8:1:1::9/64'], macs: ['00-11-22-33-44-55'] }])
    expect(s.get('a@x')).toMatchObject({ lma: LMA, homePrefixes: ['2001:db8:1:1::/64'], mode: 'network', addressConfig: 'stateless', otherConfig: false })
    expect(s.resolve(undefined, '001122334455')).toMatchObject({ mnId: 'a@x' })
    expect(s.resolve('b@x', null)).toBeNull()
    expect(s.resolve(undefined, 'aabbccddeeff')).toBeNull()
  })

  test('§6.2 a default profile serves unknown MNs; a MAC-only MN gets a MAC-derived NAI when a realm is set', () => {
    const s = new ProfileStore([], { profile: { lma: LMA, macNaiRealm: 'guests.example.com' } })
    expect(s.resolve('who@x', null)).toMatchObject({ mnId: 'who@x', profile: { lma: LMA } })
    expect(s.resolve(undefined, '001122334455')).toMatchObject({ mnId: '001122334455@guests.example.com' })
    const noRealm = new ProfileStore([], { profile: { lma: LMA } })
    expect(noRealm.resolve(undefined, '001122334455')).toBeNull()
  })

  test('§6.2 invalid profiles are refused with the field named', () => {
    expect(() => new ProfileStore([{ mnId: 'a@x', lma: 'nope' }])).toThrow(ProfileError)
    expect(() => new ProfileStore([{ mnId: 'a@x', lma: LMA, homePrefixes: ['2001:db8::'] }])).toThrow(/homePrefixes/)
    expect(() => new ProfileStore([{ mnId: 'a@x', lma: LMA }, { mnId: 'a@x', lma: LMA }])).toThrow(/twice/)
    expect(() => new ProfileStore([{ mnId: 'a@x', lma: LMA, macs: ['00:11:22:33:44:55'] }, { mnId: 'b@x', lma: LMA, macs: ['00:11:22:33:44:55'] }])).toThrow(/already/)
  })

  test('§6.6 an attach that only carries a MAC finds the MN by its profile MAC', () => {
    const h = new Harness(config({ profiles: [profile({ macs: ['00:11:22:33:44:55'] })] }))
    const cmds = h.attach({ mnId: undefined, llId: MAC })
    expect(pbus(cmds)[0]!.mnId).toBe(NAI)
  })

  test('§6.2 unknown MNs with a default profile are registered with its LMA', () => {
    const h = new Harness(config({ unknownMn: { profile: { lma: LMA2 } } }))
    const cmds = h.attach({ mnId: 'guest@example.com' })
    expect(pbus(cmds)[0]!.to).toBe(LMA2)
  })

  test('§6.2 reload: a profile removed (unknown refused) de-registers the attached MN', () => {
    const h = new Harness()
    h.register()
    const cmds = h.step({ type: 'profiles', at: h.now, profiles: [] })
    expect(lastPbu(cmds).lifetime).toBe(0)
    expect(states(cmds)[0]).toMatchObject({ to: 'deregistering', reason: 'profile-removed' })
  })

  test('§6.2 reload: a new LMA for an attached MN registers it with the new LMA', () => {
    const h = new Harness()
    h.register()
    const cmds = h.step({ type: 'profiles', at: h.now, profiles: [profile({ lma: LMA2 })] })
    expect(pbus(cmds)[0]!.to).toBe(LMA2)
    expect(states(cmds).map((s) => s.to)).toEqual(['registering'])
    expect(ofType(cmds, 'forwarding-down')).toHaveLength(1)
  })

  test('§6.2 reload: a profile mode change switches the MN; prefixes of the new profile apply to the next registration', () => {
    const h = new Harness(config({ localPool: '2001:db8:aa00::/48' }))
    h.register()
    const cmds = h.step({ type: 'profiles', at: h.now, profiles: [profile({ mode: 'host' })] })
    expect(states(cmds)[0]).toMatchObject({ to: 'local', reason: 'profile:host' })
    const h2 = new Harness()
    h2.step({ type: 'profiles', at: h2.now, profiles: [profile({ homePrefixes: ['2001:db8:5::/64'] })] })
    expect(hnpsOf(lastPbu(h2.attach()))).toEqual(['2001:db8:5::/64'])
  })

  test('§6.2 a bad reload is refused and the old store stays', () => {
    const h = new Harness()
    expect(h.step({ type: 'profiles', at: h.now, profiles: [{ mnId: 'x', lma: 'bad' }] })).toEqual([])
    expect(h.core.counters()['profiles-rejected']).toBe(1)
    expect(pbus(h.attach())).toHaveLength(1)
  })

  test('bad configuration values are refused at creation', () => {
    expect(() => createMagCore(config({ refreshFraction: 1.5 }))).toThrow(RangeError)
    expect(() => createMagCore(config({ lifetimeS: -1 }))).toThrow(RangeError)
    expect(() => createMagCore(config({ ra: { minIntervalMs: 10, maxIntervalMs: 5 } }))).toThrow(RangeError)
  })
})

describe('timer hygiene', () => {
  test('a stale timer (unknown key, or already cancelled) is ignored and counted', () => {
    const h = new Harness()
    expect(h.step({ type: 'timer', at: h.now, key: `pbu/${NAI}` })).toEqual([])
    expect(h.step({ type: 'timer', at: h.now, key: 'garbage' })).toEqual([])
    h.register()
    expect(h.step({ type: 'timer', at: h.now, key: `pbu/${NAI}` })).toEqual([])
    expect(h.core.counters()['timer-stale']).toBe(3)
  })

  test("a timer event's ref only saves a lookup: one naming another MN, or no entry at all, still reaches the MN of its id", () => {
    const h = new Harness()
    h.register()
    const b = h.register(['2001:db8:2:2::/64'], { mnId: 'mn2@example.com', link: 'ppp1', llId: Buffer.from('00aabbccddee', 'hex') })
    const refOf = (mnId: string) => ofType(h.log, 'arm-timer').find((c) => c.id === mnId)!.ref!
    const [refA, refB] = [refOf(NAI), refOf('mn2@example.com')]
    expect(ofType(b, 'state-changed').at(-1)?.to).toBe('registered')
    expect(refA).not.toBe(refB)
    for (const ref of [refB, 99_999]) {
      const due = h.timers.get(`refresh/${NAI}`)!
      h.now = due
      h.timers.delete(`refresh/${NAI}`)
      const cmds = h.step({ type: 'timer', at: due, key: `refresh/${NAI}`, kind: 'refresh', id: NAI, ref })
      // A refresh of this MN, not of the one the ref names.
      expect(pbus(cmds).map((p) => p.mnId)).toEqual([NAI])
      h.pba(pbaFor(lastPbu(cmds), 0, { prefixes: ['2001:db8:1:1::/64'] }))
    }
    expect(states(h.log).filter((c) => c.mnId === 'mn2@example.com').at(-1)?.to).toBe('registered')
  })

  test('a timer event earlier than the armed due time (a crossed re-arm) is ignored', () => {
    const h = new Harness()
    h.register()
    const due = h.timers.get(`ra/${NAI}`)!
    expect(h.step({ type: 'timer', at: due - 1, key: `ra/${NAI}` })).toEqual([])
    expect(h.core.counters()['timer-early']).toBe(1)
  })

  test('every timer armed for an MN is cancelled when its entry goes', () => {
    const h = new Harness(config({ ra: { minDelayBetweenRasMs: 0 } }))
    const pbu = lastPbu(h.attach())
    h.pba(pbaFor(pbu, 0, { prefixes: ['2001:db8:1:1::/64'] }))
    h.rs()
    expect(h.keysOf(NAI).sort()).toEqual([`expire/${NAI}`, `ra/${NAI}`, `refresh/${NAI}`, `rs/${NAI}`])
    h.detach()
    h.advanceBy(1000)
    expect(h.view()).toBeUndefined()
    expect(h.keysOf(NAI)).toEqual([])
  })
})

test('a rebuilt store reuses what it compiled from the same profile objects (one MN added at a time: the RADIUS source)', () => {
  const a = { mnId: 'a@x', lma: '2001:db8:ffff::2', homePrefixes: ['2001:db8:1::/64'] }
  const s1 = new ProfileStore([a])
  const b = { mnId: 'b@x', lma: '2001:db8:ffff::3' }
  const s2 = new ProfileStore([a, b])
  expect(s2.get('a@x')).toBe(s1.get('a@x'))
  // An equal but new object is compiled anew; a bad one still throws each time.
  expect(new ProfileStore([{ ...a }]).get('a@x')).not.toBe(s1.get('a@x'))
  const bad = { mnId: 'c@x', lma: 'nope' }
  expect(() => new ProfileStore([bad])).toThrow(ProfileError)
  expect(() => new ProfileStore([bad])).toThrow(ProfileError)
})
