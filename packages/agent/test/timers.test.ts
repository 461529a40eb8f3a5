// The daemon's keyed timer heap: one Node timer for any number of keys.
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

  test('deadlines a second or more away share wake-ups on a 10 ms grid, never early; near ones stay exact', () => {
    const c = new ManualClock()
    const fired: [string, number][] = []
    const ts = new TimerSet(c, (k) => fired.push([k, c.t]))
    // 100 refreshes spread over 100 ms, 48 s out: 10 wake-ups, not 100.
    for (let i = 0; i < 100; i++) ts.arm(`refresh/mn${i}`, c.t + 48_000 + i + 0.5)
    ts.arm('ra/near', c.t + 15)
    c.advance(20)
    expect(fired).toEqual([['ra/near', 1_000_015]])
    const before = c.started
    c.advance(49_000)
    expect(fired).toHaveLength(101)
    expect(c.started - before).toBeLessThanOrEqual(11)
    for (let i = 0; i < 100; i++) {
      const at = fired[i + 1]![1]
      expect(at).toBeGreaterThanOrEqual(1_000_000 + 48_000 + i + 0.5)
      expect(at - (1_000_000 + 48_000 + i)).toBeLessThanOrEqual(10)
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
