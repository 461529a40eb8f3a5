/**
 * Home-link emulation, RFC 5213 §6.6-§6.7: per-MN Router Advertisements carrying the MN's home
 * network prefixes (or its local prefix, RFC 5213 §6.14), their lifetimes (§6.7), RS handling
 * (§6.9.2, RFC 4861 §6.2.6), the MTU option (§6.9.5), withdrawal of renumbered prefixes (§6.12)
 * and the final RA when service stops (§6.9.2 item 2, RFC 4861 §6.2.5).
 *
 * Left out: the RA timing of RFC 4861 §6.2.4 is per MN, not per interface (point-to-point
 * emulation, §6.3); the router address itself is router-address.ts.
 */
import { canonicalIp6, isAllZero } from '@pmip6/wire'
import { assertNever } from './assert'
import { findOnLink } from './bul'
import { ALL_NODES, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS, MAX_INITIAL_RTR_ADVERTISEMENTS, MAX_RA_DELAY_TIME_MS, ND_HOP_LIMIT, RAS_PER_PREFIX_LIFETIME, UNSPECIFIED } from './constants'
import type { MagContext } from './context'
import { type Entry, F_LOCAL, F_NONE, F_TUNNEL, NOT_ARMED, T_RA, T_RS } from './entry'
import { ipv4HomeDown } from './ipv4'
import { EMPTY, macKey, macText } from './profiles'
import { addressFlags, buildRa, type PioSpec } from './ra'
import { holdRouterAddress, routerAddress, routerReady } from './router-address'
import type { MtuEvent, RsEvent } from './types'

/**
 * Stops advertising and forwarding for the entry: a final RA withdraws every prefix it was
 * advertising (zero lifetimes, router lifetime 0: RFC 5213 §6.9.2 item 2, RFC 4861 §6.2.5), and
 * the data plane removes the routes. Binding timers stop; the entry itself stays.
 */
export function stopService(c: MagContext, e: Entry): void {
  const adv = advertised(e)
  // Also with nothing advertised when the MN still has this router (a switch back to network
  // mode kept it while the registration runs).
  if (adv.length > 0 || e.routerUp) sendRa(c, e, ALL_NODES, adv, true)
  e.routerUp = false
  stopTimersAndForwarding(c, e)
}

/** stopService() without its final RA: RA, RS and binding timers stop, and forwarding. */
export function stopTimersAndForwarding(c: MagContext, e: Entry): void {
  c.disarm(e, 'ra')
  c.disarm(e, 'rs')
  e.rsTo = null
  // RFC 5844 §3.4: the DHCPv4 server stops answering for the MN's IPv4 home address.
  ipv4HomeDown(c, e)
  forwardingDown(c, e)
  c.disarm(e, 'refresh')
  c.disarm(e, 'expire')
}

function forwardingDown(c: MagContext, e: Entry): void {
  if (e.fwd === F_TUNNEL) {
    const lma = e.profile ? e.profile.lma : ''
    for (const p of e.hnps) if (c.hnpOwner.get(p) === e) c.hnpOwner.delete(p)
    if (e.v4Fwd === null) c.out.push({ type: 'forwarding-down', mnId: e.mnId, link: e.link, prefixes: e.hnps, mode: 'tunnel', lma })
    else c.out.push({ type: 'forwarding-down', mnId: e.mnId, link: e.link, prefixes: e.hnps, mode: 'tunnel', lma, ipv4: [e.v4Fwd] })
    e.v4Fwd = null
  } else if (e.fwd === F_LOCAL && e.localPrefix !== null) {
    c.out.push({ type: 'forwarding-down', mnId: e.mnId, link: e.link, prefixes: [e.localPrefix], mode: 'local', lma: null })
  }
  e.fwd = F_NONE
}

/** Prefixes with non-zero lifetimes in this entry's RAs right now. */
export function advertised(e: Entry): readonly string[] {
  switch (e.state) {
    case 'registered':
    case 'refreshing':
      return e.hnps
    case 'local':
      return e.localPrefix === null ? EMPTY : [e.localPrefix]
    case 'registering':
    case 'deregistering':
    case 'held':
    case 'denied':
    case 'clock-wait':
    case 'failed':
      return EMPTY
    default:
      return assertNever(e.state, 'state')
  }
}

/** RFC 5213 §6.9.5: the lower of the tunnel MTU and the access link MTU. */
function mtuFor(c: MagContext, e: Entry): number {
  const link = (c.linkMtu.size === 0 ? undefined : c.linkMtu.get(e.link)) ?? c.s.accessMtu
  if (e.mode === 'host' || !e.profile) return link
  return Math.min(link, c.tunnelMtu.get(e.profile.lma) ?? c.defaultTunnelMtu)
}

