/**
 * Router Advertisement contents for home-link emulation (RFC 5213 §6.7, §6.9.2, §6.9.3,
 * §6.9.5, §6.12) and for the local prefix of Scenario B (RFC 6612 §3.3).
 *
 * Option order: Source Link-layer Address, MTU, Prefix Information (as protocol-reference
 * §10.3). The SLLA option is only added for a fixed MAG link-layer address
 * (FixedMAGLinkLayerAddressOnAllAccessLinks); otherwise the MN learns the interface's own by ND.
 * Prefix lifetimes never outlive the binding: the caller passes the remaining seconds.
 * Left out: Route Information, RDNSS (not in RFC 5213), the Advertisement Interval and Home Agent
 * Information options (the MAG is not a home agent).
 */
import type { MobilityOption, NdOption, RouterAdvertisement } from '@pmip6/wire'
import { hnpOptionOf } from './profiles'
import type { AddressConfig } from './types'

export interface PioSpec {
  readonly prefix: string
  readonly validLifetime: number
  readonly preferredLifetime: number
  readonly autonomous: boolean
}

const FLAG_CACHE = new Map<number, RouterAdvertisement['flags']>()
function flagsOf(managed: boolean, other: boolean): RouterAdvertisement['flags'] {
  const k = (managed ? 1 : 0) | (other ? 2 : 0)
  let f = FLAG_CACHE.get(k)
  if (!f) {
    f = Object.freeze({ managed, other, homeAgent: false, preference: 'medium', proxy: false })
    FLAG_CACHE.set(k, f)
  }
  return f
}

const MTU_CACHE = new Map<number, NdOption>()
function mtuOption(mtu: number): NdOption {
  let o = MTU_CACHE.get(mtu)
  if (!o) {
    o = Object.freeze({ type: 'mtu', mtu })
    if (MTU_CACHE.size < 64) MTU_CACHE.set(mtu, o)
  }
  return o
}

/**
 * Prefix bytes of a prefix text. The first RA of a binding follows its PBA at once, and the
 * PBA's bytes are remembered for it; anything else is parsed (fast for the core's own texts).
 * No cache keyed by text: at 100,000 bindings one would miss every time and churn the old
 * generation (issue 8).
 */
let lastText: string | null = null
let lastBytes: { prefix: Buffer; length: number } | null = null
function prefixBytes(text: string): { prefix: Buffer; length: number } {
  if (text === lastText && lastBytes !== null) return lastBytes
  const o = hnpOptionOf(text) as Extract<MobilityOption, { type: 'hnp' }>
  return { prefix: o.prefix, length: o.prefixLength }
}

/** Remembers the bytes the caller already has (the prefix just came in a PBA) for the next RA. */
export function rememberPrefix(text: string, prefix: Buffer, length: number): void {
  lastText = text
  lastBytes = { prefix, length }
}

export function pio(s: PioSpec): NdOption {
  const p = prefixBytes(s.prefix)
  return {
    type: 'prefix-info',
    prefixLength: p.length,
    onLink: true,
    autonomous: s.autonomous,
    routerAddress: false,
    validLifetime: s.validLifetime,
    preferredLifetime: s.preferredLifetime,
    prefix: p.prefix,
  }
}

/** RFC 5213 §6.4: A for stateless, M for stateful; O from the profile. */
export function addressFlags(cfg: AddressConfig): { autonomous: boolean; managed: boolean } {
  return { autonomous: cfg !== 'stateful', managed: cfg !== 'stateless' }
}

export interface RaSpec {
  readonly curHopLimit: number
  readonly managed: boolean
  readonly other: boolean
  /** 0 when nothing remains to advertise (RFC 4861 §6.2.5 final RA). */
  readonly routerLifetime: number
  readonly mtu: number | null
  readonly slla: Buffer | null
  readonly pios: readonly PioSpec[]
}

export function buildRa(s: RaSpec): RouterAdvertisement {
  const options: NdOption[] = []
  if (s.slla) options.push({ type: 'source-ll-addr', address: s.slla })
  if (s.mtu !== null) options.push(mtuOption(s.mtu))
  for (const p of s.pios) options.push(pio(p))
  return {
    kind: 'router-advertisement',
    curHopLimit: s.curHopLimit,
    flags: flagsOf(s.managed, s.other),
    routerLifetime: s.routerLifetime,
    reachableTime: 0,
    retransTimer: 0,
    options,
  }
}
