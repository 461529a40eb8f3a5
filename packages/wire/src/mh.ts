/**
 * IPv6 Mobility Header messages (RFC 6275 §6.1): Binding Update and Binding Acknowledgement,
 * which are the Proxy Binding Update and Acknowledgement of RFC 5213 §8.1-8.2 when the P flag
 * is set, Binding Error (RFC 6275 §6.1.9) and Heartbeat (RFC 5847 §3.1).
 * Other MH types decode to `{ kind: 'other' }` with their raw body so a receiver can count
 * and drop them; they are not built here (a MAG never sends them).
 *
 * Codec triplet: `encodingLength(msg)`, `encode(msg, buf?, offset?)`, `decode(buf, offset?, end?)`.
 * The encoder leaves the checksum 0 (the Linux raw socket fills it in; see checksum.ts).
 */
import { WireError, need } from './errors'
import {
  MH_PAYLOAD_PROTO,
  MhType,
  BU_FLAG_A,
  BU_FLAG_H,
  BU_FLAG_L,
  BU_FLAG_K,
  BU_FLAG_M,
  BU_FLAG_R,
  BU_FLAG_P,
  BU_FLAG_F,
  BU_FLAG_T,
  BU_FLAG_B,
  BA_FLAG_K,
  BA_FLAG_R,
  BA_FLAG_P,
  BA_FLAG_T,
  BA_FLAG_B,
  HB_FLAG_R,
  HB_FLAG_U,
  LIFETIME_UNIT_SECONDS,
} from './constants'
import { type MobilityOption, decodeOptions, encodeOptions, optionsEncodingLength } from './options'

export interface BuFlags {
  readonly a: boolean
  readonly h: boolean
  readonly l: boolean
  readonly k: boolean
  readonly m: boolean
  readonly r: boolean
  readonly p: boolean
  readonly f: boolean
  readonly t: boolean
  readonly b: boolean
}

export interface BaFlags {
  readonly k: boolean
  readonly r: boolean
  readonly p: boolean
  readonly t: boolean
  readonly b: boolean
}

/** Lifetimes are in seconds here; the wire counts units of 4 s (the encoder rounds down). */
export interface BindingUpdate {
  readonly kind: 'binding-update'
  readonly sequence: number
  readonly flags: BuFlags
  readonly lifetime: number
  readonly options: readonly MobilityOption[]
}

export interface BindingAck {
  readonly kind: 'binding-ack'
  readonly status: number
  readonly flags: BaFlags
  readonly sequence: number
  readonly lifetime: number
  readonly options: readonly MobilityOption[]
}

export interface BindingError {
  readonly kind: 'binding-error'
  readonly status: number
  readonly homeAddress: Buffer
  readonly options: readonly MobilityOption[]
}

export interface Heartbeat {
  readonly kind: 'heartbeat'
  /** U: unsolicited response; R: this is a response (RFC 5847 §3.1). */
  readonly flags: { readonly u: boolean; readonly r: boolean }
  readonly sequence: number
  readonly options: readonly MobilityOption[]
}

export interface OtherMh {
  readonly kind: 'other'
  readonly mhType: number
  readonly body: Buffer
}

export type MhMessage = BindingUpdate | BindingAck | BindingError | Heartbeat | OtherMh
/** RFC 5213 §8.1: a Binding Update with P set. */
export type ProxyBindingUpdate = BindingUpdate
/** RFC 5213 §8.2: a Binding Acknowledgement with P set. */
export type ProxyBindingAck = BindingAck

export const NO_BU_FLAGS: BuFlags = { a: false, h: false, l: false, k: false, m: false, r: false, p: false, f: false, t: false, b: false }
/** RFC 5213 §6.9.1.5: a PBU has A and P set. */
export const PBU_FLAGS: BuFlags = { ...NO_BU_FLAGS, a: true, p: true }
export const PBA_FLAGS: BaFlags = { k: false, r: false, p: true, t: false, b: false }

const HEADER = 6

/** Offset of the first option (or body byte) for each message kind. */
function bodyLength(msg: MhMessage): number {
  switch (msg.kind) {
    case 'binding-update':
    case 'binding-ack':
      return 6
    case 'binding-error':
      return 18
    case 'heartbeat':
      return 6
    case 'other':
      return msg.body.length
  }
}

