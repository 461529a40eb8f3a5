/**
 * The Binding Update List, RFC 5213 §6.1: entries made on attach (the trigger of §6.9.1.1, HI from
 * the attach hint, §5.4.1), indexed by link and MAC, removed on detach (§6.9.1.4 items 1-4, §6.13);
 * forwarding failures (§6.10), administrative actions, clock synchronisation (§6.9.1.2 item 9)
 * and profile reloads (§6.2).
 */
import { HandoffIndicator, isAllZero } from '@pmip6/wire'
import type { MagContext } from './context'
import { Entry, F_LOCAL, F_TUNNEL, P_REG } from './entry'
import { stopService } from './home-link'
import { handoffIndicatorFor } from './pbu'
import { type CompiledProfile, EMPTY, macKey, macText, ProfileStore } from './profiles'
import { cancelPbu, deregister, startPbu } from './registration'
import { releaseRouterAddress } from './router-address'
import { enterLocal, releaseLocal, switchMode } from './scenario-b'
import type { AdminClearEvent, AttachedEvent, BindingState, ClockSyncedEvent, DetachedEvent, ForwardingFailedEvent, ProfilesEvent } from './types'

const DETACH_REASON = { left: 'detached:left', lost: 'detached:lost', admin: 'detached:admin' } as const

function addToLink(c: MagContext, e: Entry): void {
  e.next = c.byLink.get(e.link) ?? null
  e.prev = null
  if (e.next) e.next.prev = e
  c.byLink.set(e.link, e)
  // Point-to-point links hold one MN (two during a handoff): only shared links need the index.
  if (e.mac !== null && c.isShared(e.link)) {
    let macs = c.byLinkMac.get(e.link)
    if (macs === undefined) c.byLinkMac.set(e.link, (macs = new Map()))
    macs.set(e.mac, e)
  }
}

function removeFromLink(c: MagContext, e: Entry): void {
  if (c.byLink.get(e.link) === e) {
    if (e.next) c.byLink.set(e.link, e.next)
    else c.byLink.delete(e.link)
  } else if (e.prev) {
    e.prev.next = e.next
  }
  if (e.next) e.next.prev = e.prev
  if (e.mac !== null && c.isShared(e.link)) {
    const macs = c.byLinkMac.get(e.link)
    if (macs !== undefined && macs.get(e.mac) === e) {
      macs.delete(e.mac)
      if (macs.size === 0) c.byLinkMac.delete(e.link)
    }
  }
  e.next = null
  e.prev = null
}

/** The MN an RS or detach on `link` is about: by MAC, else the link's only MN (point-to-point). */
export function findOnLink(c: MagContext, link: string, mac: string | null): Entry | null {
  const head = c.byLink.get(link)
  if (!head) return null
  if (mac !== null) {
    if (c.isShared(link)) return c.byLinkMac.get(link)?.get(mac) ?? null
    for (let p: Entry | null = head; p; p = p.next) if (p.mac === mac) return p
    return null
  }
  return head.next === null && !c.isShared(link) ? head : null
}

export function onAttached(c: MagContext, ev: AttachedEvent): void {
  c.inc('attach')
  const mac = ev.llId && ev.llId.length > 0 && !isAllZero(ev.llId) ? macKey(ev.llId) : null
  if (mac === null && c.isShared(ev.link)) {
    // Without a link-layer id the MN cannot be told apart on a shared link, and an RA for it
    // would reach every station (RFC 5213 §6.3: point-to-point delivery must be emulated).
    c.inc('attach-refused:shared-link-without-llid')
    return
  }
  const resolved = c.store.resolve(ev.mnId, mac)
  // An MN switched to host mode needs no profile: it gets plain IPv6 access (RFC 5213 §6.14).
  const hostOnly = !resolved && ev.mnId !== undefined && c.overrides.get(ev.mnId) === 'host'
  if (!resolved && !hostOnly) {
    c.inc('attach-refused:no-profile')
    return
  }
  const mnId = resolved ? resolved.mnId : ev.mnId!
  const profile: CompiledProfile | null = resolved ? resolved.profile : null
  const hi = handoffIndicatorFor(ev.hint, mac !== null)
  const existing = c.byMn.get(mnId)
  if (existing) {
    const retry = existing.state === 'deregistering' || existing.state === 'failed' || (existing.state === 'denied' && !c.blocked.has(mnId))
    if (existing.link === ev.link && !retry) {
      c.inc('attach-duplicate')
      return
    }
    reattach(c, existing, ev, mac, profile, hi)
    return
  }
  const e = new Entry(c.slab, mnId, ev.link, mac, ev.att, hi, profile, c.effectiveMode(mnId, profile))
  c.byMn.set(mnId, e)
  c.byRef[e.ref] = e
  addToLink(c, e)
  begin(c, e, 'attached', null)
}

