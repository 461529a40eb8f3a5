/**
 * The forwarding state of RFC 5213 §6.10 (MAG) and §5.6 (LMA) as plain kernel objects, and the
 * pure planners that decide which objects a tunnel, a binding or an access link needs. The
 * executor (kernel.ts) only adds and removes these; everything that is a decision lives here and
 * is unit-tested without a kernel.
 *
 * Layout, from `table` (T) and `rulePriority` (P) in the configuration:
 *   T        "down" table: routes to MN prefixes on their access links (§6.10.5 downlink)
 *   T+1      seg6 decapsulation table (End.DT6 for what arrives at our tunnel address)
 *   T+2+i    one table per tunnel peer i: a default route into that tunnel (§6.10.5 uplink)
 *   T+2+n    (n = maxTunnels) the "up" table: MAG `default from HNP` (subtree), LMA `HNP` routes into the tunnel
 *   P        seg6: `to <own address> ipproto 41 lookup T+1`; `from <own address> ipproto 41 lookup main`
 *   P+1      seg6: `lookup local`, moved here from 0 so the rule above wins (design.md)
 *   P+2      `iif <tunnel> lookup T` (ip6tnl), `from HNP lookup T` (local routing), `to <local prefix> lookup T`
 *   P+3      MAG `from HNP iif <access link> lookup T+2+i` (rule) or `iif <access link> lookup T+2+n` (subtree);
 *            LMA `lookup T+2+n`; host mode `from <local prefix> iif <link> lookup main`
 *   P+4      `iif <access link> blackhole`: nothing from an MN without a binding is forwarded;
 *            `iif <tunnel> blackhole` (ip6tnl, MAG): nothing decapsulated leaves but to an access route
 *
 * IPv4 home addresses (RFC 5844; with `ipv4` on): the same tables and priorities in the IPv4
 * rule and route space (a separate FIB per family, so the table numbers are shared without
 * clashing). Per MN at the MAG: `HoA/32 dev <link>` in T, `to HoA lookup T` at P+2 and
 * `from HoA iif <link> lookup T+2+i` at P+3; per peer: `0.0.0.0/0` into the tunnel in T+2+i
 * (seg6 encap.red: outer next header 4; ip6tnl `mode any`). At the LMA: `HoA/32` into the
 * tunnel in the up table and one `lookup T+2+n` rule at P+3. seg6 decapsulation: the IPv6 rule
 * `to <own address> ipproto 4 lookup T` (next header 4 told apart from 41 by the rule) finds
 * `<own address>/128 encap seg6local End.DX4 nh4 0.0.0.0` in T (IPv6; T holds only MN prefixes
 * otherwise, never our own address), which routes the inner packet on its destination.
 *
 * GRE keys (RFC 5845 §3; a binding whose PBA gave keys): the binding's own ip6gre device
 * `pmip6g<g>` (slot g of a second range), ikey the key this end receives with, okey the one it
 * sends with, so the key tells the MN's flows apart and two MNs of different LMAs may hold the
 * same private IPv4 address at one MAG. Tables from `greTable` (G, above the kernel's 255:
 * RTA_TABLE/FRA_TABLE carry 32 bits): G+2g the binding's down table (its MN's routes on the
 * access link), G+2g+1 its up table (one default route into its device, both families).
 * MAG rules, before every shared one:
 *   P        `iif pmip6g<g> lookup G+2g`: what its device decapsulates reaches its MN only
 *   P+1      `from <HNP|HoA> iif <link> lookup G+2g+1` (after the `local` rule, before P+2's
 *            `to <HoA>` rules of other MNs: a GRE MN is never routed locally to another MN);
 *            `iif pmip6g<g> blackhole` (the floor of its device)
 * LMA: the device and `<HNP|HoA> dev pmip6g<g>` in the up table (T+2+n). One LMA serves each
 * address once: overlapping addresses are told apart at the MAG, not at the LMA.
 */
import { IPPROTO_IPIP } from './encode'
import { canonicalIp6, parsePrefix, parseIp6, formatPrefix, parseIp4, formatIp4, ip4ToNumber, numberToIp4 } from '@pmip6/wire'

export type Backend = 'ip6tnl' | 'seg6'
export type BackendChoice = Backend | 'auto'

