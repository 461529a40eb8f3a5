/**
 * DHCPv6 message codec for a relay agent (RFC 8415):
 * - client/server messages (§8): msg-type, transaction-id, options kept raw; a relay never
 *   needs to look inside them (only the client's DUID, see `duidLinkLayer`);
 * - Relay-forward / Relay-reply (§9): hop-count, link-address, peer-address, with the Relay
 *   Message (§21.10) and Interface-Id (§21.18) options typed and every other option kept raw
 *   in order.
 * Leaves out: option semantics beyond those two (plus the RFC 6939 client link-layer address a
 * first-hop relay adds) and any server or client behaviour.
 *
 * Codec triplet `encodingLength`, `encode`, `decode`; decode checks every length before it
 * reads and throws only Dhcp6Error. An encoder writes Interface-Id first, then the other
 * options, then Relay Message (the order of the protocol-reference example); decode accepts
 * any order, so a round trip is exact for messages in that order.
 */
import { formatIp6, writeIp6 } from '@pmip6/wire'
import { Dhcp6Error } from './codec-errors'
import { CLIENT_SERVER_HEADER_LEN, HOP_COUNT_LIMIT, HWTYPE_ETHERNET, MsgType, OPTION_HEADER_LEN, OptionCode, RELAY_HEADER_LEN } from './codec-constants'

export interface Dhcp6Option {
  readonly code: number
  readonly data: Buffer
}

/** Every message but the two relay messages (RFC 8415 §8). */
export interface ClientServerMessage {
  readonly kind: 'client-server'
  readonly msgType: number
  /** 24 bits. */
  readonly transactionId: number
  readonly options: readonly Dhcp6Option[]
}

/** Relay-forward (12) or Relay-reply (13), RFC 8415 §9. */
export interface RelayMessage {
  readonly kind: 'relay-forward' | 'relay-reply'
  readonly hopCount: number
  /** RFC 5952 text. */
  readonly linkAddress: string
  readonly peerAddress: string
  /** Option 9: the relayed message, bytes as received (decode it with `decode`). */
  readonly relayMessage: Buffer
  /** Option 18, opaque; null when absent. */
  readonly interfaceId: Buffer | null
  /** Every other option, in order. */
  readonly options: readonly Dhcp6Option[]
}

export type Dhcp6Message = ClientServerMessage | RelayMessage

function optionsLength(options: readonly Dhcp6Option[]): number {
  let n = 0
  for (const o of options) n += OPTION_HEADER_LEN + o.data.length
  return n
}

export function encodingLength(m: Dhcp6Message): number {
  if (m.kind === 'client-server') return CLIENT_SERVER_HEADER_LEN + optionsLength(m.options)
  return (
    RELAY_HEADER_LEN +
    (m.interfaceId === null ? 0 : OPTION_HEADER_LEN + m.interfaceId.length) +
    optionsLength(m.options) +
    OPTION_HEADER_LEN +
    m.relayMessage.length
  )
}

function checkInt(v: number, max: number, offset: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new Dhcp6Error('value-out-of-range', { offset, field, value: v })
}

function writeOption(b: Buffer, at: number, code: number, data: Uint8Array): number {
  checkInt(code, 0xffff, at, 'option-code')
  checkInt(data.length, 0xffff, at + 2, 'option-len')
  b.writeUInt16BE(code, at)
  b.writeUInt16BE(data.length, at + 2)
  b.set(data, at + OPTION_HEADER_LEN)
  return at + OPTION_HEADER_LEN + data.length
}

// Address texts repeat (the same clients, the same link-addresses): parsing them is most of an
// encode's cost, so parsed addresses are kept, boundedly.
const parsed = new Map<string, Buffer>()
const PARSED_MAX = 4096

