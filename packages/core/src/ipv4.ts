/**
 * IPv4 home addresses and GRE keys at the MAG: RFC 5844 §3.2 (mobile access gateway
 * considerations) with the options and statuses of §3.3, and RFC 5845 §3 (the MAG's side of GRE
 * key negotiation).
 *
 * - Per profile an MN is IPv6-only, IPv4-only or dual-stack (§3.2.2, §3.2.3.1: the MN's policy
 *   profile says whether IPv4 home address mobility is enabled for it).
 * - The PBU carries the IPv4 Home Address Request (§3.3.1): the address the binding holds (a
 *   refresh, a de-registration, a registration after expiry or after a move between this MAG's
 *   links), else the one the profile asks for, else 0.0.0.0 (the LMA assigns). An IPv4-only MN's
 *   PBUs carry no Home Network Prefix option (the LMA accepts a PBU with either option, RFC 5844
 *   §3.1.2, and treats one without an HNP as asking for no IPv6 home prefix); a dual-stack MN's
 *   carry both.
 * - The PBA's IPv4 Home Address Reply (§3.3.2), IPv4 Default-Router Address (§3.3.3) and DHCP
 *   Support Mode (§3.3.4): an accepted address is routed through the tunnel and handed to the
 *   access link's DHCPv4 server (§3.4) with ipv4-lease; a Reply status of 128 or more refuses
 *   the IPv4 part only (a dual-stack MN keeps its IPv6 binding; an IPv4-only MN has nothing left
 *   and is de-registered). PBA statuses 170, 171, 173 (§3.3.5) make a dual-stack MN register
 *   IPv6-only, 172 IPv4-only; 171 for an address we named asks again with 0.0.0.0 (as RFC 5213
 *   §6.9.1.2 item 10 does for prefixes).
 * - An address the MAG cannot route (unspecified, this-network, loopback, link-local, multicast,
 *   broadcast, reserved, its own subnet's network or broadcast address, outside the profile's
 *   ipv4Allowed, or a default router that is none of the MN's) is not installed: the binding is
 *   de-registered and the MN denied with the reason (issue 21 item 6).
 * - RFC 5845 §3: with GRE keys on (profile or LMA), every PBU carries the MAG's downlink key, one
 *   per binding, unique on this MAG; the PBA's GRE Key option gives the uplink key. Status 2
 *   (GRE_KEY_OPTION_NOT_REQUIRED) turns keys off for the binding; 163 (GRE_KEY_OPTION_REQUIRED)
 *   turns them on and registers again, once.
 *
 * - An address the MN's own DHCPv4 client asks for (ipv4-requested: option 50 or ciaddr while
 *   the DHCPv4 server has no lease for it) is named in its next PBU instead of 0.0.0.0 (§3.3.1:
 *   the option names the address requested, 0.0.0.0 none; §3.4.1: the MAG's DHCP server learns
 *   the MN's wish and the PBU follows), under the rules of requestRefusal: untrusted input, never
 *   over an address the profile fixes or the LMA already assigned. An LMA refusing it (171, or an
 *   acceptance with another address) wins: the MN is asked for again with 0.0.0.0 or keeps
 *   what the LMA assigned, and the DHCP server answers only with that (RFC 2131 §4.3.2: a
 *   REQUEST for another address gets a NAK).
 *
 * Left out: IPv4 transport between MAG and LMA (§4); the DHCP exchange itself (the agent's DHCPv4
 * server follows ipv4-lease); a PBU sent only because the MN asked (the address waits for the
 * next one: a retransmission, a refresh or a new registration); a changed uplink key on a
 * refresh is taken but not re-installed.
 */
import { BaStatus, formatIp4, HandoffIndicator, ip4ToNumber, numberToIp4, parseIp4, type MobilityOption } from '@pmip6/wire'
import { findOnLink } from './bul'
import type { MagContext } from './context'
import type { Entry } from './entry'
import { P_REFRESH, P_REG } from './entry'
import { macKey, macText } from './profiles'
import type { GreKeys, IpStack, Ipv4RequestedEvent } from './types'