/** Routing protocol number stamped on every route and rule we add, so leftovers are ours to remove. */
export const RTPROT_PMIP = 158
export const RT_TABLE_MAIN = 254
export const RT_TABLE_LOCAL = 255
/** Default tunnel peers one daemon serves (each takes a table). */
export const DEFAULT_MAX_TUNNELS = 64
/** ip6tnl devices we create are named `<prefix><slot>`; at start only devices with this prefix are removed. */
export const TUNNEL_NAME_PREFIX = 'pmip6t'
/** ip6gre devices of bindings with GRE keys (RFC 5845) are `<prefix><slot>`; at start these go too. */
export const GRE_NAME_PREFIX = 'pmip6g'
/** First GRE table by default: far above the kernel's 253-255 and the default range 100-166. */
export const DEFAULT_GRE_TABLE = 10_000
/** GRE bindings one daemon holds at once by default (two tables and one device each). */
export const DEFAULT_MAX_GRE = 1024
/**
 * Bytes an ip6gre encapsulation with a key adds: the outer IPv6 header (40), the GRE header (4)
 * and its Key field (4, RFC 2890 §2.1); no checksum, no sequence number, no encapsulation limit.
 */
export const GRE_KEYED_OVERHEAD = 48

export const PRIO_DECAP = 0
export const PRIO_LOCAL = 1
export const PRIO_DOWN = 2
export const PRIO_MN = 3
export const PRIO_DROP = 4
/** How many priorities from P on are ours. */
export const PRIO_SPAN = 5

/**
 * How the MAG steers an MN's uplink traffic into its tunnel (RFC 5213 §6.10.5):
 * 'rule': a policy rule `from HNP iif <link>` per prefix (the textbook set-up). The kernel keeps
 *   rules in a list, so adding one and every forwarded packet walk all of them: fine for
 *   hundreds of MNs, measured 3.1 s of kernel time for 10,000 inserts.
 * 'subtree': one rule per access link into a table of source-specific routes
 *   (`default from HNP`, CONFIG_IPV6_SUBTREES): a tree lookup, for thousands of MNs.
 */
export type UplinkSelect = 'rule' | 'subtree'

export interface Layout {
  readonly table: number
  readonly rulePriority: number
  readonly maxTunnels: number
  /** First table of the GRE range (RFC 5845 bindings, two tables each); default DEFAULT_GRE_TABLE. */
  readonly greTable?: number
  /** Bindings with GRE keys held at once (one device each); default DEFAULT_MAX_GRE. */
  readonly maxGre?: number
}

export interface Prefix {
  /** Canonical text, e.g. 2001:db8:100:1::/64 */
  readonly text: string
  readonly addr: string
  readonly length: number
  /** The 16 address bytes, parsed once (netlink messages carry them); absent: parsed from addr. */
  readonly bytes?: Buffer
  /** 4: an IPv4 prefix (4 bytes); absent: IPv6. */
  readonly family?: 4
}

/** An IPv4 prefix or address ("192.0.2.2" is "192.0.2.2/32"); host bits past the length are cleared. */
export function prefix4Of(text: string): Prefix {
  const slash = text.indexOf('/')
  const addr = slash < 0 ? text : text.slice(0, slash)
  const length = slash < 0 ? 32 : Number(text.slice(slash + 1))
  if (!Number.isInteger(length) || length < 0 || length > 32 || (slash >= 0 && !/^[0-9]{1,2}$/.test(text.slice(slash + 1)))) throw new RangeError(`not an IPv4 prefix: ${text}`)
  const n = ip4ToNumber(parseIp4(addr))
  const masked = length === 0 ? 0 : (n & ((0xffffffff << (32 - length)) >>> 0)) >>> 0
  const bytes = numberToIp4(masked)
  const a = formatIp4(bytes)
  return { text: `${a}/${length}`, addr: a, length, bytes, family: 4 }
}

export const isIpv4Prefix = (p: Prefix): boolean => p.family === 4

export function prefixOf(text: string): Prefix {
  const p = parsePrefix(text)
  const canon = formatPrefix(p.prefix, p.length)
  return { text: canon, addr: canon.slice(0, canon.lastIndexOf('/')), length: p.length, bytes: p.prefix }
}

/** `::/0`, planned once: every MN's subtree route and every tunnel's default route name it (read-only). */
const DEFAULT_PREFIX: Prefix = Object.freeze(prefixOf('::/0'))
const DEFAULT_PREFIX4: Prefix = Object.freeze(prefix4Of('0.0.0.0/0'))

