/**
 * Policy store (RFC 5213 §6.2): the MN's profile by MN-Identifier (§6.6) or, when the access
 * link only yields a link-layer address, by MAC. A default profile may serve MNs the store
 * does not know, or they are refused. The store is immutable: a reload builds a new one.
 *
 * Profiles are validated and normalised once here (canonical LMA and prefix text, MAC as 12 hex
 * digits) so the per-event path compares strings and never parses them again.
 * Left out: remote policy stores and context transfer (§6.2 leaves them out of scope).
 */
import { canonicalIp6, maskPrefix, parseMac, parsePrefix, formatPrefix, type MobilityOption } from '@pmip6/wire'
import { parseIpv4Prefix, parseIpv4Unicast, type Ipv4Net } from './ipv4'
import { fastWriteIp6 } from './text'
import type { AddressConfig, IpStack, MobilityMode, PolicyProfile, UnknownMnPolicy } from './types'

/** A validated profile; shared by every entry that uses it, never copied per MN. */
export interface CompiledProfile {
  readonly mnId: string | null
  readonly lma: string
  readonly homePrefixes: readonly string[]
  /** HNP options for the profile's prefixes, built once (RFC 5213 §6.9.1.1 item 3). */
  readonly hnpOptions: readonly MobilityOption[]
  readonly prefixLifetime: number | null
  readonly addressConfig: AddressConfig
  readonly mode: MobilityMode
  readonly otherConfig: boolean
  readonly macNaiRealm: string | null
  /** RFC 5844 §3.2.2: which home addresses the MN gets. */
  readonly stack: IpStack
  /** RFC 5844 §3.3.1: the IPv4 home address to request (4 bytes), or null for 0.0.0.0. */
  readonly ipv4Request: Buffer | null
  /** Where an assigned IPv4 home address may lie; empty: any unicast address. */
  readonly ipv4Allowed: readonly Ipv4Net[]
  /** RFC 5845: send the GRE Key option. */
  readonly greKey: boolean
}

export class ProfileError extends Error {
  override readonly name = 'ProfileError'
  constructor(
    readonly mnId: string,
    readonly field: string,
    why: string,
  ) {
    super(`profile ${mnId}: ${field}: ${why}`)
  }
}

export const EMPTY: readonly string[] = Object.freeze([])

/** '00:11:22:33:44:55' or a Buffer -> '001122334455'. */
const HEX = '0123456789abcdef'
export function macKey(mac: string | Uint8Array): string {
  if (typeof mac === 'string') return parseMac(mac).toString('hex')
  // One String.fromCharCode: a flat string (the MAC is kept for the MN's lifetime, and `+=`
  // would keep a rope of a dozen nodes) without a trip into the native hex encoder.
  if (mac.length === 6) {
    const h = (i: number): number => HEX.charCodeAt(mac[i >> 1]! >> (i & 1 ? 0 : 4) & 15)
    return String.fromCharCode(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7), h(8), h(9), h(10), h(11))
  }
  const codes = new Array<number>(mac.length * 2)
  for (let i = 0; i < mac.length; i++) {
    codes[2 * i] = HEX.charCodeAt(mac[i]! >> 4)
    codes[2 * i + 1] = HEX.charCodeAt(mac[i]! & 15)
  }
  return String.fromCharCode.apply(null, codes)
}

/** '001122334455' -> '00:11:22:33:44:55'. */
export function macText(key: string): string {
  // The usual 48-bit MAC without the regular expression (asked for before every refresh, §6.13).
  if (key.length === 12) {
    const c = (i: number): number => key.charCodeAt(i)
    return String.fromCharCode(c(0), c(1), 58, c(2), c(3), 58, c(4), c(5), 58, c(6), c(7), 58, c(8), c(9), 58, c(10), c(11))
  }
  return key.replace(/(..)(?!$)/g, '$1:')
}

export function canonicalPrefix(text: string): string {
  const p = parsePrefix(text)
  return formatPrefix(p.prefix, p.length)
}