/**
 * One RA for one MN. `withdrawn` prefixes go out with zero lifetimes (§6.12); `final` also
 * sets the router lifetime to 0 and advertises nothing else (the MN loses this router).
 */
export function sendRa(c: MagContext, e: Entry, to: string, withdrawn: readonly string[], final: boolean): void {
  if (!routerReady(c, e)) {
    // Not on the link yet (item 15): the kernel would refuse the source address.
    c.inc('ra-suppressed:router-address-pending')
    return
  }
  const pios: PioSpec[] = []
  let managed = false
  let other = false
  const local = e.state === 'local'
  const autonomousW = local || !e.profile ? true : addressFlags(e.profile.addressConfig).autonomous
  for (const w of withdrawn) pios.push({ prefix: w, validLifetime: 0, preferredLifetime: 0, autonomous: autonomousW })
  if (!final) {
    if (local) {
      if (e.localPrefix !== null) {
        const lt = c.s.localPrefixLifetimeS
        pios.push({ prefix: e.localPrefix, validLifetime: lt, preferredLifetime: lt, autonomous: true })
      }
    } else if (e.profile && (e.state === 'registered' || e.state === 'refreshing')) {
      const lt = homePrefixLifetime(e, e.profile.prefixLifetime)
      const f = addressFlags(e.profile.addressConfig)
      managed = f.managed
      other = e.profile.otherConfig
      for (const p of e.hnps) pios.push({ prefix: p, validLifetime: lt, preferredLifetime: lt, autonomous: f.autonomous })
    }
  }
  const ra = buildRa({
    curHopLimit: c.s.curHopLimit,
    managed,
    other,
    routerLifetime: final ? 0 : c.s.routerLifetimeS,
    mtu: mtuFor(c, e),
    slla: c.s.fixedLinkLayer,
    pios,
  })
  c.out.push({
    type: 'send-ra',
    link: e.link,
    to,
    src: routerAddress(c, e),
    llDst: c.isShared(e.link) && e.mac !== null ? macText(e.mac) : null,
    ra,
    mnId: e.mnId,
  })
  e.lastRaAt = c.now
  c.inc('ra-sent')
  if (final) c.inc('ra-sent:final')
  else if (withdrawn.length > 0) c.inc('ra-sent:withdrawal')
}

/**
 * §6.7: the prefix lifetime is the MAG's choice; it MAY be tied to the binding lifetime, and the
 * profile may set it (§6.2). Here: the granted binding lifetime, capped by the profile's, counted
 * afresh by the MN from each RA. Not the binding's remaining lifetime: the MAG refreshes the
 * binding before it expires while the MN is attached (§6.9.1.3, §6.13), and an RA carrying only
 * what was left of it gave the MN less than it needed to reach the next RA (a 20 s binding left
 * the MN without its address for most of each minute, issue 17). RAs come at least
 * RAS_PER_PREFIX_LIFETIME times per lifetime (nextRaInterval), so the prefix outlives two lost
 * RAs in a row; the binding's end is told by the final RA (§6.9.2 item 2).
 */
function homePrefixLifetime(e: Entry, cap: number | null): number {
  return cap === null ? e.granted : Math.min(cap, e.granted)
}

/**
 * The shortest prefix lifetime this entry's RAs carry, ms: RAs must come RAS_PER_PREFIX_LIFETIME
 * times within it, so the MN's prefix outlives lost RAs (see homePrefixLifetime).
 */
function minPrefixLifetimeMs(c: MagContext, e: Entry): number {
  if (e.state === 'local') return c.s.localPrefixLifetimeS * 1000
  const cap = e.profile?.prefixLifetime ?? null
  return (cap === null ? e.granted : Math.min(cap, e.granted)) * 1000
}

/**
 * RFC 4861 §6.2.4: a random interval in [MinRtrAdvInterval, MaxRtrAdvInterval], capped for the
 * first RAs, and at a third of the prefix lifetime for short ones (RFC 6275 §7.5 allows short
 * intervals on a home link; see minPrefixLifetimeMs).
 */
export function nextRaInterval(c: MagContext, e: Entry): number {
  let max = c.s.maxRaMs
  let min = c.s.minRaMs
  const cap = Math.floor(minPrefixLifetimeMs(c, e) / RAS_PER_PREFIX_LIFETIME)
  if (cap > 0 && cap < max) {
    max = cap
    min = Math.min(min, Math.floor(cap * 0.75))
  }
  const i = c.prng.between(min, max)
  if (e.raLeft > 0) {
    e.raLeft--
    return Math.min(i, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS)
  }
  return i
}

