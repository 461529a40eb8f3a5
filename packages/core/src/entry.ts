/**
 * One Binding Update List entry (RFC 5213 §6.1) and its timers: the entry's fields, its times in
 * the shared TimeSlab (a speed device, issue 8), and the timer kinds and keys the core arms.
 */
import { assertNever } from './assert'
import { INITIAL_BINDACK_TIMEOUT_MS, MAX_UPDATE_RATE } from './constants'
import { type CompiledProfile, EMPTY } from './profiles'
import { STRIDE, type TimeSlab } from './slab'
import type { BindingState, MobilityMode, TimerKind } from './types'

// What PBU an entry has outstanding.
export const P_NONE = 0
export const P_REG = 1
export const P_REFRESH = 2
export const P_DEREG = 3
export type PendingKind = typeof P_NONE | typeof P_REG | typeof P_REFRESH | typeof P_DEREG

// Where the outstanding PBU is in its life; the 'pbu' timer means something different in each.
export const PH_IDLE = 0
export const PH_DEFERRED = 1 // rate-limited (§6.9.4): timer = when it may go
export const PH_SENT = 2 // timer = retransmission (or de-registration) timeout
export const PH_PRESENCE = 3 // asked whether the MN is still there before retransmitting; timer = guard
export const PH_REFRESH_PRESENCE = 4 // asked before extending the lifetime (§6.13); timer = guard
export const PH_PACED = 5 // waiting for room in its LMA's in-flight window; no timer
export type Phase = typeof PH_IDLE | typeof PH_DEFERRED | typeof PH_SENT | typeof PH_PRESENCE | typeof PH_REFRESH_PRESENCE | typeof PH_PACED

/** FIFO of entries waiting for room towards one LMA; consumed from `head`. */
export interface PacedQueue {
  items: (Entry | undefined)[]
  head: number
}

// Forwarding state the data plane holds for the entry.
export const F_NONE = 0
export const F_TUNNEL = 1
export const F_LOCAL = 2
type Fwd = typeof F_NONE | typeof F_TUNNEL | typeof F_LOCAL

export const NOT_ARMED = -1
const NEVER = Number.NEGATIVE_INFINITY
// Offsets of an entry's times in the TimeSlab (T_SENDS + MAX_UPDATE_RATE must fit in STRIDE).
export const T_PBU = 0
const T_REFRESH = 1
const T_EXPIRE = 2
export const T_RA = 3
export const T_RS = 4
const T_SENT = 5
const T_EXPIRES = 6
const T_LAST_RA = 7
const T_SENDS = 8 // MAX_UPDATE_RATE slots
if (T_SENDS + MAX_UPDATE_RATE > STRIDE) throw new Error('TimeSlab STRIDE too small for MAX_UPDATE_RATE')

/** A counter's value, held by reference so a hot path can bump it without a lookup. */
export interface Cell {
  n: number
}

/**
 * RFC 5844 / RFC 5845 (ipv4.ts): the IPv4 home address and GRE keys of a binding, which an
 * IPv6-only MN without GRE keys never sets. Read through Entry's accessors like Rare's fields.
 */
class Ip4 {
  v4: string | null = null
  v4Addr: Buffer | null = null
  v4Len = 0
  v4Router = ''
  v4Dhcp: 'server' | 'relay' = 'server'
  v4Lifetime = 0
  v4Fwd: string | null = null
  v4Home = false
  v4Off = false
  v6Off = false
  v4NoProfileAddr = false
  v4Reason = ''
  v4Want: Buffer | null = null
  v4Asked: string | null = null
  v4AskedOutcome = ''
  v4Refused: string | null = null
  greOn = false
  greDown = -1
  greUp = -1
}
const NO_IP4: Ip4 = Object.freeze(new Ip4())

/**
 * The fields of an entry that most entries never set: Scenario B's local prefix, a failure's
 * reason, DAD trouble, an RS to answer, sequence resynchronisations, and (one more step apart)
 * the IPv4 and GRE state. Without Node's pointer compression every field costs 8 bytes on each
 * of a million entries; these live here, allocated on the first write of a non-default value
 * (issue 23).
 */
class Rare {
  badLla: string | null = null
  llaTries = 0
  localPrefix: string | null = null
  localIdx = -1
  resyncs = 0
  noProfilePrefixes = false
  failReason: string | null = null
  failState: 'failed' | 'denied' = 'failed'
  rsTo: string | null = null
  /** The IPv4 and GRE state, apart again: an RS alone gives an IPv6-only MN a Rare (rsTo). */
  ip4: Ip4 = NO_IP4
}
/** The defaults every entry reads until it writes one of its own (never written itself). */
const NO_RARE: Rare = Object.freeze(new Rare())

