/**
 * Neighbor Discovery messages a MAG sends and hears on its access links (RFC 4861 §4.1-4.2):
 * Router Solicitation and Router Advertisement, with the options Source/Target Link-layer
 * Address, Prefix Information (RFC 4861 §4.6.2, R flag of RFC 6275 §7.2), MTU,
 * Advertisement Interval (RFC 6275 §7.3) and Home Agent Information (RFC 6275 §7.4).
 * RA flags M, O (RFC 4861), H (RFC 6275 §7.1), Prf (RFC 4191 §2.2) and Proxy (RFC 4389).
 * Other ND options are kept as raw bytes. Redirect, NS and NA are left out: the kernel
 * answers those on the MAG.
 *
 * The encoder leaves the checksum 0; the kernel computes it on raw ICMPv6 sockets.
 */
import { WireError, need } from './errors'
import {
  ICMP6_ROUTER_ADVERT,
  ICMP6_ROUTER_SOLICIT,
  NdOpt,
  PIO_FLAG_A,
  PIO_FLAG_L,
  PIO_FLAG_R,
  RA_FLAG_H,
  RA_FLAG_M,
  RA_FLAG_O,
  RA_FLAG_PROXY,
  RA_PRF_MASK,
} from './constants'

export type NdOption =
  | { readonly type: 'source-ll-addr'; readonly address: Buffer }
  | { readonly type: 'target-ll-addr'; readonly address: Buffer }
  | {
      readonly type: 'prefix-info'
      readonly prefixLength: number
      readonly onLink: boolean
      readonly autonomous: boolean
      readonly routerAddress: boolean
      readonly validLifetime: number
      readonly preferredLifetime: number
      readonly prefix: Buffer
    }
  | { readonly type: 'mtu'; readonly mtu: number }
  | { readonly type: 'adv-interval'; readonly intervalMs: number }
  | { readonly type: 'home-agent-info'; readonly preference: number; readonly lifetime: number }
  | { readonly type: 'unknown'; readonly code: number; readonly data: Buffer }

/** RFC 4191 §2.2 router preference. */
export type RouterPreference = 'medium' | 'high' | 'low' | 'reserved'
const PRF_BITS: Record<RouterPreference, number> = { medium: 0x00, high: 0x08, reserved: 0x10, low: 0x18 }
const PRF_OF_BITS: readonly RouterPreference[] = ['medium', 'high', 'reserved', 'low']

export interface RouterSolicitation {
  readonly kind: 'router-solicitation'
  readonly options: readonly NdOption[]
}

export interface RouterAdvertisement {
  readonly kind: 'router-advertisement'
  readonly curHopLimit: number
  readonly flags: {
    readonly managed: boolean
    readonly other: boolean
    readonly homeAgent: boolean
    readonly preference: RouterPreference
    readonly proxy: boolean
  }
  /** Seconds; 0 means "not a default router". */
  readonly routerLifetime: number
  readonly reachableTime: number
  readonly retransTimer: number
  readonly options: readonly NdOption[]
}

export type NdMessage = RouterSolicitation | RouterAdvertisement

function optionLength(o: NdOption): number {
  switch (o.type) {
    case 'source-ll-addr':
    case 'target-ll-addr':
      // Length counts 8-octet units including Type and Length (RFC 4861 §4.6).
      return Math.ceil((2 + o.address.length) / 8) * 8
    case 'prefix-info':
      return 32
    case 'mtu':
    case 'adv-interval':
    case 'home-agent-info':
      return 8
    case 'unknown':
      return Math.ceil((2 + o.data.length) / 8) * 8
  }
}

function fixedLength(msg: NdMessage): number {
  return msg.kind === 'router-solicitation' ? 8 : 16
}

export function encodingLength(msg: NdMessage): number {
  let n = fixedLength(msg)
  for (const o of msg.options) n += optionLength(o)
  return n
}

function checkU32(v: number, offset: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new WireError('value-out-of-range', { offset, field, value: v })
}

function checkRange(v: number, max: number, offset: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new WireError('value-out-of-range', { offset, field, value: v })
}

