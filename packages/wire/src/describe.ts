/**
 * Human-readable JSON views of decoded messages, for `mag decode`, logs and tests:
 * addresses and prefixes as RFC 5952 text, MN identifiers as text, timestamps as ISO time,
 * code points with their names.
 */
import { formatIp4, formatIp6, formatMac, isAllZero } from './addr'
import { ATT_NAMES, BA_STATUS_NAMES, HI_NAMES, IPV4_HOA_REPLY_STATUS_NAMES, MN_ID_SUBTYPE_NAI, OPT_NAMES } from './constants'
import type { MhMessage } from './mh'
import type { NdMessage, NdOption } from './nd'
import { type MobilityOption, timestampToMs } from './options'
import { decode as decodeMh } from './mh'
import { decode as decodeNd } from './nd'
import { WireError } from './errors'

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

const MH_NAMES: Readonly<Record<number, string>> = {
  0: 'binding-refresh-request',
  1: 'home-test-init',
  2: 'care-of-test-init',
  3: 'home-test',
  4: 'care-of-test',
  5: 'binding-update',
  6: 'binding-ack',
  7: 'binding-error',
  8: 'fast-binding-update',
  9: 'fast-binding-ack',
  10: 'fast-neighbor-advertisement',
  11: 'experimental',
  12: 'home-agent-switch',
  13: 'heartbeat',
  14: 'handover-initiate',
  15: 'handover-acknowledge',
  16: 'binding-revocation',
}

function hex(b: Buffer): string {
  return b.toString('hex')
}

function isPrintable(b: Buffer): boolean {
  for (const c of b) if (c < 0x20 || c > 0x7e) return false
  return true
}

export function describeMobilityOption(o: MobilityOption): Json {
  switch (o.type) {
    case 'mn-id':
      return {
        type: 8,
        name: OPT_NAMES[8]!,
        subtype: o.subtype,
        subtypeName: o.subtype === MN_ID_SUBTYPE_NAI ? 'nai' : 'unknown',
        identifier: o.subtype === MN_ID_SUBTYPE_NAI && isPrintable(o.id) ? o.id.toString('latin1') : hex(o.id),
      }
    case 'hnp':
      return { type: 22, name: OPT_NAMES[22]!, prefix: `${formatIp6(o.prefix)}/${o.prefixLength}`, prefixLength: o.prefixLength }
    case 'handoff-indicator':
      return { type: 23, name: OPT_NAMES[23]!, value: o.value, meaning: HI_NAMES[o.value] ?? 'unassigned' }
    case 'access-tech-type':
      return { type: 24, name: OPT_NAMES[24]!, value: o.value, meaning: ATT_NAMES[o.value] ?? 'unassigned' }
    case 'mn-ll-id':
      return { type: 25, name: OPT_NAMES[25]!, identifier: formatMac(o.id) }
    case 'link-local-address':
      return { type: 26, name: OPT_NAMES[26]!, address: formatIp6(o.address) }
    case 'timestamp': {
      const ms = timestampToMs(o)
      const iso = ms <= 8.64e15 ? new Date(ms).toISOString() : null
      return { type: 27, name: OPT_NAMES[27]!, seconds: o.seconds, fraction: o.fraction, time: iso }
    }
    case 'restart-counter':
      return { type: 28, name: OPT_NAMES[28]!, value: o.value }
    case 'gre-key':
      return { type: 33, name: OPT_NAMES[33]!, key: o.key }
    case 'ipv4-hoa-request':
      return {
        type: 36,
        name: OPT_NAMES[36]!,
        address: formatIp4(o.address),
        prefixLength: o.prefixLength,
        allocate: isAllZero(o.address), // RFC 5844 §3.3.1: 0.0.0.0 asks the LMA to allocate
      }
    case 'ipv4-hoa-reply':
      return {
        type: 37,
        name: OPT_NAMES[37]!,
        status: o.status,
        statusName: IPV4_HOA_REPLY_STATUS_NAMES[o.status] ?? (o.status < 128 ? 'success (unassigned)' : 'failure (unassigned)'),
        accepted: o.status < 128,
        address: `${formatIp4(o.address)}/${o.prefixLength}`,
        prefixLength: o.prefixLength,
      }
    case 'ipv4-default-router':
      return { type: 38, name: OPT_NAMES[38]!, address: formatIp4(o.address) }
    case 'ipv4-dhcp-support-mode':
      return { type: 39, name: OPT_NAMES[39]!, server: o.server, mode: o.server ? 'dhcp-server' : 'dhcp-relay' }
    case 'unknown':
      return { type: o.code, name: 'unknown', data: hex(o.data) }
  }
}

