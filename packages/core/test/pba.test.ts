// RFC 5213 §6.9.1.2: processing the Proxy Binding Acknowledgement.
import { Harness, config, profile, lastPbu, opt, pbus, ras, states, ofType, pbaFor, hnpsOf, livePrefixes, NAI, LMA, LMA2 } from './harness'

const P1 = '2001:db8:1:1::/64'

describe('RFC 5213 §6.9.1.2 PBA processing', () => {
  test('§6.9.1.2 items 12-14: status 0 brings forwarding up, updates the BUL with lifetime and prefixes, sends an RA and arms the refresh', () => {
    const h = new Harness()
    const pbu = lastPbu(h.attach())
    const cmds = h.pba(pbaFor(pbu, 0, { prefixes: [P1], lifetime: 1200 }))
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'registering', to: 'registered', reason: 'pba-accepted' }])
    expect(ofType(cmds, 'forwarding-up')).toEqual([{ type: 'forwarding-up', mnId: NAI, link: 'ppp0', prefixes: [P1], mode: 'tunnel', lma: LMA }])
    expect(ras(cmds).map((r) => livePrefixes(r.ra))).toEqual([[P1]])
    expect(ofType(cmds, 'arm-timer').map((a) => [a.key, a.at - h.now])).toEqual([
      [`refresh/${NAI}`, 960_000],
      [`expire/${NAI}`, 1_200_000],
      [`ra/${NAI}`, expect.any(Number)],
    ])
    expect(ofType(cmds, 'cancel-timer')).toEqual([{ type: 'cancel-timer', key: `pbu/${NAI}`, kind: 'pbu', id: NAI, ref: expect.any(Number) }])
    expect(h.view()).toMatchObject({ state: 'registered', prefixes: [P1], lifetimeLeft: 1200, grantedLifetime: 1200, lastStatus: 0, pending: null })
    expect(h.core.counters()['pba-status:0']).toBe(1)
  })

  test('RFC 6275 §11.7.3: an acceptance that arrives after the lifetime it grants ran out (counted from the PBU) serves nothing and registers afresh', () => {
    const h = new Harness(config({ maxRetransmissions: 6 }))
    // Retransmissions (§6.9.4) at 1, 3, 7, 15 and 31 s; the next waits 32 s: time for a late answer.
    let pbu = lastPbu(h.attach())
    let sentAt = h.now
    while (h.now - sentAt < 16_000) {
      const sent = pbus(h.advanceBy(500))
      if (sent.length > 0) {
        pbu = sent[sent.length - 1]!.pbu
        sentAt = h.now
      }
    }
    expect(pbus(h.advanceBy(sentAt + 20_000 - h.now))).toEqual([])
    const cmds = h.pba(pbaFor(pbu, 0, { prefixes: [P1], lifetime: 20 }))
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'forwarding-up')).toEqual([])
    const again = pbus(cmds)
    expect(again).toHaveLength(1)
    expect(hnpsOf(again[0]!.pbu)).toEqual([P1])
    expect(h.view()).toMatchObject({ state: 'registering' })
    expect(h.core.counters()['pba-accepted-expired']).toBe(1)
    // The next answer in time is served as usual.
    h.pba(pbaFor(again[0]!.pbu, 0, { prefixes: [P1], lifetime: 20 }))
    expect(h.view()).toMatchObject({ state: 'registered', prefixes: [P1] })
  })

  test('§6.9.1.2: any status below 128 is an acceptance (status 1)', () => {
    const h = new Harness()
    h.pba(pbaFor(lastPbu(h.attach()), 1, { prefixes: [P1] }))
    expect(h.view()!.state).toBe('registered')
  })

  test('§6.9.1.2 item 5: a PBA that matches no PBU (wrong sequence) is ignored and counted', () => {
    const h = new Harness()
    const pbu = lastPbu(h.attach())
    expect(h.pba(pbaFor(pbu, 0, { prefixes: [P1], sequence: (pbu.sequence + 5) & 0xffff }))).toEqual([])
    expect(h.core.counters()['pba-dropped:no-match']).toBe(1)
    expect(h.view()!.state).toBe('registering')
  })

  test('§6.9.1.2 item 5: a PBA for an earlier transmission (superseded sequence number) is ignored', () => {
    const h = new Harness()
    const first = lastPbu(h.attach())
    h.advanceBy(1000)
    expect(h.pba(pbaFor(first, 0, { prefixes: [P1] }))).toEqual([])
    expect(h.core.counters()['pba-dropped:no-match']).toBe(1)
  })

  test('§6.9.1.2 item 5: a PBA from another address than the LMA the PBU went to is ignored', () => {
    const h = new Harness()
    const pbu = lastPbu(h.attach())
    expect(h.pba(pbaFor(pbu, 0, { prefixes: [P1] }), LMA2)).toEqual([])
    expect(h.core.counters()['pba-dropped:wrong-source']).toBe(1)
    // Same address written differently is the same LMA.
    expect(states(h.pba(pbaFor(pbu, 0, { prefixes: [P1] }), '2001:0db8:ffff:0::2'))[0]!.to).toBe('registered')
  })

  test('§6.9.1.2 item 1: a BA without the P flag is not a PBA and is ignored', () => {
    const h = new Harness()
    expect(h.pba(pbaFor(lastPbu(h.attach()), 0, { prefixes: [P1], p: false }))).toEqual([])
    expect(h.core.counters()['pba-dropped:not-proxy']).toBe(1)
  })

  test('§6.9.1.2 item 5: without an MN-ID option the sequence number alone matches', () => {
    const h = new Harness()
    const pba = pbaFor(lastPbu(h.attach()), 0, { prefixes: [P1] })
    h.pba({ ...pba, options: pba.options.filter((o) => o.type !== 'mn-id') })
    expect(h.view()!.state).toBe('registered')
  })

  test.each([
    ['hi', { hi: 4 }],
    ['att', { att: 3 }],
    ['mn-ll-id', { llId: Buffer.from('0000000000aa', 'hex') }],
    ['mn-id', { mnId: 'other@example.com' }],
  ])('§6.9.1.2 item 6: echo mismatch of %s: PBA ignored, no retransmission until admin-clear', (what, o) => {
    const h = new Harness()
    const pbu = lastPbu(h.attach())
    const cmds = h.pba(pbaFor(pbu, 0, { prefixes: [P1], ...o }))
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['held', `pba-echo-mismatch:${what}`]])
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'forwarding-up')).toEqual([])
    expect(h.keysOf(NAI)).toEqual([])
    expect(pbus(h.advanceBy(120_000))).toEqual([])
    expect(h.core.counters()['pba-dropped:echo-mismatch']).toBe(1)
    // Detach and re-attach does not lift the hold.
    h.detach()
    expect(pbus(h.attach())).toEqual([])
    expect(h.view()!.state).toBe('held')
    const cleared = h.step({ type: 'admin-clear', at: h.now, mnId: NAI })
    expect(pbus(cleared)).toHaveLength(1)
    expect(h.view()!.state).toBe('registering')
  })

  test('§6.9.1.2 item 7: PROXY_REG_NOT_ENABLED (152) denies the service until an administrative action', () => {
    const h = new Harness()
    const cmds = h.pba(pbaFor(lastPbu(h.attach()), 152))
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['denied', 'pba-rejected:152']])
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'pba-rejected:152', lastStatus: 152, prefixes: [] })
    h.detach()
    expect(pbus(h.attach())).toEqual([])
    expect(h.view()!.state).toBe('denied')
    expect(pbus(h.step({ type: 'admin-clear', at: h.now }))).toHaveLength(1)
  })

  test('§6.9.1.2 item 10: NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX (155) asks again with a single ALL_ZERO HNP', () => {
    const h = new Harness(config({ profiles: [profile({ homePrefixes: ['2001:db8:9::/64'] })] }))
    const first = lastPbu(h.attach())
    expect(hnpsOf(first)).toEqual(['2001:db8:9::/64'])
    const cmds = h.pba(pbaFor(first, 155))
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['registering', 'pba-rejected:155']])
    const again = lastPbu(cmds)
    expect(hnpsOf(again)).toEqual(['::/0'])
    expect(again.sequence).not.toBe(first.sequence)
    // The LMA's assignment is what the MN gets.
    h.pba(pbaFor(again, 0, { prefixes: [P1] }))
    expect(h.view()!.prefixes).toEqual([P1])
  })

  test('§6.9.1.2 item 10: 155 for an ALL_ZERO request leaves nothing to ask for: denied', () => {
    const h = new Harness()
    h.pba(pbaFor(lastPbu(h.attach()), 155))
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'pba-rejected:155' })
  })

  test('§6.9.1.2 item 9: TIMESTAMP_MISMATCH (156) holds registrations until the clock is declared synchronised', () => {
    const h = new Harness()
    const cmds = h.pba(pbaFor(lastPbu(h.attach()), 156))
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['clock-wait', 'pba-rejected:156']])
    expect(pbus(h.advanceBy(100_000))).toEqual([])
    // Other MNs wait too: the MAG's clock is the problem.
    const other = h.step({ type: 'attached', at: h.now, link: 'ppp1', mnId: 'mn2@example.com', att: 3 })
    expect(pbus(other)).toEqual([])
    expect(states(other)[0]).toMatchObject({ to: 'clock-wait', reason: 'clock-unsynchronised' })
    const synced = h.step({ type: 'clock-synced', at: h.now })
    expect(pbus(synced).map((p) => p.mnId).sort()).toEqual([NAI, 'mn2@example.com'])
  })

  test('§6.9.1.2 item 8: TIMESTAMP_LOWER_THAN_PREV_ACCEPTED (157) registers again, paced as a retransmission (§6.9.4)', () => {
    const h = new Harness()
    const first = lastPbu(h.attach())
    const cmds = h.pba(pbaFor(first, 157))
    expect(pbus(cmds)).toEqual([])
    expect(states(cmds)[0]).toMatchObject({ from: 'registering', to: 'registering', reason: 'pba-rejected:157' })
    const again = lastPbu(h.advanceBy(1000))
    expect(again.sequence).not.toBe(first.sequence)
  })

  test('§6.9.1.2 item 8: after a 157 whose new PBU the rate limit defers, a duplicate PBA for the answered PBU is ignored', () => {
    const h = new Harness()
    h.attach()
    h.step({ type: 'detached', at: h.now, link: 'ppp0', mnId: NAI, cause: 'left' })
    const third = lastPbu(h.attach())
    // Three PBUs in one second: the re-registration that 157 asks for waits for MAX_UPDATE_RATE.
    expect(pbus(h.pba(pbaFor(third, 157)))).toEqual([])
    const dup = h.pba(pbaFor(third, 0, { prefixes: ['2001:db8:1:1::/64'] }))
    expect(ras(dup)).toEqual([])
    expect(h.core.counters()['pba-dropped:no-match']).toBe(1)
    expect(h.view(NAI)?.state).toBe('registering')
  })

  test('§6.9.1.2 item 5: with more than 65,536 PBUs in flight the MN-ID tells two PBUs with the same sequence number apart', () => {
    // With timestamps the sequence numbers come from one 16-bit MAG counter (§6.9.1.1 item 6).
    const h = new Harness(config({ profiles: [], unknownMn: { profile: { lma: LMA } }, timestampBased: true, initialSequence: 0, maxPbusInFlight: 100_000 }))
    const first = lastPbu(h.attach({ mnId: 'a0@example.com', llId: Buffer.from('0a0000000000', 'hex'), link: 'l0' }))
    // No answer within INITIAL_BINDACK_TIMEOUT: a0 sends again with the next number.
    const again = lastPbu(h.advance(h.now + 1000))
    expect(again.sequence).toBe((first.sequence + 1) & 0xffff)
    for (let i = 2; i < 65_536; i++) h.step({ type: 'attached', at: h.now, link: `l${i}`, mnId: `a${i}@example.com`, llId: Buffer.from((0x0a0000000000 + i).toString(16).padStart(12, '0'), 'hex'), att: 4, hint: 'new' })
    const wrapped = lastPbu(h.attach({ mnId: 'late@example.com', llId: Buffer.from('0b0000000000', 'hex'), link: 'lx' }))
    expect(wrapped.sequence).toBe(first.sequence)
    // A late answer to a0's first PBU: ignored, and the MN whose PBU now carries that number is
    // not held for it (an MN-ID mismatch is only an MN-ID we have no entry for).
    expect(states(h.pba(pbaFor(first, 0, { prefixes: ['2001:db8:1:1::/64'] })))).toEqual([])
    expect(h.view('late@example.com')?.state).toBe('registering')
    expect(h.view('a0@example.com')?.state).toBe('registering')
    const a = h.pba(pbaFor(again, 0, { prefixes: ['2001:db8:1:1::/64'] }))
    expect(states(a).map((x) => [x.mnId, x.to])).toEqual([['a0@example.com', 'registered']])
    const b = h.pba(pbaFor(wrapped, 0, { prefixes: ['2001:db8:1:2::/64'] }))
    expect(states(b).map((x) => [x.mnId, x.to])).toEqual([['late@example.com', 'registered']])
    expect(h.core.counters()['held'] ?? 0).toBe(0)
  })

  test('§6.9.1.2 item 11: any other status >= 128: no HNP in any RA, no forwarding, the MN denied', () => {
    const h = new Harness()
    const cmds = h.pba(pbaFor(lastPbu(h.attach()), 129, { prefixes: [P1] }))
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['denied', 'pba-rejected:129']])
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'forwarding-up')).toEqual([])
    expect(h.rs()).toEqual([])
    expect(h.core.counters()['rs-dropped:no-binding']).toBe(1)
    expect(h.core.counters()['pba-status:129']).toBe(1)
  })

  test('§6.9.1.2 item 11: rejection of a refresh withdraws the advertised prefix and stops forwarding', () => {
    const h = new Harness()
    h.register([P1])
    const refresh = h.advanceBy(2_880_000)
    const cmds = h.pba(pbaFor(lastPbu(refresh), 130))
    expect(ras(cmds).map((r) => [r.ra.routerLifetime, livePrefixes(r.ra)])).toEqual([[0, []]])
    expect(ofType(cmds, 'forwarding-down')).toHaveLength(1)
    expect(h.view()!.state).toBe('denied')
  })

  test('§6.9.1.2 item 11 (MAY): the link is torn down on rejection when configured', () => {
    const h = new Harness(config({ teardownOnReject: true }))
    const cmds = h.pba(pbaFor(lastPbu(h.attach()), 129))
    expect(ofType(cmds, 'link-teardown')).toEqual([{ type: 'link-teardown', link: 'ppp0', mnId: NAI, llId: '00:11:22:33:44:55' }])
  })

  test('§6.9.1.2 item 15: a Link-local Address option in the PBA becomes the RA source for that MN', () => {
    const h = new Harness(config({ fixedLinkLocal: undefined }))
    const pbu = lastPbu(h.attach())
    expect(opt(pbu, 'link-local-address')).toBeDefined()
    // The address goes on the link first; the RA follows once it is there (link-local.test.ts).
    expect(ofType(h.pba(pbaFor(pbu, 0, { prefixes: [P1], lla: 'fe80::abcd' })), 'link-address-up')).toEqual([{ type: 'link-address-up', link: 'ppp0', address: 'fe80::abcd' }])
    const cmds = h.step({ type: 'link-address', at: h.now, link: 'ppp0', address: 'fe80::abcd', result: 'ready' })
    expect(ras(cmds)[0]!.src).toBe('fe80::abcd')
    expect(h.view()!.routerAddress).toBe('fe80::abcd')
    // And the refresh carries it back to the LMA.
    const refresh = lastPbu(h.advanceBy(2_880_000))
    expect(opt(refresh, 'link-local-address')!.address.toString('hex')).toBe('fe80000000000000000000000000abcd')
  })

  test('RFC 6275 §11.7.1: status 135 without timestamps resynchronises the sequence number from the PBA', () => {
    const h = new Harness(config({ timestampBased: false }))
    const first = lastPbu(h.attach())
    const cmds = h.pba(pbaFor(first, 135, { sequence: 500 }))
    const again = lastPbu(cmds)
    expect(again.sequence).toBe(501)
    h.pba(pbaFor(again, 0, { prefixes: [P1] }))
    expect(h.view()!.state).toBe('registered')
  })

  test('§6.9.1.2: every outcome is counted by status and drops by reason', () => {
    const h = new Harness()
    const pbu = lastPbu(h.attach())
    h.pba(pbaFor(pbu, 0, { prefixes: [P1], sequence: 9 }))
    h.pba(pbaFor(pbu, 0, { prefixes: [P1] }), LMA2)
    h.pba(pbaFor(pbu, 0, { prefixes: [P1] }))
    const c = h.core.counters()
    expect(c).toMatchObject({ 'pba-received': 3, 'pba-dropped': 2, 'pba-dropped:no-match': 1, 'pba-dropped:wrong-source': 1, 'pba-status:0': 1, 'pbu-sent': 1 })
  })
})