/** The MN is served now: RA at once, then MAX_INITIAL_RTR_ADVERTISEMENTS - 1 more soon, then periodic. */
export function startAdvertising(c: MagContext, e: Entry, withdrawn: readonly string[]): void {
  holdRouterAddress(c, e)
  if (!routerReady(c, e)) {
    // The first RA goes when the link-address event says the address is up (onLinkAddress).
    e.raWait = true
    c.inc('ra-deferred:router-address')
    return
  }
  sendRa(c, e, ALL_NODES, withdrawn, false)
  e.routerUp = c.s.routerLifetimeS > 0
  e.raLeft = MAX_INITIAL_RTR_ADVERTISEMENTS - 1
  c.arm(e, 'ra', c.now + nextRaInterval(c, e))
}

export function onRaTimer(c: MagContext, e: Entry): void {
  if (advertised(e).length === 0) {
    c.inc('timer-stale')
    return
  }
  sendRa(c, e, ALL_NODES, EMPTY, false)
  c.arm(e, 'ra', c.now + nextRaInterval(c, e))
}

function rsDrop(c: MagContext, reason: string): void {
  c.inc('rs-dropped')
  c.inc(`rs-dropped:${reason}`)
}

/**
 * RFC 5213 §6.9.2 and RFC 4861 §6.2.6: answer an RS after a random delay of up to
 * MAX_RA_DELAY_TIME, no sooner than MIN_DELAY_BETWEEN_RAS after this MN's last RA, at most one
 * reply pending per MN (a flood yields one RA per MIN_DELAY_BETWEEN_RAS; the rest is counted).
 * No binding: no answer at all, so no home prefix ever goes out before acceptance.
 */
export function onRs(c: MagContext, ev: RsEvent): void {
  c.inc('rs-received')
  // RFC 4861 §6.1.1: an RS that did not originate on the link is invalid.
  if (ev.hopLimit !== ND_HOP_LIMIT) return rsDrop(c, 'hop-limit')
  const mac = ev.llId && ev.llId.length > 0 && !isAllZero(ev.llId) ? macKey(ev.llId) : null
  const e = findOnLink(c, ev.link, mac)
  if (!e) return rsDrop(c, 'unknown-mn')
  if (advertised(e).length === 0) return rsDrop(c, 'no-binding')
  // The unsolicited RAs follow as soon as the router address is up.
  if (!routerReady(c, e)) return rsDrop(c, 'router-address-pending')
  if (e.due(T_RS) !== NOT_ARMED) return rsDrop(c, 'rate-limited')
  let t = c.now + c.prng.between(0, MAX_RA_DELAY_TIME_MS)
  const earliest = e.lastRaAt + c.s.minDelayBetweenRasMs
  if (t < earliest) t = earliest
  if (e.due(T_RA) !== NOT_ARMED && e.due(T_RA) <= t) return rsDrop(c, 'coalesced')
  // RFC 4861 §6.2.6: reply to the solicitor, or to all-nodes when it has no address yet.
  e.rsTo = ev.from === UNSPECIFIED || ev.from === '' ? ALL_NODES : ev.from
  c.arm(e, 'rs', t)
}

export function onRsTimer(c: MagContext, e: Entry): void {
  const to = e.rsTo ?? ALL_NODES
  e.rsTo = null
  if (advertised(e).length === 0) {
    c.inc('timer-stale')
    return
  }
  c.inc('ra-sent:solicited')
  sendRa(c, e, to, EMPTY, false)
}

export function onMtu(c: MagContext, ev: MtuEvent): void {
  if (!Number.isInteger(ev.mtu) || ev.mtu < 1280) {
    // RFC 8200 §5: no IPv6 link has an MTU below 1280.
    c.inc('mtu-ignored')
    return
  }
  let lma: string | null = null
  if (ev.lma !== undefined) {
    try {
      lma = canonicalIp6(ev.lma)
    } catch {
      c.inc('mtu-ignored')
      return
    }
  }
  // §6.9.5: "the adjusted tunnel MTU value ... SHOULD be notified to the impacted mobile nodes
  // by sending additional Router Advertisement messages": those whose MTU option changes.
  const before = new Map<Entry, number>()
  for (const e of c.byMn.values()) if (advertised(e).length > 0) before.set(e, mtuFor(c, e))
  if (lma !== null) c.tunnelMtu.set(lma, ev.mtu)
  if (ev.link !== undefined) c.linkMtu.set(ev.link, ev.mtu)
  if (lma === null && ev.link === undefined) c.defaultTunnelMtu = ev.mtu
  c.inc('mtu-changed')
  for (const [e, old] of before) {
    if (mtuFor(c, e) === old) continue
    c.inc('ra-sent:mtu')
    sendRa(c, e, ALL_NODES, EMPTY, false)
  }
}