/** An IPv4 prefix as numbers: `(addr & mask) === net` tells membership. */
export interface Ipv4Net {
  readonly net: number
  readonly mask: number
  readonly text: string
}

/** RFC 5844 §3.3.1: 0.0.0.0 asks the LMA to assign the address. */
const ALL_ZERO_IPV4 = Buffer.alloc(4)
const ALL_ZERO_V4_REQUEST: MobilityOption = Object.freeze({ type: 'ipv4-hoa-request', prefixLength: 0, address: ALL_ZERO_IPV4 })
/** The host route length for a named address whose subnet the MAG does not know. */
const IPV4_HOST_LENGTH = 32
/** RFC 5845 §3.1: GRE keys are 32-bit; the MAG hands out 1 .. 2^32-1 (0 left unused, a common "no key"). */
const MAX_GRE_KEY = 0xffff_ffff
const ALL_ONES = 0xffff_ffff

export const maskOf = (len: number): number => (len <= 0 ? 0 : (0xffff_ffff << (32 - len)) >>> 0)

/** '192.0.2.0/24' (or an address, /32) as an Ipv4Net, or why not. */
export function parseIpv4Prefix(text: string): Ipv4Net | string {
  if (typeof text !== 'string') return `not an IPv4 prefix: ${String(text)}`
  const slash = text.indexOf('/')
  const lenText = slash < 0 ? '32' : text.slice(slash + 1)
  if (!/^[0-9]{1,2}$/.test(lenText) || Number(lenText) > 32) return `not an IPv4 prefix: ${text}`
  let b: Buffer
  try {
    b = parseIp4(slash < 0 ? text : text.slice(0, slash))
  } catch {
    return `not an IPv4 prefix: ${text}`
  }
  const len = Number(lenText)
  const mask = maskOf(len)
  const n = ip4ToNumber(b)
  if (((n & mask) >>> 0) !== n) return `host bits set past /${len}: ${text}`
  return { net: n, mask, text: `${formatIp4(b)}/${len}` }
}

/**
 * Why the MAG cannot route `n` to an MN as its home address, or null. The special-purpose blocks
 * of RFC 6890 that are never a host's unicast address (RFC 1122 §3.2.1.3, RFC 3927, RFC 5771).
 */
export function unroutableWhy(n: number): string | null {
  const a = n >>> 24
  if (n === 0) return 'unspecified'
  if (a === 0) return 'this-network'
  if (a === 127) return 'loopback'
  if (n >>> 16 === 0xa9fe) return 'link-local'
  if (a >= 224 && a < 240) return 'multicast'
  if (n === ALL_ONES) return 'broadcast'
  if (a >= 240) return 'reserved'
  return null
}

/** A unicast IPv4 address (4 bytes), or why not (profile checks). */
export function parseIpv4Unicast(text: string): Buffer | string {
  let b: Buffer
  try {
    b = parseIp4(String(text))
  } catch {
    return `not an IPv4 address: ${String(text)}`
  }
  const why = unroutableWhy(ip4ToNumber(b))
  return why === null ? b : `not a unicast address (${why}): ${text}`
}

/** The MN gets an IPv4 home address in this session (RFC 5844 §3.2.2: enabled in its profile). */
export function wantsV4(e: Entry): boolean {
  return e.profile !== null && e.profile.stack !== 'ipv6' && !e.v4Off
}

/** The MN gets IPv6 home network prefixes in this session. */
export function wantsV6(e: Entry): boolean {
  return e.profile === null || (e.profile.stack !== 'ipv4' && !e.v6Off)
}

/** What the session runs with: the profile's stack less what the LMA refused. */
export function sessionStack(e: Entry): IpStack {
  const v4 = wantsV4(e)
  const v6 = wantsV6(e)
  return v4 && v6 ? 'dual' : v4 ? 'ipv4' : 'ipv6'
}