export function describeMh(m: MhMessage): Json {
  switch (m.kind) {
    case 'binding-update':
      return {
        protocol: 'mobility-header',
        mhType: 5,
        message: m.flags.p ? 'proxy-binding-update' : 'binding-update',
        sequence: m.sequence,
        flags: { ...m.flags },
        lifetime: m.lifetime,
        options: m.options.map(describeMobilityOption),
      }
    case 'binding-ack':
      return {
        protocol: 'mobility-header',
        mhType: 6,
        message: m.flags.p ? 'proxy-binding-ack' : 'binding-ack',
        status: m.status,
        statusName: BA_STATUS_NAMES[m.status] ?? (m.status < 128 ? 'accepted (unassigned)' : 'rejected (unassigned)'),
        accepted: m.status < 128,
        flags: { ...m.flags },
        sequence: m.sequence,
        lifetime: m.lifetime,
        options: m.options.map(describeMobilityOption),
      }
    case 'binding-error':
      return {
        protocol: 'mobility-header',
        mhType: 7,
        message: 'binding-error',
        status: m.status,
        homeAddress: formatIp6(m.homeAddress),
        options: m.options.map(describeMobilityOption),
      }
    case 'heartbeat':
      return {
        protocol: 'mobility-header',
        mhType: 13,
        message: m.flags.r ? 'heartbeat-response' : 'heartbeat-request',
        flags: { ...m.flags },
        sequence: m.sequence,
        options: m.options.map(describeMobilityOption),
      }
    case 'other':
      return { protocol: 'mobility-header', mhType: m.mhType, message: MH_NAMES[m.mhType] ?? 'unknown', body: hex(m.body) }
  }
}

function describeNdOption(o: NdOption): Json {
  switch (o.type) {
    case 'source-ll-addr':
      return { type: 1, name: 'source-link-layer-address', address: formatMac(o.address) }
    case 'target-ll-addr':
      return { type: 2, name: 'target-link-layer-address', address: formatMac(o.address) }
    case 'prefix-info':
      return {
        type: 3,
        name: 'prefix-information',
        prefix: `${formatIp6(o.prefix)}/${o.prefixLength}`,
        onLink: o.onLink,
        autonomous: o.autonomous,
        routerAddress: o.routerAddress,
        validLifetime: o.validLifetime,
        preferredLifetime: o.preferredLifetime,
      }
    case 'mtu':
      return { type: 5, name: 'mtu', mtu: o.mtu }
    case 'adv-interval':
      return { type: 7, name: 'advertisement-interval', intervalMs: o.intervalMs }
    case 'home-agent-info':
      return { type: 8, name: 'home-agent-information', preference: o.preference, lifetime: o.lifetime }
    case 'unknown':
      return { type: o.code, name: 'unknown', data: hex(o.data) }
  }
}

export function describeNd(m: NdMessage): Json {
  if (m.kind === 'router-solicitation') {
    return { protocol: 'icmpv6', icmpType: 133, message: 'router-solicitation', options: m.options.map(describeNdOption) }
  }
  return {
    protocol: 'icmpv6',
    icmpType: 134,
    message: 'router-advertisement',
    curHopLimit: m.curHopLimit,
    flags: { ...m.flags },
    routerLifetime: m.routerLifetime,
    reachableTime: m.reachableTime,
    retransTimer: m.retransTimer,
    options: m.options.map(describeNdOption),
  }
}

/**
 * Decodes a Mobility Header (first byte 59, its Payload Proto) or an RS/RA (first byte 133
 * or 134) and describes it. Throws WireError on anything else or on malformed bytes.
 */
export function decodeAny(buf: Buffer): Json {
  if (buf.length === 0) throw new WireError('truncated', { offset: 0, need: 1, have: 0 })
  const first = buf[0]!
  if (first === 133 || first === 134) return describeNd(decodeNd(buf))
  return describeMh(decodeMh(buf))
}
