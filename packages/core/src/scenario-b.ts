/**
 * Scenario B of RFC 6612 §3.3: a policy switches an attached MN between network-based mobility
 * (RFC 5213) and host mode, where it gets a topologically correct local prefix routed natively
 * (local access, RFC 5213 §6.14) and runs Mobile IPv6 itself. The switch never takes its link.
 */
import { HandoffIndicator } from '@pmip6/wire'
import { begin } from './bul'
import { ALL_NODES } from './constants'
import type { MagContext } from './context'
import { type Entry, F_LOCAL, P_DEREG } from './entry'
import { advertised, sendRa, startAdvertising, stopService, stopTimersAndForwarding } from './home-link'
import { cancelPbu, startPbu } from './registration'
import { routerStays } from './router-address'
import type { BindingState, MobilityMode, PolicyEvent } from './types'

export function releaseLocal(c: MagContext, e: Entry): void {
  if (e.localIdx >= 0 && c.pool) c.pool.release(e.localIdx)
  e.localIdx = -1
  e.localPrefix = null
}

/**
 * RFC 6612 §3.3 / RFC 5213 §6.14: a host-mode MN gets a topologically correct local prefix
 * (the link's, or one carved for it from the local pool), routed natively, so it detects the
 * movement and runs Mobile IPv6 itself. `withdrawn` home prefixes go out with zero lifetimes
 * in the same RA, so the switch costs the MN one RA and never its link.
 */
export function enterLocal(c: MagContext, e: Entry, reason: string, withdrawn: readonly string[], from: BindingState | null = e.state): void {
  e.mode = 'host'
  if (e.localPrefix === null) {
    const fixed = c.linkCfg(e.link)?.localPrefix
    if (fixed !== undefined) e.localPrefix = fixed
    else if (c.pool) {
      const i = c.pool.allocate()
      if (i >= 0) {
        e.localIdx = i
        e.localPrefix = c.pool.prefixText(i)
      }
    }
  }
  if (e.localPrefix === null) c.inc('local-prefix-unavailable')
  c.changeState(e, 'local', e.localPrefix === null ? `${reason}:no-local-prefix` : reason, from)
  if (e.localPrefix !== null) {
    c.out.push({ type: 'forwarding-up', mnId: e.mnId, link: e.link, prefixes: [e.localPrefix], mode: 'local', lma: null })
    e.fwd = F_LOCAL
    startAdvertising(c, e, withdrawn)
  } else if (withdrawn.length > 0 || e.routerUp) {
    sendRa(c, e, ALL_NODES, withdrawn, true)
    e.routerUp = false
  }
}

export function onPolicy(c: MagContext, ev: PolicyEvent): void {
  c.overrides.set(ev.mnId, ev.mode)
  const e = c.byMn.get(ev.mnId)
  if (!e) {
    c.inc('policy-stored')
    return
  }
  if (e.state === 'deregistering' || e.mode === ev.mode) {
    // Gone from the link, or nothing to change: the override applies at the next attach.
    c.inc('policy-stored')
    return
  }
  c.inc(`policy-switch:${ev.mode}`)
  switchMode(c, e, ev.mode, `policy:${ev.mode}`)
}

/** Flips an attached MN between PMIPv6 and Scenario B without losing it (no link teardown). */
export function switchMode(c: MagContext, e: Entry, mode: MobilityMode, reason: string): void {
  if (mode === 'host') {
    // network -> host: withdraw the home prefixes, de-register, advertise the local prefix.
    const withdrawn = advertised(e)
    stopTimersAndForwarding(c, e)
    cancelPbu(c, e)
    if (e.lmaState && e.profile) startPbu(c, e, P_DEREG, HandoffIndicator.UNKNOWN)
    enterLocal(c, e, reason, withdrawn)
    return
  }
  // host -> network: withdraw the local prefix, register, advertise the HNP once accepted.
  e.profile ??= c.store.profileOf(e.mnId)
  if (e.routerUp && routerStays(c, e)) {
    // RFC 4861 §6.2.5 sends router lifetime 0 only for a router that goes. This one stays (same
    // address in both modes, §6.9.3): the local prefix goes with zero lifetimes, the default
    // route stays, so the MN keeps it until the HNP RA follows the PBA. If no binding comes of
    // it, stopService() still sends the router lifetime 0.
    const withdrawn = advertised(e)
    stopTimersAndForwarding(c, e)
    releaseLocal(c, e)
    sendRa(c, e, ALL_NODES, withdrawn, false)
  } else {
    stopService(c, e)
    releaseLocal(c, e)
  }
  e.mode = 'network'
  e.hintHi = HandoffIndicator.UNKNOWN
  begin(c, e, reason, e.state)
}
