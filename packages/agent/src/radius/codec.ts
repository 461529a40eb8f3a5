/**
 * The RADIUS wire format (RFC 2865 §3, §5), with the authenticators that make a packet
 * trustworthy: the Request Authenticator of accounting and dynamic-authorisation requests
 * (RFC 2866 §3, RFC 5176 §3), the Response Authenticator (RFC 2865 §3) and the
 * Message-Authenticator HMAC-MD5 (RFC 3579 §3.2). Also the User-Password hiding (RFC 2865
 * §5.2) and the value formats RFC 6572 uses (ipv6prefix RFC 3162 §2.3, ifid, ipv4prefix).
 *
 * Pure: buffers in, buffers or typed errors out. Decoding never trusts a length it was given.
 * Own code rather than npm `radius`: that package is untyped JavaScript with a global
 * dictionary loaded from files, and has no dynamic-authorisation server side.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Attr, AUTHENTICATOR_LENGTH, HEADER_LENGTH, MAX_PACKET_LENGTH, MESSAGE_AUTHENTICATOR_LENGTH } from './constants'

export type RadiusErrorReason =
  | 'truncated'
  | 'bad-length'
  | 'too-long'
  | 'bad-attribute-length'
  | 'attribute-overflow'
  | 'bad-message-authenticator-length'
  | 'duplicate-message-authenticator'
  | 'value-too-long'

export class RadiusError extends Error {
  override readonly name = 'RadiusError'
  constructor(
    readonly reason: RadiusErrorReason,
    readonly offset: number,
    detail = '',
  ) {
    super(`radius: ${reason} at offset ${offset}${detail ? `: ${detail}` : ''}`)
  }
}

export interface RadiusAttribute {
  readonly type: number
  readonly value: Buffer
}

export interface RadiusPacket {
  readonly code: number
  readonly identifier: number
  readonly authenticator: Buffer
  readonly attributes: readonly RadiusAttribute[]
}

const ZERO_AUTH = Buffer.alloc(AUTHENTICATOR_LENGTH)

/** RFC 2865 §3: structure only; authenticators are checked by the verify* functions. */
export function decode(buf: Buffer): RadiusPacket {
  if (buf.length < HEADER_LENGTH) throw new RadiusError('truncated', 0, `${buf.length} octets`)
  const length = buf.readUInt16BE(2)
  // §3: octets beyond Length are padding and ignored; fewer than Length: silently discarded.
  if (length < HEADER_LENGTH || length > buf.length) throw new RadiusError('bad-length', 2, `Length ${length}, ${buf.length} octets received`)
  if (length > MAX_PACKET_LENGTH) throw new RadiusError('too-long', 2, `Length ${length}`)
  const attributes: RadiusAttribute[] = []
  let off = HEADER_LENGTH
  let ma = false
  while (off < length) {
    if (off + 2 > length) throw new RadiusError('attribute-overflow', off)
    const type = buf[off]!
    const len = buf[off + 1]!
    if (len < 2) throw new RadiusError('bad-attribute-length', off + 1, `attribute ${type} length ${len}`)
    if (off + len > length) throw new RadiusError('attribute-overflow', off, `attribute ${type} length ${len}`)
    if (type === Attr.MESSAGE_AUTHENTICATOR) {
      if (len !== 2 + MESSAGE_AUTHENTICATOR_LENGTH) throw new RadiusError('bad-message-authenticator-length', off + 1)
      if (ma) throw new RadiusError('duplicate-message-authenticator', off)
      ma = true
    }
    attributes.push({ type, value: Buffer.from(buf.subarray(off + 2, off + len)) })
    off += len
  }
  return { code: buf[0]!, identifier: buf[1]!, authenticator: Buffer.from(buf.subarray(4, 20)), attributes }
}