function encodeOption(o: NdOption, b: Buffer, p: number, at: number): number {
  const len = optionLength(o)
  if (len > 255 * 8) throw new WireError('value-out-of-range', { offset: at, field: 'option length', value: len })
  b.fill(0, p, p + len)
  b[p + 1] = len / 8
  switch (o.type) {
    case 'source-ll-addr':
    case 'target-ll-addr':
      b[p] = o.type === 'source-ll-addr' ? NdOpt.SOURCE_LL_ADDR : NdOpt.TARGET_LL_ADDR
      o.address.copy(b, p + 2)
      break
    case 'prefix-info':
      if (o.prefix.length !== 16) throw new WireError('value-out-of-range', { offset: at, field: 'prefix' })
      checkRange(o.prefixLength, 128, at, 'prefixLength')
      checkU32(o.validLifetime, at, 'validLifetime')
      checkU32(o.preferredLifetime, at, 'preferredLifetime')
      b[p] = NdOpt.PREFIX_INFO
      b[p + 2] = o.prefixLength
      b[p + 3] = (o.onLink ? PIO_FLAG_L : 0) | (o.autonomous ? PIO_FLAG_A : 0) | (o.routerAddress ? PIO_FLAG_R : 0)
      b.writeUInt32BE(o.validLifetime, p + 4)
      b.writeUInt32BE(o.preferredLifetime, p + 8)
      o.prefix.copy(b, p + 16)
      break
    case 'mtu':
      checkU32(o.mtu, at, 'mtu')
      b[p] = NdOpt.MTU
      b.writeUInt32BE(o.mtu, p + 4)
      break
    case 'adv-interval':
      checkU32(o.intervalMs, at, 'intervalMs')
      b[p] = NdOpt.ADV_INTERVAL
      b.writeUInt32BE(o.intervalMs, p + 4)
      break
    case 'home-agent-info':
      checkRange(o.preference, 0xffff, at, 'preference')
      checkRange(o.lifetime, 0xffff, at, 'lifetime')
      b[p] = NdOpt.HOME_AGENT_INFO
      b.writeUInt16BE(o.preference, p + 4)
      b.writeUInt16BE(o.lifetime, p + 6)
      break
    case 'unknown':
      checkRange(o.code, 255, at, 'code')
      b[p] = o.code
      o.data.copy(b, p + 2)
      break
  }
  return len
}

export function encode(msg: NdMessage, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(msg)
  const b = buf ?? Buffer.allocUnsafe(len)
  need(b.length, offset, len)
  const o = offset
  b.fill(0, o, o + fixedLength(msg))
  if (msg.kind === 'router-solicitation') {
    b[o] = ICMP6_ROUTER_SOLICIT
  } else {
    checkRange(msg.curHopLimit, 255, 4, 'curHopLimit')
    checkRange(msg.routerLifetime, 0xffff, 6, 'routerLifetime')
    checkU32(msg.reachableTime, 8, 'reachableTime')
    checkU32(msg.retransTimer, 12, 'retransTimer')
    const f = msg.flags
    b[o] = ICMP6_ROUTER_ADVERT
    b[o + 4] = msg.curHopLimit
    b[o + 5] = (f.managed ? RA_FLAG_M : 0) | (f.other ? RA_FLAG_O : 0) | (f.homeAgent ? RA_FLAG_H : 0) | PRF_BITS[f.preference] | (f.proxy ? RA_FLAG_PROXY : 0)
    b.writeUInt16BE(msg.routerLifetime, o + 6)
    b.writeUInt32BE(msg.reachableTime, o + 8)
    b.writeUInt32BE(msg.retransTimer, o + 12)
  }
  let at = fixedLength(msg)
  for (const opt of msg.options) at += encodeOption(opt, b, o + at, at)
  return b.subarray(offset, offset + len)
}

