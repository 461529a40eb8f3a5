/**
 * The MAG core: a pure state machine, events in, commands out (design.md "The core is sans-IO").
 *
 * Implements RFC 5213 §6. This file holds the state (the Binding Update List of §6.1 and its
 * indexes, counters, settings), the public API and the event dispatch; the rules live in one
 * file per section, each taking this class as a MagContext (context.ts):
 *   bul.ts            §6.1, §6.9.1.1 trigger, §6.9.1.4 removal, §6.10 failures, admin actions
 *   registration.ts   §6.9.1.1, §6.9.1.3, §6.9.1.4, §6.9.4, §6.13; RFC 6275 §9.5.1, §11.7.3
 *   pba.ts            §6.9.1.2: PBA matching and every status
 *   home-link.ts      §6.6-§6.7, §6.9.2, §6.9.3, §6.9.5, §6.12: RAs, RS, prefix lifetimes, MTU
 *   router-address.ts §6.8, §6.9.1.2 item 15: the link-local router address
 *   scenario-b.ts     RFC 6612 §3.3, RFC 5213 §6.14: host mode
 *   heartbeat.ts      RFC 5847
 *   ipv4.ts           RFC 5844 §3.2-3.4, RFC 5845 §3: IPv4 home addresses, GRE keys
 * Speed devices stay in named helpers: entry.ts (TimeSlab-backed entries), inflight.ts (the
 * per-LMA window), pool.ts, slab.ts, text.ts.
 *
 * Left out, and why: items 1, 2 and 4 of §6.9.1.2 (IPsec authentication, RFC 6275 §9.2 header
 * rules, the Type 2 Routing header) belong to the daemon and the wire decoder, which hand the
 * core only authenticated, decoded PBAs; DAD itself for item 15 (the kernel runs it when the
 * daemon puts the address on the link; the core hears the outcome as a link-address event); tunnel
 * creation and reference counting (§6.10.4: the data plane, driven by forwarding-up/-down);
 * the DHCP relay (§6.11, its own package); multihoming (two interfaces of one MN on the same
 * MAG at once): one MN-ID has one entry here.
 */
import { BaStatus, canonicalIp6 } from '@pmip6/wire'
import { assertNever } from './assert'
import { onAdminClear, onAttached, onClockSynced, onDetached, onForwardingFailed, onProfiles } from './bul'
import { DEFAULT_LOCAL_PREFIX_LENGTH } from './constants'
import { type Cell, type Entry, NOT_ARMED, P_DEREG, P_REFRESH, P_REG, type PacedQueue, timerKey, timerKindOf, timerOffset } from './entry'
import { HEARTBEAT_TIMER_KIND, HeartbeatMonitor } from './heartbeat'
import { onMtu, onRaTimer, onRs, onRsTimer } from './home-link'
import { onPba, statusCounter } from './pba'
import { PrefixPool } from './pool'
import { Prng } from './prng'
import { type CompiledProfile, EMPTY, macText, ProfileStore } from './profiles'
import { onExpire, onPbuTimer, onPresence, onRefreshTimer, reregisterAll } from './registration'
import { onLinkAddress, type RouterAddr, routerAddress } from './router-address'
import { onPolicy } from './scenario-b'
import { type Settings, settingsOf } from './settings'
import { TimeSlab } from './slab'
import { greKeysOf, onIpv4Requested, sessionStack } from './ipv4'
import type { BindingErrorEvent, BindingPage, BindingState, BindingView, HeartbeatEvent, LinkConfig, LmaHeartbeatView, MagCommand, MagCore, MagCoreConfig, MagEvent, Millis, MobilityMode, StateTarget, TimerEvent, TimerKind } from './types'

/** Mixed into the seed for the first heartbeat sequence number (any constant will do). */
const HEARTBEAT_SEED_SALT = 0x48425453
/** Mixed into the seed of the PRNG that draws replacement link-local addresses (item 15). */
const LINK_LOCAL_SEED_SALT = 0x4c4c4131