/** Header and attributes, as given (no authenticator computed). */
export function encode(p: RadiusPacket): Buffer {
  let length = HEADER_LENGTH
  for (const a of p.attributes) {
    if (a.value.length > 253) throw new RadiusError('value-too-long', length, `attribute ${a.type}: ${a.value.length} octets`)
    length += 2 + a.value.length
  }
  if (length > MAX_PACKET_LENGTH) throw new RadiusError('too-long', 2, `Length ${length}`)
  if (p.authenticator.length !== AUTHENTICATOR_LENGTH) throw new RadiusError('bad-length', 4, 'authenticator must be 16 octets')
  const b = Buffer.alloc(length)
  b[0] = p.code
  b[1] = p.identifier & 0xff
  b.writeUInt16BE(length, 2)
  p.authenticator.copy(b, 4)
  let off = HEADER_LENGTH
  for (const a of p.attributes) {
    b[off] = a.type
    b[off + 1] = 2 + a.value.length
    a.value.copy(b, off + 2)
    off += 2 + a.value.length
  }
  return b
}

const md5 = (...parts: Buffer[]): Buffer => {
  const h = createHash('md5')
  for (const p of parts) h.update(p)
  return h.digest()
}

/** Offset of the Message-Authenticator's value in an encoded packet, or -1. */
function maOffset(b: Buffer): number {
  const length = b.readUInt16BE(2)
  for (let off = HEADER_LENGTH; off + 2 <= length; off += b[off + 1]!) {
    if (b[off + 1]! < 2) return -1
    if (b[off] === Attr.MESSAGE_AUTHENTICATOR && b[off + 1] === 2 + MESSAGE_AUTHENTICATOR_LENGTH) return off + 2
  }
  return -1
}

/**
 * RFC 3579 §3.2: HMAC-MD5 keyed with the secret over the whole packet, the Message-Authenticator
 * value taken as 16 zero octets and the Authenticator field as `auth` (the request's own for an
 * Access-Request, zeros for accounting and RFC 5176 requests, the request's for a response).
 */
function hmacOf(b: Buffer, at: number, auth: Buffer, secret: Buffer): Buffer {
  const copy = Buffer.from(b)
  auth.copy(copy, 4)
  copy.fill(0, at, at + MESSAGE_AUTHENTICATOR_LENGTH)
  return createHmac('md5', secret).update(copy).digest()
}

const withMa = (attrs: readonly RadiusAttribute[], ma: boolean): readonly RadiusAttribute[] =>
  ma && !attrs.some((a) => a.type === Attr.MESSAGE_AUTHENTICATOR) ? [...attrs, { type: Attr.MESSAGE_AUTHENTICATOR, value: Buffer.alloc(MESSAGE_AUTHENTICATOR_LENGTH) }] : attrs

/**
 * RFC 2865 §3: an Access-Request with a random Request Authenticator (given, for golden bytes),
 * signed with a Message-Authenticator (RFC 3579 §3.2; RFC 5080 §2.2.2 asks for it always).
 */
export function encodeAccessRequest(identifier: number, attributes: readonly RadiusAttribute[], secret: Buffer, authenticator: Buffer = randomBytes(AUTHENTICATOR_LENGTH)): Buffer {
  const b = encode({ code: 1, identifier, authenticator, attributes: withMa(attributes, true) })
  const at = maOffset(b)
  hmacOf(b, at, authenticator, secret).copy(b, at)
  return b
}

/**
 * RFC 2866 §3 (Accounting-Request), RFC 5176 §3 (CoA- and Disconnect-Request): the Request
 * Authenticator is MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret). A
 * Message-Authenticator, when wanted, is computed first with that field zero (RFC 5176 §3.1).
 */
export function encodeSignedRequest(code: number, identifier: number, attributes: readonly RadiusAttribute[], secret: Buffer, messageAuthenticator = false): Buffer {
  const b = encode({ code, identifier, authenticator: ZERO_AUTH, attributes: withMa(attributes, messageAuthenticator) })
  const at = maOffset(b)
  if (at >= 0) hmacOf(b, at, ZERO_AUTH, secret).copy(b, at)
  md5(b, secret).copy(b, 4)
  return b
}

