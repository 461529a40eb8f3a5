/**
 * Mobility options (RFC 6275 §6.2): Pad1, PadN, Mobile Node Identifier (RFC 4283),
 * Home Network Prefix, Handoff Indicator, Access Technology Type, MN Link-layer Identifier,
 * Link-local Address, Timestamp (RFC 5213 §8.3-8.8), Restart Counter (RFC 5847 §3.2),
 * GRE Key (RFC 5845 §3.1), IPv4 Home Address Request and Reply, IPv4 Default-Router Address and
 * IPv4 DHCP Support Mode (RFC 5844 §3.3.1-3.3.4). Unknown options decode to raw bytes and re-encode unchanged.
 *
 * Alignment "xn+y" means the option's Type byte sits at an offset from the start of the
 * Mobility Header that is y modulo x (RFC 6275 §6.2.1); the encoder inserts Pad1/PadN.
 * The MN Link-layer Identifier has no fixed rule in RFC 5213 §8.6; we use 2n, which keeps its
 * 16-bit Reserved field aligned and matches the worked example of protocol-reference §10.1.
 * Pad options are consumed by the decoder and never appear in its output.
 */
import { WireError } from './errors'
import { IPV4_ADDR_LEN, IPV4_DSM_FLAG_S, IPV4_MAX_PREFIX_LENGTH, OptType } from './constants'

export type MobilityOption =
  | { readonly type: 'mn-id'; readonly subtype: number; readonly id: Buffer }
  | { readonly type: 'hnp'; readonly prefixLength: number; readonly prefix: Buffer }
  | { readonly type: 'handoff-indicator'; readonly value: number }
  | { readonly type: 'access-tech-type'; readonly value: number }
  | { readonly type: 'mn-ll-id'; readonly id: Buffer }
  | { readonly type: 'link-local-address'; readonly address: Buffer }
  | { readonly type: 'timestamp'; readonly seconds: number; readonly fraction: number }
  | { readonly type: 'restart-counter'; readonly value: number }
  | { readonly type: 'gre-key'; readonly key: number | null }
  /** RFC 5844 §3.3.1: address 0.0.0.0 asks the LMA to allocate one. `address` is 4 bytes. */
  | { readonly type: 'ipv4-hoa-request'; readonly prefixLength: number; readonly address: Buffer }
  /** RFC 5844 §3.3.2: status below 128 is success (Ipv4HoaReplyStatus). `address` is 4 bytes. */
  | { readonly type: 'ipv4-hoa-reply'; readonly status: number; readonly prefixLength: number; readonly address: Buffer }
  /** RFC 5844 §3.3.3: the MN's IPv4 default router. `address` is 4 bytes. */
  | { readonly type: 'ipv4-default-router'; readonly address: Buffer }
  /** RFC 5844 §3.3.4: S flag; true means the MAG acts as DHCP server, false as DHCP relay. */
  | { readonly type: 'ipv4-dhcp-support-mode'; readonly server: boolean }
  | { readonly type: 'unknown'; readonly code: number; readonly data: Buffer }

export type OptionOf<T extends MobilityOption['type']> = Extract<MobilityOption, { type: T }>

interface Align {
  readonly x: number
  readonly y: number
}
const NONE: Align = { x: 1, y: 0 }
const A8_4: Align = { x: 8, y: 4 }
const A8_6: Align = { x: 8, y: 6 }
const A8_2: Align = { x: 8, y: 2 }
const A4_2: Align = { x: 4, y: 2 }
const A4_0: Align = { x: 4, y: 0 }
const A2_0: Align = { x: 2, y: 0 }

function alignOf(o: MobilityOption): Align {
  switch (o.type) {
    case 'hnp':
      return A8_4 // RFC 5213 §8.3
    case 'link-local-address':
      return A8_6 // RFC 5213 §8.7
    case 'timestamp':
      return A8_2 // RFC 5213 §8.8
    case 'restart-counter':
      return A4_2 // RFC 5847 §3.2: keeps the 32-bit counter aligned
    case 'gre-key':
      return A4_0 // RFC 5845 §3.1: keeps the 32-bit key aligned after Reserved
    case 'ipv4-hoa-request':
    case 'ipv4-hoa-reply':
    case 'ipv4-default-router':
      return A4_0 // RFC 5844 §3.3.1-3.3.3: alignment 4n
    case 'mn-ll-id':
      return A2_0
    case 'mn-id':
    case 'handoff-indicator':
    case 'access-tech-type':
    case 'ipv4-dhcp-support-mode': // RFC 5844 §3.3.4: no alignment requirement
    case 'unknown':
      return NONE
  }
}