function decodeOptions(buf: Buffer, base: number, start: number, end: number): NdOption[] {
  const out: NdOption[] = []
  let p = start
  while (p < end) {
    const at = p - base
    if (p + 2 > end) throw new WireError('option-overflow', { offset: at, type: buf[p]! })
    const code = buf[p]!
    const len = buf[p + 1]! * 8
    if (len === 0) throw new WireError('bad-option-length', { offset: at, type: code, length: 0 })
    if (p + len > end) throw new WireError('option-overflow', { offset: at, type: code, length: len })
    const need = (n: number): void => {
      if (len < n) throw new WireError('option-too-short', { offset: at, type: code, length: len, expected: n })
    }
    switch (code) {
      case NdOpt.SOURCE_LL_ADDR:
      case NdOpt.TARGET_LL_ADDR: {
        // The option carries the address padded to 8 octets; for Ethernet it is 6 bytes.
        const address = Buffer.from(buf.subarray(p + 2, p + Math.min(len, 8)))
        out.push({ type: code === NdOpt.SOURCE_LL_ADDR ? 'source-ll-addr' : 'target-ll-addr', address })
        break
      }
      case NdOpt.PREFIX_INFO: {
        need(32)
        const f = buf[p + 3]!
        out.push({
          type: 'prefix-info',
          prefixLength: buf[p + 2]!,
          onLink: (f & PIO_FLAG_L) !== 0,
          autonomous: (f & PIO_FLAG_A) !== 0,
          routerAddress: (f & PIO_FLAG_R) !== 0,
          validLifetime: buf.readUInt32BE(p + 4),
          preferredLifetime: buf.readUInt32BE(p + 8),
          prefix: Buffer.from(buf.subarray(p + 16, p + 32)),
        })
        break
      }
      case NdOpt.MTU:
        out.push({ type: 'mtu', mtu: buf.readUInt32BE(p + 4) })
        break
      case NdOpt.ADV_INTERVAL:
        out.push({ type: 'adv-interval', intervalMs: buf.readUInt32BE(p + 4) })
        break
      case NdOpt.HOME_AGENT_INFO:
        out.push({ type: 'home-agent-info', preference: buf.readUInt16BE(p + 4), lifetime: buf.readUInt16BE(p + 6) })
        break
      default:
        out.push({ type: 'unknown', code, data: Buffer.from(buf.subarray(p + 2, p + len)) })
    }
    p += len
  }
  return out
}

/**
 * Decodes an RS or RA (ICMPv6 message without the IPv6 header). The hop-limit and source
 * checks of RFC 4861 §6.1 need the IPv6 header and belong to the receiver.
 */
export function decode(buf: Buffer, offset = 0, end = buf.length): NdMessage {
  if (end > buf.length) end = buf.length
  need(end, offset, 4)
  const type = buf[offset]!
  if (type !== ICMP6_ROUTER_SOLICIT && type !== ICMP6_ROUTER_ADVERT) {
    throw new WireError('bad-icmp-type', { offset: 0, value: type })
  }
  if (buf[offset + 1] !== 0) throw new WireError('bad-icmp-code', { offset: 1, value: buf[offset + 1]! })
  if (type === ICMP6_ROUTER_SOLICIT) {
    need(end, offset, 8, type)
    return { kind: 'router-solicitation', options: decodeOptions(buf, offset, offset + 8, end) }
  }
  need(end, offset, 16, type)
  const f = buf[offset + 5]!
  return {
    kind: 'router-advertisement',
    curHopLimit: buf[offset + 4]!,
    flags: {
      managed: (f & RA_FLAG_M) !== 0,
      other: (f & RA_FLAG_O) !== 0,
      homeAgent: (f & RA_FLAG_H) !== 0,
      preference: PRF_OF_BITS[(f & RA_PRF_MASK) >> 3]!,
      proxy: (f & RA_FLAG_PROXY) !== 0,
    },
    routerLifetime: buf.readUInt16BE(offset + 6),
    reachableTime: buf.readUInt32BE(offset + 8),
    retransTimer: buf.readUInt32BE(offset + 12),
    options: decodeOptions(buf, offset, offset + 16, end),
  }
}

export const nd = { encodingLength, encode, decode }
