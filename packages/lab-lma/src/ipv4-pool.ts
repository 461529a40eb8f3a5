/**
 * IPv4 home addresses for the lab LMA (RFC 5844 §3.1: the LMA allocates the MN's IPv4 home
 * address, honours a requested one when it may, and keeps it for the mobility session). A pool
 * such as 192.0.2.0/24 gives one /32 host address per MN out of the pool's subnet; the network
 * and broadcast addresses and the default router (first host unless configured) are never given.
 * An MN that comes back gets its previous address while nobody else holds it; released
 * addresses are reused only once fresh ones run out. Pure: no I/O, no clock.
 */
import { formatIp4, ip4ToNumber, parseIp4 } from '@pmip6/wire'

export interface Ipv4Pool {
  readonly network: number
  readonly prefixLength: number
  readonly router: number
}

export interface Ipv4PoolStats {
  readonly pool: string
  readonly router: string
  readonly size: number
  readonly allocated: number
}

export type Ipv4Claim = 'ok' | 'outside-pool' | 'reserved' | 'in-use'

/** Parses "a.b.c.d/len"; throws RangeError naming the text. */
export function parseIp4Prefix(text: string): { address: number; length: number } {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text)
  const len = m === null ? NaN : Number(m[2])
  if (m === null || !(len >= 0 && len <= 32)) throw new RangeError(`not an IPv4 prefix: ${text}`)
  let a: number
  try {
    a = ip4ToNumber(parseIp4(m[1]!))
  } catch {
    throw new RangeError(`not an IPv4 prefix: ${text}`)
  }
  return { address: a, length: len }
}

function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

export class Ipv4AddressPool {
  readonly network: number
  readonly prefixLength: number
  readonly router: number
  readonly #first: number
  readonly #last: number
  readonly #owner = new Map<number, string>()
  readonly #previous = new Map<string, number>()
  readonly #released: number[] = []
  readonly #reserved = new Set<number>()
  #next: number

  /** `pool` e.g. "192.0.2.0/24" (at most /30); `router` defaults to the first host. */
  constructor(pool: string, router?: string, reserved: readonly number[] = []) {
    const p = parseIp4Prefix(pool)
    if (p.length > 30) throw new RangeError(`IPv4 pool ${pool} is too small (at most /30)`)
    this.prefixLength = p.length
    this.network = (p.address & mask(p.length)) >>> 0
    this.#first = this.network + 1
    this.#last = (this.network | ~mask(p.length)) >>> 0 // broadcast
    this.router = router === undefined ? this.#first : ip4ToNumber(parseIp4(router))
    if (!this.#isHost(this.router)) throw new RangeError(`IPv4 default router ${formatIp4(u32(this.router))} is not a host of ${pool}`)
    this.#reserved.add(this.router)
    for (const r of reserved) this.#reserved.add(r)
    this.#next = this.#first
  }

  #isHost(a: number): boolean {
    return a >= this.#first && a < this.#last
  }

  contains(a: number): boolean {
    return ((a & mask(this.prefixLength)) >>> 0) === this.network
  }

  previousOf(mnId: string): number | undefined {
    return this.#previous.get(mnId)
  }

  /** A fresh address for `mnId` (its previous one when free), or undefined when exhausted. */
  allocate(mnId: string): number | undefined {
    const prev = this.#previous.get(mnId)
    if (prev !== undefined && this.claim(prev, mnId) === 'ok') return prev
    while (this.#next < this.#last) {
      const a = this.#next++
      if (!this.#owner.has(a) && !this.#reserved.has(a)) {
        this.#owner.set(a, mnId)
        return a
      }
    }
    while (this.#released.length > 0) {
      const a = this.#released.shift()!
      if (!this.#owner.has(a)) {
        this.#owner.set(a, mnId)
        return a
      }
    }
    return undefined
  }

  /** Takes a named address for `mnId` (RFC 5844 §3.1: a requested, non-zero address). */
  claim(a: number, mnId: string): Ipv4Claim {
    if (!this.contains(a)) return 'outside-pool'
    if (!this.#isHost(a) || this.#reserved.has(a)) return 'reserved'
    const owner = this.#owner.get(a)
    if (owner !== undefined && owner !== mnId) return 'in-use'
    this.#owner.set(a, mnId)
    const i = this.#released.indexOf(a)
    if (i >= 0) this.#released.splice(i, 1)
    return 'ok'
  }

  release(a: number): void {
    const owner = this.#owner.get(a)
    if (owner === undefined) return
    this.#owner.delete(a)
    this.#previous.set(owner, a)
    this.#released.push(a)
  }

  clear(): void {
    this.#owner.clear()
    this.#previous.clear()
    this.#released.length = 0
    this.#next = this.#first
  }

  stats(): Ipv4PoolStats {
    const text = (n: number): string => formatIp4(u32(n))
    return {
      pool: `${text(this.network)}/${this.prefixLength}`,
      router: text(this.router),
      size: this.#last - this.#first - [...this.#reserved].filter((r) => this.#isHost(r)).length,
      allocated: this.#owner.size,
    }
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0, 0)
  return b
}