export function hostPrefix(addr: string): Prefix {
  const a = canonicalIp6(addr)
  return { text: `${a}/128`, addr: a, length: 128, bytes: parseIp6(a) }
}

export type RuleAction = 'lookup' | 'blackhole'

export interface RuleObj {
  readonly kind: 'rule'
  readonly priority: number
  readonly action: RuleAction
  /** lookup only */
  readonly table?: number
  readonly src?: Prefix
  readonly dst?: Prefix
  readonly iif?: string
  readonly ipProto?: number
  /** 4: an IPv4 rule (RFC 5844); absent: IPv6. */
  readonly family?: 4
}

export type Encap =
  | { readonly type: 'seg6-encap-red'; readonly to: string }
  | { readonly type: 'seg6local-dt6'; readonly table: number }
  /** End.DX4 with nh4 0.0.0.0: the inner IPv4 packet is routed on its destination. */
  | { readonly type: 'seg6local-dx4' }

export interface RouteObj {
  readonly kind: 'route'
  readonly table: number
  readonly dst: Prefix
  /** Source-specific route (CONFIG_IPV6_SUBTREES): only packets from this prefix match. */
  readonly src?: Prefix
  /** Output device name. */
  readonly dev: string
  readonly encap?: Encap
  readonly mtu?: number
  /** 4: an IPv4 route (dst and src IPv4 prefixes); absent: IPv6. */
  readonly family?: 4
}

export interface TunnelLinkObj {
  readonly kind: 'link'
  readonly name: string
  readonly local: string
  readonly remote: string
  readonly mtu: number
  /** ip6tnl `mode any` (IPv4 and IPv6 payloads, RFC 5844) instead of ip6ip6. */
  readonly anyProto?: boolean
}

/** Moving the `local` rule is an object of its own: its removal puts the original back first. */
export interface LocalRuleObj {
  readonly kind: 'local-rule'
  readonly priority: number
}

/**
 * An ip6gre device of one binding with GRE keys (RFC 5845 §3): GRE over IPv6 to the peer, the
 * GRE Key field on every packet (RFC 2890 §2.1). ikey: the key on packets this end receives (the
 * MAG's downlink key at the MAG, the LMA's uplink key at the LMA); okey: the key it sends with.
 */
export interface GreLinkObj {
  readonly kind: 'gre-link'
  readonly name: string
  readonly local: string
  readonly remote: string
  readonly ikey: number
  readonly okey: number
  readonly mtu: number
}

export type KObj = RuleObj | RouteObj | TunnelLinkObj | LocalRuleObj | GreLinkObj

export function describe(o: KObj): string {
  switch (o.kind) {
    case 'rule': {
      const parts = [`${o.family === 4 ? '-4 ' : ''}rule pref ${o.priority}`]
      if (o.src) parts.push(`from ${o.src.text}`)
      if (o.dst) parts.push(`to ${o.dst.text}`)
      if (o.iif) parts.push(`iif ${o.iif}`)
      if (o.ipProto !== undefined) parts.push(`ipproto ${o.ipProto}`)
      parts.push(o.action === 'lookup' ? `lookup ${o.table}` : 'blackhole')
      return parts.join(' ')
    }
    case 'route': {
      const enc = !o.encap
        ? ''
        : o.encap.type === 'seg6-encap-red'
          ? ` encap seg6 encap.red segs ${o.encap.to}`
          : o.encap.type === 'seg6local-dt6'
            ? ` encap seg6local End.DT6 table ${o.encap.table}`
            : ' encap seg6local End.DX4 nh4 0.0.0.0'
      return `${o.family === 4 ? '-4 ' : ''}route ${o.dst.text}${o.src ? ` from ${o.src.text}` : ''}${enc} dev ${o.dev} table ${o.table}${o.mtu ? ` mtu ${o.mtu}` : ''}`
    }
    case 'link':
      return `link ${o.name} ip6tnl${o.anyProto === true ? ' mode any' : ''} ${o.local} -> ${o.remote} mtu ${o.mtu}`
    case 'local-rule':
      return `rule pref ${o.priority} lookup local (moved from 0)`
    case 'gre-link':
      return `link ${o.name} ip6gre ${o.local} -> ${o.remote} ikey ${o.ikey} okey ${o.okey} mtu ${o.mtu}`
  }
}

