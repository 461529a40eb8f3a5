/**
 * The MAG core: a pure state machine, events in, commands out (design.md "The core is sans-IO").
 *
 * Implements RFC 5213 §6: the Binding Update List (§6.1) with one entry per attached MN, keyed
 * by MN-Identifier and chained per access link; policy profiles (§6.2, profiles.ts); initial
 * registration (§6.9.1.1), PBA processing (§6.9.1.2 items 3 and 5-15), lifetime extension
 * (§6.9.1.3, §6.13), de-registration (§6.9.1.4), retransmission and rate limiting (§6.9.4), RS
 * handling, default router and MTU (§6.9.2, §6.9.3, §6.9.5), home-link emulation (§6.7),
 * renumbering (§6.12), and the Scenario B policy switch of RFC 6612 §3.3 with local access as in
 * RFC 5213 §6.14.
 *
 * Left out, and why: items 1, 2 and 4 of §6.9.1.2 (IPsec authentication, RFC 6275 §9.2 header
 * rules, the Type 2 Routing header) belong to the daemon and the wire decoder, which hand the
 * core only authenticated, decoded PBAs; DAD itself for item 15 (the kernel runs it when the
 * daemon puts the address on the link; the core hears the outcome as a link-address event); tunnel
 * creation and reference counting (§6.10.4: the data plane, driven by forwarding-up/-down);
 * the DHCP relay (§6.11, its own package); multihoming (two interfaces of one MN on the same
 * MAG at once): one MN-ID has one entry here.
 */
import { BaStatus, canonicalIp6, HandoffIndicator, isAllZero } from '@pmip6/wire'
import { assertNever } from './assert'
import { DEFAULT_LOCAL_PREFIX_LENGTH } from './constants'
import { type Cell, Entry, F_LOCAL, F_TUNNEL, NOT_ARMED, P_DEREG, P_REFRESH, P_REG, type PacedQueue, timerKey, timerKindOf, timerOffset } from './entry'
import { HEARTBEAT_TIMER_KIND, HeartbeatMonitor } from './heartbeat'
import { onMtu, onRaTimer, onRs, onRsTimer, stopService } from './home-link'
import { onPba, statusCounter } from './pba'
import { handoffIndicatorFor } from './pbu'
import { PrefixPool } from './pool'
import { Prng } from './prng'
import { type CompiledProfile, EMPTY, macKey, macText, ProfileStore } from './profiles'
import { cancelPbu, deregister, onExpire, onPbuTimer, onPresence, onRefreshTimer, reregisterAll, startPbu } from './registration'
import { onLinkAddress, releaseRouterAddress, type RouterAddr, routerAddress } from './router-address'
import { enterLocal, onPolicy, releaseLocal, switchMode } from './scenario-b'
import { type Settings, settingsOf } from './settings'
import { TimeSlab } from './slab'
import type { AdminClearEvent, AttachedEvent, BindingErrorEvent, BindingState, BindingView, ClockSyncedEvent, DetachedEvent, ForwardingFailedEvent, HeartbeatEvent, LinkConfig, LmaHeartbeatView, MagCommand, MagCore, MagCoreConfig, MagEvent, Millis, MobilityMode, ProfilesEvent, StateTarget, TimerEvent, TimerKind } from './types'

/** Mixed into the seed for the first heartbeat sequence number (any constant will do). */
const HEARTBEAT_SEED_SALT = 0x48425453
/** Mixed into the seed of the PRNG that draws replacement link-local addresses (item 15). */
const LINK_LOCAL_SEED_SALT = 0x4c4c4131

const DETACH_REASON = { left: 'detached:left', lost: 'detached:lost', admin: 'detached:admin' } as const