/**
 * The MN attached again while it still has an entry: on another link of this MAG, or on the
 * same link while its de-registration is pending (which the new registration supersedes: the
 * old PBU's sequence number no longer matches, so its PBA is ignored), or after a failure.
 */
function reattach(c: MagContext, e: Entry, ev: AttachedEvent, mac: string | null, profile: CompiledProfile | null, hi: number): void {
  c.inc('reattach')
  const superseding = e.state === 'deregistering'
  if (e.link !== ev.link) {
    stopService(c, e)
    releaseRouterAddress(c, e)
    c.out.push({ type: 'link-teardown', link: e.link, mnId: e.mnId, llId: e.mac === null ? null : macText(e.mac) })
  }
  // Re-linked even on the same link: the MAC (and so the link+MAC index) may have changed.
  removeFromLink(c, e)
  e.link = ev.link
  e.mac = mac
  addToLink(c, e)
  cancelPbu(c, e)
  e.att = ev.att
  e.hintHi = hi
  e.profile = profile
  e.mode = c.effectiveMode(e.mnId, profile)
  begin(c, e, superseding ? 'reattach-supersedes-deregistration' : 'reattached', e.state)
}

/** Decide what service a (re)attached MN gets: Scenario B, held, or a registration. */
export function begin(c: MagContext, e: Entry, reason: string, from: BindingState | null): void {
  e.failReason = null
  if (e.mode === 'host') {
    enterLocal(c, e, reason, EMPTY, from)
    return
  }
  if (holdIfBlocked(c, e, from)) return
  if (!e.profile) {
    // A host-mode-only MN asked for network mode but has no profile: keep serving it locally.
    e.mode = 'host'
    enterLocal(c, e, 'network-mode-without-profile', EMPTY, from)
    return
  }
  if (c.s.timestampBased && c.clockUnsynced) {
    c.changeState(e, 'clock-wait', 'clock-unsynchronised', from)
    return
  }
  e.req = e.hnps.length > 0 ? e.hnps : e.noProfilePrefixes ? EMPTY : e.profile.homePrefixes
  c.changeState(e, 'registering', reason, from)
  startPbu(c, e, P_REG, e.hintHi)
}

function holdIfBlocked(c: MagContext, e: Entry, from: BindingState | null): boolean {
  const why = c.blocked.get(e.mnId)
  if (why === undefined) return false
  c.changeState(e, why.startsWith('pba-echo-mismatch') ? 'held' : 'denied', why, from)
  return true
}

export function onDetached(c: MagContext, ev: DetachedEvent): void {
  const mac = ev.llId && ev.llId.length > 0 && !isAllZero(ev.llId) ? macKey(ev.llId) : null
  const e = ev.mnId !== undefined ? (c.byMn.get(ev.mnId) ?? null) : findOnLink(c, ev.link, mac)
  // A detach from a link the MN has already left (it re-attached elsewhere on this MAG) is stale.
  if (!e || e.link !== ev.link) {
    c.inc('detach-unknown')
    return
  }
  if (e.state === 'deregistering') {
    // A de-registration after a forwarding failure would keep the entry: the MN is gone now.
    e.failReason = null
    c.inc('detach-duplicate')
    return
  }
  c.inc('detach')
  deregister(c, e, DETACH_REASON[ev.cause])
}