/** A new session (attach, admin-clear): the profile decides again what is asked for. */
export function beginIpv4Session(c: MagContext, e: Entry): void {
  e.v4Off = false
  e.v6Off = false
  e.v4Reason = ''
  e.v4Want = null
  e.v4Asked = null
  e.v4AskedOutcome = ''
  e.v4Refused = null
  const p = e.profile
  e.greOn = p !== null && (p.greKey || c.s.greLmas.has(p.lma))
}

/** RFC 5844 §3.3.1: the IPv4 Home Address Request of this MN's next PBU, or null when it asks for no IPv4. */
export function ipv4RequestOption(e: Entry): MobilityOption | null {
  if (!wantsV4(e)) return null
  if (e.v4Addr !== null) return { type: 'ipv4-hoa-request', prefixLength: e.v4Len, address: e.v4Addr }
  const named = (e.v4NoProfileAddr ? null : e.profile!.ipv4Request) ?? e.v4Want
  return named === null ? ALL_ZERO_V4_REQUEST : { type: 'ipv4-hoa-request', prefixLength: IPV4_HOST_LENGTH, address: named }
}

/** States in which the MN is attached here and its PBUs may still ask for an IPv4 address. */
const REQUEST_STATES: ReadonlySet<string> = new Set(['registering', 'registered', 'refreshing'])

/**
 * Why the address an MN's DHCPv4 client asked for is not named in its PBUs, or null. Each rule
 * once, in the order they are checked:
 * - the MN must be attached here, on the link the request came from when that is known, with
 *   the MAC of the request (the DHCP chaddr is the MN's word only: untrusted input), and in a
 *   state whose PBUs still carry an IPv4 request (not de-registering, denied, held or local);
 * - §3.2.2: the MN's policy profile enables IPv4 home address mobility for this session;
 * - §3.2.2, §3.3.1: an address the profile fixes is the one requested, whatever the MN says;
 * - §3.2.1: an address the LMA already assigned (held in the BUL entry) stands; the DHCPv4
 *   server answers with it (a REQUEST for another one gets a NAK, RFC 2131 §4.3.2);
 * - a unicast address (RFC 1122 §3.2.1.3, as unroutableWhy) inside the profile's ipv4Allowed:
 *   without ipv4Allowed the operator allowed no MN-chosen address, so none is taken;
 * - §3.3.5 (171): not an address the LMA refused in this session.
 */
export function requestRefusal(e: Entry | null, link: string | undefined, mac: string, n: number): string | null {
  if (e === null || e.mac !== mac || (link !== undefined && e.link !== link)) return 'not-attached'
  if (!REQUEST_STATES.has(e.state) || e.mode !== 'network') return `state:${e.state}`
  if (!wantsV4(e)) return 'ipv4-not-enabled'
  const p = e.profile!
  if (p.ipv4Request !== null) return 'profile-address'
  if (e.v4Addr !== null) return 'assigned'
  const why = unroutableWhy(n)
  if (why !== null) return `not-unicast:${why}`
  if (p.ipv4Allowed.length === 0) return 'no-ipv4Allowed'
  if (!p.ipv4Allowed.some((a) => ((n & a.mask) >>> 0) === a.net)) return 'outside-ipv4Allowed'
  if (e.v4Refused === formatIp4(numberToIp4(n))) return 'refused-by-lma'
  return null
}

/** The entry an MN's DHCP request is about: on its link by MAC, else by the MN the MAC names. */
function entryOfRequest(c: MagContext, link: string | undefined, mac: string): Entry | null {
  if (link !== undefined) return findOnLink(c, link, mac)
  const r = c.store.resolve(undefined, mac)
  return r === null ? null : (c.findMn(r.mnId) ?? null)
}