/**
 * A response (Access-Accept/Reject, Accounting-Response, CoA/Disconnect ACK/NAK): Response
 * Authenticator MD5(Code+ID+Length+RequestAuth+Attributes+Secret) (RFC 2865 §3), after the
 * Message-Authenticator computed with the request's authenticator in place (RFC 3579 §3.2).
 */
export function encodeResponse(code: number, identifier: number, requestAuthenticator: Buffer, attributes: readonly RadiusAttribute[], secret: Buffer, messageAuthenticator = true): Buffer {
  const b = encode({ code, identifier, authenticator: requestAuthenticator, attributes: withMa(attributes, messageAuthenticator) })
  const at = maOffset(b)
  if (at >= 0) hmacOf(b, at, requestAuthenticator, secret).copy(b, at)
  md5(b, secret).copy(b, 4)
  return b
}

export type VerifyResult = 'ok' | 'bad-authenticator' | 'bad-message-authenticator' | 'missing-message-authenticator'

const same = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b)

function checkMa(b: Buffer, auth: Buffer, secret: Buffer, required: boolean): VerifyResult {
  const at = maOffset(b)
  if (at < 0) return required ? 'missing-message-authenticator' : 'ok'
  return same(hmacOf(b, at, auth, secret), b.subarray(at, at + MESSAGE_AUTHENTICATOR_LENGTH)) ? 'ok' : 'bad-message-authenticator'
}

/**
 * Checks a response to our request (`b` already passed decode): the Response Authenticator,
 * then the Message-Authenticator if present (or if `requireMa`: RFC 3579 §3.2, and the
 * Blast-RADIUS lesson for Access-Accept/Reject).
 */
export function verifyResponse(b: Buffer, requestAuthenticator: Buffer, secret: Buffer, requireMa: boolean): VerifyResult {
  const length = b.readUInt16BE(2)
  const p = b.subarray(0, length)
  const copy = Buffer.from(p)
  requestAuthenticator.copy(copy, 4)
  if (!same(md5(copy, secret), p.subarray(4, 20))) return 'bad-authenticator'
  return checkMa(p, requestAuthenticator, secret, requireMa)
}

/** Checks an Accounting/CoA/Disconnect-Request's authenticators (RFC 2866 §3, RFC 5176 §3, §3.1). */
export function verifySignedRequest(b: Buffer, secret: Buffer, requireMa = false): VerifyResult {
  const length = b.readUInt16BE(2)
  const p = b.subarray(0, length)
  const copy = Buffer.from(p)
  ZERO_AUTH.copy(copy, 4)
  if (!same(md5(copy, secret), p.subarray(4, 20))) return 'bad-authenticator'
  return checkMa(p, ZERO_AUTH, secret, requireMa)
}

/** Checks the Message-Authenticator of an Access-Request (a server's view; used by tests). */
export function verifyAccessRequest(b: Buffer, secret: Buffer): VerifyResult {
  const p = b.subarray(0, b.readUInt16BE(2))
  return checkMa(p, p.subarray(4, 20), secret, true)
}

/** RFC 2865 §5.2: User-Password hidden with MD5(secret + authenticator) chained per 16 octets. */
export function hidePassword(password: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
  if (password.length > 128) throw new RadiusError('value-too-long', 0, 'User-Password longer than 128 octets')
  const n = Math.max(16, Math.ceil(password.length / 16) * 16)
  const p = Buffer.alloc(n)
  password.copy(p)
  const out = Buffer.alloc(n)
  let prev = authenticator
  for (let i = 0; i < n; i += 16) {
    const b = md5(secret, prev)
    for (let k = 0; k < 16; k++) out[i + k] = p[i + k]! ^ b[k]!
    prev = out.subarray(i, i + 16)
  }
  return out
}

