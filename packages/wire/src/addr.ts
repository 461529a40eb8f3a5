/**
 * IPv6 address and link-layer address text <-> bytes. Output follows RFC 5952 (lower case,
 * longest run of zero groups as "::", leftmost on a tie, never for a single group).
 * Zone ids ("fe80::1%eth0") are accepted on input and dropped: the wire carries none.
 */
import { WireError } from './errors'

export const IPV6_ADDR_LEN = 16
export const ALL_ZERO_ADDR: Buffer = Buffer.alloc(IPV6_ADDR_LEN)

export function parseIp6(text: string): Buffer {
  const out = Buffer.alloc(IPV6_ADDR_LEN)
  writeIp6(text, out, 0)
  return out
}

export function isIp6(text: string): boolean {
  return scanIp6(text, GROUPS)
}

/**
 * The eight 16-bit groups of the last address scanned: scanIp6() fills it, the caller reads it
 * before the next scan. One array for the process (JavaScript runs one call at a time here), so
 * parsing allocates nothing: addresses are parsed and printed several times per registration
 * at both ends, and the split/regex parser was a tenth of the CPU of a registration (issue 23).
 */
const GROUPS = new Uint16Array(8)

const COLON = 0x3a
const DOT = 0x2e

/** Value of a hexadecimal digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

/**
 * Reads an embedded IPv4 tail (RFC 4291 §2.2 form 3: "::ffff:192.0.2.1") from `start` to
 * `end` into two groups at `g[n]`, `g[n + 1]`: four decimal parts of 1-3 digits, each 0-255.
 */
function scanIp4Tail(text: string, start: number, end: number, g: Uint16Array, n: number): boolean {
  let part = 0
  let value = 0
  let digits = 0
  let hi = 0
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : DOT
    if (c === DOT) {
      if (digits === 0 || value > 255 || part > 3) return false
      if (part === 0 || part === 2) hi = value
      else g[n + (part >> 1)] = (hi << 8) | value
      part++
      value = 0
      digits = 0
      continue
    }
    if (c < 0x30 || c > 0x39 || ++digits > 3) return false
    value = value * 10 + (c - 0x30)
  }
  return part === 4
}

/**
 * Scans an address text into `g` (eight groups); false when it is not one. Accepts RFC 4291
 * §2.2 text: groups of 1-4 hexadecimal digits, at most one "::", an IPv4 tail after the last
 * colon; a zone id ("%eth0") is dropped.
 */
function scanIp6(text: string, g: Uint16Array): boolean {
  const pct = text.indexOf('%')
  const end = pct >= 0 ? pct : text.length
  let n = 0
  /** Groups before the "::", or -1 when there is none. */
  let dbl = -1
  let i = 0
  if (end >= 2 && text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return false
    dbl = 0
    i = 2
  }
  while (i < end) {
    let value = 0
    let j = i
    for (; j < end; j++) {
      const h = hexDigit(text.charCodeAt(j))
      if (h < 0) break
      value = value * 16 + h
    }
    if (j < end && text.charCodeAt(j) === DOT) {
      // The IPv4 tail: only after the last colon, and it ends the text.
      if (text.lastIndexOf(':', end - 1) >= i || n > 6 || !scanIp4Tail(text, i, end, g, n)) return false
      n += 2
      break
    }
    const digits = j - i
    if (digits === 0 || digits > 4 || n >= 8) return false
    g[n++] = value
    if (j === end) break
    if (text.charCodeAt(j) !== COLON) return false
    if (j + 1 < end && text.charCodeAt(j + 1) === COLON) {
      if (dbl >= 0) return false
      dbl = n
      i = j + 2
      continue
    }
    i = j + 1
    if (i === end) return false
  }
  if (dbl < 0) return n === 8
  if (n > 7) return false
  // Move the groups after the "::" to the end and zero the gap.
  const tail = n - dbl
  for (let k = 0; k < tail; k++) g[7 - k] = g[n - 1 - k]!
  for (let k = dbl; k < 8 - tail; k++) g[k] = 0
  return true
}

/** Writes the 16 bytes of `text` at `offset` of `buf`. */
export function writeIp6(text: string, buf: Buffer, offset: number): void {
  if (!scanIp6(text, GROUPS)) throw new WireError('bad-address', { offset: 0, text })
  for (let i = 0; i < 8; i++) {
    buf[offset + 2 * i] = GROUPS[i]! >> 8
    buf[offset + 2 * i + 1] = GROUPS[i]! & 0xff
  }
}

/** RFC 5952 text of the 16 bytes at `offset`. */
export function formatIp6(buf: Uint8Array, offset = 0): string {
  for (let i = 0; i < 8; i++) GROUPS[i] = (buf[offset + 2 * i]! << 8) | buf[offset + 2 * i + 1]!
  return formatGroups(GROUPS)
}

