// The daemon's keyed timer heap: one Node timer for any number of keys.
import fc from 'fast-check'
import { TimerSet, type Clock } from '../src/timers'

/** A manual clock: time moves only when the test says so. */
class ManualClock implements Clock {
  t = 1_000_000
  private pending: { at: number; fn: () => void; id: number }[] = []
  private next = 1
  now(): number {
    return this.t
  }
  /** Node timers started so far (wake-ups). */
  started = 0
  setTimeout(fn: () => void, ms: number): unknown {
    this.started++
    const id = this.next++
    this.pending.push({ at: this.t + ms, fn, id })
    return id
  }
  clearTimeout(h: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== h)
  }
  get scheduled(): number {
    return this.pending.length
  }
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at)
      const p = this.pending[0]
      if (!p || p.at > end) break
      this.pending.shift()
      this.t = p.at
      p.fn()
    }
    this.t = end
  }
}

describe('TimerSet', () => {
  test('fires keys in deadline order, each once, with one pending Node timer', () => {
    const c = new ManualClock()
    const fired: string[] = []
    const ts = new TimerSet(c, (k) => fired.push(k))
    ts.arm('b', c.t + 200)
    ts.arm('a', c.t + 100)
    ts.arm('c', c.t + 300)
    expect(c.scheduled).toBe(1)
    c.advance(250)
    expect(fired).toEqual(['a', 'b'])
    c.advance(100)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(ts.size).toBe(0)
  })

  test('re-arming a key replaces its deadline; cancel removes it', () => {
    const c = new ManualClock()
    const fired: string[] = []
    const ts = new TimerSet(c, (k) => fired.push(k))
    ts.arm('x', c.t + 100)
    ts.arm('x', c.t + 500)
    ts.arm('y', c.t + 200)
    ts.cancel('y')
    c.advance(300)
    expect(fired).toEqual([])
    c.advance(300)
    expect(fired).toEqual(['x'])
  })

  test('a callback may arm new timers, including already-due ones', () => {
    const c = new ManualClock()
    const fired: string[] = []
    const ts = new TimerSet(c, (k) => {
      fired.push(k)
      if (k === 'first') ts.arm('second', c.t)
    })
    ts.arm('first', c.t + 10)
    c.advance(20)
    expect(fired).toEqual(['first', 'second'])
  })

  test('100,000 keys, most cancelled, leave no dead weight behind', () => {
    const c = new ManualClock()
    let n = 0
    const ts = new TimerSet(c, () => n++)
    for (let i = 0; i < 100_000; i++) ts.arm(`k${i}`, c.t + 1000 + i)
    for (let i = 0; i < 100_000; i += 2) ts.cancel(`k${i}`)
    expect(ts.size).toBe(50_000)
    c.advance(200_000)
    expect(n).toBe(50_000)
    expect(ts.size).toBe(0)
  })

  test('deadlines a second or more away share wake-ups on a 10 ms grid, 10 s or more on a 100 ms one, never early; near ones stay exact', () => {
    const c = new ManualClock()
    const fired: [string, number][] = []
    const ts = new TimerSet(c, (k) => fired.push([k, c.t]))
    // 100 refreshes spread over 100 ms, 48 s out: at most 2 wake-ups, not 100.
    for (let i = 0; i < 100; i++) ts.arm(`refresh/mn${i}`, c.t + 48_000 + i + 0.5)
    ts.arm('ra/near', c.t + 15)
    c.advance(20)
    expect(fired).toEqual([['ra/near', 1_000_015]])
    let before = c.started
    c.advance(49_000)
    expect(fired).toHaveLength(101)
    expect(c.started - before).toBeLessThanOrEqual(2)
    for (let i = 0; i < 100; i++) {
      const at = fired[i + 1]![1]
      expect(at).toBeGreaterThanOrEqual(1_048_000 + i + 0.5)
      expect(at - (1_048_000 + i)).toBeLessThanOrEqual(100)
    }
    // 100 retransmissions spread over 100 ms, 2 s out: the 10 ms grid, about 10 wake-ups.
    const t0 = c.t
    for (let i = 0; i < 100; i++) ts.arm(`pbu/mn${i}`, t0 + 2_000 + i + 0.5)
    before = c.started
    c.advance(3_000)
    expect(fired).toHaveLength(201)
    expect(c.started - before).toBeLessThanOrEqual(11)
    for (let i = 0; i < 100; i++) {
      const at = fired[i + 101]![1]
      expect(at).toBeGreaterThanOrEqual(t0 + 2_000 + i + 0.5)
      expect(at - (t0 + 2_000 + i)).toBeLessThanOrEqual(10)
    }
  })

  test('keys and (kind, id) parts name the same timer; more kinds than a group holds still work', () => {
    const c = new ManualClock()
    const fired: [string, string, string][] = []
    const ts = new TimerSet(c, (key, _at, kind, id) => fired.push([key, kind, id]))
    ts.armParts('refresh', 'mn1@example.com', c.t + 10)
    expect(ts.has('refresh/mn1@example.com')).toBe(true)
    ts.cancel('refresh/mn1@example.com')
    expect(ts.size).toBe(0)
    ts.arm('expire/mn1@example.com', c.t + 20)
    ts.cancelParts('expire', 'mn1@example.com')
    // Ten kinds for one id: the group has room for seven, the rest are keys of their own.
    for (let k = 0; k < 10; k++) ts.armParts(`k${k}`, 'mn2', c.t + 30 + k)
    ts.arm('plain', c.t + 50)
    ts.cancelParts('k9', 'mn2')
    expect(ts.size).toBe(10)
    c.advance(100)
    expect(fired.map((f) => f[0])).toEqual([...Array.from({ length: 9 }, (_, k) => `k${k}/mn2`), 'plain'])
    expect(fired[0]).toEqual(['k0/mn2', 'k0', 'mn2'])
    expect(fired.at(-1)).toEqual(['plain', '', 'plain'])
    expect(ts.size).toBe(0)
  })

  test("refs: a caller's number for an id finds its timers, comes back when they fire, and never stands in for the id", () => {
    const c = new ManualClock()
    const fired: [string, number][] = []
    const ts = new TimerSet(c, (key, _at, _kind, _id, ref) => fired.push([key, ref]))
    ts.armParts('refresh', 'mn1', c.t + 10, 1)
    ts.armParts('expire', 'mn1', c.t + 20, 1)
    ts.armParts('refresh', 'mn2', c.t + 10, 2)
    // Another id (the first one's timers elsewhere) finds the group by ref only after the id check.
    ts.cancelParts('expire', 'mn2', 1)
    expect(ts.size).toBe(3)
    ts.cancelParts('expire', 'mn1', 1)
    expect(ts.size).toBe(2)
    // mn1's ref goes to mn3 while mn1 still has a timer: each id still finds its own.
    ts.armParts('refresh', 'mn3', c.t + 30, 1)
    ts.cancelParts('refresh', 'mn1', 1)
    expect(ts.has('refresh/mn1')).toBe(false)
    expect(ts.has('refresh/mn3')).toBe(true)
    // Armed by key, found by parts and ref, and the other way round.
    ts.arm('rs/mn4', c.t + 40)
    ts.cancelParts('rs', 'mn4', 4)
    ts.armParts('ra', 'mn5', c.t + 50, 5)
    ts.cancel('ra/mn5')
    c.advance(100)
    expect(fired).toEqual([
      ['refresh/mn2', 2],
      ['refresh/mn3', 1],
    ])
    expect(ts.size).toBe(0)
  })

  test('against a model: any mix of near, wheel and far deadlines, re-arms, cancels and long waits fires each live key once, never early, in order', () => {
    // Refs drawn at random, shared between ids and changing: they may only save lookups, never
    // change what fires; a fired ref is one its id was armed or cancelled with, or -1.
    const ref = fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 6 }))
    const op = fc.oneof(
      fc.record({ k: fc.constant('arm' as const), key: fc.integer({ min: 0, max: 30 }), ref, lead: fc.oneof(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 1000, max: 90_000 }), fc.integer({ min: 80_000, max: 400_000 })) }),
      fc.record({ k: fc.constant('cancel' as const), key: fc.integer({ min: 0, max: 30 }), ref }),
      fc.record({ k: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100_000 })) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const c = new ManualClock()
        const fired: { key: string; at: number; t: number }[] = []
        const refsOf = new Map<string, Set<number>>()
        const ts = new TimerSet(c, (key, at, _kind, id, r) => {
          if (r !== -1) expect(refsOf.get(id)?.has(r)).toBe(true)
          fired.push({ key, at, t: c.t })
        })
        const armed = new Map<string, { due: number; slack: number }>()
        const check = (from: number) => {
          for (const f of fired.slice(from)) {
            const m = armed.get(f.key)
            expect(m).toBeDefined()
            expect(f.t).toBeGreaterThanOrEqual(m!.due) // never early
            expect(f.at - m!.due).toBeLessThanOrEqual(m!.slack)
            armed.delete(f.key)
          }
          for (let i = Math.max(1, from); i < fired.length; i++) expect(fired[i]!.at).toBeGreaterThanOrEqual(fired[i - 1]!.at)
        }
        for (const o of ops) {
          const key = o.k === 'advance' ? '' : `refresh/mn${o.key}`
          if (o.k === 'arm' && o.ref >= 0) refsOf.set(`mn${o.key}`, (refsOf.get(`mn${o.key}`) ?? new Set()).add(o.ref))
          if (o.k === 'arm') {
            if (o.ref < 0) ts.arm(key, c.t + o.lead)
            else ts.armParts('refresh', `mn${o.key}`, c.t + o.lead, o.ref)
            armed.set(key, { due: c.t + o.lead, slack: o.lead >= 10_000 ? 100 : o.lead >= 1000 ? 10 : 0 })
          } else if (o.k === 'cancel') {
            if (o.ref < 0) ts.cancel(key)
            else ts.cancelParts('refresh', `mn${o.key}`, o.ref)
            armed.delete(key)
          } else {
            const from = fired.length
            c.advance(o.ms)
            check(from)
            // Everything due by now has fired.
            for (const m of armed.values()) expect(m.due + m.slack).toBeGreaterThan(c.t)
          }
          expect(ts.size).toBe(armed.size)
        }
        const from = fired.length
        c.advance(500_000)
        check(from)
        expect(armed.size).toBe(0)
        expect(ts.size).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  test('stop() clears everything and nothing fires afterwards', () => {
    const c = new ManualClock()
    let n = 0
    const ts = new TimerSet(c, () => n++)
    ts.arm('a', c.t + 10)
    ts.stop()
    c.advance(100)
    expect(n).toBe(0)
    expect(c.scheduled).toBe(0)
  })
})