export const downTable = (l: Layout): number => l.table
export const decapTable = (l: Layout): number => l.table + 1
export const peerTable = (l: Layout, slot: number): number => l.table + 2 + slot
export const upTable = (l: Layout): number => l.table + 2 + l.maxTunnels
/** Every table id this layout may use (cleanup flushes exactly these). */
export function ourTables(l: Layout): number[] {
  const t: number[] = []
  for (let i = 0; i < l.maxTunnels + 3; i++) t.push(l.table + i)
  return t
}
export const greTableBase = (l: Layout): number => l.greTable ?? DEFAULT_GRE_TABLE
export const maxGreOf = (l: Layout): number => l.maxGre ?? DEFAULT_MAX_GRE
/** The down table of GRE slot g (its MN's routes on the access link). */
export const greDownTable = (l: Layout, g: number): number => greTableBase(l) + 2 * g
/** The up table of GRE slot g (the default route into its device). */
export const greUpTable = (l: Layout, g: number): number => greTableBase(l) + 2 * g + 1
export const greName = (g: number): string => `${GRE_NAME_PREFIX}${g}`
/** Tables cleanup() flushes: the shared range and the GRE range. */
export const isOurTable = (l: Layout, t: number): boolean => (t >= l.table && t < l.table + l.maxTunnels + 3) || (t >= greTableBase(l) && t < greTableBase(l) + 2 * maxGreOf(l))
export const isOurPriority = (l: Layout, p: number): boolean => p >= l.rulePriority && p < l.rulePriority + PRIO_SPAN
export const tunnelName = (slot: number): string => `${TUNNEL_NAME_PREFIX}${slot}`

/** Checks a layout once, so the planners need not. */
export function checkLayout(l: Layout): void {
  if (!Number.isInteger(l.table) || l.table < 1 || l.table + l.maxTunnels + 3 > 253) {
    // 253-255 are the kernel's default, main and local tables (linux/rtnetlink.h rt_class_t).
    throw new RangeError(`table ${l.table} + ${l.maxTunnels + 3} tables must stay within 1..252`)
  }
  if (!Number.isInteger(l.rulePriority) || l.rulePriority < 1 || l.rulePriority + PRIO_SPAN > 32766) {
    throw new RangeError(`rulePriority ${l.rulePriority} must leave room for ${PRIO_SPAN} rules below 32766 (the main table's rule)`)
  }
  const g = greTableBase(l)
  const n = maxGreOf(l)
  if (!Number.isInteger(n) || n < 1 || n > 65_536) throw new RangeError(`maxGre ${n} must be 1..65536`)
  // Above the kernel's own tables (255 is the last) and within the 32-bit table ids.
  if (!Number.isInteger(g) || g < 256 || g + 2 * n > 0xffffffff) throw new RangeError(`greTable ${g} + ${2 * n} tables must stay within 256..4294967295`)
}

/**
 * Once per daemon with the seg6 backend: decapsulate IPv6-in-IPv6 addressed to `self` with End.DT6
 * into `innerTable`, and move the `local` rule below that rule; otherwise the kernel delivers
 * the packet locally, has no handler for next header 41 and answers Parameter Problem.
 */
export function seg6DecapObjects(l: Layout, self: string, dev: string, innerTable: number): KObj[] {
  const me = hostPrefix(self)
  return [
    { kind: 'route', table: decapTable(l), dst: me, dev, encap: { type: 'seg6local-dt6', table: innerTable } },
    { kind: 'rule', priority: l.rulePriority + PRIO_DECAP, action: 'lookup', table: decapTable(l), dst: me, ipProto: 41 },
    // seg6 encapsulates on input, then routes the outer packet again with the MN's iif: it must
    // reach the main table before the access link's blackhole rule drops it.
    { kind: 'rule', priority: l.rulePriority + PRIO_DECAP, action: 'lookup', table: RT_TABLE_MAIN, src: me, ipProto: 41 },
    { kind: 'local-rule', priority: l.rulePriority + PRIO_LOCAL },
  ]
}

/**
 * The tunnel to one peer (RFC 5213 §6.10.1: created on first use, shared by all MNs of that
 * peer). ip6tnl: a device plus a default route through it, and (MAG only) a rule sending what
 * comes out of it to the down table and a rule dropping what that table has no route for. seg6: a default route that encapsulates towards the peer.
 */