/**
 * One Binding Update List entry (RFC 5213 §6.1) plus the per-MN RA state. A class with every
 * field set in the constructor keeps one hidden class for all entries; fields are scalars or
 * shared references so an entry stays a few hundred bytes (see test/bench/core-step.bench.js).
 */
export class Entry {
  state: BindingState = 'registering'
  reason = ''
  /** RFC 5213 §6.1: the MN's link-layer identifier, 12 hex digits, or null (ALL_ZERO). */
  mac: string | null
  att: number
  /** HI for the next registration of this entry (from the attach hint, §6.9.1.1 item 4). */
  hintHi: number
  /** HI of the outstanding / last PBU (for the echo check of §6.9.1.2 item 6). */
  hi = 0
  profile: CompiledProfile | null
  mode: MobilityMode
  /** Home network prefixes of the last accepted binding (§6.1), text. */
  hnps: readonly string[] = EMPTY
  /** Prefixes requested by the outstanding registration; empty = ALL_ZERO. */
  req: readonly string[] = EMPTY
  /** §6.9.1.2 item 15: link-local address the LMA gave for this MN's link. */
  lla: string | null = null
  /** The router address this entry holds on its link (RouterAddr key), or null. */
  llaKey: string | null = null
  /** Advertising waits for the router address to be ready on the link (link-address event). */
  raWait = false
  seq = -1
  pending: PendingKind = P_NONE
  phase: Phase = PH_IDLE
  /** Transmissions of the outstanding PBU. */
  attempts = 0
  backoff = INITIAL_BINDACK_TIMEOUT_MS
  lastStatus = -1
  retx = 0
  granted = 0
  /** The LMA may hold a binding made by this MAG (accepted, or an unanswered registration). Set through Core.setLmaState. */
  lmaState = false
  /** The LMA whose heartbeat membership this entry holds while lmaState is true (RFC 5847). */
  hbLma: string | null = null
  fwd: Fwd = F_NONE
  /** The MN was told this MAG is a router (an RA with a router lifetime) and not told otherwise since. */
  routerUp = false
  raLeft = 0
  /** Base index of this entry's times in the core's TimeSlab. */
  t: number
  /** Next entry on the same link (the per-link chain of the BUL). */
  next: Entry | null = null
  /** Doubly linked, so leaving a shared link with thousands of stations is O(1). */
  prev: Entry | null = null
  /** The fields few entries ever use, apart (see Rare); NO_RARE until one is set. */
  private rare: Rare = NO_RARE

