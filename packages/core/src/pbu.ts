/**
 * Proxy Binding Update construction (RFC 5213 §6.9.1.1, §6.9.1.3, §6.9.1.4, §6.9.1.5) and the
 * Handoff Indicator rules of §6.9.1.1 items 4-5.
 *
 * Option order: MN-ID, HNP(s), HI, ATT, Timestamp, MN-LL-ID, Link-local Address; this is the
 * order of Figure 12 and reproduces protocol-reference §10.1 byte for byte. Options that are the
 * same in every PBU (HI values, ALL_ZERO HNP and Link-local Address) are frozen and shared.
 * The IPv4 Home Address Request (RFC 5844 §3.3.1) and GRE Key (RFC 5845 §3.1) follow, when the
 * MN's profile asks for them (ipv4.ts); an IPv4-only MN's PBU has no HNP option (RFC 5844 §3.2.3.1).
 * Left out: the Alternate Care-of Address.
 */
import { ALL_ZERO_ADDR, HandoffIndicator, MN_ID_SUBTYPE_NAI, PBU_FLAGS, timestampFromMs, type MobilityOption, type ProxyBindingUpdate } from '@pmip6/wire'
import type { HandoffHint } from './types'
import { assertNever } from './assert'

const HI_OPTIONS: readonly MobilityOption[] = Object.freeze(
  [0, 1, 2, 3, 4, 5].map((value) => Object.freeze({ type: 'handoff-indicator', value }) as MobilityOption),
)
const ATT_OPTIONS: MobilityOption[] = []
/** RFC 5213 §6.9.1.1 item 3: one HNP with the ALL_ZERO prefix asks the LMA to assign (length 0, as in §10.1). */
export const ALL_ZERO_HNP: MobilityOption = Object.freeze({ type: 'hnp', prefixLength: 0, prefix: ALL_ZERO_ADDR })
/** RFC 5213 §6.9.1.1 item 9: an ALL_ZERO Link-local Address option asks the LMA for one. */
const ALL_ZERO_LLA: MobilityOption = Object.freeze({ type: 'link-local-address', address: ALL_ZERO_ADDR })

function attOption(att: number): MobilityOption {
  let o = ATT_OPTIONS[att]
  if (o === undefined) {
    o = Object.freeze({ type: 'access-tech-type', value: att })
    if (Number.isInteger(att) && att >= 0 && att <= 255) ATT_OPTIONS[att] = o
  }
  return o
}

/**
 * RFC 5213 §6.9.1.1 items 4-5. 2 and 3 only when the link layer definitively knows (the hint
 * says so); 3 also needs a link-layer id, the thing that tells "this interface moved" from "a
 * new interface of the same host" (item 5, second bullet). Everything else is 4, never a guess.
 */
export function handoffIndicatorFor(hint: HandoffHint | undefined, hasLlId: boolean): number {
  if (hint === undefined) return HandoffIndicator.UNKNOWN
  switch (hint) {
    case 'new':
      return HandoffIndicator.NEW_INTERFACE
    case 'same-interface':
      return hasLlId ? HandoffIndicator.MAG_SWITCH_SAME_INTERFACE : HandoffIndicator.UNKNOWN
    case 'other-interface':
      return HandoffIndicator.INTERFACE_SWITCH
    case 'unknown':
      return HandoffIndicator.UNKNOWN
    default:
      return assertNever(hint, 'handoff hint')
  }
}

export interface PbuParts {
  readonly sequence: number
  /** Seconds; 0 de-registers. */
  readonly lifetime: number
  readonly mnId: string
  /** HNP options; empty: one ALL_ZERO HNP. */
  readonly hnps: readonly MobilityOption[]
  readonly hi: number
  readonly att: number
  /** Wall-clock ms for the Timestamp option, or null in the sequence-number scheme. */
  readonly timestampMs: number | null
  /** MN link-layer id as hex digits, or null when unknown or ALL_ZERO (item 7: then the option is left out). */
  readonly macHex: string | null
  /** undefined: no Link-local Address option (a fixed one is configured); null: ALL_ZERO; else the address. */
  readonly linkLocal: Buffer | null | undefined
  /** RFC 5844 §3.2.3.1: an IPv4-only MN's PBU carries no HNP option. */
  readonly noHnp?: boolean
  /** RFC 5844 §3.3.1 IPv4 Home Address Request, or null. */
  readonly ipv4?: MobilityOption | null
  /** RFC 5845 §3.1 GRE Key (the MAG's downlink key), or null. */
  readonly gre?: MobilityOption | null
}

/** Buffer of a string; a JS loop for short ASCII (the usual NAI) beats the native call by far. */
export function textBytes(s: string): Buffer {
  const n = s.length
  if (n <= 64) {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return Buffer.from(s, 'utf8')
      b[i] = c
    }
    return b
  }
  return Buffer.from(s, 'utf8')
}

function hexVal(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57
}

/** Bytes of a hex string (the stored MAC). */
export function hexBytes(hex: string): Buffer {
  const b = Buffer.allocUnsafe(hex.length >> 1)
  for (let i = 0; i < b.length; i++) b[i] = (hexVal(hex.charCodeAt(2 * i)) << 4) | hexVal(hex.charCodeAt(2 * i + 1))
  return b
}

export function buildPbu(p: PbuParts): ProxyBindingUpdate {
  const options: MobilityOption[] = [{ type: 'mn-id', subtype: MN_ID_SUBTYPE_NAI, id: textBytes(p.mnId) }]
  if (p.noHnp === true) {
    // RFC 5844 §3.2.3.1: no IPv6 home prefix is asked for an IPv4-only MN.
  } else if (p.hnps.length === 0) options.push(ALL_ZERO_HNP)
  else for (const h of p.hnps) options.push(h)
  options.push(HI_OPTIONS[p.hi] ?? { type: 'handoff-indicator', value: p.hi }, attOption(p.att))
  if (p.timestampMs !== null) {
    const t = timestampFromMs(p.timestampMs)
    options.push({ type: 'timestamp', seconds: t.seconds, fraction: t.fraction })
  }
  // Item 7: no identifier, no option (the caller stores ALL_ZERO as null).
  if (p.macHex !== null) options.push({ type: 'mn-ll-id', id: hexBytes(p.macHex) })
  if (p.linkLocal !== undefined) options.push(p.linkLocal === null ? ALL_ZERO_LLA : { type: 'link-local-address', address: p.linkLocal })
  if (p.ipv4 !== undefined && p.ipv4 !== null) options.push(p.ipv4)
  if (p.gre !== undefined && p.gre !== null) options.push(p.gre)
  return { kind: 'binding-update', sequence: p.sequence, flags: PBU_FLAGS, lifetime: p.lifetime, options }
}