export function tunnelObjects(o: {
  readonly layout: Layout
  readonly backend: Backend
  readonly role: 'mag' | 'lma'
  readonly slot: number
  readonly self: string
  readonly peer: string
  readonly uplink: string
  /** Path MTU towards the peer. */
  readonly pathMtu: number
  /** RFC 5844: carry the MNs' IPv4 too (ip6tnl `mode any`, an IPv4 default route per peer). */
  readonly ipv4?: boolean
}): KObj[] {
  const table = peerTable(o.layout, o.slot)
  const dflt = DEFAULT_PREFIX
  const dflt4 = DEFAULT_PREFIX4
  if (o.backend === 'seg6') {
    // The route MTU is the outer path MTU: the kernel subtracts the encapsulation's headroom itself.
    const objs: KObj[] = [{ kind: 'route', table, dst: dflt, dev: o.uplink, encap: { type: 'seg6-encap-red', to: canonicalIp6(o.peer) }, mtu: o.pathMtu }]
    // RFC 5844: IPv4 in the same encapsulation; the outer next header is 4.
    if (o.ipv4 === true) objs.push({ kind: 'route', family: 4, table, dst: dflt4, dev: o.uplink, encap: { type: 'seg6-encap-red', to: canonicalIp6(o.peer) }, mtu: o.pathMtu })
    return objs
  }
  const name = tunnelName(o.slot)
  const objs: KObj[] = [
    { kind: 'link', name, local: canonicalIp6(o.self), remote: canonicalIp6(o.peer), mtu: tunnelMtuFor(o.pathMtu), ...(o.ipv4 === true ? { anyProto: true } : {}) },
    { kind: 'route', table, dst: dflt, dev: name },
  ]
  if (o.ipv4 === true) objs.push({ kind: 'route', family: 4, table, dst: dflt4, dev: name })
  if (o.role === 'mag') {
    objs.push({ kind: 'rule', priority: o.layout.rulePriority + PRIO_DOWN, action: 'lookup', table: downTable(o.layout), iif: name })
    // §6.10.5: what comes out of the tunnel goes to an MN on an access link or nowhere. A
    // lookup that finds no access route falls through to the next rules (the main table would
    // forward it natively): this floor drops it, as End.DT6 does for the seg6 backend.
    objs.push({ kind: 'rule', priority: o.layout.rulePriority + PRIO_DROP, action: 'blackhole', iif: name })
    if (o.ipv4 === true) {
      objs.push({ kind: 'rule', family: 4, priority: o.layout.rulePriority + PRIO_DOWN, action: 'lookup', table: downTable(o.layout), iif: name })
      objs.push({ kind: 'rule', family: 4, priority: o.layout.rulePriority + PRIO_DROP, action: 'blackhole', iif: name })
    }
  }
  return objs
}

/**
 * seg6 backend with IPv4 (RFC 5844): decapsulate IPv4-in-IPv6 (next header 4) addressed to
 * `self` with End.DX4, and let the re-routed outer packets of our own encapsulation reach main.
 */
export function seg6Decap4Objects(l: Layout, self: string, dev: string): KObj[] {
  const me = hostPrefix(self)
  return [
    { kind: 'route', table: downTable(l), dst: me, dev, encap: { type: 'seg6local-dx4' } },
    { kind: 'rule', priority: l.rulePriority + PRIO_DECAP, action: 'lookup', table: downTable(l), dst: me, ipProto: IPPROTO_IPIP },
    { kind: 'rule', priority: l.rulePriority + PRIO_DECAP, action: 'lookup', table: RT_TABLE_MAIN, src: me, ipProto: IPPROTO_IPIP },
  ]
}

/**
 * One MN IPv4 home address at the MAG (RFC 5844 data plane, like §6.10.5 for prefixes): the
 * downlink route on the access link, reached by decapsulated packets through `to HoA`; the
 * uplink: from the HoA on that link into the peer's tunnel.
 */
export function magIpv4Objects(l: Layout, hoa: Prefix, link: string, t: TunnelTarget): KObj[] {
  return [
    { kind: 'route', family: 4, table: downTable(l), dst: hoa, dev: link },
    { kind: 'rule', family: 4, priority: l.rulePriority + PRIO_DOWN, action: 'lookup', table: downTable(l), dst: hoa },
    { kind: 'rule', family: 4, priority: l.rulePriority + PRIO_MN, action: 'lookup', table: peerTable(l, t.slot), src: hoa, iif: link },
  ]
}

