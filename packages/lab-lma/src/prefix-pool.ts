/**
 * Home network prefixes for the lab LMA: RFC 5213 §5.2 (per-MN prefix model: each mobile node
 * gets its own prefixes, never shared) and §5.3.2 item 4 (the LMA assigns the prefixes of a new
 * mobility session). A pool prefix (e.g. 2001:db8:100::/48) is carved into fixed-length prefixes
 * (/64 by default) handed out on demand; prefixes configured statically for an MN are reserved and
 * never handed to another MN.
 *
 * Left out: DHCPv6 prefix delegation, AAA-provided prefixes, persistence across restarts.
 * Pure: no I/O, no clock.
 */
import { formatPrefix, parsePrefix } from '@pmip6/wire'

export interface Prefix {
  /** RFC 5952 text with length, e.g. "2001:db8:100:1::/64". */
  readonly text: string
  readonly prefix: Buffer
  readonly length: number
}

/** Parses and canonicalises "addr/len"; throws on a bad text. */
export function toPrefix(text: string): Prefix {
  const p = parsePrefix(text)
  return { text: formatPrefix(p.prefix, p.length), prefix: p.prefix, length: p.length }
}

export function prefixFromBytes(prefix: Buffer, length: number): Prefix {
  return toPrefix(formatPrefix(prefix, length))
}

function toBigInt(b: Buffer): bigint {
  return BigInt(`0x${b.toString('hex')}`)
}

function fromBigInt(v: bigint): Buffer {
  return Buffer.from(v.toString(16).padStart(32, '0'), 'hex')
}

/** True when `inner` lies inside `outer` (same or longer length, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (inner.length < outer.length) return false
  const shift = BigInt(128 - outer.length)
  return toBigInt(outer.prefix) >> shift === toBigInt(inner.prefix) >> shift
}

export interface PoolStats {
  readonly pool: string
  readonly prefixLength: number
  /** Prefixes the pool can hold (capped at Number.MAX_SAFE_INTEGER for huge pools). */
  readonly size: number
  readonly allocated: number
}

/**
 * Hands out prefixes in address order. A released prefix goes to the back of a free list and is
 * only reused once fresh prefixes run out, so a stale route to a released prefix is unlikely to
 * point at a new MN; an MN that comes back gets its previous prefix again when it is still free.
 */
export class PrefixPool {
  readonly pool: Prefix
  readonly prefixLength: number
  readonly #base: bigint
  readonly #size: bigint
  readonly #step: bigint
  #cursor = 0n
  readonly #free: bigint[] = []
  /** Prefix text -> MN identifier holding it. */
  readonly #owner = new Map<string, string>()
  /** Prefixes inside the pool that are configured statically for some MN. */
  readonly #reserved = new Set<string>()
  /** MN identifier -> the pool prefix it held last (RFC 5213 §5.3.2 lets the LMA pick; a stable choice helps labs). */
  readonly #last = new Map<string, string>()

  constructor(pool: string, prefixLength: number, reserved: readonly Prefix[] = []) {
    this.pool = toPrefix(pool)
    if (!Number.isInteger(prefixLength) || prefixLength < this.pool.length || prefixLength > 128) {
      throw new RangeError(`pool prefix length ${prefixLength} must be between ${this.pool.length} and 128`)
    }
    this.prefixLength = prefixLength
    this.#base = toBigInt(this.pool.prefix)
    this.#size = 1n << BigInt(prefixLength - this.pool.length)
    this.#step = 1n << BigInt(128 - prefixLength)
    for (const r of reserved) if (this.contains(r)) this.#reserved.add(r.text)
  }

  /** True when `p` is one of this pool's prefixes (right length, inside the pool). */
  contains(p: Prefix): boolean {
    return p.length === this.prefixLength && prefixContains(this.pool, p)
  }

  ownerOf(p: Prefix): string | undefined {
    return this.#owner.get(p.text)
  }

  /** The prefix this MN held last, if the pool still has it free (or the MN still holds it). */
  previousOf(mnId: string): Prefix | undefined {
    const t = this.#last.get(mnId)
    if (t === undefined) return undefined
    const owner = this.#owner.get(t)
    return owner === undefined || owner === mnId ? toPrefix(t) : undefined
  }

  /** Allocates one prefix for `mnId`, or undefined when the pool is exhausted. */
  allocate(mnId: string): Prefix | undefined {
    const prev = this.previousOf(mnId)
    if (prev !== undefined && this.#owner.get(prev.text) === undefined) return this.#take(prev.text, mnId)
    while (this.#cursor < this.#size) {
      const text = this.#textAt(this.#cursor)
      this.#cursor++
      if (!this.#owner.has(text) && !this.#reserved.has(text)) return this.#take(text, mnId)
    }
    while (this.#free.length > 0) {
      const text = this.#textAt(this.#free.shift() as bigint)
      if (!this.#owner.has(text)) return this.#take(text, mnId)
    }
    return undefined
  }

  /** Claims a specific free prefix for `mnId` (e.g. the one it asked for by name). */
  claim(p: Prefix, mnId: string): boolean {
    if (!this.contains(p) || this.#reserved.has(p.text)) return false
    const owner = this.#owner.get(p.text)
    if (owner !== undefined) return owner === mnId
    this.#take(p.text, mnId)
    return true
  }

  release(p: Prefix): void {
    if (!this.#owner.delete(p.text)) return
    const index = (toBigInt(p.prefix) - this.#base) / this.#step
    if (index < this.#cursor) this.#free.push(index)
  }

  /** Forgets every allocation and every remembered prefix (LMA restart). */
  clear(): void {
    this.#owner.clear()
    this.#last.clear()
    this.#free.length = 0
    this.#cursor = 0n
  }

  stats(): PoolStats {
    const size = this.#size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(this.#size)
    return { pool: this.pool.text, prefixLength: this.prefixLength, size, allocated: this.#owner.size }
  }

  #textAt(index: bigint): string {
    return formatPrefix(fromBigInt(this.#base + index * this.#step), this.prefixLength)
  }

  #take(text: string, mnId: string): Prefix {
    this.#owner.set(text, mnId)
    this.#last.set(mnId, text)
    return toPrefix(text)
  }
}
