// RFC 5213 §6.9.4 retransmissions and rate limiting.
import { Harness, config, lastPbu, opt, pbus, states, ofType, pbaFor, NAI } from './harness'

describe('RFC 5213 §6.9.4 retransmission and rate limiting', () => {
  test('§6.9.4 retransmits at 1, 2, 4, 8, 16, 32, 32 s with a new sequence number each', () => {
    const h = new Harness()
    const t0 = h.now
    const first = lastPbu(h.attach())
    const sent: { at: number; seq: number }[] = [{ at: 0, seq: first.sequence }]
    for (let i = 0; i < 7; i++) {
      const before = h.now
      // Step to the next timer only.
      const next = Math.min(...h.timers.values())
      const cmds = h.advance(next)
      const p = pbus(cmds)
      expect(p).toHaveLength(1)
      sent.push({ at: h.now - t0, seq: p[0]!.pbu.sequence })
      expect(h.now).toBeGreaterThan(before)
    }
    const gaps = sent.slice(1).map((s, i) => (s.at - sent[i]!.at) / 1000)
    expect(gaps).toEqual([1, 2, 4, 8, 16, 32, 32])
    expect(new Set(sent.map((s) => s.seq)).size).toBe(sent.length)
    expect(h.view()!.retransmissions).toBe(7)
    expect(h.core.counters()['pbu-retransmitted']).toBe(7)
  })

  test('§6.9.4 item 4: each retransmission carries the latest timestamp', () => {
    const h = new Harness()
    h.attach()
    const p = lastPbu(h.advanceBy(1000))
    const t = opt(p, 'timestamp')!
    expect(t.seconds * 1000 + Math.round((t.fraction * 1000) / 65536)).toBe(h.now)
  })

  test('§6.9.4 item 4: without timestamps each retransmission has a greater sequence number', () => {
    const h = new Harness(config({ timestampBased: false, initialSequence: 10 }))
    const seqs = [lastPbu(h.attach()).sequence]
    for (let i = 0; i < 3; i++) seqs.push(lastPbu(h.advance(Math.min(...h.timers.values()))).sequence)
    expect(seqs).toEqual([10, 11, 12, 13])
  })

  test('§6.9.4 item 2: asks whether the MN is still attached before each retransmission', () => {
    const h = new Harness()
    h.attach()
    const cmds = h.advanceBy(1000)
    const types = cmds.map((c) => c.type)
    expect(types.indexOf('query-presence')).toBeGreaterThanOrEqual(0)
    expect(types.indexOf('query-presence')).toBeLessThan(types.indexOf('send-pbu'))
    expect(ofType(cmds, 'query-presence')[0]).toMatchObject({ mnId: NAI, link: 'ppp0', llId: '00:11:22:33:44:55', purpose: 'retransmit' })
  })

  test('§6.9.4 item 2: gives up (de-registers) when the MN is gone instead of retransmitting', () => {
    const h = new Harness()
    h.attach()
    h.presence.set(NAI, false)
    const cmds = h.advanceBy(1000)
    // The unanswered registration may have created a binding: a lifetime-0 PBU, then removal.
    const p = pbus(cmds)
    expect(p).toHaveLength(1)
    expect(p[0]!.pbu.lifetime).toBe(0)
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['deregistering', 'presence-lost']])
    const end = h.advanceBy(1000)
    expect(states(end).map((s) => [s.to, s.reason])).toEqual([['removed', 'deregistration-timeout']])
    expect(h.view()).toBeUndefined()
    expect(h.keysOf(NAI)).toEqual([])
  })

  test('§6.9.4 item 2: no retransmission while the presence answer is outstanding; the query is repeated', () => {
    const h = new Harness()
    h.attach()
    h.presence.set(NAI, null)
    const cmds = h.advanceBy(1000 + 32_000)
    expect(pbus(cmds)).toHaveLength(0)
    expect(ofType(cmds, 'query-presence')).toHaveLength(2)
    expect(h.core.counters()['presence-timeout']).toBe(1)
    // The late answer lets the retransmission go.
    expect(pbus(h.step({ type: 'presence', at: h.now, mnId: NAI, present: true }))).toHaveLength(1)
  })

  test('§6.9.4 retransmission cap: the binding fails with reason retransmit-timeout, nothing advertised', () => {
    const h = new Harness(config({ maxRetransmissions: 2 }))
    h.attach()
    const cmds = h.advanceBy(60_000)
    expect(pbus(cmds)).toHaveLength(2)
    expect(states(cmds).map((s) => [s.to, s.reason])).toEqual([['failed', 'retransmit-timeout']])
    expect(h.view()).toMatchObject({ state: 'failed', reason: 'retransmit-timeout', pending: null })
    expect(h.keysOf(NAI)).toEqual([])
    // A new attach retries.
    expect(pbus(h.attach())).toHaveLength(1)
  })

  test('§6.9.4 rate limit: a fourth PBU within one second is deferred by a timer, not dropped', () => {
    const h = new Harness()
    const a = lastPbu(h.attach())
    // Immediate PBUs forced by status 135 (RFC 6275 §11.7.3: resend above the number it carries).
    let p = a
    const sent = [p.sequence]
    for (let i = 0; i < 2; i++) {
      p = lastPbu(h.pba(pbaFor(p, 135)))
      sent.push(p.sequence)
    }
    const deferred = h.pba(pbaFor(p, 135))
    expect(pbus(deferred)).toHaveLength(0)
    expect(ofType(deferred, 'arm-timer')).toEqual([{ type: 'arm-timer', key: `pbu/${NAI}`, kind: 'pbu', id: NAI, ref: expect.any(Number), at: h.now + 1000 }])
    expect(h.core.counters()['pbu-deferred']).toBe(1)
    const later = h.advanceBy(1000)
    expect(pbus(later)).toHaveLength(1)
  })

  test('§6.9.4 rate limit: at most MAX_UPDATE_RATE (3) PBUs in any one-second window for one MN', () => {
    const h = new Harness()
    let p = lastPbu(h.attach())
    for (let i = 0; i < 20; i++) {
      const cmds = h.pba(pbaFor(p, 157))
      const s = pbus(cmds)
      if (s.length > 0) p = s[0]!.pbu
      else p = lastPbu(h.advance(Math.min(...h.timers.values())))
    }
    const times = h.log
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => c.type === 'send-pbu')
    expect(times.length).toBeGreaterThan(10)
    // Recompute send times from timestamps.
    const ts = pbus(h.log).map((s) => {
      const t = opt(s.pbu, 'timestamp')!
      return t.seconds * 1000 + Math.round((t.fraction * 1000) / 65536)
    })
    for (let i = 3; i < ts.length; i++) expect(ts[i]! - ts[i - 3]!).toBeGreaterThanOrEqual(1000)
  })
})