export function encodingLength(msg: MhMessage): number {
  const fixed = HEADER + bodyLength(msg)
  if (msg.kind === 'other') return fixed + ((8 - (fixed % 8)) % 8)
  return fixed + optionsEncodingLength(msg.options, fixed)
}

function lifetimeUnits(seconds: number, offset: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) throw new WireError('value-out-of-range', { offset, field: 'lifetime', value: seconds })
  return Math.min(0xffff, Math.floor(seconds / LIFETIME_UNIT_SECONDS))
}

function check16(v: number, offset: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new WireError('value-out-of-range', { offset, field, value: v })
}

function mhTypeOf(msg: MhMessage): number {
  switch (msg.kind) {
    case 'binding-update':
      return MhType.BINDING_UPDATE
    case 'binding-ack':
      return MhType.BINDING_ACK
    case 'binding-error':
      return MhType.BINDING_ERROR
    case 'heartbeat':
      return MhType.HEARTBEAT
    case 'other':
      return msg.mhType
  }
}

/** Encodes `msg` at `buf[offset]` (a new buffer when none is given) and returns the bytes written. */
export function encode(msg: MhMessage, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(msg)
  if (len > 2048) throw new WireError('value-out-of-range', { offset: 0, field: 'length', value: len })
  const b = buf ?? Buffer.allocUnsafe(len)
  need(b.length, offset, len)
  const o = offset
  b[o] = MH_PAYLOAD_PROTO
  b[o + 1] = len / 8 - 1 // RFC 6275 §6.1.1: 8-octet units, not counting the first 8
  b[o + 2] = mhTypeOf(msg)
  b[o + 3] = 0
  b[o + 4] = 0
  b[o + 5] = 0
  switch (msg.kind) {
    case 'binding-update': {
      check16(msg.sequence, 6, 'sequence')
      const f = msg.flags
      const word =
        (f.a ? BU_FLAG_A : 0) |
        (f.h ? BU_FLAG_H : 0) |
        (f.l ? BU_FLAG_L : 0) |
        (f.k ? BU_FLAG_K : 0) |
        (f.m ? BU_FLAG_M : 0) |
        (f.r ? BU_FLAG_R : 0) |
        (f.p ? BU_FLAG_P : 0) |
        (f.f ? BU_FLAG_F : 0) |
        (f.t ? BU_FLAG_T : 0) |
        (f.b ? BU_FLAG_B : 0)
      b.writeUInt16BE(msg.sequence, o + 6)
      b.writeUInt16BE(word, o + 8)
      b.writeUInt16BE(lifetimeUnits(msg.lifetime, 10), o + 10)
      encodeOptions(msg.options, b, o, 12)
      break
    }
    case 'binding-ack': {
      if (!Number.isInteger(msg.status) || msg.status < 0 || msg.status > 255) {
        throw new WireError('value-out-of-range', { offset: 6, field: 'status', value: msg.status })
      }
      check16(msg.sequence, 8, 'sequence')
      const f = msg.flags
      b[o + 6] = msg.status
      b[o + 7] = (f.k ? BA_FLAG_K : 0) | (f.r ? BA_FLAG_R : 0) | (f.p ? BA_FLAG_P : 0) | (f.t ? BA_FLAG_T : 0) | (f.b ? BA_FLAG_B : 0)
      b.writeUInt16BE(msg.sequence, o + 8)
      b.writeUInt16BE(lifetimeUnits(msg.lifetime, 10), o + 10)
      encodeOptions(msg.options, b, o, 12)
      break
    }
    case 'binding-error':
      if (msg.homeAddress.length !== 16) throw new WireError('value-out-of-range', { offset: 8, field: 'homeAddress' })
      b[o + 6] = msg.status
      b[o + 7] = 0
      msg.homeAddress.copy(b, o + 8)
      encodeOptions(msg.options, b, o, 24)
      break
    case 'heartbeat':
      if (!Number.isInteger(msg.sequence) || msg.sequence < 0 || msg.sequence > 0xffffffff) {
        throw new WireError('value-out-of-range', { offset: 8, field: 'sequence', value: msg.sequence })
      }
      b[o + 6] = 0
      b[o + 7] = (msg.flags.u ? HB_FLAG_U : 0) | (msg.flags.r ? HB_FLAG_R : 0)
      b.writeUInt32BE(msg.sequence, o + 8)
      encodeOptions(msg.options, b, o, 12)
      break
    case 'other': {
      msg.body.copy(b, o + 6)
      const end = 6 + msg.body.length
      b.fill(0, o + end, o + len)
      break
    }
  }
  return b.subarray(offset, offset + len)
}