/** Start of the longest run of two or more zero groups of eight, leftmost on a tie (RFC 5952 §4.2), or -1. */
export function longestZeroRun(g: ArrayLike<number>): number {
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  return bestStart
}

/** How many zero groups the run at `start` holds. */
export function zeroRunLength(g: ArrayLike<number>, start: number): number {
  let j = start
  while (j < 8 && g[j] === 0) j++
  return j - start
}

/** RFC 5952 text of eight groups. */
function formatGroups(g: Uint16Array): string {
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 §5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`
  }
  const bestStart = longestZeroRun(g)
  const bestLen = bestStart < 0 ? 0 : zeroRunLength(g, bestStart)
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::'
      i += bestLen - 1
      continue
    }
    if (out !== '' && i !== bestStart + bestLen) out += ':'
    out += g[i]!.toString(16)
  }
  return out
}

/** Canonical RFC 5952 form of an address text (throws WireError on a bad one). */
export function canonicalIp6(text: string): string {
  if (!scanIp6(text, GROUPS)) throw new WireError('bad-address', { offset: 0, text })
  return formatGroups(GROUPS)
}

export function isAllZero(buf: Uint8Array, offset = 0, length = buf.length - offset): boolean {
  for (let i = offset; i < offset + length; i++) if (buf[i] !== 0) return false
  return true
}

export function isLinkLocal(addr: Uint8Array, offset = 0): boolean {
  return addr[offset] === 0xfe && (addr[offset + 1]! & 0xc0) === 0x80
}

/** Zeroes every bit of `addr` past `length`, in place (a prefix's host part). */
export function maskPrefix(addr: Buffer, length: number): Buffer {
  for (let i = 0; i < IPV6_ADDR_LEN; i++) {
    const bits = Math.max(0, Math.min(8, length - 8 * i))
    addr[i]! &= bits === 8 ? 0xff : (0xff << (8 - bits)) & 0xff
  }
  return addr
}

/** "2001:db8:1:1::/64" -> { prefix, length }; the host part is cleared. */
export function parsePrefix(text: string): { prefix: Buffer; length: number } {
  const slash = text.indexOf('/')
  if (slash < 0) throw new WireError('bad-address', { offset: 0, text, why: 'no prefix length' })
  const lenText = text.slice(slash + 1)
  const length = /^\d{1,3}$/.test(lenText) ? Number(lenText) : -1
  if (length < 0 || length > 128) throw new WireError('bad-address', { offset: 0, text, why: 'prefix length' })
  return { prefix: maskPrefix(parseIp6(text.slice(0, slash)), length), length }
}

export function formatPrefix(prefix: Uint8Array, length: number): string {
  return `${formatIp6(prefix)}/${length}`
}

export function formatMac(buf: Uint8Array, offset = 0, length = buf.length - offset): string {
  const parts: string[] = []
  for (let i = 0; i < length; i++) parts.push(buf[offset + i]!.toString(16).padStart(2, '0'))
  return parts.join(':')
}

export function parseMac(text: string): Buffer {
  // Octets of two hexadecimal digits, each pair apart by ':' or '-'.
  const n = (text.length + 1) / 3
  if (!Number.isInteger(n) || n < 1) throw new WireError('bad-address', { offset: 0, text, why: 'link-layer address' })
  const out = Buffer.allocUnsafe(n)
  for (let k = 0; k < n; k++) {
    const hi = hexDigit(text.charCodeAt(3 * k))
    const lo = hexDigit(text.charCodeAt(3 * k + 1))
    const sep = k < n - 1 ? text.charCodeAt(3 * k + 2) : COLON
    if (hi < 0 || lo < 0 || (sep !== COLON && sep !== 0x2d)) throw new WireError('bad-address', { offset: 0, text, why: 'link-layer address' })
    out[k] = (hi << 4) | lo
  }
  return out
}

/** Dotted-quad IPv4 text to 4 bytes; strict (four decimal octets 0-255, no leading zeros). */
export function parseIp4(text: string): Buffer {
  const parts = text.split('.')
  if (parts.length !== 4) throw new WireError('bad-address', { offset: 0, text })
  const out = Buffer.alloc(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) throw new WireError('bad-address', { offset: 0, text })
    out[i] = Number(p)
  }
  return out
}

export function isIp4(text: string): boolean {
  try {
    parseIp4(text)
    return true
  } catch {
    return false
  }
}

export function formatIp4(buf: Uint8Array, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`
}

/** An IPv4 address as an unsigned 32-bit number, and back: pools count in numbers. */
export function ip4ToNumber(buf: Uint8Array, offset = 0): number {
  return ((buf[offset]! << 24) >>> 0) + (buf[offset + 1]! << 16) + (buf[offset + 2]! << 8) + buf[offset + 3]!
}

export function numberToIp4(n: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(n >>> 0, 0)
  return out
}
