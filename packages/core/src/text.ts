/**
 * Allocation-light text helpers for the per-event path: RFC 5952 address text (the same output as
 * @pmip6/wire's formatIp6, property-tested against it) and byte/string comparisons that do not
 * build strings. The wire versions are written for clarity; these run once per PBA.
 */
import { formatIp6, longestZeroRun, zeroRunLength } from '@pmip6/wire'

function hex16(v: number): string {
  return v.toString(16)
}

/** RFC 5952 text of the 16 bytes at `offset`. */
export function fastFormatIp6(b: Uint8Array, offset = 0): string {
  const g0 = (b[offset]! << 8) | b[offset + 1]!
  const g1 = (b[offset + 2]! << 8) | b[offset + 3]!
  const g2 = (b[offset + 4]! << 8) | b[offset + 5]!
  const g3 = (b[offset + 6]! << 8) | b[offset + 7]!
  const g4 = (b[offset + 8]! << 8) | b[offset + 9]!
  const g5 = (b[offset + 10]! << 8) | b[offset + 11]!
  const g6 = (b[offset + 12]! << 8) | b[offset + 13]!
  const g7 = (b[offset + 14]! << 8) | b[offset + 15]!
  // IPv4-mapped addresses keep a dotted tail (RFC 5952 §5): rare, leave them to the wire code.
  if ((g0 | g1 | g2 | g3 | g4) === 0 && g5 === 0xffff) return formatIp6(b, offset)
  const g = [g0, g1, g2, g3, g4, g5, g6, g7]
  const bestStart = longestZeroRun(g)
  const bestLen = bestStart < 0 ? 0 : zeroRunLength(g, bestStart)
  // Parts joined once: a flat string, not the rope `+=` would build (prefix texts live long).
  const parts: string[] = []
  if (bestStart < 0) {
    for (let i = 0; i < 8; i++) parts.push(hex16(g[i]!))
    return parts.join(':')
  }
  for (let i = 0; i < bestStart; i++) parts.push(hex16(g[i]!))
  const head = parts.join(':')
  parts.length = 0
  for (let i = bestStart + bestLen; i < 8; i++) parts.push(hex16(g[i]!))
  return [head, parts.join(':')].join('::')
}

/** `<address>/<length>` as one flat string. */
export function prefixText(b: Uint8Array, length: number): string {
  return [fastFormatIp6(b), String(length)].join('/')
}

/** True when the bytes are the ASCII/UTF-8 encoding of `s` (no string is built for ASCII). */
export function bytesEqualText(b: Uint8Array, s: string): boolean {
  if (b.length !== s.length) return b.length > s.length && Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') === s
  for (let i = 0; i < b.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') === s
    if (b[i] !== c) return false
  }
  return true
}

/** True when the prefix has no bits set past `length` (so it can be used without a masked copy). */
export function isMasked(p: Uint8Array, length: number): boolean {
  for (let i = 0; i < 16; i++) {
    const bits = length - 8 * i
    if (bits >= 8) continue
    const mask = bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff
    if ((p[i]! & ~mask & 0xff) !== 0) return false
  }
  return true
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1
}

/**
 * The 16 bytes of plain IPv6 text (hex groups, at most one '::'), written into `out`; false for
 * anything else (an IPv4 tail, a zone, a malformed text), which the caller hands to the wire
 * parser. The prefixes of every refresh PBU go through here: no split, no regular expression.
 */
export function fastWriteIp6(text: string, end: number, out: Uint8Array): boolean {
  const g: number[] = []
  let dbl = -1
  let i = 0
  if (end >= 2 && text.charCodeAt(0) === 0x3a && text.charCodeAt(1) === 0x3a) {
    dbl = 0
    i = 2
  }
  while (i < end) {
    let v = 0
    let n = 0
    for (; i < end && n <= 4; i++) {
      const d = hexDigit(text.charCodeAt(i))
      if (d < 0) break
      v = (v << 4) | d
      n++
    }
    if (n === 0 || n > 4) return false
    g.push(v)
    if (i === end) break
    if (text.charCodeAt(i) !== 0x3a) return false
    i++
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (dbl >= 0) return false
      dbl = g.length
      i++
    } else if (i === end) return false // a trailing single ':'
  }
  if (dbl < 0 ? g.length !== 8 : g.length > 7) return false
  const fill = 8 - g.length
  for (let k = 0, w = 0; k < 8; k++) {
    const v = dbl >= 0 && k >= dbl && k < dbl + fill ? 0 : g[w++]!
    out[2 * k] = v >> 8
    out[2 * k + 1] = v & 0xff
  }
  return true
}

const SCRATCH = new Uint8Array(16)
/**
 * True when `text` (`<address>/<length>`, as the core keeps granted prefixes) names exactly
 * these prefix bytes (masked) and length. A refresh PBA repeats the binding's prefixes: checking
 * them against the texts we hold makes no text per PBA (issue 8, 100,000 bindings refreshing).
 */
export function prefixTextIs(text: string, b: Uint8Array, length: number): boolean {
  // The '/' is within the last four characters ("/128"): looked for by hand, since V8's
  // lastIndexOf is a runtime call (issue 8: once per prefix of every refresh PBA).
  let slash = -1
  for (let i = text.length - 1; i >= 0 && i >= text.length - 4; i--) {
    if (text.charCodeAt(i) === 0x2f) {
      slash = i
      break
    }
  }
  if (slash <= 0 || slash === text.length - 1) return false
  let n = 0
  for (let i = slash + 1; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
    n = n * 10 + (c - 0x30)
  }
  if (n !== length || b.length !== 16 || !isMasked(b, length) || !fastWriteIp6(text, slash, SCRATCH)) return false
  for (let i = 0; i < 16; i++) if (SCRATCH[i] !== b[i]) return false
  return true
}