/** Data bytes of an option (its Length field's value). */
function dataLength(o: MobilityOption): number {
  switch (o.type) {
    case 'mn-id':
      return 1 + o.id.length
    case 'hnp':
      return 18
    case 'handoff-indicator':
    case 'access-tech-type':
      return 2
    case 'mn-ll-id':
      return 2 + o.id.length
    case 'link-local-address':
      return 16
    case 'timestamp':
      return 8
    case 'restart-counter':
      return 4
    case 'gre-key':
      return o.key === null ? 2 : 6
    case 'ipv4-hoa-request':
    case 'ipv4-hoa-reply':
    case 'ipv4-default-router':
      return 6
    case 'ipv4-dhcp-support-mode':
      return 2
    case 'unknown':
      return o.data.length
  }
}

function padBefore(o: MobilityOption, at: number): number {
  const a = alignOf(o)
  if (a.x === 1) return 0
  return (a.y - (at % a.x) + a.x) % a.x
}

/**
 * Bytes the options take when the first one starts at `mhOffset` bytes into the Mobility
 * Header, including alignment padding and the final padding to a multiple of 8.
 */
export function optionsEncodingLength(opts: readonly MobilityOption[], mhOffset: number): number {
  let at = mhOffset
  for (const o of opts) {
    at += padBefore(o, at)
    const len = dataLength(o)
    if (len > 255) throw new WireError('value-out-of-range', { offset: at, type: optCode(o), field: 'length', value: len })
    at += 2 + len
  }
  at += (8 - (at % 8)) % 8
  return at - mhOffset
}

function writePad(buf: Buffer, at: number, n: number): void {
  if (n === 0) return
  if (n === 1) {
    buf[at] = OptType.PAD1
    return
  }
  buf[at] = OptType.PADN
  buf[at + 1] = n - 2
  // At most 6 zero octets: a loop beats Buffer.fill's argument checks.
  for (let i = at + 2; i < at + n; i++) buf[i] = 0
}

