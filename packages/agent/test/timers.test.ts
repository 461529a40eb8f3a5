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
  setTimeout(fn: () => void, ms: number): unknown {
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
