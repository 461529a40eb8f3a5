/** Counters by name and a bounded latency recorder (the most recent samples only). */
export class Counters {
  private readonly m = new Map<string, number>()
  inc(name: string, by = 1): void {
    this.m.set(name, (this.m.get(name) ?? 0) + by)
  }
  get(name: string): number {
    return this.m.get(name) ?? 0
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.m].sort(([a], [b]) => (a < b ? -1 : 1)))
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
  }
  samples(): Float64Array {
    return this.buf.slice(0, Math.min(this.n, this.buf.length))
  }
  percentile(p: number): number | null {
    const s = this.samples().sort()
    if (s.length === 0) return null
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
  }
}
