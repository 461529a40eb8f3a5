/**
 * ICMPv6 error messages the MAG originates (RFC 4443 §2, §3.4): Parameter Problem, sent for a
 * Mobility Header whose Payload Proto or Header Len is wrong (RFC 6275 §9.2). The invoking
 * packet it carries is an IPv6 header followed by the offending payload; a raw socket hands
 * the receiver the payload only, so `invokingPacket()` writes that header again from what the
 * socket told (source, destination, hop limit). Traffic class, flow label and any extension
 * headers are not known there and are left out; the Pointer is counted in the packet as
 * rebuilt, which is the one the error carries.
 *
 * Codec triplet for the Parameter Problem message; the checksum is left 0 (the kernel fills
 * it in on raw ICMPv6 sockets). Other ICMPv6 errors (Destination Unreachable, Packet Too Big,
 * Time Exceeded) are not built here: the kernel sends them.
 */
import { WireError, need } from './errors'
import { ICMP6_PARAM_PROB, IPV6_HEADER_LENGTH, IPV6_MIN_MTU } from './constants'

export interface ParameterProblem {
  readonly kind: 'parameter-problem'
  /** ParamProbCode (RFC 4443 §3.4). */
  readonly code: number
  /** Octet offset in the invoking packet where the error was found. */
  readonly pointer: number
  /** As much of the invoking packet as fits (RFC 4443 §2.4 (c)). */
  readonly invoking: Buffer
}

const HEADER = 8 // Type, Code, Checksum, Pointer
/** RFC 4443 §2.4 (c): the error must not exceed the minimum IPv6 MTU. */
export const MAX_INVOKING_LENGTH = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - HEADER

export function encodingLength(msg: ParameterProblem): number {
  return HEADER + Math.min(msg.invoking.length, MAX_INVOKING_LENGTH)
}

/** Encodes `msg` (the invoking packet cut to what fits in 1280 octets) and returns the bytes. */
export function encode(msg: ParameterProblem, buf?: Buffer, offset = 0): Buffer {
  if (!Number.isInteger(msg.code) || msg.code < 0 || msg.code > 255) throw new WireError('value-out-of-range', { offset: 1, field: 'code', value: msg.code })
  if (!Number.isInteger(msg.pointer) || msg.pointer < 0 || msg.pointer > 0xffffffff) {
    throw new WireError('value-out-of-range', { offset: 4, field: 'pointer', value: msg.pointer })
  }
  const len = encodingLength(msg)
  const b = buf ?? Buffer.allocUnsafe(len)
  need(b.length, offset, len)
  b[offset] = ICMP6_PARAM_PROB
  b[offset + 1] = msg.code
  b.writeUInt16BE(0, offset + 2)
  b.writeUInt32BE(msg.pointer, offset + 4)
  msg.invoking.copy(b, offset + HEADER, 0, len - HEADER)
  return b.subarray(offset, offset + len)
}

export function decode(buf: Buffer, offset = 0, end = buf.length): ParameterProblem {
  if (end > buf.length) end = buf.length
  need(end, offset, HEADER)
  const type = buf[offset]!
  if (type !== ICMP6_PARAM_PROB) throw new WireError('bad-icmp-type', { offset: 0, value: type })
  return {
    kind: 'parameter-problem',
    code: buf[offset + 1]!,
    pointer: buf.readUInt32BE(offset + 4),
    invoking: Buffer.from(buf.subarray(offset + HEADER, end)),
  }
}

export const parameterProblem = { encodingLength, encode, decode }

export interface InvokingPacket {
  /** 16-octet addresses as the packet carried them. */
  readonly src: Uint8Array
  readonly dst: Uint8Array
  readonly hopLimit: number
  /** The Next Header value of the payload (135 for the Mobility Header). */
  readonly nextHeader: number
  readonly payload: Uint8Array
}

/**
 * The invoking packet as an IPv6 header (RFC 8200 §3: version 6, traffic class and flow label
 * 0, the payload's length and Next Header) and the payload, cut to what an error can carry.
 */
export function invokingPacket(p: InvokingPacket): Buffer {
  if (p.src.length !== 16 || p.dst.length !== 16) throw new WireError('value-out-of-range', { offset: 8, field: 'address' })
  if (!Number.isInteger(p.hopLimit) || p.hopLimit < 0 || p.hopLimit > 255) throw new WireError('value-out-of-range', { offset: 7, field: 'hopLimit', value: p.hopLimit })
  if (p.payload.length > 0xffff) throw new WireError('value-out-of-range', { offset: 4, field: 'payloadLength', value: p.payload.length })
  const total = Math.min(IPV6_HEADER_LENGTH + p.payload.length, MAX_INVOKING_LENGTH)
  const b = Buffer.alloc(total)
  b.writeUInt32BE(0x60000000, 0)
  b.writeUInt16BE(p.payload.length, 4) // the original length, even when the copy is cut
  b[6] = p.nextHeader
  b[7] = p.hopLimit
  b.set(p.src, 8)
  b.set(p.dst, 24)
  b.set(p.payload.subarray(0, total - IPV6_HEADER_LENGTH), IPV6_HEADER_LENGTH)
  return b
}
