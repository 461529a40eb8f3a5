/**
 * Path MTU towards each LMA (RFC 5213 §6.9.5, RFC 8201), as the daemon learns it: the MTU of
 * the uplink (the interface holding the Proxy-CoA; the kernel reports changes) and ICMPv6 Packet
 * Too Big messages about our packets to an LMA. Gives the tunnel MTUs the core advertises:
 * path MTU minus the 40-byte outer header (RFC 2473 §6.7), never below 1280 (RFC 8200 §5).
 *
 * RFC 8201 §4: a PTB only ever lowers the estimate, one below 1280 is discarded, and an increase
 * is tried after PMTU_RAISE_MS (here: the lowered value expires back to the uplink's).
 * Left out: probing (RFC 4821), a per-LMA path that is longer than one hop past the uplink
 * learning an increase before the expiry.
 */
export const IPV6_MIN_MTU = 1280 // RFC 8200 §5
export const TUNNEL_HEADER_BYTES = 40 // RFC 2473 §6.7: one outer IPv6 header
/** RFC 8201 §4: attempt to detect an increase no sooner than 5 minutes after a PTB; 10 recommended. */
export const PMTU_RAISE_MS = 10 * 60_000

export const tunnelMtuOf = (pathMtu: number): number => Math.max(IPV6_MIN_MTU, pathMtu - TUNNEL_HEADER_BYTES)

/** A tunnel MTU for the core: for one LMA, or (lma absent) for every LMA without its own. */
export interface TunnelMtuChange {
  readonly lma?: string
  readonly mtu: number
}

export class PathMtuTable {
  private uplink: number | null = null
  private readonly ptb = new Map<string, { mtu: number; until: number }>()

  /**
   * @param pathCap a configured path MTU (dataplane.pathMtu): the path is never taken above it.
   * @param lmaCaps configured tunnel MTUs per LMA (mag.lmaMtu, canonical addresses): caps too.
   * @param tunnelCap a configured tunnel MTU (mag.tunnelMtu): the cap of LMAs without their own.
   */
  constructor(
    private readonly pathCap: number | null = null,
    private readonly lmaCaps: ReadonlyMap<string, number> = new Map(),
    private readonly tunnelCap: number | null = null,
  ) {}

  get uplinkMtu(): number | null {
    return this.uplink
  }

  /** Path MTU towards `lma` (null: the default path) right now; null while nothing is known. */
  pathMtu(lma: string | null): number | null {
    let m = this.uplink
    if (this.pathCap !== null) m = m === null ? this.pathCap : Math.min(m, this.pathCap)
    const p = lma === null ? undefined : this.ptb.get(lma)
    if (p !== undefined) m = m === null ? p.mtu : Math.min(m, p.mtu)
    return m
  }

  /** The uplink's MTU (at start, and on every kernel report): every tunnel follows it. */
  setUplink(mtu: number): TunnelMtuChange[] {
    if (mtu === this.uplink) return []
    this.uplink = mtu
    const base = tunnelMtuOf(this.pathMtu(null)!)
    const out: TunnelMtuChange[] = [{ mtu: this.tunnelCap === null ? base : Math.min(base, this.tunnelCap) }]
    for (const lma of new Set([...this.ptb.keys(), ...this.lmaCaps.keys()])) out.push(this.forLma(lma))
    return out
  }

  /**
   * A Packet Too Big about a packet of ours to `lma` (already validated by the caller). Returns
   * the change, or null when it does not lower the estimate (RFC 8201 §4).
   */
  packetTooBig(lma: string, mtu: number, now: number): TunnelMtuChange | null {
    if (mtu < IPV6_MIN_MTU) return null
    const current = this.pathMtu(lma)
    if (current !== null && mtu >= current) return null
    this.ptb.set(lma, { mtu, until: now + PMTU_RAISE_MS })
    return this.forLma(lma)
  }

  /** When the next lowered value expires, or null. */
  nextExpiry(): number | null {
    let t: number | null = null
    for (const p of this.ptb.values()) if (t === null || p.until < t) t = p.until
    return t
  }

  /** Drops lowered values whose time is up (RFC 8201 §4: try the larger MTU again). */
  expire(now: number): TunnelMtuChange[] {
    const out: TunnelMtuChange[] = []
    for (const [lma, p] of [...this.ptb]) {
      if (p.until > now) continue
      this.ptb.delete(lma)
      out.push(this.forLma(lma))
    }
    return out
  }

  private forLma(lma: string): TunnelMtuChange {
    const path = this.pathMtu(lma)
    let mtu = path === null ? Infinity : tunnelMtuOf(path)
    const cap = this.lmaCaps.get(lma) ?? this.tunnelCap
    if (cap !== null) mtu = Math.min(mtu, cap)
    return { lma, mtu: Number.isFinite(mtu) ? mtu : tunnelMtuOf(IPV6_MIN_MTU + TUNNEL_HEADER_BYTES) }
  }
}