export class Core implements MagCore {
  readonly s: Settings
  store: ProfileStore
  readonly byMn = new Map<string, Entry>()
  /**
   * The entry found last by MN identifier (always one that is in byMn): a refresh timer's event
   * is followed by the driver's answer to its presence question for the same MN, which then
   * costs no lookup in a 100,000-entry map (issue 8).
   */
  private lastFound: Entry | null = null
  /** Live entries by ref (Entry.ref): `byRef[e.ref] === e` tells a live entry without hashing its MN id. */
  readonly byRef: (Entry | undefined)[] = []
  /** Head of each link's chain of entries. */
  readonly byLink = new Map<string, Entry>()
  /** Per LMA: entries whose PBU awaits its PBA, and those waiting for room (FIFO, may hold stale ones). */
  readonly inFlight = new Map<string, Set<Entry>>()
  readonly paced = new Map<string, PacedQueue>()
  lastSweep = -Infinity
  /**
   * Shared link -> MAC -> entry: RSs and detaches on a shared link find their MN without a scan.
   * Keyed by the entry's own MAC text, so no key string per MN (a `link + MAC` key was 32 bytes
   * per binding, issue 8).
   */
  private readonly byLinkMac = new Map<string, Map<string, Entry>>()
  /** Outstanding PBUs by sequence number (§6.9.1.2 item 5 matching when the PBA has no MN-ID). */
  /** Indexed by the 16-bit sequence number: no hashing, 512 KiB once, whatever the number of MNs. */
  readonly bySeq: (Entry | undefined)[] = new Array<Entry | undefined>(0x10000).fill(undefined)
  /** Per-MN mode set at run time by a policy event; outlives the entry (applies to later attaches). */
  readonly overrides = new Map<string, MobilityMode>()
  /** MNs held until an administrative action (§6.9.1.2 items 6 and 7), with the reason. */
  readonly blocked = new Map<string, string>()
  clockUnsynced = false
  seqCounter: number
  readonly prng: Prng
  readonly tunnelMtu = new Map<string, number>()
  /** Tunnel MTU for LMAs without a value of their own; an mtu event without lma and link replaces it. */
  defaultTunnelMtu: number
  /** Router addresses the MAG holds on access links, by routerAddrKey(). */
  readonly routerAddrs = new Map<string, RouterAddr>()
  /** Draws replacement link-local interface identifiers (item 15); its own, so RA timing stays as it was. */
  readonly llPrng: Prng
  readonly linkMtu = new Map<string, number>()
  private readonly links: ReadonlyMap<string, LinkConfig>
  readonly pool: PrefixPool | null
  private readonly slab = new TimeSlab()
  /** Counters by name. Those a refresh bumps are also held in fields: no lookup per refresh (issue 8). */
  private readonly ctr = new Map<string, Cell>()
  readonly cPresenceQuery = this.cell('presence-query')
  readonly cPbuSent = this.cell('pbu-sent')
  readonly cPbuSentRefresh = this.cell('pbu-sent:refresh')
  readonly cPbaReceived = this.cell('pba-received')
  readonly cPbaAccepted = this.cell(statusCounter(BaStatus.ACCEPTED))
  readonly cBindingAccepted = this.cell('binding-accepted')
  /** PBUs sent by Handoff Indicator value (RFC 5213 §8.4: 0-5), for the RFC 6475 counters. */
  readonly cPbuSentByHi: readonly Cell[] = [0, 1, 2, 3, 4, 5].map((hi) => this.cell(`pbu-sent:hi:${hi}`))
  out: MagCommand[] = []
  now: Millis = 0
  /** RFC 5847 heartbeats, one peer per LMA with bindings. */
  private readonly hb: HeartbeatMonitor<Entry>

  constructor(cfg: MagCoreConfig) {
    this.s = settingsOf(cfg)
    this.store = new ProfileStore(cfg.profiles, cfg.unknownMn)
    this.seqCounter = this.s.initialSequence
    this.prng = new Prng(cfg.seed ?? 1)
    this.llPrng = new Prng((cfg.seed ?? 1) ^ LINK_LOCAL_SEED_SALT)
    this.defaultTunnelMtu = this.s.tunnelMtu
    for (const [lma, mtu] of Object.entries(cfg.lmaMtu ?? {})) this.tunnelMtu.set(canonicalIp6(lma), mtu)
    this.links = new Map(Object.entries(this.s.links))
    for (const [link, l] of this.links) if (l.mtu !== undefined) this.linkMtu.set(link, l.mtu)
    this.pool = cfg.localPool === undefined ? null : new PrefixPool(cfg.localPool, cfg.localPrefixLength ?? DEFAULT_LOCAL_PREFIX_LENGTH)
    this.hb = new HeartbeatMonitor<Entry>(
      { intervalMs: this.s.heartbeatIntervalMs, missingAllowed: this.s.heartbeatMissingThreshold, restartCounter: this.s.restartCounter, perLma: this.s.lmaHeartbeat },
      {
        emit: (c) => this.out.push(c),
        inc: (n) => this.inc(n),
        reregister: (_lma, members, why) => reregisterAll(this, members, why),
      },
      // Not from 0: a MAG restarted within the interval must not take a late answer for a new
      // request. Its own PRNG, so the RA timing drawn from `prng` is the same with or without it.
      new Prng((cfg.seed ?? 1) ^ HEARTBEAT_SEED_SALT).between(0, 0x7fffffff),
    )
  }