/** ipv4-requested: the address goes into the MN's next PBU, or the request is counted and dropped. */
export function onIpv4Requested(c: MagContext, ev: Ipv4RequestedEvent): void {
  let n: number
  let mac: string
  try {
    if (ev.llId.length === 0) throw new RangeError('no MAC')
    mac = macKey(ev.llId)
    n = ip4ToNumber(parseIp4(ev.address))
  } catch {
    c.inc('ipv4-request-ignored')
    c.inc('ipv4-request-ignored:malformed')
    return
  }
  const e = entryOfRequest(c, ev.link, mac)
  const why = requestRefusal(e, ev.link, mac, n)
  if (why !== null) {
    c.inc('ipv4-request-ignored')
    c.inc(`ipv4-request-ignored:${why.startsWith('state:') ? 'state' : why.startsWith('not-unicast:') ? 'not-unicast' : why}`)
    return
  }
  const text = formatIp4(numberToIp4(n))
  // A DHCP client repeats itself (DISCOVER every few seconds): the same wish counts once.
  if (e!.v4Want !== null && e!.v4Asked === text) return
  c.inc('ipv4-requested')
  e!.v4Want = numberToIp4(n)
  e!.v4Asked = text
  e!.v4AskedOutcome = 'pending'
}

/** The LMA did not give the MN the address it asked for: the reason is kept for the view. */
export function askedRefused(c: MagContext, e: Entry, outcome: string): void {
  if (e.v4Want === null) return
  c.inc('ipv4-requested-refused')
  e.v4Refused = e.v4Asked
  e.v4Want = null
  e.v4AskedOutcome = outcome
}

/** RFC 5845 §3: the GRE Key option with the MAG's downlink key, or null without keys. */
export function greOption(c: MagContext, e: Entry): MobilityOption | null {
  if (!e.greOn) return null
  if (e.greDown < 0) e.greDown = allocGreKey(c)
  return { type: 'gre-key', key: e.greDown }
}

function allocGreKey(c: MagContext): number {
  // A free key after the last one handed out: O(1) unless 2^32 - 1 bindings hold keys.
  for (;;) {
    const k = c.greNext
    c.greNext = k >= MAX_GRE_KEY ? 1 : k + 1
    if (!c.greUsed.has(k)) {
      c.greUsed.add(k)
      return k
    }
  }
}

/** The entry is gone: its downlink key may serve another binding. */
export function releaseGre(c: MagContext, e: Entry): void {
  if (e.greDown >= 0) c.greUsed.delete(e.greDown)
  e.greDown = -1
  e.greUp = -1
}

/** RFC 5845 §3: the uplink key from an accepting PBA; status 2 turns keys off for the binding. */
export function readGre(c: MagContext, e: Entry, status: number, opts: readonly MobilityOption[]): void {
  if (!e.greOn) return
  if (status === BaStatus.GRE_KEY_OPTION_NOT_REQUIRED) {
    c.inc('gre-key-not-required')
    e.greOn = false
    e.greUp = -1
    return
  }
  for (const o of opts) {
    if (o.type === 'gre-key' && o.key !== null) {
      if (e.greUp >= 0 && e.greUp !== o.key) c.inc('gre-uplink-key-changed')
      e.greUp = o.key
      return
    }
  }
  // An LMA that ignores the option: a plain tunnel.
  c.inc('gre-key-not-granted')
  e.greUp = -1
}

export function greKeysOf(e: Entry): GreKeys | null {
  return e.greOn && e.greUp >= 0 && e.greDown >= 0 ? { uplink: e.greUp, downlink: e.greDown } : null
}

/** The IPv4 part of an accepting PBA (RFC 5844 §3.3.2-3.3.4). */
export type Ipv4Answer =
  | { readonly ok: true; readonly addr: Buffer; readonly text: string; readonly len: number; readonly router: string; readonly dhcp: 'server' | 'relay' }
  /** fatal: an address the MAG cannot route (de-registered); else a refusal of the IPv4 part. */
  | { readonly ok: false; readonly fatal: boolean; readonly reason: string }