  /** Rare fields are read through here and written through rareForWrite(). */
  private rareForWrite(): Rare {
    if (this.rare === NO_RARE) this.rare = new Rare()
    return this.rare
  }
  private ip4ForWrite(): Ip4 {
    const r = this.rareForWrite()
    if (r.ip4 === NO_IP4) r.ip4 = new Ip4()
    return r.ip4
  }
  /** An address DAD found in use on this MN's link: never taken back from a PBA (item 15). */
  get badLla(): string | null {
    return this.rare.badLla
  }
  set badLla(v: string | null) {
    if (v !== this.rare.badLla) this.rareForWrite().badLla = v
  }
  /** Replacement addresses tried after DAD failures (item 15). */
  get llaTries(): number {
    return this.rare.llaTries
  }
  set llaTries(v: number) {
    if (v !== this.rare.llaTries) this.rareForWrite().llaTries = v
  }
  /** Scenario B (RFC 6612 §3.3): the local prefix and its pool index. */
  get localPrefix(): string | null {
    return this.rare.localPrefix
  }
  set localPrefix(v: string | null) {
    if (v !== this.rare.localPrefix) this.rareForWrite().localPrefix = v
  }
  get localIdx(): number {
    return this.rare.localIdx
  }
  set localIdx(v: number) {
    if (v !== this.rare.localIdx) this.rareForWrite().localIdx = v
  }
  /** Status-135 resynchronisations of the outstanding PBU (RFC 6275 §11.7.3), bounded by MAX_SEQUENCE_RESYNCS. */
  get resyncs(): number {
    return this.rare.resyncs
  }
  set resyncs(v: number) {
    if (v !== this.rare.resyncs) this.rareForWrite().resyncs = v
  }
  /** §6.9.1.2 item 10: do not ask for the profile's prefixes again. */
  get noProfilePrefixes(): boolean {
    return this.rare.noProfilePrefixes
  }
  set noProfilePrefixes(v: boolean) {
    if (v !== this.rare.noProfilePrefixes) this.rareForWrite().noProfilePrefixes = v
  }
  /**
   * Set while a de-registration runs for an MN that stays attached but cannot be served (forwarding
   * failed; an accepted PBA without a prefix): the entry then ends in `failState` with this reason.
   */
  get failReason(): string | null {
    return this.rare.failReason
  }
  set failReason(v: string | null) {
    if (v !== this.rare.failReason) this.rareForWrite().failReason = v
  }
  get failState(): 'failed' | 'denied' {
    return this.rare.failState
  }
  set failState(v: 'failed' | 'denied') {
    if (v !== this.rare.failState) this.rareForWrite().failState = v
  }
  /** Where the answer to the MN's last RS goes. */
  get rsTo(): string | null {
    return this.rare.rsTo
  }
  set rsTo(v: string | null) {
    if (v !== this.rare.rsTo) this.rareForWrite().rsTo = v
  }
  // RFC 5844 (ipv4.ts): the IPv4 home address the binding holds, its prefix length, router and
  // DHCP mode as the last accepting PBA gave them; v4Fwd is what the data plane routes now.
  get v4(): string | null {
    return this.rare.ip4.v4
  }
  set v4(v: string | null) {
    if (v !== this.rare.ip4.v4) this.ip4ForWrite().v4 = v
  }
  get v4Addr(): Buffer | null {
    return this.rare.ip4.v4Addr
  }
  set v4Addr(v: Buffer | null) {
    if (v !== this.rare.ip4.v4Addr) this.ip4ForWrite().v4Addr = v
  }
  get v4Len(): number {
    return this.rare.ip4.v4Len
  }
  set v4Len(v: number) {
    if (v !== this.rare.ip4.v4Len) this.ip4ForWrite().v4Len = v
  }
  get v4Router(): string {
    return this.rare.ip4.v4Router
  }
  set v4Router(v: string) {
    if (v !== this.rare.ip4.v4Router) this.ip4ForWrite().v4Router = v
  }
  get v4Dhcp(): 'server' | 'relay' {
    return this.rare.ip4.v4Dhcp
  }
  set v4Dhcp(v: 'server' | 'relay') {
    if (v !== this.rare.ip4.v4Dhcp) this.ip4ForWrite().v4Dhcp = v
  }
  get v4Lifetime(): number {
    return this.rare.ip4.v4Lifetime
  }
  set v4Lifetime(v: number) {
    if (v !== this.rare.ip4.v4Lifetime) this.ip4ForWrite().v4Lifetime = v
  }
  get v4Fwd(): string | null {
    return this.rare.ip4.v4Fwd
  }
  set v4Fwd(v: string | null) {
    if (v !== this.rare.ip4.v4Fwd) this.ip4ForWrite().v4Fwd = v
  }
  /** An ipv4-lease with a lease sent and not taken back (lease null). */
  get v4Home(): boolean {
    return this.rare.ip4.v4Home
  }
  set v4Home(v: boolean) {
    if (v !== this.rare.ip4.v4Home) this.ip4ForWrite().v4Home = v
  }
  /** This session asks for no IPv4 (the LMA refused it to a dual-stack MN), or no IPv6 (172). */
  get v4Off(): boolean {
    return this.rare.ip4.v4Off
  }
  set v4Off(v: boolean) {
    if (v !== this.rare.ip4.v4Off) this.ip4ForWrite().v4Off = v
  }
  get v6Off(): boolean {
    return this.rare.ip4.v6Off
  }
  set v6Off(v: boolean) {
    if (v !== this.rare.ip4.v6Off) this.ip4ForWrite().v6Off = v
  }
  /** The LMA refused the profile's named IPv4 address (171): ask with 0.0.0.0. */
  get v4NoProfileAddr(): boolean {
    return this.rare.ip4.v4NoProfileAddr
  }
  set v4NoProfileAddr(v: boolean) {
    if (v !== this.rare.ip4.v4NoProfileAddr) this.ip4ForWrite().v4NoProfileAddr = v
  }
  /** Why the MN has no IPv4 home address although it asks for one ('' otherwise). */
  get v4Reason(): string {
    return this.rare.ip4.v4Reason
  }
  set v4Reason(v: string) {
    if (v !== this.rare.ip4.v4Reason) this.ip4ForWrite().v4Reason = v
  }
  /** RFC 5844 §3.3.1: the address the MN's own DHCP client asked for, to name in the next PBU (ipv4.ts). */
  get v4Want(): Buffer | null {
    return this.rare.ip4.v4Want
  }
  set v4Want(v: Buffer | null) {
    if (v !== this.rare.ip4.v4Want) this.ip4ForWrite().v4Want = v
  }
  /** The last address the MN asked for in this session (text), and what became of it ('pending', 'used', ...). */
  get v4Asked(): string | null {
    return this.rare.ip4.v4Asked
  }
  set v4Asked(v: string | null) {
    if (v !== this.rare.ip4.v4Asked) this.ip4ForWrite().v4Asked = v
  }
  get v4AskedOutcome(): string {
    return this.rare.ip4.v4AskedOutcome
  }
  set v4AskedOutcome(v: string) {
    if (v !== this.rare.ip4.v4AskedOutcome) this.ip4ForWrite().v4AskedOutcome = v
  }
  /** An address the MN asked for that the LMA refused: never named again in this session. */
  get v4Refused(): string | null {
    return this.rare.ip4.v4Refused
  }
  set v4Refused(v: string | null) {
    if (v !== this.rare.ip4.v4Refused) this.ip4ForWrite().v4Refused = v
  }
  // RFC 5845 (ipv4.ts): GRE keys on for this binding; the MAG's downlink key, the LMA's uplink key (-1: none).
  get greOn(): boolean {
    return this.rare.ip4.greOn
  }
  set greOn(v: boolean) {
    if (v !== this.rare.ip4.greOn) this.ip4ForWrite().greOn = v
  }
  get greDown(): number {
    return this.rare.ip4.greDown
  }
  set greDown(v: number) {
    if (v !== this.rare.ip4.greDown) this.ip4ForWrite().greDown = v
  }
  get greUp(): number {
    return this.rare.ip4.greUp
  }
  set greUp(v: number) {
    if (v !== this.rare.ip4.greUp) this.ip4ForWrite().greUp = v
  }