  // ------------------------------------------------------------------ public API

  step(ev: MagEvent): readonly MagCommand[] {
    const out: MagCommand[] = []
    this.out = out
    this.now = ev.at
    switch (ev.type) {
      case 'attached':
        this.onAttached(ev)
        break
      case 'detached':
        this.onDetached(ev)
        break
      case 'pba':
        onPba(this, ev)
        break
      case 'rs':
        onRs(this, ev)
        break
      case 'timer':
        this.onTimer(ev)
        break
      case 'presence':
        onPresence(this, ev)
        break
      case 'policy':
        onPolicy(this, ev)
        break
      case 'admin-clear':
        this.onAdminClear(ev)
        break
      case 'clock-synced':
        this.onClockSynced(ev)
        break
      case 'profiles':
        this.onProfiles(ev)
        break
      case 'mtu':
        onMtu(this, ev)
        break
      case 'forwarding-failed':
        this.onForwardingFailed(ev)
        break
      case 'heartbeat':
        this.onHeartbeat(ev)
        break
      case 'binding-error':
        this.onBindingError(ev)
        break
      case 'link-address':
        onLinkAddress(this, ev)
        break
      default:
        assertNever(ev, 'event')
    }
    return out
  }

  bindings(now?: Millis): readonly BindingView[] {
    const t = now ?? this.now
    const views: BindingView[] = []
    for (const e of this.byMn.values()) views.push(this.view(e, t))
    return views
  }

  binding(mnId: string, now?: Millis): BindingView | undefined {
    const e = this.byMn.get(mnId)
    return e === undefined ? undefined : this.view(e, now ?? this.now)
  }

  private view(e: Entry, t: Millis): BindingView {
    const network = e.mode === 'network'
    const bound = e.state === 'registered' || e.state === 'refreshing'
    return {
      mnId: e.mnId,
      link: e.link,
      state: e.state,
      reason: e.reason,
      mode: e.mode,
      lma: network && e.profile ? e.profile.lma : null,
      prefixes: bound ? e.hnps : e.state === 'local' && e.localPrefix !== null ? [e.localPrefix] : EMPTY,
      homePrefixes: e.hnps,
      lifetimeLeft: bound ? Math.max(0, Math.floor((e.expiresAt - t) / 1000)) : 0,
      grantedLifetime: e.granted,
      lastStatus: e.lastStatus < 0 ? null : e.lastStatus,
      retransmissions: e.retx,
      pending: e.pending === P_REG ? 'registration' : e.pending === P_REFRESH ? 'refresh' : e.pending === P_DEREG ? 'deregistration' : null,
      att: e.att,
      mac: e.mac === null ? null : macText(e.mac),
      hi: e.hi,
      routerAddress: routerAddress(this, e),
    }
  }

  /** How many bindings are in each state: what a status poll or a scrape needs, without a view per binding. */
  stateCounts(): Readonly<Partial<Record<BindingState, number>>> {
    const out: Partial<Record<BindingState, number>> = {}
    for (const e of this.byMn.values()) out[e.state] = (out[e.state] ?? 0) + 1
    return out
  }