// ---------------------------------------------------------------- attribute values

export class AttributeValueError extends Error {
  override readonly name = 'AttributeValueError'
}

export const text = (type: number, s: string): RadiusAttribute => ({ type, value: Buffer.from(s, 'utf8') })
export const u32 = (type: number, n: number): RadiusAttribute => {
  const value = Buffer.alloc(4)
  value.writeUInt32BE(n >>> 0)
  return { type, value }
}
export const octets = (type: number, value: Buffer): RadiusAttribute => ({ type, value })

export function readU32(v: Buffer): number {
  if (v.length !== 4) throw new AttributeValueError(`an integer is 4 octets, got ${v.length}`)
  return v.readUInt32BE(0)
}

export function readIp6(v: Buffer): Buffer {
  if (v.length !== 16) throw new AttributeValueError(`an IPv6 address is 16 octets, got ${v.length}`)
  return v
}

export function readIp4(v: Buffer): Buffer {
  if (v.length !== 4) throw new AttributeValueError(`an IPv4 address is 4 octets, got ${v.length}`)
  return v
}

/** RFC 3162 §2.3 (and RFC 8044 §3.10): Reserved, Prefix-Length, then the prefix's significant octets. */
export function readIp6Prefix(v: Buffer): { prefix: Buffer; length: number } {
  if (v.length < 2 || v.length > 18) throw new AttributeValueError(`an IPv6 prefix is 2 to 18 octets, got ${v.length}`)
  const length = v[1]!
  if (length > 128) throw new AttributeValueError(`prefix length ${length} above 128`)
  if ((v.length - 2) * 8 < length) throw new AttributeValueError(`prefix length ${length} needs ${Math.ceil(length / 8)} octets, got ${v.length - 2}`)
  const prefix = Buffer.alloc(16)
  v.copy(prefix, 0, 2)
  // Bits past the length must be zero (RFC 8044 §3.10): a server that sets them means another prefix.
  for (let bit = length; bit < 128; bit++) if (prefix[bit >> 3]! & (0x80 >> (bit & 7))) throw new AttributeValueError(`bits set beyond the prefix length ${length}`)
  return { prefix, length }
}

export function ip6PrefixValue(prefix: Buffer, length: number): Buffer {
  const n = Math.ceil(length / 8)
  const v = Buffer.alloc(2 + n)
  v[1] = length
  prefix.copy(v, 2, 0, n)
  return v
}

/** RFC 6572 §3.7 (RFC 8044 §3.7 ifid): 8 octets. */
export function readIfId(v: Buffer): Buffer {
  if (v.length !== 8) throw new AttributeValueError(`an interface identifier is 8 octets, got ${v.length}`)
  return v
}

/** RFC 6572 §3.8 (RFC 8044 §3.11 ipv4prefix): Reserved, Prefix-Length (0-32), 4 address octets. */
export function readIp4Prefix(v: Buffer): { address: Buffer; length: number } {
  if (v.length !== 6) throw new AttributeValueError(`an IPv4 prefix is 6 octets, got ${v.length}`)
  const length = v[1]! & 0x3f
  if (length > 32) throw new AttributeValueError(`prefix length ${length} above 32`)
  return { address: v.subarray(2, 6), length }
}

/** RFC 2865 §5.26: Vendor-Id, then the vendor's own type-length-value attributes (the usual layout). */
export function vendorAttributes(v: Buffer): { vendor: number; attributes: RadiusAttribute[] } | null {
  if (v.length < 4) return null
  const vendor = v.readUInt32BE(0)
  const attributes: RadiusAttribute[] = []
  for (let off = 4; off < v.length; ) {
    if (off + 2 > v.length) return null
    const len = v[off + 1]!
    if (len < 2 || off + len > v.length) return null
    attributes.push({ type: v[off]!, value: v.subarray(off + 2, off + len) })
    off += len
  }
  return { vendor, attributes }
}
