/**
 * An Access-Accept's attributes -> the MN's policy profile (RFC 5213 §6.2), from the RFC 6572
 * PMIPv6 attributes. Pure. A missing mandatory attribute or a malformed one denies the MN with
 * that attribute named: a half-understood profile is never used.
 *
 *  - MN-ID: Mobile-Node-Identifier (RFC 6572 §3.1), else User-Name (RFC 2865 §5.1: the server
 *    may return the name to use), else the name asked for.
 *  - LMA: PMIP6-Home-LMA-IPv6-Address (§3.3), else PMIP6-Visited-LMA-IPv6-Address (§3.4);
 *    mandatory unless the MN is in host mode (RFC 6612 Scenario B: no LMA).
 *  - Home prefixes: PMIP6-Home-HN-Prefix (§3.5; the Visited one with a visited LMA); none: the
 *    LMA assigns.
 *  - Kept in the profile for what the MAG does not use yet: PMIP6-Home-Interface-ID (§3.7),
 *    PMIP6-Home-IPv4-HoA (§3.8: the MN is served dual-stack and asks for that address), PMIP6-Home-DHCP4/6-Server-Address
 *    (§3.9, §3.10). A DHCPv6 server address allows stateful configuration (addressConfig 'both').
 *  - Session-Timeout (RFC 2865 §5.27): how long the profile is cached.
 *  - Host mode: a configured attribute with a configured value.
 */
import { formatIp6, formatPrefix, isAllZero, isLinkLocal } from '@pmip6/wire'
import type { AddressConfig, PolicyProfile } from '@pmip6/core'
import { Attr, attrName } from './constants'
import { AttributeValueError, readIfId, readIp4, readIp4Prefix, readIp6, readIp6Prefix, readU32, vendorAttributes, type RadiusAttribute } from './codec'

/** A configured attribute to look for: a standard one by type, or a vendor's (type 26). */
export interface AttributeMatch {
  readonly type: number
  readonly vendor?: number
  readonly vendorType?: number
  /** Text compared with the value as UTF-8, or a number compared with a 4-octet integer. */
  readonly value: string | number
}

export interface ProfileOptions {
  /** Scenario B (RFC 6612) when this attribute with this value is in the Accept. */
  readonly hostMode?: AttributeMatch
  /** Address configuration when the Accept says nothing of it. */
  readonly addressConfig: AddressConfig
  /** The MAG's data plane carries IPv4: only then does an IPv4 HoA make the MN dual-stack. */
  readonly ipv4?: boolean
}

export interface AaaProfile {
  readonly mnId: string
  readonly profile: PolicyProfile
  readonly interfaceId: string | null
  readonly ipv4HomeAddress: string | null
  readonly dhcp6Servers: readonly string[]
  readonly dhcp4Servers: readonly string[]
  readonly sessionTimeoutS: number | null
  /** RFC 2865 §5.25: echoed unmodified in accounting. */
  readonly classes: readonly Buffer[]
}

export type ProfileResult = { readonly ok: true; readonly value: AaaProfile } | { readonly ok: false; readonly attribute: string; readonly why: string }

class Bad extends Error {
  constructor(
    readonly attribute: string,
    why: string,
  ) {
    super(why)
  }
}

function all(attrs: readonly RadiusAttribute[], type: number): Buffer[] {
  const out: Buffer[] = []
  for (const a of attrs) if (a.type === type) out.push(a.value)
  return out
}

function one(attrs: readonly RadiusAttribute[], type: number): Buffer | undefined {
  const v = all(attrs, type)
  if (v.length > 1) throw new Bad(attrName(type), `appears ${v.length} times (at most once)`)
  return v[0]
}

function read<T>(type: number, v: Buffer, f: (v: Buffer) => T): T {
  try {
    return f(v)
  } catch (e) {
    if (e instanceof AttributeValueError) throw new Bad(attrName(type), e.message)
    throw e
  }
}

const fatal = new TextDecoder('utf-8', { fatal: true })

/** An NAI or name: UTF-8, printable, 1-253 octets. */
function identity(type: number, v: Buffer): string {
  let s: string
  try {
    s = fatal.decode(v)
  } catch {
    throw new Bad(attrName(type), 'not UTF-8 text')
  }
  // eslint-disable-next-line no-control-regex
  if (s.length === 0 || /[\x00-\x1f\x7f]/.test(s)) throw new Bad(attrName(type), 'empty or has control characters')
  return s
}

function unicast6(type: number, v: Buffer): string {
  const a = read(type, v, readIp6)
  if (isAllZero(a) || a[0] === 0xff || isLinkLocal(a)) throw new Bad(attrName(type), `not a global unicast address: ${formatIp6(a)}`)
  return formatIp6(a)
}

function ip4Text(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
}

/** Does the Accept carry the configured attribute with the configured value? */
export function hasAttribute(attrs: readonly RadiusAttribute[], m: AttributeMatch): boolean {
  const values: Buffer[] = []
  if (m.vendor === undefined) values.push(...all(attrs, m.type))
  else
    for (const v of all(attrs, Attr.VENDOR_SPECIFIC)) {
      const vs = vendorAttributes(v)
      if (vs && vs.vendor === m.vendor) for (const a of vs.attributes) if (a.type === m.vendorType) values.push(a.value)
    }
  return values.some((v) => (typeof m.value === 'number' ? v.length === 4 && v.readUInt32BE(0) === m.value : v.toString('utf8') === m.value))
}