function writeAddr(text: string, b: Buffer, at: number, field: string): void {
  let a = parsed.get(text)
  if (a === undefined) {
    a = Buffer.alloc(16)
    try {
      writeIp6(text, a, 0)
    } catch {
      throw new Dhcp6Error('value-out-of-range', { offset: at, field, value: text })
    }
    if (parsed.size >= PARSED_MAX) parsed.clear()
    parsed.set(text, a)
  }
  a.copy(b, at)
}

/** Encodes `m` at `buf[offset]` (a new buffer when none is given); returns the bytes written. */
export function encode(m: Dhcp6Message, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(m)
  const b = buf ?? Buffer.allocUnsafe(len)
  if (offset + len > b.length) throw new Dhcp6Error('value-out-of-range', { offset, field: 'buffer', need: len, have: b.length - offset })
  let at = offset
  if (m.kind === 'client-server') {
    checkInt(m.msgType, 0xff, 0, 'msg-type')
    if (m.msgType === MsgType.RELAY_FORW || m.msgType === MsgType.RELAY_REPL) throw new Dhcp6Error('value-out-of-range', { offset: 0, field: 'msg-type', value: m.msgType, why: 'relay type in a client-server message' })
    checkInt(m.transactionId, 0xffffff, 1, 'transaction-id')
    b[at] = m.msgType
    b.writeUIntBE(m.transactionId, at + 1, 3)
    at += CLIENT_SERVER_HEADER_LEN
  } else {
    checkInt(m.hopCount, 0xff, 1, 'hop-count')
    b[at] = m.kind === 'relay-forward' ? MsgType.RELAY_FORW : MsgType.RELAY_REPL
    b[at + 1] = m.hopCount
    writeAddr(m.linkAddress, b, at + 2, 'link-address')
    writeAddr(m.peerAddress, b, at + 18, 'peer-address')
    at += RELAY_HEADER_LEN
    if (m.interfaceId !== null) at = writeOption(b, at, OptionCode.INTERFACE_ID, m.interfaceId)
  }
  for (const o of m.options) at = writeOption(b, at, o.code, o.data)
  if (m.kind !== 'client-server') at = writeOption(b, at, OptionCode.RELAY_MSG, m.relayMessage)
  return b.subarray(offset, at)
}

/** Options in `buf[from, end)`; offsets in errors are relative to `base` (the message start). */
function decodeOptions(buf: Buffer, base: number, from: number, end: number): Dhcp6Option[] {
  const out: Dhcp6Option[] = []
  let at = from
  while (at < end) {
    if (at + OPTION_HEADER_LEN > end) throw new Dhcp6Error('option-overflow', { offset: at - base, need: OPTION_HEADER_LEN, have: end - at })
    const code = buf.readUInt16BE(at)
    const len = buf.readUInt16BE(at + 2)
    if (at + OPTION_HEADER_LEN + len > end) throw new Dhcp6Error('option-overflow', { offset: at - base, code, length: len, have: end - at - OPTION_HEADER_LEN })
    // A copy: decoded values outlive the receive buffer the socket reuses.
    out.push({ code, data: Buffer.from(buf.subarray(at + OPTION_HEADER_LEN, at + OPTION_HEADER_LEN + len)) })
    at += OPTION_HEADER_LEN + len
  }
  return out
}