/**
 * Decodes one Mobility Header from `buf[offset, end)`. The Header Len field decides the
 * message's extent; bytes after it (up to `end`) are ignored, fewer bytes are an error.
 */
export function decode(buf: Buffer, offset = 0, end = buf.length): MhMessage {
  if (end > buf.length) end = buf.length
  need(end, offset, 8)
  const proto = buf[offset]!
  if (proto !== MH_PAYLOAD_PROTO) throw new WireError('bad-payload-proto', { offset: 0, value: proto })
  const len = (buf[offset + 1]! + 1) * 8
  if (offset + len > end) throw new WireError('bad-header-length', { offset: 1, length: len, have: end - offset })
  const type = buf[offset + 2]!
  const stop = offset + len
  const o = offset
  switch (type) {
    case MhType.BINDING_UPDATE: {
      if (len < 16) throw new WireError('bad-message-length', { offset: 1, type, length: len })
      const w = buf.readUInt16BE(o + 8)
      return {
        kind: 'binding-update',
        sequence: buf.readUInt16BE(o + 6),
        flags: {
          a: (w & BU_FLAG_A) !== 0,
          h: (w & BU_FLAG_H) !== 0,
          l: (w & BU_FLAG_L) !== 0,
          k: (w & BU_FLAG_K) !== 0,
          m: (w & BU_FLAG_M) !== 0,
          r: (w & BU_FLAG_R) !== 0,
          p: (w & BU_FLAG_P) !== 0,
          f: (w & BU_FLAG_F) !== 0,
          t: (w & BU_FLAG_T) !== 0,
          b: (w & BU_FLAG_B) !== 0,
        },
        lifetime: buf.readUInt16BE(o + 10) * LIFETIME_UNIT_SECONDS,
        options: decodeOptions(buf, o, o + 12, stop),
      }
    }
    case MhType.BINDING_ACK: {
      if (len < 16) throw new WireError('bad-message-length', { offset: 1, type, length: len })
      const f = buf[o + 7]!
      return {
        kind: 'binding-ack',
        status: buf[o + 6]!,
        flags: {
          k: (f & BA_FLAG_K) !== 0,
          r: (f & BA_FLAG_R) !== 0,
          p: (f & BA_FLAG_P) !== 0,
          t: (f & BA_FLAG_T) !== 0,
          b: (f & BA_FLAG_B) !== 0,
        },
        sequence: buf.readUInt16BE(o + 8),
        lifetime: buf.readUInt16BE(o + 10) * LIFETIME_UNIT_SECONDS,
        options: decodeOptions(buf, o, o + 12, stop),
      }
    }
    case MhType.BINDING_ERROR:
      if (len < 24) throw new WireError('bad-message-length', { offset: 1, type, length: len })
      return {
        kind: 'binding-error',
        status: buf[o + 6]!,
        homeAddress: Buffer.from(buf.subarray(o + 8, o + 24)),
        options: decodeOptions(buf, o, o + 24, stop),
      }
    case MhType.HEARTBEAT: {
      if (len < 16) throw new WireError('bad-message-length', { offset: 1, type, length: len })
      const f = buf[o + 7]!
      return {
        kind: 'heartbeat',
        flags: { u: (f & HB_FLAG_U) !== 0, r: (f & HB_FLAG_R) !== 0 },
        sequence: buf.readUInt32BE(o + 8),
        options: decodeOptions(buf, o, o + 12, stop),
      }
    }
    default:
      return { kind: 'other', mhType: type, body: Buffer.from(buf.subarray(o + 6, stop)) }
  }
}

export const mh = { encodingLength, encode, decode }