export function profileFromAccept(attrs: readonly RadiusAttribute[], asked: string, o: ProfileOptions): ProfileResult {
  try {
    return { ok: true, value: build(attrs, asked, o) }
  } catch (e) {
    if (e instanceof Bad) return { ok: false, attribute: e.attribute, why: e.message }
    throw e
  }
}

function build(attrs: readonly RadiusAttribute[], asked: string, o: ProfileOptions): AaaProfile {
  const mnIdAttr = one(attrs, Attr.MOBILE_NODE_IDENTIFIER)
  const userName = one(attrs, Attr.USER_NAME)
  const mnId = mnIdAttr ? identity(Attr.MOBILE_NODE_IDENTIFIER, mnIdAttr) : userName ? identity(Attr.USER_NAME, userName) : asked
  if (Buffer.byteLength(mnId) > 253) throw new Bad(mnIdAttr ? attrName(Attr.MOBILE_NODE_IDENTIFIER) : attrName(Attr.USER_NAME), 'longer than 253 octets')
  const host = o.hostMode !== undefined && hasAttribute(attrs, o.hostMode)

  const homeLma = one(attrs, Attr.PMIP6_HOME_LMA_IPV6_ADDRESS)
  const visitedLma = one(attrs, Attr.PMIP6_VISITED_LMA_IPV6_ADDRESS)
  const visited = homeLma === undefined && visitedLma !== undefined
  const lmaType = visited ? Attr.PMIP6_VISITED_LMA_IPV6_ADDRESS : Attr.PMIP6_HOME_LMA_IPV6_ADDRESS
  const lmaValue = visited ? visitedLma : homeLma
  if (lmaValue === undefined && !host) throw new Bad(attrName(Attr.PMIP6_HOME_LMA_IPV6_ADDRESS), 'missing (mandatory: the LMA to register with)')
  const lma = lmaValue === undefined ? null : unicast6(lmaType, lmaValue)

  const hnpType = visited ? Attr.PMIP6_VISITED_HN_PREFIX : Attr.PMIP6_HOME_HN_PREFIX
  const homePrefixes = all(attrs, hnpType).map((v) => {
    const p = read(hnpType, v, readIp6Prefix)
    if (p.length === 0 || isAllZero(p.prefix)) throw new Bad(attrName(hnpType), 'the zero prefix is no home network prefix')
    return formatPrefix(p.prefix, p.length)
  })
  const ifIdType = visited ? Attr.PMIP6_VISITED_INTERFACE_ID : Attr.PMIP6_HOME_INTERFACE_ID
  const ifId = one(attrs, ifIdType)
  const interfaceId = ifId === undefined ? null : (read(ifIdType, ifId, readIfId).toString('hex').match(/.{4}/g) ?? []).join(':')
  const hoa = one(attrs, Attr.PMIP6_HOME_IPV4_HOA)
  const hoaPrefix = hoa === undefined ? null : read(Attr.PMIP6_HOME_IPV4_HOA, hoa, readIp4Prefix)
  const ipv4HomeAddress = hoaPrefix === null ? null : `${ip4Text(hoaPrefix.address)}/${hoaPrefix.length}`
  const dhcp6Servers = all(attrs, Attr.PMIP6_HOME_DHCP6_SERVER_ADDRESS).map((v) => unicast6(Attr.PMIP6_HOME_DHCP6_SERVER_ADDRESS, v))
  const dhcp4Servers = all(attrs, Attr.PMIP6_HOME_DHCP4_SERVER_ADDRESS).map((v) => ip4Text(read(Attr.PMIP6_HOME_DHCP4_SERVER_ADDRESS, v, readIp4)))
  const st = one(attrs, Attr.SESSION_TIMEOUT)
  const sessionTimeoutS = st === undefined ? null : read(Attr.SESSION_TIMEOUT, st, readU32)
  const addressConfig: AddressConfig = dhcp6Servers.length > 0 && o.addressConfig === 'stateless' ? 'both' : o.addressConfig

  const profile: PolicyProfile = {
    mnId,
    // Host mode needs no LMA; the core's profile type wants one: the unspecified address is never registered with.
    lma: lma ?? '::',
    ...(homePrefixes.length > 0 ? { homePrefixes } : {}),
    addressConfig,
    mode: host ? 'host' : 'network',
    // RFC 6572 §3.8: on a MAG whose data plane carries IPv4, an MN given an IPv4 home address is
    // served dual-stack (RFC 5844 §3.2.2) and the PBU asks for that address; 0.0.0.0 lets the LMA
    // choose. Scenario B hosts stay IPv6-only. Elsewhere the address is only shown.
    ...(hoaPrefix === null || host || o.ipv4 !== true ? {} : { stack: 'dual' as const, ...(ip4Text(hoaPrefix.address) === '0.0.0.0' ? {} : { ipv4HomeAddress: ip4Text(hoaPrefix.address) }) }),
  }
  return { mnId, profile, interfaceId, ipv4HomeAddress, dhcp6Servers, dhcp4Servers, sessionTimeoutS, classes: all(attrs, Attr.CLASS) }
}