export class Core implements MagCore {
  readonly s: Settings
  store: ProfileStore
  readonly byMn = new Map<string, Entry>()
  /**
   * The entry found last by MN identifier (always one that is in byMn): a refresh timer's event
   * is followed by the driver's answer to its presence question for the same MN, which then
   * costs no lookup in a 100,000-entry map (issue 8).
   */
  lastFound: Entry | null = null
  /** Live entries by ref (Entry.ref): `byRef[e.ref] === e` tells a live entry without hashing its MN id. */
  readonly byRef: (Entry | undefined)[] = []
  /** Listed entries per state, kept as they change: `status` and every scrape read it in O(1) (issue 23). */
  private readonly perState: Record<BindingState, number> = { registering: 0, registered: 0, refreshing: 0, deregistering: 0, held: 0, denied: 0, 'clock-wait': 0, failed: 0, local: 0 }
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
  readonly byLinkMac = new Map<string, Map<string, Entry>>()
  /** Outstanding PBUs by sequence number (§6.9.1.2 item 5 matching when the PBA has no MN-ID). */
  /** Indexed by the 16-bit sequence number: no hashing, 512 KiB once, whatever the number of MNs. */
  readonly bySeq: (Entry | undefined)[] = new Array<Entry | undefined>(0x10000).fill(undefined)
  /** Per-MN mode set at run time by a policy event; outlives the entry (applies to later attaches). */
  readonly overrides = new Map<string, MobilityMode>()
  /** MNs held until an administrative action (§6.9.1.2 items 6 and 7), with the reason. */
  readonly blocked = new Map<string, string>()
  /**
   * Home network prefixes whose forwarding is installed, by the entry that holds them: RFC 5213
   * §2.2 supports only the Per-MN-Prefix model, so a prefix the LMA grants one MN is no longer
   * another's (pba.ts, prefixReassigned).
   */
  readonly hnpOwner = new Map<string, Entry>()
  clockUnsynced = false
  seqCounter: number
  readonly prng: Prng
  readonly tunnelMtu = new Map<string, number>()
  /** Tunnel MTU for LMAs without a value of their own; an mtu event without lma and link replaces it. */
  defaultTunnelMtu: number
  /** Router addresses the MAG holds on access links, by routerAddrKey(). */
  readonly routerAddrs = new Map<string, RouterAddr>()
  /** RFC 5845: downlink GRE keys held by bindings of this MAG, and where the next search starts. */
  readonly greUsed = new Set<number>()
  greNext = 1
  /** Draws replacement link-local interface identifiers (item 15); its own, so RA timing stays as it was. */
  readonly llPrng: Prng
  readonly linkMtu = new Map<string, number>()
  private readonly links: ReadonlyMap<string, LinkConfig>
  readonly pool: PrefixPool | null
  readonly slab = new TimeSlab()
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
        onAttached(this, ev)
        break
      case 'detached':
        onDetached(this, ev)
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
        onAdminClear(this, ev)
        break
      case 'clock-synced':
        onClockSynced(this, ev)
        break
      case 'profiles':
        onProfiles(this, ev)
        break
      case 'mtu':
        onMtu(this, ev)
        break
      case 'forwarding-failed':
        onForwardingFailed(this, ev)
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
      case 'ipv4-requested':
        onIpv4Requested(this, ev)
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

  /**
   * A page of the list (issue 23: a million entries are never listed in one go). The cursor is
   * an entry's ref, its slot number, which it keeps for as long as it lives: walking the slots
   * in order lists every entry that lives through the walk exactly once; one that comes or goes
   * meanwhile is listed once or not at all. `maxSlots` bounds the slots looked at, free ones
   * included (after a detach storm most are): the page may then come back short, or empty, with
   * a `next` to go on from.
   */
  bindingsPage(after: number, limit: number, now?: Millis, maxSlots = Infinity): BindingPage {
    const t = now ?? this.now
    const refs = this.byRef
    const views: BindingView[] = []
    let i = Math.max(1, Math.floor(after) + 1)
    const end = Math.min(refs.length, i + maxSlots)
    for (; i < end && views.length < limit; i++) {
      const e = refs[i]
      if (e !== undefined) views.push(this.view(e, t))
    }
    // Past the free slots at the end, so the last page says so.
    while (i < end && refs[i] === undefined) i++
    return { bindings: views, next: i < refs.length ? i - 1 : null }
  }

  bindingCount(): number {
    return this.byMn.size
  }

  /** An entry joins the list (its MN identifier, its ref, the count of its state). */
  enlist(e: Entry): void {
    this.byMn.set(e.mnId, e)
    this.byRef[e.ref] = e
    this.perState[e.state]++
  }

  /** An entry leaves the list. */
  delist(e: Entry): void {
    this.byMn.delete(e.mnId)
    if (this.lastFound === e) this.lastFound = null
    this.byRef[e.ref] = undefined
    this.perState[e.state]--
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
      stack: e.profile ? sessionStack(e) : 'ipv6',
      ipv4Address: bound && e.v4Fwd !== null ? `${e.v4Fwd}/${e.v4Len}` : null,
      ipv4Router: bound && e.v4Fwd !== null ? e.v4Router : null,
      ipv4Reason: e.v4Reason,
      ipv4Requested: e.v4Asked === null ? null : { address: e.v4Asked, outcome: e.v4AskedOutcome },
      greKeys: greKeysOf(e),
    }
  }

  /** How many bindings are in each state: what a status poll or a scrape needs, without a view per binding. */
  stateCounts(): Readonly<Partial<Record<BindingState, number>>> {
    const out: Partial<Record<BindingState, number>> = {}
    for (const k in this.perState) {
      const n = this.perState[k as BindingState]
      if (n > 0) out[k as BindingState] = n
    }
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
    if (to !== 'removed' && to !== e.state) {
      // A listed entry moves between the counts; a removed one left them in delist().
      if (this.byRef[e.ref] === e) {
        this.perState[e.state]--
        this.perState[to]++
      }
      e.state = to
    }
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

  effectiveMode(mnId: string, profile: CompiledProfile | null): MobilityMode {
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
}

/** Builds a MAG core. Throws RangeError or ProfileError on a bad configuration. */
export function createMagCore(cfg: MagCoreConfig): MagCore {
  return new Core(cfg)
}
