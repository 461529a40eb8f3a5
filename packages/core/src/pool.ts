/**
 * Local prefixes for Scenario B (RFC 6612 §3.3, RFC 5213 §6.14): a pool such as a /48 carved
 * into per-MN /64s, so that a host-mode MN sees a topologically correct prefix of this MAG,
 * detects the movement and registers a care-of address with its own home agent.
 * Freed prefixes are reused lowest-first so the pool never grows past its peak use.
 */
import { formatPrefix, parsePrefix } from '@pmip6/wire'

export class PrefixPool {
  private readonly base: Buffer
  private readonly baseLen: number
  readonly size: number
  private next = 0
  private readonly free: number[] = []

  constructor(
    pool: string,
    readonly carveLength: number,
  ) {
    const p = parsePrefix(pool)
    if (!Number.isInteger(carveLength) || carveLength < p.length || carveLength > 128) {
      throw new RangeError(`local pool ${pool}: cannot carve /${carveLength} prefixes from a /${p.length}`)
    }
    this.base = p.prefix
    this.baseLen = p.length
    // More than 2^24 local prefixes per MAG is not a plausible deployment; cap the index space.
    this.size = 2 ** Math.min(24, carveLength - p.length)
  }

  /** A free index, or -1 when the pool is exhausted. */
  allocate(): number {
    if (this.free.length > 0) {
      // Lowest first keeps allocation deterministic after releases.
      let best = 0
      for (let i = 1; i < this.free.length; i++) if (this.free[i]! < this.free[best]!) best = i
      const v = this.free[best]!
      this.free[best] = this.free[this.free.length - 1]!
      this.free.pop()
      return v
    }
    return this.next < this.size ? this.next++ : -1
  }

  release(index: number): void {
    if (index >= 0 && index < this.next) this.free.push(index)
  }

  /** Text of the index-th carved prefix: the pool's bits, then `index` in bits [baseLen, carveLength). */
  prefixText(index: number): string {
    const b = Buffer.from(this.base)
    let v = index
    for (let bit = this.carveLength - 1; bit >= this.baseLen && v > 0; bit--) {
      if (v & 1) b[bit >> 3]! |= 0x80 >> (bit & 7)
      v = Math.floor(v / 2)
    }
    return formatPrefix(b, this.carveLength)
  }
}