  counters(): Readonly<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const [k, c] of this.ctr) if (c.n > 0) out[k] = c.n
    return out
  }

  lmas(): readonly LmaHeartbeatView[] {
    return this.hb.views()
  }

  // ------------------------------------------------------------------ plumbing

  /** byMn.get through the one-entry cache (lastFound). */
  findMn(mnId: string): Entry | undefined {
    const last = this.lastFound
    if (last !== null && last.mnId === mnId) return last
    const e = this.byMn.get(mnId)
    if (e !== undefined) this.lastFound = e
    return e
  }

  private cell(name: string): Cell {
    let c = this.ctr.get(name)
    if (c === undefined) {
      c = { n: 0 }
      this.ctr.set(name, c)
    }
    return c
  }

  /** The entry of a timer event: by its ref when it still names this MN, else by MN id. */
  private entryOf(ref: number | undefined, mnId: string): Entry | undefined {
    if (ref !== undefined && ref > 0) {
      const e = this.byRef[ref]
      if (e !== undefined && e.mnId === mnId) {
        this.lastFound = e
        return e
      }
    }
    return this.findMn(mnId)
  }

  inc(name: string): void {
    this.cell(name).n++
  }

  /**
   * Whether the entry's LMA may hold a binding made by this MAG. Every change goes through here,
   * so the heartbeat membership (RFC 5847: heartbeats run while an LMA has bindings) stays exact.
   */
  setLmaState(e: Entry, v: boolean): void {
    e.lmaState = v
    const lma = v && e.profile ? e.profile.lma : null
    if (e.hbLma === lma) return
    if (e.hbLma !== null) this.hb.remove(e.hbLma, e)
    e.hbLma = lma
    if (lma !== null) this.hb.add(lma, e, this.now)
  }

  /** The one place an entry changes state (design.md): every change is a state-changed command. */
  changeState(e: Entry, to: StateTarget, reason: string, from: BindingState | null = e.state): void {
    if (to !== 'removed') e.state = to
    e.reason = reason
    this.out.push({ type: 'state-changed', mnId: e.mnId, from, to, reason })
  }

  arm(e: Entry, kind: TimerKind, at: Millis): void {
    e.setDue(timerOffset(kind), at)
    this.out.push({ type: 'arm-timer', key: timerKey(kind, e.mnId), kind, id: e.mnId, ref: e.ref, at })
  }

  disarm(e: Entry, kind: TimerKind): void {
    const off = timerOffset(kind)
    if (e.due(off) === NOT_ARMED) return
    e.setDue(off, NOT_ARMED)
    this.out.push({ type: 'cancel-timer', key: timerKey(kind, e.mnId), kind, id: e.mnId, ref: e.ref })
  }

  linkCfg(link: string): LinkConfig | undefined {
    return this.links.size === 0 ? undefined : this.links.get(link)
  }

  isShared(link: string): boolean {
    return this.linkCfg(link)?.shared === true
  }

  private addToLink(e: Entry): void {
    e.next = this.byLink.get(e.link) ?? null
    e.prev = null
    if (e.next) e.next.prev = e
    this.byLink.set(e.link, e)
    // Point-to-point links hold one MN (two during a handoff): only shared links need the index.
    if (e.mac !== null && this.isShared(e.link)) {
      let macs = this.byLinkMac.get(e.link)
      if (macs === undefined) this.byLinkMac.set(e.link, (macs = new Map()))
      macs.set(e.mac, e)
    }
  }

  private removeFromLink(e: Entry): void {
    if (this.byLink.get(e.link) === e) {
      if (e.next) this.byLink.set(e.link, e.next)
      else this.byLink.delete(e.link)
    } else if (e.prev) {
      e.prev.next = e.next
    }
    if (e.next) e.next.prev = e.prev
    if (e.mac !== null && this.isShared(e.link)) {
      const macs = this.byLinkMac.get(e.link)
      if (macs !== undefined && macs.get(e.mac) === e) {
        macs.delete(e.mac)
        if (macs.size === 0) this.byLinkMac.delete(e.link)
      }
    }
    e.next = null
    e.prev = null
  }

  /** The MN an RS or detach on `link` is about: by MAC, else the link's only MN (point-to-point). */
  findOnLink(link: string, mac: string | null): Entry | null {
    const head = this.byLink.get(link)
    if (!head) return null
    if (mac !== null) {
      if (this.isShared(link)) return this.byLinkMac.get(link)?.get(mac) ?? null
      for (let p: Entry | null = head; p; p = p.next) if (p.mac === mac) return p
      return null
    }
    return head.next === null && !this.isShared(link) ? head : null
  }

  private effectiveMode(mnId: string, profile: CompiledProfile | null): MobilityMode {
    return this.overrides.get(mnId) ?? profile?.mode ?? 'network'
  }

  sameAddr(from: string, lma: string): boolean {
    if (from === lma) return true
    try {
      return canonicalIp6(from) === lma
    } catch {
      return false
    }
  }

  // ------------------------------------------------------------------ attach / detach

  private onAttached(ev: AttachedEvent): void {
    this.inc('attach')
    const mac = ev.llId && ev.llId.length > 0 && !isAllZero(ev.llId) ? macKey(ev.llId) : null
    if (mac === null && this.isShared(ev.link)) {
      // Without a link-layer id the MN cannot be told apart on a shared link, and an RA for it
      // would reach every station (RFC 5213 §6.3: point-to-point delivery must be emulated).
      this.inc('attach-refused:shared-link-without-llid')
      return
    }
    const resolved = this.store.resolve(ev.mnId, mac)
    // An MN switched to host mode needs no profile: it gets plain IPv6 access (RFC 5213 §6.14).
    const hostOnly = !resolved && ev.mnId !== undefined && this.overrides.get(ev.mnId) === 'host'
    if (!resolved && !hostOnly) {
      this.inc('attach-refused:no-profile')
      return
    }
    const mnId = resolved ? resolved.mnId : ev.mnId!
    const profile: CompiledProfile | null = resolved ? resolved.profile : null
    const hi = handoffIndicatorFor(ev.hint, mac !== null)
    const existing = this.byMn.get(mnId)
    if (existing) {
      const retry = existing.state === 'deregistering' || existing.state === 'failed' || (existing.state === 'denied' && !this.blocked.has(mnId))
      if (existing.link === ev.link && !retry) {
        this.inc('attach-duplicate')
        return
      }
      this.reattach(existing, ev, mac, profile, hi)
      return
    }
    const e = new Entry(this.slab, mnId, ev.link, mac, ev.att, hi, profile, this.effectiveMode(mnId, profile))
    this.byMn.set(mnId, e)
    this.byRef[e.ref] = e
    this.addToLink(e)
    this.begin(e, 'attached', null)
  }

  /**
   * The MN attached again while it still has an entry: on another link of this MAG, or on the
   * same link while its de-registration is pending (which the new registration supersedes: the
   * old PBU's sequence number no longer matches, so its PBA is ignored), or after a failure.
   */
  private reattach(e: Entry, ev: AttachedEvent, mac: string | null, profile: CompiledProfile | null, hi: number): void {
    this.inc('reattach')
    const superseding = e.state === 'deregistering'
    if (e.link !== ev.link) {
      stopService(this, e)
      releaseRouterAddress(this, e)
      this.out.push({ type: 'link-teardown', link: e.link, mnId: e.mnId, llId: e.mac === null ? null : macText(e.mac) })
    }
    // Re-linked even on the same link: the MAC (and so the link+MAC index) may have changed.
    this.removeFromLink(e)
    e.link = ev.link
    e.mac = mac
    this.addToLink(e)
    cancelPbu(this, e)
    e.att = ev.att
    e.hintHi = hi
    e.profile = profile
    e.mode = this.effectiveMode(e.mnId, profile)
    this.begin(e, superseding ? 'reattach-supersedes-deregistration' : 'reattached', e.state)
  }

  /** Decide what service a (re)attached MN gets: Scenario B, held, or a registration. */
  begin(e: Entry, reason: string, from: BindingState | null): void {
    e.failReason = null
    if (e.mode === 'host') {
      enterLocal(this, e, reason, EMPTY, from)
      return
    }
    if (this.holdIfBlocked(e, from)) return
    if (!e.profile) {
      // A host-mode-only MN asked for network mode but has no profile: keep serving it locally.
      e.mode = 'host'
      enterLocal(this, e, 'network-mode-without-profile', EMPTY, from)
      return
    }
    if (this.s.timestampBased && this.clockUnsynced) {
      this.changeState(e, 'clock-wait', 'clock-unsynchronised', from)
      return
    }
    e.req = e.hnps.length > 0 ? e.hnps : e.noProfilePrefixes ? EMPTY : e.profile.homePrefixes
    this.changeState(e, 'registering', reason, from)
    startPbu(this, e, P_REG, e.hintHi)
  }

  private holdIfBlocked(e: Entry, from: BindingState | null): boolean {
    const why = this.blocked.get(e.mnId)
    if (why === undefined) return false
    this.changeState(e, why.startsWith('pba-echo-mismatch') ? 'held' : 'denied', why, from)
    return true
  }

  private onDetached(ev: DetachedEvent): void {
    const mac = ev.llId && ev.llId.length > 0 && !isAllZero(ev.llId) ? macKey(ev.llId) : null
    const e = ev.mnId !== undefined ? (this.byMn.get(ev.mnId) ?? null) : this.findOnLink(ev.link, mac)
    // A detach from a link the MN has already left (it re-attached elsewhere on this MAG) is stale.
    if (!e || e.link !== ev.link) {
      this.inc('detach-unknown')
      return
    }
    if (e.state === 'deregistering') {
      // A de-registration after a forwarding failure would keep the entry: the MN is gone now.
      e.failReason = null
      this.inc('detach-duplicate')
      return
    }
    this.inc('detach')
    deregister(this, e, DETACH_REASON[ev.cause])
  }

  /** Removes the entry: routing state, the link, every timer, the BUL entry (§6.9.1.4 items 1-4). */
  remove(e: Entry, reason: string): void {
    stopService(this, e)
    cancelPbu(this, e)
    this.disarm(e, 'refresh')
    this.disarm(e, 'expire')
    this.disarm(e, 'ra')
    this.disarm(e, 'rs')
    releaseRouterAddress(this, e)
    this.out.push({ type: 'link-teardown', link: e.link, mnId: e.mnId, llId: e.mac === null ? null : macText(e.mac) })
    releaseLocal(this, e)
    this.removeFromLink(e)
    this.setLmaState(e, false)
    this.byMn.delete(e.mnId)
    if (this.lastFound === e) this.lastFound = null
    this.byRef[e.ref] = undefined
    e.releaseTimes()
    this.changeState(e, 'removed', reason)
  }

  // ------------------------------------------------------------------ PBU transmission

  /**
   * RFC 5213 §6.10: the data plane could not install this binding's forwarding (and rolled back
   * what it had). The binding serves nothing: its prefixes are withdrawn, the LMA's binding is
   * de-registered, and the entry ends 'failed' with the kernel's reason until the MN attaches
   * again or an admin-clear retries.
   */
  private onForwardingFailed(ev: ForwardingFailedEvent): void {
    const e = this.byMn.get(ev.mnId)
    const current = !e ? EMPTY : e.fwd === F_TUNNEL ? e.hnps : e.fwd === F_LOCAL && e.localPrefix !== null ? [e.localPrefix] : EMPTY
    // Stale: the entry is gone or no longer forwards these prefixes (it moved on since).
    if (!e || !ev.prefixes.some((p) => current.includes(p))) {
      this.inc('forwarding-failed-stale')
      return
    }
    this.inc('forwarding-failed')
    const reason = `forwarding-failed: ${ev.reason}`
    if (e.fwd === F_TUNNEL && e.lmaState && e.profile && e.mode === 'network') {
      e.failReason = reason
      e.failState = 'failed'
      deregister(this, e, reason)
      return
    }
    stopService(this, e)
    cancelPbu(this, e)
    this.changeState(e, 'failed', reason)
  }

  // ------------------------------------------------------------------ timers

  private onTimer(ev: TimerEvent): void {
    let kindText: string
    let id: string
    if (ev.kind !== undefined && ev.id !== undefined) {
      kindText = ev.kind
      id = ev.id
    } else {
      const slash = ev.key.indexOf('/')
      kindText = slash > 0 ? ev.key.slice(0, slash) : ''
      id = ev.key.slice(slash + 1)
    }
    if (kindText === HEARTBEAT_TIMER_KIND) {
      if (!this.hb.onTimer(id, ev.at)) this.inc('timer-stale')
      return
    }
    const kind = timerKindOf(kindText)
    const e = kind === null ? undefined : this.entryOf(ev.ref, id)
    if (kind === null || !e) {
      this.inc('timer-stale')
      return
    }
    const off = timerOffset(kind)
    const due = e.due(off)
    if (due === NOT_ARMED) {
      this.inc('timer-stale')
      return
    }
    if (ev.at < due) {
      // A firing of an earlier arming of this key that crossed a re-arm: the new one is pending.
      this.inc('timer-early')
      return
    }
    e.setDue(off, NOT_ARMED)
    switch (kind) {
      case 'pbu':
        onPbuTimer(this, e)
        return
      case 'refresh':
        onRefreshTimer(this, e)
        return
      case 'expire':
        onExpire(this, e)
        return
      case 'ra':
        onRaTimer(this, e)
        return
      case 'rs':
        onRsTimer(this, e)
        return
      default:
        assertNever(kind, 'timer kind')
    }
  }

  // ------------------------------------------------------------------ heartbeat (RFC 5847)

  /** The LMA a heartbeat-path message came from, canonical; null (counted) when it is no address. */
  private heartbeatPeer(addr: string): string | null {
    try {
      return canonicalIp6(addr)
    } catch {
      this.inc('heartbeat-dropped')
      this.inc('heartbeat-dropped:bad-source')
      return null
    }
  }

  private onHeartbeat(ev: HeartbeatEvent): void {
    this.inc('heartbeat-received')
    const from = this.heartbeatPeer(ev.from)
    if (from !== null) this.hb.onHeartbeat(from, ev.heartbeat, ev.at)
  }

  /** A Binding Error from an LMA: RFC 5847 §3, status 2 answers our Heartbeat (heartbeat.ts). */
  private onBindingError(ev: BindingErrorEvent): void {
    this.inc('binding-error-received')
    const from = this.heartbeatPeer(ev.from)
    if (from !== null) this.hb.onBindingError(from, ev.error.status)
  }

  // ------------------------------------------------------------------ Scenario B and policy

  private onAdminClear(ev: AdminClearEvent): void {
    this.inc('admin-clear')
    const targets: Entry[] = []
    if (ev.mnId !== undefined) {
      this.blocked.delete(ev.mnId)
      const e = this.byMn.get(ev.mnId)
      if (e) targets.push(e)
    } else {
      this.blocked.clear()
      for (const e of this.byMn.values()) targets.push(e)
    }
    for (const e of targets) {
      if (e.state === 'held' || e.state === 'denied' || e.state === 'failed') this.begin(e, 'admin-clear', e.state)
    }
  }

  private onClockSynced(_ev: ClockSyncedEvent): void {
    this.inc('clock-synced')
    this.clockUnsynced = false
    for (const e of [...this.byMn.values()]) {
      if (e.state === 'clock-wait') this.begin(e, 'clock-synced', e.state)
    }
  }

  /** A reload: later attaches use the new store; attached MNs follow their new profile. */
  private onProfiles(ev: ProfilesEvent): void {
    let store: ProfileStore
    try {
      store = new ProfileStore(ev.profiles, ev.unknownMn)
    } catch {
      // The daemon validates before it sends; a bad store never replaces a good one.
      this.inc('profiles-rejected')
      return
    }
    this.store = store
    this.inc('profiles-loaded')
    for (const e of [...this.byMn.values()]) {
      if (e.state === 'deregistering') continue
      const p = store.profileOf(e.mnId)
      const mode = this.effectiveMode(e.mnId, p)
      if (mode === 'network' && !p) {
        deregister(this, e, 'profile-removed')
        continue
      }
      if (mode !== e.mode) {
        if (p) e.profile = p
        switchMode(this, e, mode, `profile:${mode}`)
        continue
      }
      if (mode === 'network' && p && e.profile && p.lma !== e.profile.lma) {
        // A new LMA: the old binding is left to expire there; register with the new one.
        stopService(this, e)
        cancelPbu(this, e)
        e.profile = p
        e.hnps = EMPTY
        this.setLmaState(e, false)
        e.hintHi = HandoffIndicator.UNKNOWN
        this.begin(e, 'profile-lma-changed', e.state)
        continue
      }
      if (p) e.profile = p
    }
  }
}


/** Builds a MAG core. Throws RangeError or ProfileError on a bad configuration. */
export function createMagCore(cfg: MagCoreConfig): MagCore {
  return new Core(cfg)
}
