/**
 * Seeded PRNG for the random parts of RFC 4861 §6.2.4 and §6.2.6 (RA intervals and the RS reply
 * delay). The core keeps the state, so a run is a pure function of its config and events:
 * tests and replays get the same schedule every time. mulberry32: small, fast, and plenty
 * for spreading timers (not for anything secret).
 */
export class Prng {
  private s: number

  constructor(seed: number) {
    this.s = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer milliseconds uniform in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
}