/** Decodes one DHCPv6 message occupying `buf[offset, end)` (a UDP payload is exactly one). */
export function decode(buf: Buffer, offset = 0, end = buf.length): Dhcp6Message {
  if (end > buf.length) end = buf.length
  if (offset + 1 > end) throw new Dhcp6Error('truncated', { offset: 0, need: 1, have: Math.max(0, end - offset) })
  const type = buf[offset]!
  if (type !== MsgType.RELAY_FORW && type !== MsgType.RELAY_REPL) {
    if (offset + CLIENT_SERVER_HEADER_LEN > end) throw new Dhcp6Error('truncated', { offset: 0, need: CLIENT_SERVER_HEADER_LEN, have: end - offset })
    return {
      kind: 'client-server',
      msgType: type,
      transactionId: buf.readUIntBE(offset + 1, 3),
      options: decodeOptions(buf, offset, offset + CLIENT_SERVER_HEADER_LEN, end),
    }
  }
  if (offset + RELAY_HEADER_LEN > end) throw new Dhcp6Error('truncated', { offset: 0, type, need: RELAY_HEADER_LEN, have: end - offset })
  const all = decodeOptions(buf, offset, offset + RELAY_HEADER_LEN, end)
  let relayMessage: Buffer | null = null
  let interfaceId: Buffer | null = null
  const options: Dhcp6Option[] = []
  for (const o of all) {
    if (o.code === OptionCode.RELAY_MSG) {
      if (relayMessage !== null) throw new Dhcp6Error('duplicate-option', { offset: RELAY_HEADER_LEN, code: o.code })
      relayMessage = o.data
    } else if (o.code === OptionCode.INTERFACE_ID) {
      if (interfaceId !== null) throw new Dhcp6Error('duplicate-option', { offset: RELAY_HEADER_LEN, code: o.code })
      interfaceId = o.data
    } else {
      options.push(o)
    }
  }
  if (relayMessage === null) throw new Dhcp6Error('missing-relay-message', { offset: RELAY_HEADER_LEN, type })
  return {
    kind: type === MsgType.RELAY_FORW ? 'relay-forward' : 'relay-reply',
    hopCount: buf[offset + 1]!,
    linkAddress: formatIp6(buf, offset + 2),
    peerAddress: formatIp6(buf, offset + 18),
    relayMessage,
    interfaceId,
    options,
  }
}

export const dhcp6 = { encodingLength, encode, decode }

/** The message type byte of `m`. */
export function msgTypeOf(m: Dhcp6Message): number {
  if (m.kind === 'client-server') return m.msgType
  return m.kind === 'relay-forward' ? MsgType.RELAY_FORW : MsgType.RELAY_REPL
}

/**
 * Unwraps nested relay messages (outermost first) down to the client/server message. More
 * than HOP_COUNT_LIMIT + 1 relay layers cannot come from a conforming chain: 'too-deep'.
 */
export function decodeChain(buf: Buffer): { relays: RelayMessage[]; message: ClientServerMessage } {
  const relays: RelayMessage[] = []
  let m = decode(buf)
  while (m.kind !== 'client-server') {
    relays.push(m)
    if (relays.length > HOP_COUNT_LIMIT + 1) throw new Dhcp6Error('too-deep', { offset: 0, depth: relays.length })
    m = decode(m.relayMessage)
  }
  return { relays, message: m }
}

/** RFC 6939 §4 OPTION_CLIENT_LINKLAYER_ADDR for an Ethernet MAC. */
export function clientLinkLayerOption(mac: Uint8Array): Dhcp6Option {
  const data = Buffer.alloc(2 + mac.length)
  data.writeUInt16BE(HWTYPE_ETHERNET, 0)
  data.set(mac, 2)
  return { code: OptionCode.CLIENT_LINKLAYER_ADDR, data }
}

/**
 * The Ethernet address inside a client's DUID (RFC 8415 §11.2 DUID-LLT, §11.4 DUID-LL), or
 * null for other DUID types: a hint for telling MNs apart on a shared access link.
 */
export function duidLinkLayer(m: ClientServerMessage): Buffer | null {
  const id = m.options.find((o) => o.code === OptionCode.CLIENTID)?.data
  if (!id || id.length < 4) return null
  const duidType = id.readUInt16BE(0)
  const hw = id.readUInt16BE(2)
  if (hw !== HWTYPE_ETHERNET) return null
  if (duidType === 1 && id.length === 14) return Buffer.from(id.subarray(8, 14))
  if (duidType === 3 && id.length === 10) return Buffer.from(id.subarray(4, 10))
  return null
}
