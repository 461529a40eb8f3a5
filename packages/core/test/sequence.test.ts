// Sequence numbers (issue 17, items 1 and 8): where they start, and status 135 (RFC 6275
// §11.7.3): take the number the answer carries, go above it, and never deny the MN for it.
import type { MagCommand, SendPbuCommand } from '../src'
import { Harness, config, lastPbu, pbaFor, pbus, states, NAI } from './harness'

/** Fires timers until one brings a PBU (bounded: fails when nothing is armed or after 50 timers). */
function untilPbu(h: Harness, first: readonly MagCommand[] = []): SendPbuCommand[] {
  let out = pbus(first)
  for (let i = 0; out.length === 0; i++) {
    if (h.timers.size === 0 || i > 50) throw new Error('no PBU comes')
    out = pbus(h.advance(Math.min(...h.timers.values())))
  }
  return out
}

const P1 = '2001:db8:1:1::/64'
/** RFC 6275 §9.5.1: `a` newer than `b` modulo 2^16. */
const newer = (a: number, b: number): boolean => {
  const d = (a - b + 0x10000) % 0x10000
  return d !== 0 && d < 0x8000
}

describe('sequence numbers (RFC 6275 §9.5.1, §11.7.1, §11.7.3; RFC 5213 §6.9.1.1 item 6)', () => {
  test('§11.7.1 the counter starts where initialSequence says (the daemon draws it at random), in both schemes', () => {
    for (const timestampBased of [true, false]) {
      const h = new Harness(config({ timestampBased, initialSequence: 0xbeef }))
      expect(lastPbu(h.attach()).sequence).toBe(0xbeef)
    }
  })

  test('§11.7.3 status 135 that gives back our own sequence number: the PBU goes again above it, the MN is registered, never denied (timestamps)', () => {
    const h = new Harness(config({ initialSequence: 0 }))
    const first = lastPbu(h.attach())
    // An LMA that orders by sequence number holds 0 from this MAG's earlier run: 0 is not newer.
    const cmds = h.pba(pbaFor(first, 135))
    expect(states(cmds).map((s) => s.to)).not.toContain('denied')
    const again = lastPbu(cmds)
    expect(newer(again.sequence, first.sequence)).toBe(true)
    const acc = h.pba(pbaFor(again, 0, { prefixes: [P1] }))
    expect(states(acc)[0]).toMatchObject({ to: 'registered', reason: 'pba-accepted' })
    expect(h.core.counters()['sequence-resync']).toBe(1)
  })

  test('§11.7.3 status 135 carrying the LMA\'s last accepted number (with the MN-ID): the next PBU is newer than that number, in both schemes', () => {
    for (const timestampBased of [true, false]) {
      const h = new Harness(config({ timestampBased, initialSequence: 10 }))
      const first = lastPbu(h.attach())
      const cmds = h.pba(pbaFor(first, 135, { sequence: 40_000 }))
      const again = lastPbu(cmds)
      expect(again.sequence).toBe(40_001)
      expect(h.view()!.state).toBe('registering')
      expect(states(h.pba(pbaFor(again, 0, { prefixes: [P1] })))[0]!.to).toBe('registered')
    }
  })

  test('§11.7.3 an LMA that echoes our number and holds any number not newer than it is passed within three 135s', () => {
    for (const held of [0, 1, 0x3fff, 0x4000, 0x7fff, 0x8000]) {
      const h = new Harness(config({ timestampBased: false, initialSequence: 0 }))
      let p = lastPbu(h.attach())
      let answers = 0
      // The LMA's check (RFC 6275 §9.5.1): accept only a number newer than the one it holds.
      while (!newer(p.sequence, held)) {
        answers++
        expect(answers).toBeLessThanOrEqual(3)
        // The fourth PBU within a second waits for the rate limit (§6.9.4).
        const out = untilPbu(h, h.pba(pbaFor(p, 135)))
        p = out[out.length - 1]!.pbu
      }
      expect(states(h.pba(pbaFor(p, 0, { prefixes: [P1] })))[0]!.to).toBe('registered')
    }
  })

  test('§11.7.3 bounded: an LMA that answers 135 to everything gets MAX_SEQUENCE_RESYNCS PBUs at once, then the §6.9.4 backoff; never a denial', () => {
    const h = new Harness(config({ initialSequence: 0 }))
    let p = lastPbu(h.attach())
    const t0 = h.now
    const sentAt: number[] = [0]
    for (let i = 0; i < 12; i++) {
      const cmds = h.pba(pbaFor(p, 135))
      expect(states(cmds).map((s) => s.to)).not.toContain('denied')
      const out = untilPbu(h, cmds)
      p = out[out.length - 1]!.pbu
      sentAt.push(h.now - t0)
    }
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!)
    // Four at once (the rate limit of 3 a second defers the fourth by 1 s), then paced with growing gaps.
    expect(gaps.slice(0, 4)).toEqual([0, 0, 1000, 0])
    const paced = gaps.slice(4)
    for (let i = 1; i < paced.length; i++) expect(paced[i]).toBeGreaterThanOrEqual(paced[i - 1]!)
    expect(Math.max(...paced)).toBe(32_000)
    expect(h.view()!.state).toBe('registering')
    expect(h.core.counters()['sequence-resync-paced']).toBeGreaterThan(0)
  })

  test('§11.7.3 with a retransmission cap the paced 135s end in failed (retransmit budget), not denied', () => {
    const h = new Harness(config({ initialSequence: 0, maxRetransmissions: 5 }))
    let p = lastPbu(h.attach())
    for (let i = 0; i < 20 && h.view()!.state === 'registering'; i++) {
      const cmds = h.pba(pbaFor(p, 135))
      if (h.view()!.state !== 'registering') break
      p = untilPbu(h, cmds).pop()!.pbu
    }
    expect(h.view()).toMatchObject({ state: 'failed', reason: 'pba-rejected:135' })
  })

  test('§11.7.1 a new session starts past the newest number this MAG sent, so an LMA that kept the old session\'s number accepts it', () => {
    const h = new Harness(config({ timestampBased: false, initialSequence: 5 }))
    let p = lastPbu(h.attach())
    h.pba(pbaFor(p, 0, { prefixes: [P1] }))
    // Ten refreshes: the session's number climbs to 15.
    for (let i = 0; i < 10; i++) {
      p = lastPbu(h.advance(h.timers.get(`refresh/${NAI}`)!))
      h.pba(pbaFor(p, 0, { prefixes: [P1] }))
    }
    const held = p.sequence
    h.detach()
    h.advanceBy(5000)
    expect(h.view()).toBeUndefined()
    const next = lastPbu(h.attach())
    expect(newer(next.sequence, held)).toBe(true)
  })

  test('§11.7.3 a 135 answering a de-registration resends it above the carried number', () => {
    const h = new Harness(config({ timestampBased: false, initialSequence: 0 }))
    h.register([P1])
    const dereg = lastPbu(h.detach())
    expect(dereg.lifetime).toBe(0)
    const again = lastPbu(h.pba(pbaFor(dereg, 135, { sequence: 900 })))
    expect(again).toMatchObject({ lifetime: 0, sequence: 901 })
    expect(states(h.pba(pbaFor(again, 0)))[0]).toMatchObject({ to: 'removed', reason: 'deregistration-accepted' })
  })
})
