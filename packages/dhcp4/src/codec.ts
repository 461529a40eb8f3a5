/**
 * DHCPv4 messages (RFC 2131 §2 format, RFC 2132 options): Buffer in, typed value out, and back.
 * Options stay an ordered list of (code, bytes); the few the server reads have helpers. Every
 * malformed input ends in one typed error (Dhcp4Error) naming its reason and offset.
 */
import { formatIp4, parseIp4 } from '@pmip6/wire'

/** RFC 2131 §2: op codes. */
export const BOOTREQUEST = 1
export const BOOTREPLY = 2
/** RFC 1700 hardware type 1 (Ethernet), 6-byte addresses. */
export const HTYPE_ETHERNET = 1
/** RFC 2131 §3: the magic cookie 99.130.83.99 starts the options. */
export const MAGIC_COOKIE = 0x63825363
/** RFC 2131 §2: the fixed part before the options (236 bytes) plus the cookie. */
export const FIXED_LENGTH = 236
/** RFC 1542 §3.2.1 / RFC 2131 §2: replies are at least 300 bytes (BOOTP relays and clients expect it). */
export const MIN_MESSAGE_LENGTH = 300
/** RFC 2131 §2: the broadcast bit of `flags`. */
export const FLAG_BROADCAST = 0x8000
/** UDP ports (RFC 2131 §4.1). */
export const SERVER_PORT = 67
export const CLIENT_PORT = 68

/** RFC 2132 option codes this package names. */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_LIST: 55,
  MESSAGE: 56,
  MAX_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const

/** RFC 2132 §9.6 DHCP message types. */
export const MsgType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const

export const MSG_TYPE_NAMES: Readonly<Record<number, string>> = { 1: 'discover', 2: 'offer', 3: 'request', 4: 'decline', 5: 'ack', 6: 'nak', 7: 'release', 8: 'inform' }

export type Dhcp4ErrorReason = 'truncated' | 'bad-op' | 'bad-hlen' | 'bad-magic' | 'option-overflow' | 'missing-end' | 'value-out-of-range'

export class Dhcp4Error extends Error {
  override readonly name = 'Dhcp4Error'
  constructor(
    readonly reason: Dhcp4ErrorReason,
    readonly offset: number,
    readonly detail?: string,
  ) {
    super(`${reason} at offset ${offset}${detail !== undefined ? ` (${detail})` : ''}`)
  }
}

export interface Dhcp4Option {
  readonly code: number
  readonly data: Buffer
}

export interface Dhcp4Message {
  readonly op: number
  readonly htype: number
  readonly hlen: number
  readonly hops: number
  readonly xid: number
  readonly secs: number
  readonly flags: number
  /** 4-byte addresses. */
  readonly ciaddr: Buffer
  readonly yiaddr: Buffer
  readonly siaddr: Buffer
  readonly giaddr: Buffer
  /** 16 bytes; the first `hlen` are the client's hardware address. */
  readonly chaddr: Buffer
  /** 64 and 128 bytes, kept as they are (option overload, RFC 2132 §9.3, is not read). */
  readonly sname: Buffer
  readonly file: Buffer
  readonly options: readonly Dhcp4Option[]
}

/** Decodes one message; throws Dhcp4Error on anything malformed. */
export function decode(buf: Buffer): Dhcp4Message {
  if (buf.length < FIXED_LENGTH + 4) throw new Dhcp4Error('truncated', buf.length, `need ${FIXED_LENGTH + 4} bytes, have ${buf.length}`)
  const op = buf[0]!
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new Dhcp4Error('bad-op', 0, String(op))
  const hlen = buf[2]!
  if (hlen > 16) throw new Dhcp4Error('bad-hlen', 2, String(hlen))
  if (buf.readUInt32BE(FIXED_LENGTH) !== MAGIC_COOKIE) throw new Dhcp4Error('bad-magic', FIXED_LENGTH)
  const options: Dhcp4Option[] = []
  let p = FIXED_LENGTH + 4
  let ended = false
  while (p < buf.length) {
    const code = buf[p]!
    if (code === Opt.PAD) {
      p++
      continue
    }
    if (code === Opt.END) {
      ended = true
      break
    }
    if (p + 2 > buf.length) throw new Dhcp4Error('option-overflow', p, `option ${code}`)
    const len = buf[p + 1]!
    if (p + 2 + len > buf.length) throw new Dhcp4Error('option-overflow', p, `option ${code} length ${len}`)
    options.push({ code, data: Buffer.from(buf.subarray(p + 2, p + 2 + len)) })
    p += 2 + len
  }
  if (!ended) throw new Dhcp4Error('missing-end', p)
  const copy = (a: number, n: number): Buffer => Buffer.from(buf.subarray(a, a + n))
  return {
    op,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: copy(12, 4),
    yiaddr: copy(16, 4),
    siaddr: copy(20, 4),
    giaddr: copy(24, 4),
    chaddr: copy(28, 16),
    sname: copy(44, 64),
    file: copy(108, 128),
    options,
  }
}

