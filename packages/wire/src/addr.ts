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
  try {
    parseIp6(text)
    return true
  } catch {
    return false
  }
}

/** Writes the 16 bytes of `text` at `offset` of `buf`. */
export function writeIp6(text: string, buf: Buffer, offset: number): void {
  const bad = (): WireError => new WireError('bad-address', { offset: 0, text })
  const pct = text.indexOf('%')
  let s = pct >= 0 ? text.slice(0, pct) : text
  const groups: number[] = []
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const lastColon = s.lastIndexOf(':')
  if (lastColon >= 0 && s.indexOf('.', lastColon) > 0) {
    const v4 = s.slice(lastColon + 1).split('.')
    if (v4.length !== 4) throw bad()
    const b = v4.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : 256))
    if (b.some((x) => x > 255)) throw bad()
    s = `${s.slice(0, lastColon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`
  }
  const dbl = s.indexOf('::')
  if (dbl !== s.lastIndexOf('::')) throw bad()
  const parseGroups = (part: string): number[] => {
    if (part === '') return []
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad()
      return parseInt(g, 16)
    })
  }
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl))
    const tail = parseGroups(s.slice(dbl + 2))
    if (head.length + tail.length > 7) throw bad()
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail)
  } else {
    groups.push(...parseGroups(s))
    if (groups.length !== 8) throw bad()
  }
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(groups[i]!, offset + 2 * i)
}

/** RFC 5952 text of the 16 bytes at `offset`. */
export function formatIp6(buf: Uint8Array, offset = 0): string {
  const g = new Array<number>(8)
  for (let i = 0; i < 8; i++) g[i] = (buf[offset + 2 * i]! << 8) | buf[offset + 2 * i + 1]!
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 §5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`
  }
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
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':')
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':')
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':')
  return `${head}::${tail}`
}

/** Canonical RFC 5952 form of an address text (throws WireError on a bad one). */
export function canonicalIp6(text: string): string {
  return formatIp6(parseIp6(text))
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
  const parts = text.split(/[:-]/)
  if (parts.length < 1 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new WireError('bad-address', { offset: 0, text, why: 'link-layer address' })
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)))
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