/** One MN IPv4 home address at the LMA: traffic to it goes into the tunnel to the MN's MAG. */
export function lmaIpv4Objects(l: Layout, hoa: Prefix, t: TunnelTarget): KObj[] {
  return [{ ...intoTunnel(upTable(l), hoa, t), family: 4 }]
}

/** The LMA's IPv4 rule: destinations of its MNs' IPv4 home addresses are looked up in the up table. */
export function lmaBase4Objects(l: Layout): KObj[] {
  return [{ kind: 'rule', family: 4, priority: l.rulePriority + PRIO_MN, action: 'lookup', table: upTable(l) }]
}

/** An access link's IPv4 floor: nothing from an MN without an IPv4 binding is forwarded. */
export function accessLink4Objects(l: Layout, link: string): KObj[] {
  return [{ kind: 'rule', family: 4, priority: l.rulePriority + PRIO_DROP, action: 'blackhole', iif: link }]
}

/** Where a tunnel sends: the seg6 encapsulation towards the peer, or the ip6tnl device. */
export interface TunnelTarget {
  readonly backend: Backend
  readonly slot: number
  readonly peer: string
  readonly uplink: string
  readonly pathMtu: number
}

/** A route into the tunnel (the same thing the peer table's default route does). */
function intoTunnel(table: number, dst: Prefix, t: TunnelTarget, src?: Prefix): RouteObj {
  // Plain literals, no spreads: two of these per binding and storm (issue 23).
  if (t.backend === 'seg6') {
    const encap: Encap = { type: 'seg6-encap-red', to: canonicalIp6(t.peer) }
    return src ? { kind: 'route', table, dst, src, dev: t.uplink, encap, mtu: t.pathMtu } : { kind: 'route', table, dst, dev: t.uplink, encap, mtu: t.pathMtu }
  }
  return src ? { kind: 'route', table, dst, src, dev: tunnelName(t.slot) } : { kind: 'route', table, dst, dev: tunnelName(t.slot) }
}

/**
 * One MN prefix at the MAG (§6.10.5): downlink route on its access link; uplink: traffic sourced
 * from the prefix and arriving on that link goes into the peer's tunnel. With
 * EnableMAGLocalRouting (§6.10.3) traffic to another local MN is routed here first.
 */
export function magPrefixObjects(l: Layout, p: Prefix, link: string, t: TunnelTarget, localRouting: boolean, select: UplinkSelect): KObj[] {
  const objs: KObj[] = [{ kind: 'route', table: downTable(l), dst: p, dev: link }]
  if (localRouting) objs.push({ kind: 'rule', priority: l.rulePriority + PRIO_DOWN, action: 'lookup', table: downTable(l), src: p, iif: link })
  if (select === 'rule') objs.push({ kind: 'rule', priority: l.rulePriority + PRIO_MN, action: 'lookup', table: peerTable(l, t.slot), src: p, iif: link })
  else objs.push(intoTunnel(upTable(l), DEFAULT_PREFIX, t, p))
  return objs
}

/** Scenario B (RFC 6612 §3.3): the local prefix is routed natively, no tunnel. */
export function localPrefixObjects(l: Layout, p: Prefix, link: string): KObj[] {
  return [
    { kind: 'route', table: downTable(l), dst: p, dev: link },
    { kind: 'rule', priority: l.rulePriority + PRIO_DOWN, action: 'lookup', table: downTable(l), dst: p },
    { kind: 'rule', priority: l.rulePriority + PRIO_MN, action: 'lookup', table: RT_TABLE_MAIN, src: p, iif: link },
  ]
}

/** One MN prefix at the LMA (§5.6.1): traffic to it goes into the tunnel to the MN's current MAG. */
export function lmaPrefixObjects(l: Layout, p: Prefix, t: TunnelTarget): KObj[] {
  return [intoTunnel(upTable(l), p, t)]
}

/** The LMA's one rule: destinations of its MNs are looked up in the up table first. */
export function lmaBaseObjects(l: Layout): KObj[] {
  return [{ kind: 'rule', priority: l.rulePriority + PRIO_MN, action: 'lookup', table: upTable(l) }]
}

