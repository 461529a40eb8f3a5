/**
 * The MAG's link-local router address, RFC 5213 §6.8, §6.9.3 and §6.9.1.2 item 15: fixed on every
 * MAG, or the one the LMA gives per MN (ALL_ZERO in a PBA means none), put on the access link
 * before an RA comes from it, and replaced when DAD finds it in use.
 *
 * Left out: DAD itself (the kernel runs it; the core hears a link-address event).
 */
import { canonicalIp6, formatIp6, HandoffIndicator, isAllZero } from '@pmip6/wire'
import { assertNever } from './assert'
import { UNSPECIFIED } from './constants'
import type { MagContext } from './context'
import { type Entry, P_REFRESH } from './entry'
import { advertised, startAdvertising, stopService } from './home-link'
import { EMPTY } from './profiles'
import { cancelPbu, deregister, startPbu } from './registration'
import type { LinkAddressEvent } from './types'

/**
 * Replacement link-local addresses tried for one MN after DAD found the previous one in use
 * (RFC 5213 §6.9.1.2 item 15 says "a different" one; a bound, so a link where every address
 * collides ends in a visible failure instead of a loop).
 */
export const MAX_LINK_LOCAL_REPLACEMENTS = 3

/**
 * A link-local router address the MAG puts on an access link for the MNs there (RFC 5213 §6.8,
 * §6.9.1.2 item 15), shared by every entry that advertises from it and removed after the last.
 */
export interface RouterAddr {
  readonly link: string
  readonly address: string
  users: number
  /** The link-address event said ready: RAs may come from it. */
  ready: boolean
}

/** Key of a router address on a link (interface names hold no spaces). */
export const routerAddrKey = (link: string, address: string): string => `${link} ${address}`

/**
 * The router address after a switch to network mode is the one the MN has now: fixed on every
 * access link (§6.9.3), or the one the LMA already gave for this MN, which it keeps for the
 * mobility session (§6.8). Otherwise the PBA may bring a new one (§6.9.1.2 item 15).
 */
export function routerStays(c: MagContext, e: Entry): boolean {
  return c.s.fixedLinkLocal !== null || e.lla !== null
}

/** RFC 5213 §6.9.3: the same link-local address on every MAG, or the one the LMA gave (§6.8). */
export function routerAddress(c: MagContext, e: Entry): string {
  return c.s.fixedLinkLocal ?? e.lla ?? c.linkCfg(e.link)?.linkLocal ?? UNSPECIFIED
}

/**
 * RFC 5213 §6.8, §6.9.1.2 item 15: the LMA-supplied link-local address must be on the MN's
 * access link before an RA comes from it. The entry takes a reference on (link, address); the
 * first one asks the daemon to configure it (link-address-up), the last one to remove it.
 * A fixed link-local address (or a link's configured one) is the operator's to configure.
 */
export function holdRouterAddress(c: MagContext, e: Entry): void {
  const want = c.s.fixedLinkLocal === null && e.lla !== null ? routerAddrKey(e.link, e.lla) : null
  if (want === e.llaKey) return
  const wasAdvertising = e.llaKey === null ? false : routerReady(c, e) && advertised(e).length > 0
  releaseRouterAddress(c, e)
  if (want === null) return
  let r = c.routerAddrs.get(want)
  if (r === undefined) {
    r = { link: e.link, address: e.lla!, users: 0, ready: false }
    c.routerAddrs.set(want, r)
    c.out.push({ type: 'link-address-up', link: r.link, address: r.address })
  }
  r.users++
  e.llaKey = want
  // The LMA named another address while the MN was served: advertise again once it is up.
  if (!r.ready && wasAdvertising) e.raWait = true
}

export function releaseRouterAddress(c: MagContext, e: Entry): void {
  const key = e.llaKey
  if (key === null) return
  e.llaKey = null
  e.raWait = false
  const r = c.routerAddrs.get(key)
  if (r === undefined) return
  if (--r.users > 0) return
  c.routerAddrs.delete(key)
  c.out.push({ type: 'link-address-down', link: r.link, address: r.address })
}

