/**
 * Keyed timers for the daemon: the core asks for `arm-timer key at` and `cancel-timer key`;
 * this keeps one binary heap of deadlines and a single Node timer for the earliest one, so
 * 100,000 bindings cost 100,000 heap entries, not 100,000 libuv timers. Re-arming a key
 * replaces its deadline (stale heap entries are skipped lazily by generation number).
 */

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

interface Entry {
  at: number
  key: string
  gen: number
}

// Node timers cannot wait longer than 2^31-1 ms; a farther deadline is re-checked then.
const MAX_WAIT_MS = 0x7fffffff

export class TimerSet {
  private readonly heap: Entry[] = []
  private readonly live = new Map<string, number>() // key -> generation of its live entry
  private gen = 0
  private handle: unknown = null
  private handleAt = Infinity
  private stopped = false
  /** Inside runDue(): timers armed by the callbacks are scheduled once, after the batch. */
  private running = false

  constructor(
    private readonly clock: Clock,
    private readonly fire: (key: string, at: number) => void,
  ) {}

  get size(): number {
    return this.live.size
  }

  has(key: string): boolean {
    return this.live.has(key)
  }

  arm(key: string, at: number): void {
    const gen = ++this.gen
    this.live.set(key, gen)
    this.push({ at, key, gen })
    if (at < this.handleAt && !this.running) this.schedule()
  }

  cancel(key: string): void {
    this.live.delete(key)
    // The heap entry stays until it surfaces; compact when dead entries dominate.
    if (this.heap.length > 1024 && this.heap.length > 4 * this.live.size) this.compact()
  }

  stop(): void {
    this.stopped = true
    if (this.handle !== null) this.clock.clearTimeout(this.handle)
    this.handle = null
    this.handleAt = Infinity
    this.heap.length = 0
    this.live.clear()
  }

  /** Fires every timer due at `now` (the scheduled callback calls this). */
  runDue(now = this.clock.now()): number {
    let fired = 0
    const outer = this.running
    this.running = true
    try {
      while (this.heap.length > 0 && this.heap[0]!.at <= now) {
        const e = this.pop()!
        if (this.live.get(e.key) !== e.gen) continue
        this.live.delete(e.key)
        fired++
        this.fire(e.key, e.at)
        if (this.stopped) return fired
      }
    } finally {
      this.running = outer
    }
    // Called directly (not from our own timer): what the callbacks armed still needs a wake-up.
    if (!outer && this.handle === null) this.schedule()
    return fired
  }

  private schedule(): void {
    if (this.stopped) return
    if (this.handle !== null) this.clock.clearTimeout(this.handle)
    this.handle = null
    this.handleAt = Infinity
    while (this.heap.length > 0 && this.live.get(this.heap[0]!.key) !== this.heap[0]!.gen) this.pop()
    if (this.heap.length === 0) return
    const at = this.heap[0]!.at
    const wait = Math.min(MAX_WAIT_MS, Math.max(0, at - this.clock.now()))
    this.handleAt = at
    this.handle = this.clock.setTimeout(() => {
      this.handle = null
      this.handleAt = Infinity
      this.runDue() // schedules the next wake-up itself
    }, wait)
  }

  private compact(): void {
    const keep = this.heap.filter((e) => this.live.get(e.key) === e.gen)
    this.heap.length = 0
    for (const e of keep) this.push(e)
  }

  private push(e: Entry): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p]!.at <= e.at) break
      h[i] = h[p]!
      i = p
    }
    h[i] = e
  }

  private pop(): Entry | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      let i = 0
      const n = h.length
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        let mAt = last.at
        if (l < n && h[l]!.at < mAt) {
          m = l
          mAt = h[l]!.at
        }
        if (r < n && h[r]!.at < mAt) m = r
        if (m === i) break
        h[i] = h[m]!
        i = m
      }
      h[i] = last
    }
    return top
  }
}