export function hnpOptionOf(prefixText: string): MobilityOption {
  // Fast path for plain text (the prefixes the LMA granted, as core keeps them); the same bytes
  // as parsePrefix, which handles everything else and throws for bad text.
  const slash = prefixText.indexOf('/')
  const digits = prefixText.length - slash - 1
  if (slash > 0 && digits >= 1 && digits <= 3) {
    let length = 0
    for (let i = slash + 1; i < prefixText.length; i++) {
      const c = prefixText.charCodeAt(i)
      length = c >= 0x30 && c <= 0x39 ? length * 10 + (c - 0x30) : 999
    }
    const b = Buffer.alloc(16)
    if (length <= 128 && fastWriteIp6(prefixText, slash, b)) return Object.freeze({ type: 'hnp', prefixLength: length, prefix: maskPrefix(b, length) })
  }
  const p = parsePrefix(prefixText)
  return Object.freeze({ type: 'hnp', prefixLength: p.length, prefix: p.prefix })
}

function compile(p: Omit<PolicyProfile, 'mnId' | 'macs'> & { macNaiRealm?: string }, mnId: string | null): CompiledProfile {
  const who = mnId ?? '(default)'
  let lma: string
  try {
    lma = canonicalIp6(p.lma)
  } catch {
    throw new ProfileError(who, 'lma', `not an IPv6 address: ${String(p.lma)}`)
  }
  const homePrefixes = (p.homePrefixes ?? []).map((t) => {
    try {
      return canonicalPrefix(t)
    } catch {
      throw new ProfileError(who, 'homePrefixes', `not a prefix: ${t}`)
    }
  })
  const addressConfig = p.addressConfig ?? 'stateless'
  if (addressConfig !== 'stateless' && addressConfig !== 'stateful' && addressConfig !== 'both') {
    throw new ProfileError(who, 'addressConfig', `must be stateless, stateful or both: ${String(addressConfig)}`)
  }
  const mode = p.mode ?? 'network'
  if (mode !== 'network' && mode !== 'host') throw new ProfileError(who, 'mode', `must be network or host: ${String(mode)}`)
  if (p.prefixLifetime !== undefined && (!Number.isInteger(p.prefixLifetime) || p.prefixLifetime < 0)) {
    throw new ProfileError(who, 'prefixLifetime', 'must be a non-negative integer of seconds')
  }
  const stack = p.stack ?? 'ipv6'
  if (stack !== 'ipv6' && stack !== 'ipv4' && stack !== 'dual') throw new ProfileError(who, 'stack', `must be ipv6, ipv4 or dual: ${String(stack)}`)
  if (stack === 'ipv4' && homePrefixes.length > 0) throw new ProfileError(who, 'homePrefixes', 'an IPv4-only MN (stack ipv4) has no home network prefix')
  if (stack === 'ipv6' && (p.ipv4HomeAddress !== undefined || p.ipv4Allowed !== undefined)) {
    throw new ProfileError(who, p.ipv4HomeAddress !== undefined ? 'ipv4HomeAddress' : 'ipv4Allowed', 'needs stack ipv4 or dual')
  }
  let ipv4Request: Buffer | null = null
  if (p.ipv4HomeAddress !== undefined) {
    const a = parseIpv4Unicast(p.ipv4HomeAddress)
    if (typeof a === 'string') throw new ProfileError(who, 'ipv4HomeAddress', a)
    ipv4Request = a
  }
  const ipv4Allowed = (p.ipv4Allowed ?? []).map((t) => {
    const n = parseIpv4Prefix(t)
    if (typeof n === 'string') throw new ProfileError(who, 'ipv4Allowed', n)
    return n
  })
  if (p.greKey !== undefined && typeof p.greKey !== 'boolean') throw new ProfileError(who, 'greKey', 'must be true or false')
  return Object.freeze({
    mnId,
    lma,
    homePrefixes: Object.freeze(homePrefixes),
    hnpOptions: Object.freeze(homePrefixes.map(hnpOptionOf)),
    prefixLifetime: p.prefixLifetime ?? null,
    addressConfig,
    mode,
    otherConfig: p.otherConfig ?? addressConfig !== 'stateless',
    macNaiRealm: p.macNaiRealm ?? null,
    stack,
    ipv4Request,
    ipv4Allowed: Object.freeze(ipv4Allowed),
    greKey: p.greKey ?? false,
  })
}