  constructor(
    private readonly slab: TimeSlab,
    readonly mnId: string,
    public link: string,
    mac: string | null,
    att: number,
    hintHi: number,
    profile: CompiledProfile | null,
    mode: MobilityMode,
  ) {
    this.t = slab.alloc(NOT_ARMED)
    const a = slab.a
    a[this.t + T_LAST_RA] = NEVER
    for (let i = 0; i < MAX_UPDATE_RATE; i++) a[this.t + T_SENDS + i] = NEVER
    this.mac = mac
    this.att = att
    this.hintHi = hintHi
    this.profile = profile
    this.mode = mode
  }

  /** Due time of an armed timer by its offset (timerOffset), NOT_ARMED otherwise (timer hygiene). */
  due(off: number): number {
    return this.slab.a[this.t + off]!
  }
  setDue(off: number, v: number): void {
    this.slab.a[this.t + off] = v
  }
  /** When the accepted PBU left: the binding's lifetime counts from there (conservative). */
  get sentAt(): number {
    return this.slab.a[this.t + T_SENT]!
  }
  set sentAt(v: number) {
    this.slab.a[this.t + T_SENT] = v
  }
  get expiresAt(): number {
    return this.slab.a[this.t + T_EXPIRES]!
  }
  set expiresAt(v: number) {
    this.slab.a[this.t + T_EXPIRES] = v
  }
  get lastRaAt(): number {
    return this.slab.a[this.t + T_LAST_RA]!
  }
  set lastRaAt(v: number) {
    this.slab.a[this.t + T_LAST_RA] = v
  }
  /** Oldest of the last MAX_UPDATE_RATE transmission times (§6.9.4 rate limit). */
  oldestSend(): number {
    return this.slab.a[this.t + T_SENDS]!
  }
  recordSend(at: number): void {
    const a = this.slab.a
    const b = this.t + T_SENDS
    for (let i = 1; i < MAX_UPDATE_RATE; i++) a[b + i - 1] = a[b + i]!
    a[b + MAX_UPDATE_RATE - 1] = at
  }
  /**
   * The entry's number among the live ones (its TimeSlab slot; reused once it is gone): timer
   * commands carry it so the daemon's timer set and the timer events index instead of hashing
   * the MN id (issue 8).
   */
  get ref(): number {
    return (this.t / STRIDE) | 0
  }

  /** The entry is gone: give its times back, and point it at the scratch slot. */
  releaseTimes(): void {
    this.slab.release(this.t)
    this.t = 0
  }
}

/**
 * Offset of a kind's due time in the entry's TimeSlab slot. A number, not the accessor's name:
 * `e[name]` was a megamorphic keyed access that called the accessor through the runtime, three
 * times per refresh (issue 8).
 */
export function timerOffset(kind: TimerKind): number {
  switch (kind) {
    case 'pbu':
      return T_PBU
    case 'refresh':
      return T_REFRESH
    case 'expire':
      return T_EXPIRE
    case 'ra':
      return T_RA
    case 'rs':
      return T_RS
    default:
      return assertNever(kind, 'timer kind')
  }
}

const TIMER_KINDS: readonly TimerKind[] = ['refresh', 'expire', 'pbu', 'ra', 'rs']

/** The kind a key's first `slash` characters name, or null; compared in place (no slice per timer). */
export function timerKindOf(text: string): TimerKind | null {
  for (const k of TIMER_KINDS) if (k === text) return k
  return null
}

export const timerKey = (kind: TimerKind, mnId: string): string => `${kind}/${mnId}`
