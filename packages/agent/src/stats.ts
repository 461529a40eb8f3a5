/** Counters by name and a bounded latency recorder (the most recent samples only). */
export class Counters {
  private readonly m = new Map<string, { n: number }>()
  /**
   * The counter itself, for a hot path to bump (`c.n++`) without a lookup (issue 8). A counter
   * that was never bumped stays out of the snapshot.
   */
  cell(name: string): { n: number } {
    let c = this.m.get(name)
    if (c === undefined) {
      c = { n: 0 }
      this.m.set(name, c)
    }
    return c
  }
  inc(name: string, by = 1): void {
    this.cell(name).n += by
  }
  get(name: string): number {
    return this.m.get(name)?.n ?? 0
  }
  snapshot(): Record<string, number> {
    const out: [string, number][] = []
    for (const [k, c] of this.m) if (c.n !== 0) out.push([k, c.n])
    return Object.fromEntries(out.sort(([a], [b]) => (a < b ? -1 : 1)))
  }
}

/**
 * A cumulative histogram (Prometheus `histogram`): counts per upper bound, their sum and count.
 * Unlike LatencyRecorder's window, it never forgets, so rates over any range can be taken.
 */
export class Histogram {
  private readonly counts: Float64Array
  private total = 0
  private n = 0
  /** `bounds`: upper bounds, ascending, in the unit of the samples. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length)
  }
  observe(v: number): void {
    this.n++
    this.total += v
    // Few buckets: a linear scan from the bottom beats a search, and most samples are small.
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= this.bounds[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
  /** Cumulative counts per bound (each includes the buckets below it), then +Inf = count. */
  snapshot(): { bounds: number[]; cumulative: number[]; sum: number; count: number } {
    const cumulative: number[] = []
    let acc = 0
    for (let i = 0; i < this.counts.length; i++) cumulative.push((acc += this.counts[i]!))
    return { bounds: [...this.bounds], cumulative, sum: this.total, count: this.n }
  }
}

export class LatencyRecorder {
  private readonly buf: Float64Array
  private n = 0
  constructor(capacity: number) {
    this.buf = new Float64Array(capacity)
  }
  add(v: number): void {
    this.buf[this.n % this.buf.length] = v
    this.n++
  }
  get count(): number {
    return this.n
  }
  reset(): void {
    this.n = 0
    this.sortedAt = -1
  }
  samples(): Float64Array {
    return this.buf.slice(0, Math.min(this.n, this.buf.length))
  }
  percentile(p: number): number | null {
    const s = this.sorted()
    if (s.length === 0) return null
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
  }

  /** The window sorted, kept until the next sample: a status poll asks for several percentiles of each recorder. */
  private sortedAt = -1
  private sortedBuf: Float64Array = new Float64Array(0)
  private sorted(): Float64Array {
    if (this.sortedAt !== this.n) {
      this.sortedBuf = this.samples().sort()
      this.sortedAt = this.n
    }
    return this.sortedBuf
  }
}