export function readIpv4Answer(e: Entry, opts: readonly MobilityOption[]): Ipv4Answer {
  let reply: Extract<MobilityOption, { type: 'ipv4-hoa-reply' }> | null = null
  let router: Buffer | null = null
  let dhcp: 'server' | 'relay' = 'server'
  for (const o of opts) {
    if (o.type === 'ipv4-hoa-reply') reply ??= o
    else if (o.type === 'ipv4-default-router') router ??= o.address
    else if (o.type === 'ipv4-dhcp-support-mode') dhcp = o.server ? 'server' : 'relay'
  }
  if (reply === null) return { ok: false, fatal: false, reason: 'ipv4-no-reply' }
  if (reply.status >= 128) return { ok: false, fatal: false, reason: `ipv4-reply:${reply.status}` }
  const n = ip4ToNumber(reply.address)
  const text = formatIp4(reply.address)
  const len = reply.prefixLength
  const bad = (why: string): Ipv4Answer => ({ ok: false, fatal: true, reason: `ipv4-unroutable:${text}/${len}:${why}` })
  const why = unroutableWhy(n)
  if (why !== null) return bad(why)
  // A /0 names no home network: no mask or router could be given to the MN.
  if (len === 0) return bad('prefix-length-0')
  const mask = maskOf(len)
  if (len <= 30) {
    // RFC 1122 §3.2.1.3: the subnet's all-zeros and all-ones host addresses are no host's.
    if (((n & ~mask) >>> 0) === 0) return bad('subnet-address')
    if (((n | mask) >>> 0) === ALL_ONES) return bad('subnet-broadcast')
  }
  const allowed = e.profile!.ipv4Allowed
  if (allowed.length > 0 && !allowed.some((a) => ((n & a.mask) >>> 0) === a.net)) return bad(`outside-ipv4Allowed`)
  // §3.3.3: the MN's default router is the address the MAG answers for on the access link; an
  // LMA that names none leaves the MN without a way out: the IPv4 part is refused, not guessed.
  if (router === null) return { ok: false, fatal: false, reason: 'ipv4-no-default-router' }
  const r = ip4ToNumber(router)
  const routerText = formatIp4(router)
  const badRouter = (w: string): Ipv4Answer => ({ ok: false, fatal: true, reason: `ipv4-bad-router:${routerText}:${w}` })
  const rw = unroutableWhy(r)
  if (rw !== null) return badRouter(rw)
  if (r === n) return badRouter('the-home-address')
  if (len < 32 && ((r & mask) >>> 0) !== ((n & mask) >>> 0)) return badRouter(`outside-${text}/${len}`)
  return { ok: true, addr: reply.address, text, len, router: routerText, dhcp }
}

/**
 * After an accepting PBA: the MN's IPv4 configuration for its access link (RFC 5844 §3.4). Sent
 * when the address, its prefix length, the router, the DHCP mode or the granted lifetime changed;
 * a refresh that changes nothing sends nothing.
 */
export function updateIpv4Home(c: MagContext, e: Entry, a: Ipv4Answer, lifetime: number): void {
  if (!a.ok) {
    e.v4Reason = a.reason
    if (e.v4Home) ipv4HomeDown(c, e)
    e.v4Addr = null
    askedRefused(c, e, `refused:${a.reason}`)
    return
  }
  e.v4Reason = ''
  if (e.v4Want !== null) {
    // §3.3.2: the Reply's address is the MN's home address; another than the one asked stands.
    if (a.text === e.v4Asked) {
      c.inc('ipv4-requested-used')
      e.v4Want = null
      e.v4AskedOutcome = 'used'
    } else askedRefused(c, e, `assigned-other:${a.text}`)
  }
  const changed = !e.v4Home || e.v4 !== a.text || e.v4Len !== a.len || e.v4Router !== a.router || e.v4Dhcp !== a.dhcp || e.v4Lifetime !== lifetime
  if (!changed) return
  if (e.v4Home && e.v4 !== a.text) ipv4HomeDown(c, e)
  e.v4 = a.text
  e.v4Addr = a.addr
  e.v4Len = a.len
  e.v4Router = a.router
  e.v4Dhcp = a.dhcp
  e.v4Lifetime = lifetime
  e.v4Home = true
  c.inc('ipv4-lease')
  c.out.push({ type: 'ipv4-lease', mnId: e.mnId, link: e.link, llId: e.mac === null ? null : macText(e.mac), lease: { address: a.text, prefixLength: a.len, router: a.router, lifetime } })
}