describe('pacing towards an LMA (maxPbusInFlight)', () => {
  test('beyond the window PBUs wait their turn; each answer lets the next one go, with a fresh timestamp', () => {
    const h3 = new Harness(config({ maxPbusInFlight: 1, profiles: [{ mnId: 'x@example.com', lma: '2001:db8:ffff::2' }, { mnId: 'y@example.com', lma: '2001:db8:ffff::2' }] }))
    const x = lastPbu(h3.attach({ mnId: 'x@example.com', link: 'p0' }))
    const queued = h3.attach({ mnId: 'y@example.com', link: 'p1' })
    expect(pbus(queued)).toEqual([])
    expect(h3.core.counters()['pbu-paced']).toBe(1)
    h3.now += 250
    const answered = h3.pba(pbaFor(x, 0, { prefixes: ['2001:db8:1:1::/64'] }))
    const y = pbus(answered)
    expect(y.map((c) => c.mnId)).toEqual(['y@example.com'])
    // The timestamp is taken when it leaves, not when it was queued (RFC 5213 §5.5 window).
    const ts = opt(y[0]!.pbu, 'timestamp') as { seconds: number; fraction: number }
    expect(ts.seconds * 1000 + Math.round((ts.fraction / 65536) * 1000)).toBe(h3.now)
  })

  test('a retransmission timeout frees the slot too, and a detached paced MN never sends', () => {
    const h = new Harness(config({ maxPbusInFlight: 1, profiles: [{ mnId: 'x@example.com', lma: '2001:db8:ffff::2' }, { mnId: 'y@example.com', lma: '2001:db8:ffff::2' }, { mnId: 'z@example.com', lma: '2001:db8:ffff::2' }] }))
    lastPbu(h.attach({ mnId: 'x@example.com', link: 'p0' }))
    expect(pbus(h.attach({ mnId: 'y@example.com', link: 'p1' }))).toEqual([])
    expect(pbus(h.attach({ mnId: 'z@example.com', link: 'p2' }))).toEqual([])
    h.step({ type: 'detached', at: h.now, link: 'p1', mnId: 'y@example.com', cause: 'left' })
    // x gets no answer: at its timeout the window opens for z (y left), x waits its turn.
    const out = h.advance(h.now + 1000)
    const sent = pbus(out).map((c) => c.mnId)
    expect(sent).toEqual(['z@example.com'])
  })
})