/**
 * An access link's floor: whatever arrives on it and no binding's rule or route took is dropped
 * (§6.10.5: the MAG forwards only for MNs with an accepted binding). Traffic for the MAG itself
 * is unaffected: the `local` rule comes first. With 'subtree', the link's one rule into the up
 * table, where only bound prefixes have a route.
 */
export function accessLinkObjects(l: Layout, link: string, select: UplinkSelect = 'rule'): KObj[] {
  const objs: KObj[] = []
  if (select === 'subtree') objs.push({ kind: 'rule', priority: l.rulePriority + PRIO_MN, action: 'lookup', table: upTable(l), iif: link })
  objs.push({ kind: 'rule', priority: l.rulePriority + PRIO_DROP, action: 'blackhole', iif: link })
  return objs
}

/** What one GRE binding's planners need (RFC 5845). */
export interface GreTarget {
  readonly slot: number
  readonly self: string
  readonly peer: string
  /** The key on packets this end receives; the key it sends with. */
  readonly ikey: number
  readonly okey: number
  readonly pathMtu: number
  /** RFC 5844: IPv4 routes and rules too. */
  readonly ipv4: boolean
}

/** ikey/okey from the RFC 5845 uplink (MAG to LMA) and downlink (LMA to MAG) keys, by role. */
export function greKeysFor(role: 'mag' | 'lma', keys: { readonly uplink: number; readonly downlink: number }): { ikey: number; okey: number } {
  return role === 'mag' ? { ikey: keys.downlink, okey: keys.uplink } : { ikey: keys.uplink, okey: keys.downlink }
}

export function greLinkObj(g: GreTarget): GreLinkObj {
  return { kind: 'gre-link', name: greName(g.slot), local: canonicalIp6(g.self), remote: canonicalIp6(g.peer), ikey: g.ikey, okey: g.okey, mtu: greMtuFor(g.pathMtu) }
}

/**
 * The per-binding objects of a binding with GRE keys, device first. MAG: the up table's default
 * routes into the device, the device's decapsulated packets to the binding's down table (P,
 * before every shared rule) and its floor (P+1). LMA: the device alone (prefix routes follow).
 */
export function greBindingObjects(l: Layout, role: 'mag' | 'lma', g: GreTarget): KObj[] {
  const link = greLinkObj(g)
  if (role === 'lma') return [link]
  const name = link.name
  const up = greUpTable(l, g.slot)
  const down = greDownTable(l, g.slot)
  const objs: KObj[] = [link, { kind: 'route', table: up, dst: DEFAULT_PREFIX, dev: name }]
  if (g.ipv4) objs.push({ kind: 'route', family: 4, table: up, dst: DEFAULT_PREFIX4, dev: name })
  for (const family of g.ipv4 ? [6, 4] : [6]) {
    const f = family === 4 ? { family: 4 as const } : {}
    objs.push({ kind: 'rule', ...f, priority: l.rulePriority + PRIO_DECAP, action: 'lookup', table: down, iif: name })
    objs.push({ kind: 'rule', ...f, priority: l.rulePriority + PRIO_LOCAL, action: 'blackhole', iif: name })
  }
  return objs
}

/**
 * One prefix or IPv4 home address of a GRE binding. MAG: its route on the access link in the
 * binding's down table, and the source rule into the binding's up table (P+1). LMA: its route
 * into the binding's device in the up table.
 */
export function grePrefixObjects(l: Layout, role: 'mag' | 'lma', p: Prefix, link: string, slot: number): KObj[] {
  const f = isIpv4Prefix(p) ? { family: 4 as const } : {}
  if (role === 'lma') return [{ kind: 'route', ...f, table: upTable(l), dst: p, dev: greName(slot) }]
  return [
    { kind: 'route', ...f, table: greDownTable(l, slot), dst: p, dev: link },
    { kind: 'rule', ...f, priority: l.rulePriority + PRIO_LOCAL, action: 'lookup', table: greUpTable(l, slot), src: p, iif: link },
  ]
}

/** ip6gre device MTU from the path MTU towards the peer (RFC 5845 keyed GRE over IPv6). */
export function greMtuFor(pathMtu: number): number {
  return Math.max(1280, pathMtu - GRE_KEYED_OVERHEAD)
}

/** Tunnel MTU from the path MTU towards the peer (RFC 5213 §6.9.5, RFC 2473 §6.1). */
export function tunnelMtuFor(pathMtu: number): number {
  return Math.max(1280, pathMtu - 40)
}