/** The access link stops serving the MN's IPv4 home address (its DHCP lease ends with it). */
export function ipv4HomeDown(c: MagContext, e: Entry): void {
  if (!e.v4Home || e.v4 === null) return
  e.v4Home = false
  c.out.push({ type: 'ipv4-lease', mnId: e.mnId, link: e.link, llId: e.mac === null ? null : macText(e.mac), lease: null })
}

/**
 * A rejecting PBA, before the RFC 5213 rules (pba.ts reject): true when an IPv4 or GRE rule took
 * it. `restart(reason)` registers the MN again (the caller's stopService + new registration).
 */
export function rejectIpv4(c: MagContext, e: Entry, status: number, opts: readonly MobilityOption[], restart: (reason: string) => void): boolean {
  const p = e.profile
  if (!p) return false
  if (status === BaStatus.GRE_KEY_OPTION_REQUIRED) {
    // RFC 5845 §3: the LMA wants a key; send one, once (a second 163 is an ordinary refusal).
    if (e.greOn) return false
    c.inc('gre-key-required')
    e.greOn = true
    restart(`pba-rejected:${status}`)
    return true
  }
  if (p.stack === 'ipv6') return false
  if (status === BaStatus.NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE) {
    if (!(wantsV6(e) && wantsV4(e))) return false
    // RFC 5844 §3.3.5 (172): the LMA serves this MN IPv4 only; a dual-stack MN still gets that.
    c.inc('ipv6-refused')
    e.v6Off = true
    restart(`pba-rejected:${status}`)
    return true
  }
  let replyStatus = -1
  for (const o of opts) if (o.type === 'ipv4-hoa-reply' && o.status >= 128) replyStatus = o.status
  const v4Refusal =
    status === BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE ||
    status === BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS ||
    status === BaStatus.MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED ||
    replyStatus >= 0
  if (!v4Refusal || !wantsV4(e)) return false
  const reason = `ipv4-refused:${status}${replyStatus >= 0 ? `/${replyStatus}` : ''}`
  const profileNamed = e.v4Addr !== null || (!e.v4NoProfileAddr && p.ipv4Request !== null)
  const mnNamed = !profileNamed && e.v4Want !== null
  // The address the MN asked for was refused, whatever the status: never named again this session.
  askedRefused(c, e, `refused:${status}${replyStatus >= 0 ? `/${replyStatus}` : ''}`)
  if (status === BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS && mnNamed) {
    // §3.3.5: as for a profile's address below, the LMA assigns one instead (0.0.0.0).
    e.v4Reason = reason
    restart(`pba-rejected:${status}`)
    return true
  }
  const named = profileNamed
  if (status === BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS && named) {
    // As RFC 5213 §6.9.1.2 item 10 for prefixes: never name that address again; let the LMA assign.
    c.inc('ipv4-named-address-refused')
    e.v4NoProfileAddr = true
    e.v4Addr = null
    e.v4Reason = reason
    restart(`pba-rejected:${status}`)
    return true
  }
  if (!wantsV6(e)) return false
  // A dual-stack MN keeps its IPv6 service (RFC 5844 §3.3.2: the IPv4 part is refused).
  c.inc('ipv4-refused')
  e.v4Off = true
  e.v4Addr = null
  e.v4Reason = reason
  restart(reason)
  return true
}

/** HI for registering again after a refusal: a refresh lost its binding's continuity (RFC 5213 §6.9.1.1 item 4). */
export function rehi(e: Entry): number {
  return e.pending === P_REFRESH ? HandoffIndicator.UNKNOWN : e.pending === P_REG ? e.hi : HandoffIndicator.UNKNOWN
}
