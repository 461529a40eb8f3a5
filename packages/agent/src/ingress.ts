/**
 * What the MAG takes Mobility Headers from (RFC 5213 §4: signalling is between the MAG and its
 * LMAs only). An MN on an access link can put any source address on a packet, the LMA's
 * included, and the MAG's address is reachable from every link; so a Mobility Header is taken
 * only when
 *
 * 1. it arrived on the transport side: with `mag.transportInterfaces`, one of those interfaces;
 *    without it, any interface that is not an access link (a configured link, a hostapd
 *    interface or its per-station VLANs, an interface the PPP pattern matches, a link a driver
 *    reported), and never from an interface whose name is no longer known (gone by the time the
 *    packet is read: a PPP session that hung up, say);
 * 2. its source is an LMA the MAG has a profile for (profiles, the unknown-MN default) or
 *    signals to (a binding kept across a profile reload), so heartbeats from anyone else are
 *    dropped as well.
 *
 * Everything else is counted as `mh.rx.dropped.<reason>` and dropped without an answer: a
 * Binding Error or Parameter Problem towards the untrusted side would tell an attacker what
 * the MAG parses, and with a spoofed source turn the MAG into a reflector against a third
 * party; the RFCs ask for these answers to the peers of the protocol, so only they get them
 * (daemon.ts).
 *
 * Also the rate limiter for the errors the MAG originates (RFC 4443 §2.4 (f): a token bucket).
 */
import { canonicalIp6 } from '@pmip6/wire'
import type { PolicyProfile, UnknownMnPolicy } from '@pmip6/core'
import { pppPattern, type AgentConfig } from './config'

export type MhDropReason = 'access-link' | 'not-transport-interface' | 'unknown-interface' | 'unknown-peer'

export interface IngressConfig {
  /** Explicit transport side (`mag.transportInterfaces`); absent: everything but the access links. */
  readonly transportInterfaces?: readonly string[]
  /** Access interfaces known from the configuration. */
  readonly accessInterfaces: readonly string[]
  /** Access interfaces that come and go (PPP units, per-station VLANs), by name pattern. */
  readonly accessPatterns: readonly RegExp[]
}

export class MhIngress {
  private readonly transport: ReadonlySet<string> | null
  private readonly access: Set<string>
  private peers = new Set<string>()
  /** isAccess by interface name: a MAG has a few, and the patterns are not run per packet. */
  private readonly seen = new Map<string, boolean>()

  constructor(private readonly cfg: IngressConfig) {
    this.transport = cfg.transportInterfaces ? new Set(cfg.transportInterfaces) : null
    this.access = new Set(cfg.accessInterfaces)
  }

  /** A link a driver reported an MN on: an access link from now on. */
  addAccessLink(name: string): void {
    if (this.access.has(name)) return
    this.access.add(name)
    this.seen.delete(name)
  }

  isAccess(name: string): boolean {
    let v = this.seen.get(name)
    if (v === undefined) {
      v = this.access.has(name) || this.cfg.accessPatterns.some((p) => p.test(name))
      // Bounded: names come from the kernel, and PPP units come and go.
      if (this.seen.size >= 1024) this.seen.clear()
      this.seen.set(name, v)
    }
    return v
  }

  /** The LMAs the MAG may hear from now (canonical text), replacing the previous set. */
  setPeers(lmas: Iterable<string>): void {
    this.peers = new Set(lmas)
  }

  /** One more LMA (a PBU went to it). */
  addPeer(lma: string): void {
    this.peers.add(lma)
  }

  isPeer(src: string): boolean {
    if (this.peers.has(src)) return true
    // The socket's text is already RFC 5952 in practice; the slow path only for a miss.
    try {
      return this.peers.has(canonicalIp6(src))
    } catch {
      return false
    }
  }

  /**
   * Why a Mobility Header that arrived on interface `link` ('' when its name is not known) from
   * `src` must be dropped, or null when it may be read.
   */
  check(link: string, src: string): MhDropReason | null {
    if (link === '') return 'unknown-interface'
    if (this.isAccess(link)) return 'access-link'
    if (this.transport !== null && !this.transport.has(link)) return 'not-transport-interface'
    if (!this.isPeer(src)) return 'unknown-peer'
    return null
  }
}

/**
 * RFC 4443 §2.4 (f): ICMPv6 errors, and by RFC 6275 §9.2 Binding Errors too, are rate-limited;
 * a token bucket allows a burst of BUCKET and RATE a second on average.
 */
export const ERROR_BUCKET_SIZE = 10
export const ERROR_RATE_PER_S = 10

export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    now: number,
    private readonly size = ERROR_BUCKET_SIZE,
    private readonly perS = ERROR_RATE_PER_S,
  ) {
    this.tokens = size
    this.last = now
  }

  /** Takes one token at time `now` (ms); false when the bucket is empty. */
  take(now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.size, this.tokens + ((now - this.last) * this.perS) / 1000)
      this.last = now
    }
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The access side as the configuration names it: links, hostapd interfaces, PPP units. */
export function ingressConfigOf(cfg: AgentConfig): IngressConfig {
  const names = Object.keys(cfg.core.links ?? {})
  const patterns: RegExp[] = []
  for (const h of cfg.drivers.hostapd?.interfaces ?? []) {
    names.push(h.name)
    if (h.perStaVif) patterns.push(new RegExp(`^${escapeRe(h.name)}\\.sta[0-9]+$`))
  }
  if (cfg.drivers.ppp) patterns.push(pppPattern(cfg.drivers.ppp))
  return { accessInterfaces: names, accessPatterns: patterns, ...(cfg.transportInterfaces ? { transportInterfaces: cfg.transportInterfaces } : {}) }
}

/** Every LMA the configuration names (profiles and the unknown-MN default), canonical text. */
export function configuredLmas(profiles: readonly PolicyProfile[], unknownMn: UnknownMnPolicy | undefined): string[] {
  const out = new Set<string>()
  const add = (a: string): void => {
    try {
      out.add(canonicalIp6(a))
    } catch {
      // validated at load; nothing to hear from
    }
  }
  for (const p of profiles) add(p.lma)
  if (typeof unknownMn === 'object') add(unknownMn.profile.lma)
  return [...out]
}