function fixed(b: Buffer, n: number, field: string): Buffer {
  if (b.length !== n) throw new Dhcp4Error('value-out-of-range', 0, `${field} must be ${n} bytes`)
  return b
}

/** Encodes a message: options in order, End, padded to MIN_MESSAGE_LENGTH. */
export function encode(m: Dhcp4Message): Buffer {
  let optLen = 0
  for (const o of m.options) {
    if (o.code === Opt.PAD || o.code === Opt.END || o.code > 255 || o.code < 0) throw new Dhcp4Error('value-out-of-range', 0, `option code ${o.code}`)
    if (o.data.length > 255) throw new Dhcp4Error('value-out-of-range', 0, `option ${o.code} longer than 255`)
    optLen += 2 + o.data.length
  }
  const len = Math.max(MIN_MESSAGE_LENGTH, FIXED_LENGTH + 4 + optLen + 1)
  const b = Buffer.alloc(len)
  b[0] = m.op
  b[1] = m.htype
  b[2] = m.hlen
  b[3] = m.hops
  b.writeUInt32BE(m.xid >>> 0, 4)
  b.writeUInt16BE(m.secs, 8)
  b.writeUInt16BE(m.flags, 10)
  fixed(m.ciaddr, 4, 'ciaddr').copy(b, 12)
  fixed(m.yiaddr, 4, 'yiaddr').copy(b, 16)
  fixed(m.siaddr, 4, 'siaddr').copy(b, 20)
  fixed(m.giaddr, 4, 'giaddr').copy(b, 24)
  fixed(m.chaddr, 16, 'chaddr').copy(b, 28)
  fixed(m.sname, 64, 'sname').copy(b, 44)
  fixed(m.file, 128, 'file').copy(b, 108)
  b.writeUInt32BE(MAGIC_COOKIE, FIXED_LENGTH)
  let p = FIXED_LENGTH + 4
  for (const o of m.options) {
    b[p] = o.code
    b[p + 1] = o.data.length
    o.data.copy(b, p + 2)
    p += 2 + o.data.length
  }
  b[p] = Opt.END
  return b
}

export function option(m: Pick<Dhcp4Message, 'options'>, code: number): Buffer | undefined {
  return m.options.find((o) => o.code === code)?.data
}

/** RFC 2132 §9.6: the message type, or undefined (a BOOTP message). */
export function messageType(m: Dhcp4Message): number | undefined {
  const d = option(m, Opt.MESSAGE_TYPE)
  return d !== undefined && d.length === 1 ? d[0] : undefined
}

/** An option carrying one IPv4 address (50, 54), as text; undefined when absent or not 4 bytes. */
export function addressOption(m: Dhcp4Message, code: number): string | undefined {
  const d = option(m, code)
  return d !== undefined && d.length === 4 ? formatIp4(d) : undefined
}

/** The client's hardware address as MAC text (Ethernet only). */
export function clientMac(m: Dhcp4Message): string | undefined {
  if (m.htype !== HTYPE_ETHERNET || m.hlen !== 6) return undefined
  return [...m.chaddr.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

export const ip4 = (text: string): Buffer => parseIp4(text)
export const u32be = (v: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(v >>> 0)
  return b
}

/** A subnet mask from a prefix length (RFC 2132 §3.3). */
export function maskOf(prefixLength: number): Buffer {
  return u32be(prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0)
}