/** RAs may come from the entry's router address: nothing to configure, or it is on the link. */
export function routerReady(c: MagContext, e: Entry): boolean {
  if (c.s.fixedLinkLocal !== null || e.lla === null) return true
  return e.llaKey !== null && c.routerAddrs.get(e.llaKey)?.ready === true
}

export function onLinkAddress(c: MagContext, ev: LinkAddressEvent): void {
  let address: string
  try {
    address = canonicalIp6(ev.address)
  } catch {
    c.inc('link-address-stale')
    return
  }
  const key = routerAddrKey(ev.link, address)
  const r = c.routerAddrs.get(key)
  // Released meanwhile (the daemon runs the down after it), or a repeat.
  if (r === undefined || r.ready) {
    c.inc('link-address-stale')
    return
  }
  const users: Entry[] = []
  for (let p = c.byLink.get(ev.link) ?? null; p; p = p.next) if (p.llaKey === key) users.push(p)
  switch (ev.result) {
    case 'ready':
      c.inc('link-address-ready')
      r.ready = true
      for (const e of users) {
        e.llaTries = 0
        if (!e.raWait) continue
        e.raWait = false
        if (advertised(e).length > 0) startAdvertising(c, e, EMPTY)
      }
      return
    case 'duplicate':
      // The daemon took the address off again: nobody holds it any more.
      c.inc('link-address-duplicate')
      c.routerAddrs.delete(key)
      for (const e of users) {
        e.llaKey = null
        replaceLinkLocal(c, e, address)
      }
      return
    case 'failed':
      c.inc('link-address-failed')
      c.routerAddrs.delete(key)
      for (const e of users) {
        e.llaKey = null
        routerAddressFailed(c, e, `router-address-failed: ${ev.reason ?? 'refused by the kernel'}`)
      }
      return
    default:
      assertNever(ev.result, 'link-address result')
  }
}

/**
 * Item 15: the LMA's link-local address is in use on the link (the MN has it): the MAG "MUST NOT
 * use that address, but SHOULD configure a different link-local address" and upload it to the
 * LMA in a PBU at once, so the next MAG of a handoff gets the one in use.
 */
function replaceLinkLocal(c: MagContext, e: Entry, bad: string): void {
  e.badLla = bad
  if (e.llaTries >= MAX_LINK_LOCAL_REPLACEMENTS) {
    routerAddressFailed(c, e, 'router-address-in-use')
    return
  }
  e.llaTries++
  e.lla = randomLinkLocal(c)
  holdRouterAddress(c, e)
  e.raWait = true
  if (e.mode === 'network' && e.profile && (e.state === 'registered' || e.state === 'refreshing')) {
    c.inc('link-local-replaced')
    c.changeState(e, 'refreshing', 'router-address-in-use')
    startPbu(c, e, P_REFRESH, HandoffIndicator.NOT_CHANGED)
  }
}

/** fe80::/64 with a random, non-zero interface identifier (RFC 4291 §2.5.6, RFC 7136). */
function randomLinkLocal(c: MagContext): string {
  const b = Buffer.alloc(16)
  b[0] = 0xfe
  b[1] = 0x80
  do {
    b.writeUInt32BE(Math.floor(c.llPrng.next() * 0x1_0000_0000), 8)
    b.writeUInt32BE(Math.floor(c.llPrng.next() * 0x1_0000_0000), 12)
  } while (isAllZero(b.subarray(8)))
  return formatIp6(b)
}

/**
 * The router address cannot be had: without RAs the binding serves nothing (as a forwarding
 * failure, §6.10): it is de-registered and the entry ends 'failed' with the reason.
 */
function routerAddressFailed(c: MagContext, e: Entry, reason: string): void {
  if (e.lmaState && e.profile && e.mode === 'network' && e.state !== 'deregistering') {
    e.failReason = reason
    deregister(c, e, reason)
    return
  }
  stopService(c, e)
  cancelPbu(c, e)
  c.changeState(e, 'failed', reason)
}