/** Removes the entry: routing state, the link, every timer, the BUL entry (§6.9.1.4 items 1-4). */
export function remove(c: MagContext, e: Entry, reason: string): void {
  stopService(c, e)
  cancelPbu(c, e)
  c.disarm(e, 'refresh')
  c.disarm(e, 'expire')
  c.disarm(e, 'ra')
  c.disarm(e, 'rs')
  releaseRouterAddress(c, e)
  c.out.push({ type: 'link-teardown', link: e.link, mnId: e.mnId, llId: e.mac === null ? null : macText(e.mac) })
  releaseLocal(c, e)
  removeFromLink(c, e)
  c.setLmaState(e, false)
  c.byMn.delete(e.mnId)
  if (c.lastFound === e) c.lastFound = null
  c.byRef[e.ref] = undefined
  e.releaseTimes()
  c.changeState(e, 'removed', reason)
}

/**
 * RFC 5213 §6.10: the data plane could not install this binding's forwarding (and rolled back
 * what it had). The binding serves nothing: its prefixes are withdrawn, the LMA's binding is
 * de-registered, and the entry ends 'failed' with the kernel's reason until the MN attaches
 * again or an admin-clear retries.
 */
export function onForwardingFailed(c: MagContext, ev: ForwardingFailedEvent): void {
  const e = c.byMn.get(ev.mnId)
  const current = !e ? EMPTY : e.fwd === F_TUNNEL ? e.hnps : e.fwd === F_LOCAL && e.localPrefix !== null ? [e.localPrefix] : EMPTY
  // Stale: the entry is gone or no longer forwards these prefixes (it moved on since).
  if (!e || !ev.prefixes.some((p) => current.includes(p))) {
    c.inc('forwarding-failed-stale')
    return
  }
  c.inc('forwarding-failed')
  const reason = `forwarding-failed: ${ev.reason}`
  if (e.fwd === F_TUNNEL && e.lmaState && e.profile && e.mode === 'network') {
    e.failReason = reason
    e.failState = 'failed'
    deregister(c, e, reason)
    return
  }
  stopService(c, e)
  cancelPbu(c, e)
  c.changeState(e, 'failed', reason)
}

export function onAdminClear(c: MagContext, ev: AdminClearEvent): void {
  c.inc('admin-clear')
  const targets: Entry[] = []
  if (ev.mnId !== undefined) {
    c.blocked.delete(ev.mnId)
    const e = c.byMn.get(ev.mnId)
    if (e) targets.push(e)
  } else {
    c.blocked.clear()
    for (const e of c.byMn.values()) targets.push(e)
  }
  for (const e of targets) {
    if (e.state === 'held' || e.state === 'denied' || e.state === 'failed') begin(c, e, 'admin-clear', e.state)
  }
}

export function onClockSynced(c: MagContext, _ev: ClockSyncedEvent): void {
  c.inc('clock-synced')
  c.clockUnsynced = false
  for (const e of [...c.byMn.values()]) {
    if (e.state === 'clock-wait') begin(c, e, 'clock-synced', e.state)
  }
}

/** A reload: later attaches use the new store; attached MNs follow their new profile. */
export function onProfiles(c: MagContext, ev: ProfilesEvent): void {
  let store: ProfileStore
  try {
    store = new ProfileStore(ev.profiles, ev.unknownMn)
  } catch {
    // The daemon validates before it sends; a bad store never replaces a good one.
    c.inc('profiles-rejected')
    return
  }
  c.store = store
  c.inc('profiles-loaded')
  for (const e of [...c.byMn.values()]) {
    if (e.state === 'deregistering') continue
    const p = store.profileOf(e.mnId)
    const mode = c.effectiveMode(e.mnId, p)
    if (mode === 'network' && !p) {
      deregister(c, e, 'profile-removed')
      continue
    }
    if (mode !== e.mode) {
      if (p) e.profile = p
      switchMode(c, e, mode, `profile:${mode}`)
      continue
    }
    if (mode === 'network' && p && e.profile && p.lma !== e.profile.lma) {
      // A new LMA: the old binding is left to expire there; register with the new one.
      stopService(c, e)
      cancelPbu(c, e)
      e.profile = p
      e.hnps = EMPTY
      c.setLmaState(e, false)
      e.hintHi = HandoffIndicator.UNKNOWN
      begin(c, e, 'profile-lma-changed', e.state)
      continue
    }
    if (p) e.profile = p
  }
}
