/**
 * Storage for the per-MN times (timer due times, send times of the rate limiter, binding expiry).
 * They are wall-clock milliseconds, doubles that V8 would box one by one in every entry
 * (16 bytes each plus the field); one shared Float64Array keeps them unboxed, 8 bytes each, and
 * out of the garbage collector's way. Slot 0 is scratch: a released entry points there, so a
 * stray write can never land in another MN's slot.
 */
export const STRIDE = 12

export class TimeSlab {
  a: Float64Array
  private next = 1
  private readonly free: number[] = []

  constructor(initialSlots = 256) {
    this.a = new Float64Array(STRIDE * initialSlots)
  }

  /** Base index of a fresh slot, every time set to `fill`. */
  alloc(fill: number): number {
    let slot = this.free.pop()
    if (slot === undefined) {
      slot = this.next++
      if (slot * STRIDE + STRIDE > this.a.length) {
        const bigger = new Float64Array(this.a.length * 2)
        bigger.set(this.a)
        this.a = bigger
      }
    }
    const base = slot * STRIDE
    this.a.fill(fill, base, base + STRIDE)
    return base
  }

  release(base: number): void {
    if (base > 0) this.free.push(base / STRIDE)
  }
}