/** Copies `src` into `dst` at `at`; small option fields are faster by hand than Buffer.copy. */
function put(src: Buffer, dst: Buffer, at: number): void {
  const n = src.length
  if (n > 32) {
    src.copy(dst, at)
    return
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[i]!
}

function optCode(o: MobilityOption): number {
  switch (o.type) {
    case 'mn-id':
      return OptType.MN_ID
    case 'hnp':
      return OptType.HNP
    case 'handoff-indicator':
      return OptType.HANDOFF_INDICATOR
    case 'access-tech-type':
      return OptType.ACCESS_TECH_TYPE
    case 'mn-ll-id':
      return OptType.MN_LL_ID
    case 'link-local-address':
      return OptType.LINK_LOCAL_ADDR
    case 'timestamp':
      return OptType.TIMESTAMP
    case 'restart-counter':
      return OptType.RESTART_COUNTER
    case 'gre-key':
      return OptType.GRE_KEY
    case 'ipv4-hoa-request':
      return OptType.IPV4_HOA_REQUEST
    case 'ipv4-hoa-reply':
      return OptType.IPV4_HOA_REPLY
    case 'ipv4-default-router':
      return OptType.IPV4_DEFAULT_ROUTER
    case 'ipv4-dhcp-support-mode':
      return OptType.IPV4_DHCP_SUPPORT_MODE
    case 'unknown':
      return o.code
  }
}

function checkBytes(b: Buffer, len: number, at: number, type: number, field: string): void {
  if (b.length !== len) throw new WireError('value-out-of-range', { offset: at, type, field, length: b.length, expected: len })
}

function checkInt(v: number, max: number, at: number, type: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new WireError('value-out-of-range', { offset: at, type, field, value: v })
}

/**
 * Writes the options at `buf[base + mhOffset]`, where `base` is where the Mobility Header
 * starts in `buf`. Returns the MH offset after the final padding.
 */
export function encodeOptions(opts: readonly MobilityOption[], buf: Buffer, base: number, mhOffset: number): number {
  let at = mhOffset
  for (const o of opts) {
    const pad = padBefore(o, at)
    writePad(buf, base + at, pad)
    at += pad
    const p = base + at
    const code = optCode(o)
    const len = dataLength(o)
    buf[p] = code
    buf[p + 1] = len
    switch (o.type) {
      case 'mn-id':
        checkInt(o.subtype, 255, at, code, 'subtype')
        buf[p + 2] = o.subtype
        put(o.id, buf, p + 3)
        break
      case 'hnp':
        checkInt(o.prefixLength, 128, at, code, 'prefixLength')
        checkBytes(o.prefix, 16, at, code, 'prefix')
        buf[p + 2] = 0
        buf[p + 3] = o.prefixLength
        put(o.prefix, buf, p + 4)
        break
      case 'handoff-indicator':
      case 'access-tech-type':
        checkInt(o.value, 255, at, code, 'value')
        buf[p + 2] = 0
        buf[p + 3] = o.value
        break
      case 'mn-ll-id':
        buf[p + 2] = 0
        buf[p + 3] = 0
        put(o.id, buf, p + 4)
        break
      case 'link-local-address':
        checkBytes(o.address, 16, at, code, 'address')
        put(o.address, buf, p + 2)
        break
      case 'timestamp':
        // RFC 5213 §8.8: 48 bits of seconds since 1970-01-01 UTC, 16 bits of 1/65536 s.
        checkInt(o.seconds, 0xffffffffffff, at, code, 'seconds')
        checkInt(o.fraction, 0xffff, at, code, 'fraction')
        buf.writeUInt16BE(Math.floor(o.seconds / 0x100000000), p + 2)
        buf.writeUInt32BE(o.seconds % 0x100000000, p + 4)
        buf.writeUInt16BE(o.fraction, p + 8)
        break
      case 'restart-counter':
        checkInt(o.value, 0xffffffff, at, code, 'value')
        buf.writeUInt32BE(o.value, p + 2)
        break
      case 'gre-key':
        buf.writeUInt16BE(0, p + 2)
        if (o.key !== null) {
          checkInt(o.key, 0xffffffff, at, code, 'key')
          buf.writeUInt32BE(o.key, p + 4)
        }
        break
      case 'ipv4-hoa-request':
        // RFC 5844 §3.3.1: Prefix-len (6 bits), Reserved (10 bits), IPv4 home address.
        checkInt(o.prefixLength, IPV4_MAX_PREFIX_LENGTH, at, code, 'prefixLength')
        checkBytes(o.address, IPV4_ADDR_LEN, at, code, 'address')
        buf[p + 2] = o.prefixLength << 2
        buf[p + 3] = 0
        put(o.address, buf, p + 4)
        break
      case 'ipv4-hoa-reply':
        // RFC 5844 §3.3.2: Status, Prefix-len (6 bits), Res (2 bits), IPv4 home address.
        checkInt(o.status, 255, at, code, 'status')
        checkInt(o.prefixLength, IPV4_MAX_PREFIX_LENGTH, at, code, 'prefixLength')
        checkBytes(o.address, IPV4_ADDR_LEN, at, code, 'address')
        buf[p + 2] = o.status
        buf[p + 3] = o.prefixLength << 2
        put(o.address, buf, p + 4)
        break
      case 'ipv4-default-router':
        checkBytes(o.address, IPV4_ADDR_LEN, at, code, 'address')
        buf.writeUInt16BE(0, p + 2)
        put(o.address, buf, p + 4)
        break
      case 'ipv4-dhcp-support-mode':
        buf.writeUInt16BE(o.server ? IPV4_DSM_FLAG_S : 0, p + 2)
        break
      case 'unknown':
        checkInt(o.code, 255, at, code, 'code')
        if (o.code === OptType.PAD1 || o.code === OptType.PADN) {
          throw new WireError('value-out-of-range', { offset: at, type: o.code, field: 'code', why: 'padding is added by the encoder' })
        }
        o.data.copy(buf, p + 2)
        break
    }
    at += 2 + len
  }
  const tail = (8 - (at % 8)) % 8
  writePad(buf, base + at, tail)
  return at + tail
}

/** A private copy of buf[start, end): decoded values never alias the caller's buffer. */
export function copyOut(buf: Buffer, start: number, end: number): Buffer {
  const n = end - start
  const c = Buffer.allocUnsafe(n)
  if (n > 32) buf.copy(c, 0, start, end)
  else for (let i = 0; i < n; i++) c[i] = buf[start + i]!
  return c
}

function exact(len: number, want: number, at: number, type: number): void {
  if (len < want) throw new WireError('option-too-short', { offset: at, type, length: len, expected: want })
  if (len > want) throw new WireError('bad-option-length', { offset: at, type, length: len, expected: want })
}

function atLeast(len: number, want: number, at: number, type: number): void {
  if (len < want) throw new WireError('option-too-short', { offset: at, type, length: len, expected: want })
}

/** The 6-bit Prefix-len in the top of `byte` (RFC 5844 §3.3.1-3.3.2); the low 2 bits are reserved. */
function ipv4PrefixLength(byte: number, at: number, type: number): number {
  const len = byte >> 2
  if (len > IPV4_MAX_PREFIX_LENGTH) throw new WireError('bad-prefix-length', { offset: at, type, prefixLength: len, max: IPV4_MAX_PREFIX_LENGTH })
  return len
}

/**
 * Decodes the options in `buf[start, end)`. `mhStart` is where the Mobility Header starts
 * (offsets in errors are relative to it). Any order and any padding are accepted.
 */
export function decodeOptions(buf: Buffer, mhStart: number, start: number, end: number): MobilityOption[] {
  const out: MobilityOption[] = []
  let p = start
  while (p < end) {
    const at = p - mhStart
    const code = buf[p]!
    if (code === OptType.PAD1) {
      p += 1
      continue
    }
    if (p + 2 > end) throw new WireError('option-overflow', { offset: at, type: code })
    const len = buf[p + 1]!
    const d = p + 2
    if (d + len > end) throw new WireError('option-overflow', { offset: at, type: code, length: len })
    switch (code) {
      case OptType.PADN:
        break
      case OptType.MN_ID:
        atLeast(len, 2, at, code)
        out.push({ type: 'mn-id', subtype: buf[d]!, id: copyOut(buf, d + 1, d + len) })
        break
      case OptType.HNP:
        exact(len, 18, at, code)
        out.push({ type: 'hnp', prefixLength: buf[d + 1]!, prefix: copyOut(buf, d + 2, d + 18) })
        break
      case OptType.HANDOFF_INDICATOR:
        exact(len, 2, at, code)
        out.push({ type: 'handoff-indicator', value: buf[d + 1]! })
        break
      case OptType.ACCESS_TECH_TYPE:
        exact(len, 2, at, code)
        out.push({ type: 'access-tech-type', value: buf[d + 1]! })
        break
      case OptType.MN_LL_ID:
        atLeast(len, 3, at, code)
        out.push({ type: 'mn-ll-id', id: copyOut(buf, d + 2, d + len) })
        break
      case OptType.LINK_LOCAL_ADDR:
        exact(len, 16, at, code)
        out.push({ type: 'link-local-address', address: copyOut(buf, d, d + 16) })
        break
      case OptType.TIMESTAMP:
        exact(len, 8, at, code)
        out.push({ type: 'timestamp', seconds: buf.readUIntBE(d, 6), fraction: buf.readUInt16BE(d + 6) })
        break
      case OptType.RESTART_COUNTER:
        exact(len, 4, at, code)
        out.push({ type: 'restart-counter', value: buf.readUInt32BE(d) })
        break
      case OptType.GRE_KEY:
        // RFC 5845 §3.1 allows the option without a key (Length 2) in a request.
        if (len === 2) out.push({ type: 'gre-key', key: null })
        else {
          exact(len, 6, at, code)
          out.push({ type: 'gre-key', key: buf.readUInt32BE(d + 2) })
        }
        break
      case OptType.IPV4_HOA_REQUEST: {
        exact(len, 6, at, code)
        const prefixLength = ipv4PrefixLength(buf[d]!, at, code)
        out.push({ type: 'ipv4-hoa-request', prefixLength, address: copyOut(buf, d + 2, d + 6) })
        break
      }
      case OptType.IPV4_HOA_REPLY: {
        exact(len, 6, at, code)
        const prefixLength = ipv4PrefixLength(buf[d + 1]!, at, code)
        out.push({ type: 'ipv4-hoa-reply', status: buf[d]!, prefixLength, address: copyOut(buf, d + 2, d + 6) })
        break
      }
      case OptType.IPV4_DEFAULT_ROUTER:
        exact(len, 6, at, code)
        out.push({ type: 'ipv4-default-router', address: copyOut(buf, d + 2, d + 6) })
        break
      case OptType.IPV4_DHCP_SUPPORT_MODE:
        exact(len, 2, at, code)
        out.push({ type: 'ipv4-dhcp-support-mode', server: (buf.readUInt16BE(d) & IPV4_DSM_FLAG_S) !== 0 })
        break
      default:
        out.push({ type: 'unknown', code, data: copyOut(buf, d, d + len) })
    }
    p = d + len
  }
  return out
}

/** First option of a type, or undefined. */
export function findOption<T extends MobilityOption['type']>(opts: readonly MobilityOption[], type: T): OptionOf<T> | undefined {
  for (const o of opts) if (o.type === type) return o as OptionOf<T>
  return undefined
}

export function filterOptions<T extends MobilityOption['type']>(opts: readonly MobilityOption[], type: T): OptionOf<T>[] {
  return opts.filter((o): o is OptionOf<T> => o.type === type)
}

/** RFC 5213 §8.8 timestamp from milliseconds since 1970. */
export function timestampFromMs(ms: number): { seconds: number; fraction: number } {
  const seconds = Math.floor(ms / 1000)
  return { seconds, fraction: Math.floor(((ms - seconds * 1000) * 65536) / 1000) }
}

/** Milliseconds since 1970 of a timestamp option (sub-millisecond precision is lost). */
export function timestampToMs(t: { seconds: number; fraction: number }): number {
  return t.seconds * 1000 + (t.fraction * 1000) / 65536
}