/**
 * Compiled profiles by the object they were compiled from. A store is rebuilt whole on every
 * change, and the RADIUS policy source (agent) changes it one MN at a time, handing the same
 * objects for every other MN: those are not parsed again (10,000 profiles took ~0.5 s to
 * compile on a busy 2-core machine, per new MN). Profiles are immutable, so the key is safe.
 */
const compiledOf = new WeakMap<object, CompiledProfile>()

function compileOnce(p: Omit<PolicyProfile, 'mnId' | 'macs'> & { macNaiRealm?: string }, mnId: string | null): CompiledProfile {
  const have = compiledOf.get(p)
  if (have !== undefined && have.mnId === mnId) return have
  const c = compile(p, mnId)
  compiledOf.set(p, c)
  return c
}

export interface Resolved {
  readonly mnId: string
  readonly profile: CompiledProfile
}

export class ProfileStore {
  private readonly byId = new Map<string, CompiledProfile>()
  private readonly byMac = new Map<string, string>()
  private readonly fallback: CompiledProfile | null

  constructor(profiles: readonly PolicyProfile[], unknown: UnknownMnPolicy = 'refuse') {
    for (const p of profiles) {
      if (typeof p.mnId !== 'string' || p.mnId.length === 0 || p.mnId.length > 253) throw new ProfileError(String(p.mnId), 'mnId', 'must be a non-empty NAI')
      if (this.byId.has(p.mnId)) throw new ProfileError(p.mnId, 'mnId', 'appears twice')
      this.byId.set(p.mnId, compileOnce(p, p.mnId))
      for (const m of p.macs ?? []) {
        let k: string
        try {
          k = macKey(m)
        } catch {
          throw new ProfileError(p.mnId, 'macs', `not a link-layer address: ${m}`)
        }
        const other = this.byMac.get(k)
        if (other !== undefined) throw new ProfileError(p.mnId, 'macs', `${m} already belongs to ${other}`)
        this.byMac.set(k, p.mnId)
      }
    }
    this.fallback = unknown === 'refuse' ? null : compileOnce(unknown.profile, null)
  }

  get size(): number {
    return this.byId.size
  }

  /** The stored profile of an MN-ID, without the default. */
  get(mnId: string): CompiledProfile | undefined {
    return this.byId.get(mnId)
  }

  /** MN-ID whose profile lists this MAC (12 hex digits). */
  mnIdOfMac(mac: string): string | undefined {
    return this.byMac.get(mac)
  }

  /**
   * The MN's identity and profile (RFC 5213 §6.6): the MN-ID the link gave, else the MAC's
   * owner in the store, else the default profile (with a MAC-derived NAI when only a MAC is
   * known and the default has a realm). null: refused.
   */
  resolve(mnId: string | undefined, mac: string | null): Resolved | null {
    if (mnId !== undefined) {
      const p = this.byId.get(mnId)
      if (p) return { mnId, profile: p }
      return this.fallback ? { mnId, profile: this.fallback } : null
    }
    if (mac !== null) {
      const owner = this.byMac.get(mac)
      if (owner !== undefined) return { mnId: owner, profile: this.byId.get(owner)! }
      if (this.fallback && this.fallback.macNaiRealm !== null) return { mnId: `${mac}@${this.fallback.macNaiRealm}`, profile: this.fallback }
    }
    return null
  }

  /** Profile for an MN-ID already known (an attached MN): stored, else default. */
  profileOf(mnId: string): CompiledProfile | null {
    return this.byId.get(mnId) ?? this.fallback
  }
}
