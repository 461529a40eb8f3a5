// RFC 5213 §6.9.1.1 initial registration and §6.9.1.5 PBU construction.
import { mh, formatIp6, HandoffIndicator } from '@pmip6/wire'
import { PBU_10_1 } from '../../wire/test/vectors'
import { handoffIndicatorFor, type HandoffHint } from '../src'
import { Harness, config, profile, lastPbu, opt, hnpsOf, states, ofType, NAI, MAC, LMA, pbus } from './harness'

describe('RFC 5213 §6.9.1.1 initial registration', () => {
  test('§10.1 golden: the initial PBU for mn1@example.com encodes to the exact bytes (checksum aside)', () => {
    const h = new Harness(config({ initialSequence: 0x1234, lifetimeS: 3600 }), Date.parse('2024-01-01T00:00:00.5Z'))
    const cmds = h.attach({ mnId: NAI, llId: Buffer.from('001122334455', 'hex'), att: 4, hint: 'new' })
    const send = pbus(cmds)[0]!
    expect(send.to).toBe(LMA)
    const bytes = mh.encode(send.pbu)
    const golden = Buffer.from(PBU_10_1)
    golden[4] = 0
    golden[5] = 0
    expect(bytes.toString('hex')).toBe(golden.toString('hex'))
  })

  test('§6.9.1.5 PBU has A and P set and the options in the order MN-ID, HNP, HI, ATT, Timestamp, MN-LL-ID, Link-local', () => {
    const h = new Harness(config({ fixedLinkLocal: undefined }))
    const pbu = lastPbu(h.attach())
    expect(pbu.flags.a).toBe(true)
    expect(pbu.flags.p).toBe(true)
    expect(pbu.options.map((o) => o.type)).toEqual(['mn-id', 'hnp', 'handoff-indicator', 'access-tech-type', 'timestamp', 'mn-ll-id', 'link-local-address'])
  })

  test('§6.9.1.1 item 2: MN-ID option carries the NAI (subtype 1)', () => {
    const pbu = lastPbu(new Harness().attach())
    const id = opt(pbu, 'mn-id')!
    expect(id.subtype).toBe(1)
    expect(id.id.toString()).toBe(NAI)
  })

  test('§6.9.1.1 item 3: without profile prefixes exactly one ALL_ZERO HNP with prefix length 0', () => {
    const pbu = lastPbu(new Harness().attach())
    const hnps = pbu.options.filter((o) => o.type === 'hnp')
    expect(hnps).toHaveLength(1)
    expect(hnpsOf(pbu)).toEqual(['::/0'])
  })

  test('§6.9.1.1 item 3: one HNP option per prefix of the profile', () => {
    const h = new Harness(config({ profiles: [profile({ homePrefixes: ['2001:db8:1:1::/64', '2001:db8:1:2::5/64'] })] }))
    expect(hnpsOf(lastPbu(h.attach()))).toEqual(['2001:db8:1:1::/64', '2001:db8:1:2::/64'])
  })

  test('§6.9.1.1 item 4-5: HI 1 for a new interface, 3 for the same interface moved between MAGs, 2 for an interface switch, 4 otherwise', () => {
    const hiOf = (hint: HandoffHint | undefined): number => opt(lastPbu(new Harness().attach({ hint })), 'handoff-indicator')!.value
    expect(hiOf('new')).toBe(1)
    expect(hiOf('same-interface')).toBe(3)
    expect(hiOf('other-interface')).toBe(2)
    expect(hiOf('unknown')).toBe(4)
    expect(hiOf(undefined)).toBe(4)
  })

  test('§6.9.1.1 item 5: never 3 on a guess: same-interface without a link-layer id gives 4', () => {
    expect(handoffIndicatorFor('same-interface', false)).toBe(HandoffIndicator.UNKNOWN)
    const pbu = lastPbu(new Harness().attach({ hint: 'same-interface', llId: undefined }))
    expect(opt(pbu, 'handoff-indicator')!.value).toBe(4)
  })

  test('§6.9.1.1 item 7: MN-LL-ID present when known, absent when unknown or ALL_ZERO', () => {
    expect(opt(lastPbu(new Harness().attach()), 'mn-ll-id')!.id).toEqual(MAC)
    expect(opt(lastPbu(new Harness().attach({ llId: undefined })), 'mn-ll-id')).toBeUndefined()
    expect(opt(lastPbu(new Harness().attach({ llId: Buffer.alloc(6) })), 'mn-ll-id')).toBeUndefined()
  })

  test('§6.9.1.1 item 8: ATT option carries the access technology of the attach', () => {
    expect(opt(lastPbu(new Harness().attach({ att: 2 })), 'access-tech-type')!.value).toBe(2)
  })

  test('§6.9.1.1 item 9: Link-local Address option (ALL_ZERO) only without a fixed MAG link-local address', () => {
    expect(opt(lastPbu(new Harness().attach()), 'link-local-address')).toBeUndefined()
    const ll = opt(lastPbu(new Harness(config({ fixedLinkLocal: undefined })).attach()), 'link-local-address')!
    expect(formatIp6(ll.address)).toBe('::')
    const zero = opt(lastPbu(new Harness(config({ fixedLinkLocal: '::' })).attach()), 'link-local-address')
    expect(zero).toBeDefined()
  })

  test('§6.9.1.1 item 6: with timestamps, the Timestamp option comes from the event time and the sequence is a per-MAG counter', () => {
    const h = new Harness(config({ initialSequence: 7 }))
    const a = lastPbu(h.attach())
    const b = lastPbu(h.step({ type: 'attached', at: h.now, link: 'ppp1', mnId: 'mn2@example.com', att: 3, hint: 'new' }))
    expect(opt(a, 'timestamp')).toEqual({ type: 'timestamp', seconds: 1704067200, fraction: 0x8000 })
    expect([a.sequence, b.sequence]).toEqual([7, 8])
  })

  test('§6.9.1.1 item 6: without timestamps no Timestamp option and a per-MN sequence number, a new session starting past the MAG\'s newest number', () => {
    const h = new Harness(config({ timestampBased: false, initialSequence: 100 }))
    const a = lastPbu(h.attach())
    const b = lastPbu(h.step({ type: 'attached', at: h.now, link: 'ppp1', mnId: 'mn2@example.com', att: 3, hint: 'new' }))
    expect(opt(a, 'timestamp')).toBeUndefined()
    expect([a.sequence, b.sequence]).toEqual([100, 101])
    // Each session counts on its own (RFC 6275 §11.7.1): mn1's retransmission follows its own number.
    const a2 = pbus(h.advanceBy(1000)).find((c) => c.mnId === NAI)!.pbu
    expect(a2.sequence).toBe(101)
  })

  test('§6.9.1.1 lifetime requested is configurable (default 3600 s)', () => {
    expect(lastPbu(new Harness().attach()).lifetime).toBe(3600)
    expect(lastPbu(new Harness(config({ lifetimeS: 600 })).attach()).lifetime).toBe(600)
  })

  test('§6.9.1.1 item 11: the BUL entry exists from the first PBU, state registering with reason', () => {
    const h = new Harness()
    const cmds = h.attach()
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: null, to: 'registering', reason: 'attached' }])
    expect(h.view()).toMatchObject({ state: 'registering', link: 'ppp0', mnId: NAI, lma: LMA, att: 4, mac: '00:11:22:33:44:55', hi: 1, pending: 'registration', prefixes: [] })
    expect(ofType(cmds, 'arm-timer')).toEqual([{ type: 'arm-timer', key: `pbu/${NAI}`, kind: 'pbu', id: NAI, ref: expect.any(Number), at: h.now + 1000 }])
  })

  test('§6.2 / §6.9.1.1 item 1: an MN without a profile is refused when unknown MNs are refused', () => {
    const h = new Harness()
    expect(h.attach({ mnId: 'stranger@example.com' })).toEqual([])
    expect(h.core.counters()['attach-refused:no-profile']).toBe(1)
  })

  test('§6.2: a duplicate attach of a registering MN sends nothing more', () => {
    const h = new Harness()
    h.attach()
    expect(h.attach()).toEqual([])
    expect(h.core.counters()['attach-duplicate']).toBe(1)
  })
})
