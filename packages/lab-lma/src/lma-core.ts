/**
 * The lab LMA's protocol logic, sans-IO: Buffer and time in, commands out. No socket, no timer,
 * no clock: every event carries `at` (ms since 1970) and timers are requested as commands.
 *
 * Implements, for a peer in labs and tests (not a production LMA):
 * - RFC 5213 §5.1 binding cache entry (MN-ID, Proxy-CoA, prefixes, lifetime, timestamp or
 *   sequence number, ATT, HI, MN LL-ID, MAG link-local address); one entry per MN identifier.
 * - RFC 5213 §5.3.1 PBU validation and its statuses: 152 (P flag clear, or proxy registration
 *   disabled for the MN), 153 (MN unknown to a restrictive MN table; status configurable), 154 (MAG
 *   not authorised), 155 (prefix not the MN's), 158/160/161/162 (missing HNP/MN-ID/HI/ATT),
 *   159 (prefix set differs from the BCE's); 130 when the prefix pool is exhausted.
 * - RFC 5213 §5.3.2-§5.3.4 initial registration, lifetime extension, extension after handoff.
 * - RFC 5213 §5.3.5 de-registration: the BCE is kept for MinDelayBeforeBCEDelete, then deleted;
 *   a de-registration from a MAG that no longer owns the binding is acknowledged and ignored.
 * - RFC 5213 §5.3.6 PBA construction: options echoed in the PBU's order, HNP carrying the
 *   assigned prefixes, P flag, granted lifetime capped by configuration.
 * - RFC 5213 §5.5 ordering, chosen per PBU by default ('auto'): a PBU with a Timestamp option is
 *   ordered by it (156 outside TimestampValidityWindow, 157 lower than the last accepted), one
 *   without falls back to RFC 6275 §9.5.1 sequence numbers (135, with the last accepted number in
 *   the PBA), compared only between PBUs of the MAG owning the binding. 'timestamps' insists on
 *   the option (156 without it); 'sequence' ignores it.
 * - RFC 5213 §8.5: Access Technology Type 0 is reserved; a PBU carrying it names no technology
 *   and is refused like one without the option (§5.3.1: 162).
 * - RFC 6275 §9.2: an unknown MH type is answered with Binding Error status 2.
 * - RFC 5847 §3, §5: Heartbeat requests are answered with a response carrying the request's
 *   sequence number and a Restart Counter option.
 * - Fault injection for testing a MAG: drop PBUs, answer late, force a status, go silent, reset.
 *
 * - RFC 5844 §3.1 IPv4 home addresses (with `ipv4Pool`): an IPv4 Home Address Request of 0.0.0.0
 *   gets an address from the pool (the MN's previous one when free), a named one is honoured when
 *   it is the MN's or free (else 171 with Reply status 130/131), the address stays with the BCE
 *   across handoffs, the pool running dry is 130 with Reply status 132, an LMA without a pool
 *   answers 170. The PBA carries the IPv4 Home Address Reply, the IPv4 Default-Router Address and
 *   the IPv4 DHCP Support Mode. A PBU with an IPv4 request and no HNP option is an IPv4-only MN.
 * - RFC 5845 GRE keys (with `greKeys`): a PBU carrying the GRE Key option gets an uplink key of
 *   its own in the PBA (kept across handoffs); the key the MAG sent is kept as the downlink key;
 *   'required' refuses a PBU without the option with 163.
 *
 * Left out: multihoming (§5.4: one BCE per MN here, so every accepted registration from another
 * MAG is a handoff whatever its HI), MaxDelayBeforeNewBCEAssign (§5.4.1), IPsec (§4), the data
 * plane (§5.6: the runner reports binding events for one to follow), IPv4 transport (RFC 5844 §4),
 * Binding Revocation (RFC 5846), Heartbeat requests from the LMA (RFC 5847 §5.2).
 */
import {
  AccessTechType,
  BaStatus,
  BeStatus,
  MAX_LIFETIME_SECONDS,
  MN_ID_SUBTYPE_NAI,
  LIFETIME_UNIT_SECONDS,
  WireError,
  canonicalIp6,
  filterOptions,
  findOption,
  formatIp6,
  formatIp4,
  formatMac,
  ip4ToNumber,
  isAllZero,
  numberToIp4,
  parseIp4,
  Ipv4HoaReplyStatus,
  mh,
  timestampFromMs,
  timestampToMs,
  type BindingUpdate,
  type Heartbeat,
  type MhMessage,
  type MobilityOption,
  type ProxyBindingAck,
} from '@pmip6/wire'
import { PrefixPool, prefixFromBytes, toPrefix, type PoolStats, type Prefix } from './prefix-pool'
import { Ipv4AddressPool, type Ipv4PoolStats } from './ipv4-pool'

export type Millis = number

/**
 * The link-local address this LMA generates for an MN's access links (RFC 5213 §5.1, §6.8;
 * "the specific method ... is out of scope"): fe80::/64 with an interface identifier hashed from
 * the MN-Identifier (FNV-1a, 64 bits), so it is the same for the whole mobility session and after
 * a restart of the lab LMA. Not a secret: a MAG runs DAD on it (item 15 of §6.9.1.2).
 */
export function linkLocalFor(mnId: string): Buffer {
  let h = 0xcbf29ce484222325n
  for (const b of Buffer.from(mnId, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n)
  if (h === 0n) h = 1n
  const a = Buffer.alloc(16)
  a[0] = 0xfe
  a[1] = 0x80
  a.writeBigUInt64BE(h, 8)
  return a
}

// --- RFC 5213 §9.1 LMA configuration variables (defaults: protocol-reference.md §4.1) ---
/** RFC 5213 §9.1 MinDelayBeforeBCEDelete: how long a de-registered BCE is kept (§5.3.5). */
export const MIN_DELAY_BEFORE_BCE_DELETE_MS = 10_000
/** RFC 5213 §9.1 TimestampValidityWindow: how far a PBU's timestamp may be from the LMA's clock (§5.5). */
export const TIMESTAMP_VALIDITY_WINDOW_MS = 300
/** RFC 5213 §8.8: the Timestamp option counts 1/65536 s; comparisons allow for that rounding. */
export const TIMESTAMP_RESOLUTION_MS = 1000 / 65536
/** RFC 6275 §9.5.1: sequence numbers compare modulo 2^16; "greater" means less than half the space ahead. */
export const SEQUENCE_MODULO = 0x1_0000
/** RFC 5213 §5.2: the per-MN prefixes handed out from a pool are /64s unless configured otherwise. */
export const DEFAULT_POOL_PREFIX_LENGTH = 64
/** The largest lifetime the wire can carry (RFC 6275 §6.1.7: 16 bits of 4-second units). */
export const DEFAULT_LIFETIME_MAX_S = MAX_LIFETIME_SECONDS
/** RFC 6275 §9.2: Binding Error status 2, unrecognized MH Type value. */
const BE_UNRECOGNIZED_MH_TYPE = BeStatus.UNRECOGNIZED_MH_TYPE

/**
 * RFC 5213 §5.5 (TimestampBasedApproachInUse): 'auto' orders each PBU by its Timestamp option when
 * it carries one and by its sequence number otherwise (the RFC's fall-back), so MAGs of either
 * kind register; 'timestamps' requires the option (156 without it); 'sequence' ignores it.
 */
export type TimestampMode = 'auto' | 'timestamps' | 'sequence'
export const TIMESTAMP_MODES: readonly TimestampMode[] = ['auto', 'timestamps', 'sequence']
/** RFC 5213 §8.5: Access Technology Type 0 is reserved, no technology. */
const ATT_RESERVED = AccessTechType.RESERVED

/** Per-MN policy (RFC 5213 §5.3.1 policy checks, §6.2 policy profile as the LMA sees it). */
export interface MnPolicy {
  /** Static home network prefixes ("2001:db8:1:1::/64"); absent: one prefix from the pool. */
  readonly prefixes?: readonly string[]
  /** MAGs (Proxy-CoAs) allowed to register this MN; absent: any allowed MAG. */
  readonly mags?: readonly string[]
  /** false: answer this MN's PBUs with 152 PROXY_REG_NOT_ENABLED. Default true. */
  readonly proxyEnabled?: boolean
  /** Static IPv4 home address inside `ipv4Pool` (RFC 5844 §3.1), e.g. "192.0.2.50". */
  readonly ipv4Address?: string
}

/** RFC 5845: 'off' ignores the GRE Key option, 'on' assigns keys when asked, 'required' refuses a PBU without it (163). */
export type GreKeyMode = 'off' | 'on' | 'required'
export const GRE_KEY_MODES: readonly GreKeyMode[] = ['off', 'on', 'required']

export interface LmaCoreOptions {
  /** The LMA address (LMAA); replies come from the address a PBU was sent to, else from this one. */
  readonly address: string
  /** Pool prefix carved into `poolPrefixLength` prefixes, e.g. "2001:db8:100::/48". */
  readonly pool?: string
  readonly poolPrefixLength?: number
  /** MN table: NAI -> policy. When present it is restrictive unless `acceptUnknown`. */
  readonly mns?: Readonly<Record<string, MnPolicy>>
  /** Serve MNs missing from `mns` from the pool. Default: true without a table, false with one. */
  readonly acceptUnknown?: boolean
  /** Status for an MN missing from a restrictive table. Default 153 NOT_LMA_FOR_THIS_MOBILE_NODE. */
  readonly unknownMnStatus?: number
  /** MAGs allowed to send PBUs (RFC 5213 §4, §5.3.1); absent: any. */
  readonly mags?: readonly string[]
  /** Largest lifetime granted, seconds. */
  readonly lifetimeMax?: number
  readonly timestampWindowMs?: number
  readonly minDelayBeforeBceDeleteMs?: number
  readonly timestampMode?: TimestampMode
  /** Restart Counter (RFC 5847 §3.2) at start; bumped by each reset. */
  readonly restartCounter?: number
  /** IPv4 home address pool, e.g. "192.0.2.0/24" (RFC 5844 §3.1); absent: no IPv4 service (170). */
  readonly ipv4Pool?: string
  /** IPv4 default router handed to MNs (RFC 5844 §3.3.3); default: the pool's first host. */
  readonly ipv4Router?: string
  /** IPv4 DHCP Support Mode sent in PBAs (RFC 5844 §3.3.4). Default 'server'. */
  readonly ipv4DhcpMode?: 'server' | 'relay'
  /** RFC 5845 GRE keys. Default 'off'. */
  readonly greKeys?: GreKeyMode
}

export type BindingState = 'active' | 'deregistering'

/** A binding cache entry as the outside sees it (JSON-safe). */
export interface BindingView {
  readonly mnId: string
  /** Proxy-CoA of the MAG that owns the binding. */
  readonly mag: string
  readonly prefixes: readonly string[]
  readonly state: BindingState
  /** Granted lifetime, seconds. */
  readonly lifetime: number
  readonly expiresAt: Millis
  /** When the BCE will be deleted, while de-registering. */
  readonly deleteAt?: Millis
  readonly createdAt: Millis
  readonly updatedAt: Millis
  readonly att: number
  readonly hi: number
  readonly mnLlId?: string
  readonly linkLocal?: string
  /** Last accepted timestamp, ms since 1970 (timestamp mode). */
  readonly lastTimestamp?: number
  /** Last accepted sequence number. */
  readonly lastSequence: number
  /** RFC 5844: the MN's IPv4 home address with the pool's prefix length, "192.0.2.2/24". */
  readonly ipv4Address?: string
  /** RFC 5844 §3.3.3: its IPv4 default router. */
  readonly ipv4Router?: string
  /** RFC 5845: the key the MAG puts on packets to the LMA (assigned here). */
  readonly greUplinkKey?: number
  /** RFC 5845: the key the LMA puts on packets to the MAG (the MAG's choice). */
  readonly greDownlinkKey?: number
}

export type DeleteReason = 'deregistered' | 'expired' | 'reset'

export type LmaEvent =
  /** A Mobility Header arrived from `from` (the MAG), sent to `to` (one of our addresses). */
  | { readonly type: 'mh'; readonly at: Millis; readonly from: string; readonly to?: string; readonly data: Uint8Array }
  /** A timer the core armed has fired. */
  | { readonly type: 'timer'; readonly at: Millis; readonly key: string }
  /** Change the fault knobs (see FaultPatch). */
  | { readonly type: 'fault'; readonly at: Millis; readonly fault: FaultPatch }

export type LmaCommand =
  | {
      readonly type: 'send'
      readonly to: string
      readonly from: string
      readonly bytes: Buffer
      readonly msg: MhMessage
      readonly mnId?: string
      readonly status?: number
      /** Why this status: 'accepted', 'missing-mn-id', 'fault-status', ... */
      readonly reason?: string
    }
  | { readonly type: 'arm-timer'; readonly key: string; readonly at: Millis }
  | { readonly type: 'cancel-timer'; readonly key: string }
  | { readonly type: 'binding-created'; readonly mnId: string; readonly mag: string; readonly prefixes: readonly string[]; readonly binding: BindingView }
  | { readonly type: 'binding-updated'; readonly mnId: string; readonly mag: string; readonly prefixes: readonly string[]; readonly binding: BindingView; readonly reason: 'refreshed' | 'deregistered' | 'reregistered' }
  | { readonly type: 'binding-moved'; readonly mnId: string; readonly mag: string; readonly fromMag: string; readonly prefixes: readonly string[]; readonly hi: number; readonly binding: BindingView }
  | { readonly type: 'binding-deleted'; readonly mnId: string; readonly mag: string; readonly prefixes: readonly string[]; readonly binding: BindingView; readonly reason: DeleteReason }
  /** A message the core did not answer, and why (for logs and counters). */
  | { readonly type: 'dropped'; readonly from: string; readonly reason: string; readonly detail?: string }

/** A rule forcing the status of PBAs. */
export interface StatusRule {
  readonly status: number
  /** Only this MN; absent: every MN. */
  readonly mnId?: string
  /** PBUs left to answer this way; null: always. */
  readonly remaining: number | null
}

export interface FaultState {
  /** Drop every PBU. */
  readonly dropAll: boolean
  /** Drop this many more PBUs. */
  readonly dropNext: number
  /** Hold every answer (PBA, Heartbeat, Binding Error) this long. */
  readonly delayMs: number
  /** Answer nothing at all (PBUs and Heartbeats are dropped). */
  readonly silent: boolean
  readonly statusRules: readonly StatusRule[]
}

export interface FaultPatch {
  /** Clear every fault first. */
  readonly clear?: boolean
  /** 'all': drop every PBU; 'none': stop dropping; N: drop the next N PBUs. */
  readonly drop?: 'all' | 'none' | number
  readonly delayMs?: number
  readonly silent?: boolean
  /**
   * Force a status (added to the rules; the first matching rule wins), or null to remove every
   * rule. A status below 128 replaces the status of an accepted PBU; 128 and above rejects the
   * PBU without touching the binding cache. `once` is `count: 1`; neither means always.
   */
  readonly status?: { readonly status: number; readonly mnId?: string; readonly once?: boolean; readonly count?: number } | null
  /** Forget every binding, allocation and pending answer; bump the Restart Counter. */
  readonly reset?: boolean
}

export interface LmaCounters {
  received: number
  pbus: number
  pbas: number
  accepted: number
  rejected: Record<string, number>
  dropped: Record<string, number>
  heartbeats: number
  registrations: number
  refreshes: number
  handoffs: number
  deregistrations: number
  expired: number
  resets: number
}

export interface LmaStatus {
  readonly address: string
  readonly timestampMode: TimestampMode
  readonly restartCounter: number
  readonly bindings: number
  readonly pool?: PoolStats
  readonly ipv4Pool?: Ipv4PoolStats
  readonly faults: FaultState
  readonly counters: LmaCounters
}

interface Bce {
  readonly mnId: string
  mag: string
  prefixes: Prefix[]
  /** The prefixes came from the pool (released on delete). */
  readonly pooled: boolean
  state: BindingState
  lifetime: number
  expiresAt: Millis
  deleteAt?: Millis
  readonly createdAt: Millis
  updatedAt: Millis
  att: number
  hi: number
  llId?: Buffer
  linkLocal?: Buffer
  lastTimestamp?: number
  lastSequence: number
  /** IPv4 home address as a number, and whether it came from the pool. */
  ipv4?: number
  ipv4Pooled?: boolean
  /** The pool's prefix length and default router, for views (RFC 5844 §3.3.2-3.3.3). */
  ipv4PrefixLength?: number
  ipv4Router?: number
  greUplink?: number
  greDownlink?: number
}

interface Policy {
  readonly prefixes?: readonly Prefix[]
  readonly mags?: ReadonlySet<string>
  readonly proxyEnabled: boolean
  readonly ipv4?: number
}

/** The outcome of validation: either the PBU is good to act on, or the status to reject it with. */
type Verdict = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly reason: string }

/** An IPv4 refusal: the PBA status, the IPv4 Home Address Reply status (RFC 5844 §3.3.2) and why. */
interface Ipv4Refusal {
  readonly status: number
  readonly reply: number
  readonly reason: string
}

const NO_FAULTS: FaultState = { dropAll: false, dropNext: 0, delayMs: 0, silent: false, statusRules: [] }

/** Timer keys: one namespace per kind, the MN identifier after the colon. */
const EXPIRE = 'expire:'
const DELETE = 'delete:'
const REPLY = 'reply:'

/** RFC 6275 §9.5.1: `seq` is newer than `last` modulo 2^16. */
export function sequenceIsNewer(seq: number, last: number): boolean {
  const d = (seq - last + SEQUENCE_MODULO) % SEQUENCE_MODULO
  return d !== 0 && d < SEQUENCE_MODULO / 2
}

function nonNegInt(v: number | undefined, dflt: number, what: string): number {
  const x = v ?? dflt
  if (!Number.isInteger(x) || x < 0) throw new RangeError(`${what} must be a non-negative integer, got ${String(v)}`)
  return x
}

export class LmaCore {
  readonly address: string
  readonly timestampMode: TimestampMode
  readonly lifetimeMax: number
  readonly timestampWindowMs: number
  readonly minDelayBeforeBceDeleteMs: number
  readonly #pool: PrefixPool | undefined
  readonly #policies = new Map<string, Policy>()
  readonly #restrictive: boolean
  readonly #unknownMnStatus: number
  readonly #mags: ReadonlySet<string> | undefined
  readonly #cache = new Map<string, Bce>()
  readonly #v4pool: Ipv4AddressPool | undefined
  readonly #dhcpServerMode: boolean
  readonly greKeys: GreKeyMode
  #nextGreKey = 1
  #restartCounter: number
  #faults: FaultState = NO_FAULTS
  /** Answers held back by the delay fault, by timer key. */
  readonly #pending = new Map<string, Extract<LmaCommand, { type: 'send' }>>()
  #replySeq = 0
  readonly #counters: LmaCounters = {
    received: 0,
    pbus: 0,
    pbas: 0,
    accepted: 0,
    rejected: {},
    dropped: {},
    heartbeats: 0,
    registrations: 0,
    refreshes: 0,
    handoffs: 0,
    deregistrations: 0,
    expired: 0,
    resets: 0,
  }

  constructor(opts: LmaCoreOptions) {
    this.address = canonicalIp6(opts.address)
    this.timestampMode = opts.timestampMode ?? 'auto'
    if (!TIMESTAMP_MODES.includes(this.timestampMode)) throw new RangeError(`timestampMode must be one of ${TIMESTAMP_MODES.join(', ')}`)
    this.lifetimeMax = nonNegInt(opts.lifetimeMax, DEFAULT_LIFETIME_MAX_S, 'lifetimeMax')
    if (this.lifetimeMax < LIFETIME_UNIT_SECONDS || this.lifetimeMax > MAX_LIFETIME_SECONDS) {
      throw new RangeError(`lifetimeMax must be between ${LIFETIME_UNIT_SECONDS} and ${MAX_LIFETIME_SECONDS} s`)
    }
    this.timestampWindowMs = nonNegInt(opts.timestampWindowMs, TIMESTAMP_VALIDITY_WINDOW_MS, 'timestampWindowMs')
    this.minDelayBeforeBceDeleteMs = nonNegInt(opts.minDelayBeforeBceDeleteMs, MIN_DELAY_BEFORE_BCE_DELETE_MS, 'minDelayBeforeBceDeleteMs')
    this.#restartCounter = nonNegInt(opts.restartCounter, 0, 'restartCounter')
    this.#unknownMnStatus = nonNegInt(opts.unknownMnStatus, BaStatus.NOT_LMA_FOR_THIS_MOBILE_NODE, 'unknownMnStatus')
    this.#mags = opts.mags === undefined ? undefined : new Set(opts.mags.map(canonicalIp6))
    const statics: Prefix[] = []
    const owners = new Map<string, string>()
    const v4statics = new Map<string, number>()
    for (const [nai, p] of Object.entries(opts.mns ?? {})) {
      const prefixes = p.prefixes?.map(toPrefix)
      for (const pf of prefixes ?? []) {
        const other = owners.get(pf.text)
        if (other !== undefined) throw new RangeError(`prefix ${pf.text} is configured for both ${other} and ${nai}`)
        owners.set(pf.text, nai)
        statics.push(pf)
      }
      let v4: number | undefined
      if (p.ipv4Address !== undefined) {
        v4 = ip4ToNumber(parseIp4(p.ipv4Address))
        const other = [...v4statics].find(([, a]) => a === v4)?.[0]
        if (other !== undefined) throw new RangeError(`IPv4 address ${p.ipv4Address} is configured for both ${other} and ${nai}`)
        v4statics.set(nai, v4)
      }
      this.#policies.set(nai, {
        ...(v4 !== undefined ? { ipv4: v4 } : {}),
        ...(prefixes !== undefined && prefixes.length > 0 ? { prefixes } : {}),
        ...(p.mags !== undefined ? { mags: new Set(p.mags.map(canonicalIp6)) } : {}),
        proxyEnabled: p.proxyEnabled ?? true,
      })
    }
    this.#restrictive = opts.mns !== undefined && opts.acceptUnknown !== true
    this.#pool = opts.pool === undefined ? undefined : new PrefixPool(opts.pool, opts.poolPrefixLength ?? DEFAULT_POOL_PREFIX_LENGTH, statics)
    if (opts.ipv4Pool === undefined && (v4statics.size > 0 || opts.ipv4Router !== undefined)) throw new RangeError('ipv4Address and ipv4Router need ipv4Pool')
    this.#v4pool = opts.ipv4Pool === undefined ? undefined : new Ipv4AddressPool(opts.ipv4Pool, opts.ipv4Router, [...v4statics.values()])
    for (const [nai, a] of v4statics) {
      if (!this.#v4pool!.contains(a)) throw new RangeError(`IPv4 address of ${nai} is outside ipv4Pool ${opts.ipv4Pool}`)
    }
    this.#dhcpServerMode = (opts.ipv4DhcpMode ?? 'server') === 'server'
    this.greKeys = opts.greKeys ?? 'off'
    if (!GRE_KEY_MODES.includes(this.greKeys)) throw new RangeError(`greKeys must be one of ${GRE_KEY_MODES.join(', ')}`)
  }

  get restartCounter(): number {
    return this.#restartCounter
  }

  faults(): FaultState {
    return this.#faults
  }

  bindings(): BindingView[] {
    return [...this.#cache.values()].map(view)
  }

  binding(mnId: string): BindingView | undefined {
    const b = this.#cache.get(mnId)
    return b === undefined ? undefined : view(b)
  }

  status(): LmaStatus {
    return {
      address: this.address,
      timestampMode: this.timestampMode,
      restartCounter: this.#restartCounter,
      bindings: this.#cache.size,
      ...(this.#pool !== undefined ? { pool: this.#pool.stats() } : {}),
      ...(this.#v4pool !== undefined ? { ipv4Pool: this.#v4pool.stats() } : {}),
      faults: this.#faults,
      counters: structuredClone(this.#counters),
    }
  }

  step(ev: LmaEvent): LmaCommand[] {
    if (!Number.isFinite(ev.at)) throw new RangeError(`event time must be finite, got ${ev.at}`)
    switch (ev.type) {
      case 'mh':
        return this.#onMh(ev.at, ev.from, ev.to, ev.data)
      case 'timer':
        return this.#onTimer(ev.at, ev.key)
      case 'fault':
        return this.#onFault(ev.at, ev.fault)
    }
  }

  // --- incoming messages ---

  #onMh(at: Millis, fromText: string, toText: string | undefined, data: Uint8Array): LmaCommand[] {
    this.#counters.received++
    let from: string
    let to = this.address
    try {
      from = canonicalIp6(fromText)
      const dst = toText === undefined || toText === '' ? '::' : canonicalIp6(toText)
      if (dst !== '::') to = dst
    } catch {
      return [this.#drop(fromText, 'bad-address')]
    }
    let msg: MhMessage
    try {
      msg = mh.decode(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength))
    } catch (e) {
      if (e instanceof WireError) return [this.#drop(from, 'malformed', e.message)]
      throw e
    }
    if (this.#faults.silent) return [this.#drop(from, 'fault-silent')]
    switch (msg.kind) {
      case 'binding-update':
        return this.#onPbu(at, from, to, msg)
      case 'heartbeat':
        return this.#onHeartbeat(at, from, to, msg)
      case 'other':
        // RFC 6275 §9.2: an unrecognized MH Type is answered with Binding Error status 2.
        return this.#reply(at, {
          to: from,
          from: to,
          msg: { kind: 'binding-error', status: BE_UNRECOGNIZED_MH_TYPE, homeAddress: Buffer.alloc(16), options: [] },
          reason: `unrecognized-mh-type-${msg.mhType}`,
        })
      case 'binding-ack':
      case 'binding-error':
        return [this.#drop(from, `unexpected-${msg.kind}`)]
    }
  }

  #onHeartbeat(at: Millis, from: string, to: string, hb: Heartbeat): LmaCommand[] {
    if (hb.flags.r) return [this.#drop(from, 'heartbeat-response')] // we never ask (RFC 5847 §5.2 left out)
    this.#counters.heartbeats++
    const resp: Heartbeat = {
      kind: 'heartbeat',
      flags: { u: false, r: true },
      sequence: hb.sequence, // RFC 5847 §5.3: the response echoes the request's sequence number
      options: [{ type: 'restart-counter', value: this.#restartCounter }], // RFC 5847 §3.2
    }
    return this.#reply(at, { to: from, from: to, msg: resp, reason: 'heartbeat' })
  }

  #onPbu(at: Millis, mag: string, to: string, pbu: BindingUpdate): LmaCommand[] {
    this.#counters.pbus++
    if (this.#faults.dropAll) return [this.#drop(mag, 'fault-drop')]
    if (this.#faults.dropNext > 0) {
      this.#faults = { ...this.#faults, dropNext: this.#faults.dropNext - 1 }
      return [this.#drop(mag, 'fault-drop')]
    }
    const out: LmaCommand[] = []
    const reject = (status: number, reason: string, mnId?: string, extra?: { sequence?: number; timestamp?: boolean; ipv4Reply?: number }): LmaCommand[] => {
      this.#counters.rejected[String(status)] = (this.#counters.rejected[String(status)] ?? 0) + 1
      const req = findOption(pbu.options, 'ipv4-hoa-request')
      const pba = buildPba(pbu, {
        status,
        lifetime: 0,
        // RFC 5844 §3.3.2: a refused IPv4 request is answered with a failing Reply.
        ...(req !== undefined ? { extra: [{ type: 'ipv4-hoa-reply', status: extra?.ipv4Reply ?? Ipv4HoaReplyStatus.FAILURE_UNSPECIFIED, prefixLength: req.prefixLength, address: req.address }] } : {}),
        ...(extra?.sequence !== undefined ? { sequence: extra.sequence } : {}),
        ...(extra?.timestamp === true ? { timestamp: timestampFromMs(at) } : {}),
      })
      return [...out, ...this.#reply(at, { to: mag, from: to, msg: pba, status, reason, ...(mnId !== undefined ? { mnId } : {}) })]
    }

    // RFC 5213 §5.3.1: a Binding Update without the P flag is not a proxy registration.
    if (!pbu.flags.p) return reject(BaStatus.PROXY_REG_NOT_ENABLED, 'not-proxy-registration')
    // RFC 5213 §5.3.1: the MN is identified by the Mobile Node Identifier option (RFC 4283, NAI).
    const mnIdOpt = filterOptions(pbu.options, 'mn-id').find((o) => o.subtype === MN_ID_SUBTYPE_NAI)
    if (mnIdOpt === undefined) return reject(BaStatus.MISSING_MN_IDENTIFIER_OPTION, 'missing-mn-id')
    const mnId = mnIdOpt.id.toString('utf8')

    const forced = this.#takeStatusRule(mnId)
    if (forced !== undefined && forced >= BaStatus.REASON_UNSPECIFIED) return reject(forced, 'fault-status', mnId)

    const verdict = this.#validate(at, mag, mnId, pbu)
    if (!verdict.ok) {
      const bce = this.#cache.get(mnId)
      return reject(verdict.status, verdict.reason, mnId, {
        // RFC 6275 §9.5.1: a 135 carries the last accepted sequence number so the sender can resync.
        ...(verdict.status === BaStatus.SEQUENCE_OUT_OF_WINDOW && bce !== undefined ? { sequence: bce.lastSequence } : {}),
        // RFC 5213 §5.5: a 156 carries the LMA's current time in the Timestamp option.
        timestamp: verdict.status === BaStatus.TIMESTAMP_MISMATCH,
      })
    }
    const result = pbu.lifetime === 0 ? this.#deregister(at, mag, mnId, pbu) : this.#register(at, mag, mnId, pbu)
    if ('status' in result) return reject(result.status, result.reason, mnId, result.ipv4Reply !== undefined ? { ipv4Reply: result.ipv4Reply } : {})
    out.push(...result.commands)
    const status = forced ?? BaStatus.ACCEPTED
    this.#counters.accepted++
    if (!pbu.flags.a && forced === undefined) return out // RFC 6275 §10.3.1: no A flag, no acknowledgement when accepted
    const pba = buildPba(pbu, {
      status,
      lifetime: result.lifetime,
      ...(result.prefixes !== undefined ? { prefixes: result.prefixes } : {}),
      ...(result.linkLocal !== undefined ? { linkLocal: result.linkLocal } : {}),
      extra: this.#pbaExtras(pbu, this.#cache.get(mnId)),
    })
    return [...out, ...this.#reply(at, { to: mag, from: to, msg: pba, status, reason: forced !== undefined ? 'fault-status' : result.reason, mnId })]
  }

  /** RFC 5213 §5.3.1 checks, in its order, then §5.5 ordering and the prefix checks of §5.3.2-§5.3.4. */
  #validate(at: Millis, mag: string, mnId: string, pbu: BindingUpdate): Verdict {
    const policy = this.#policies.get(mnId)
    if (policy === undefined && this.#restrictive) return { ok: false, status: this.#unknownMnStatus, reason: 'unknown-mn' }
    if (policy !== undefined && !policy.proxyEnabled) return { ok: false, status: BaStatus.PROXY_REG_NOT_ENABLED, reason: 'proxy-disabled-for-mn' }
    if ((this.#mags !== undefined && !this.#mags.has(mag)) || (policy?.mags !== undefined && !policy.mags.has(mag))) {
      return { ok: false, status: BaStatus.MAG_NOT_AUTHORIZED_FOR_PROXY_REG, reason: 'mag-not-authorized' }
    }
    const hnps = filterOptions(pbu.options, 'hnp')
    // RFC 5844: an IPv4-only MN's PBU carries the IPv4 Home Address Request instead of an HNP option.
    if (hnps.length === 0 && findOption(pbu.options, 'ipv4-hoa-request') === undefined) {
      return { ok: false, status: BaStatus.MISSING_HOME_NETWORK_PREFIX_OPTION, reason: 'missing-hnp' }
    }
    // RFC 5845: an LMA that requires GRE encapsulation refuses a PBU without the GRE Key option.
    if (this.greKeys === 'required' && pbu.lifetime > 0 && findOption(pbu.options, 'gre-key') === undefined) {
      return { ok: false, status: BaStatus.GRE_KEY_OPTION_REQUIRED, reason: 'missing-gre-key' }
    }
    if (findOption(pbu.options, 'handoff-indicator') === undefined) {
      return { ok: false, status: BaStatus.MISSING_HANDOFF_INDICATOR_OPTION, reason: 'missing-handoff-indicator' }
    }
    const att = findOption(pbu.options, 'access-tech-type')
    if (att === undefined) {
      return { ok: false, status: BaStatus.MISSING_ACCESS_TECH_TYPE_OPTION, reason: 'missing-access-tech-type' }
    }
    // RFC 5213 §8.5: ATT 0 is reserved, so the option names no access technology; §5.3.1 refuses
    // a PBU without one with 162 (as ns-3's PMIPv6 LMA does for the reserved value).
    if (att.value === ATT_RESERVED) return { ok: false, status: BaStatus.MISSING_ACCESS_TECH_TYPE_OPTION, reason: 'reserved-access-tech-type' }
    const bce = this.#cache.get(mnId)
    const ts = findOption(pbu.options, 'timestamp')
    // RFC 5213 §5.5: where timestamps are required ('timestamps') the PBU must carry one.
    if (ts === undefined && this.timestampMode === 'timestamps') return { ok: false, status: BaStatus.TIMESTAMP_MISMATCH, reason: 'missing-timestamp' }
    if (ts !== undefined && this.timestampMode !== 'sequence') {
      const tsMs = timestampToMs(ts)
      if (Math.abs(tsMs - at) > this.timestampWindowMs + TIMESTAMP_RESOLUTION_MS) return { ok: false, status: BaStatus.TIMESTAMP_MISMATCH, reason: 'timestamp-outside-window' }
      if (bce?.lastTimestamp !== undefined && tsMs < bce.lastTimestamp) {
        return { ok: false, status: BaStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED, reason: 'timestamp-lower-than-previous' }
      }
    } else if (bce !== undefined && bce.mag === mag && !sequenceIsNewer(pbu.sequence, bce.lastSequence)) {
      // RFC 5213 §5.5: without a Timestamp option the LMA falls back to sequence numbers. Each
      // MAG numbers its own PBUs, so only PBUs from the MAG that owns the binding compare (§5.5
      // leaves cross-MAG ordering to timestamps or context transfer).
      return { ok: false, status: BaStatus.SEQUENCE_OUT_OF_WINDOW, reason: 'sequence-out-of-window' }
    }
    // RFC 5213 §5.3.2 item 2, §5.3.3, §5.3.4: a named prefix must be the MN's...
    const asked = hnps.filter((h) => !isAllZero(h.prefix)).map((h) => prefixFromBytes(h.prefix, h.prefixLength))
    for (const p of asked) {
      if (!this.#prefixIsMns(mnId, p, policy, bce)) return { ok: false, status: BaStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX, reason: 'prefix-not-authorized' }
    }
    // ... and, with a binding in place, the whole set it holds (§5.3.3, §5.3.4: status 159).
    if (bce !== undefined && asked.length > 0) {
      const have = new Set(bce.prefixes.map((p) => p.text))
      const want = new Set(asked.map((p) => p.text))
      if (have.size !== want.size || [...want].some((t) => !have.has(t))) {
        return { ok: false, status: BaStatus.BCE_PBU_PREFIX_SET_DO_NOT_MATCH, reason: 'prefix-set-mismatch' }
      }
    }
    return { ok: true }
  }

  #prefixIsMns(mnId: string, p: Prefix, policy: Policy | undefined, bce: Bce | undefined): boolean {
    if (bce !== undefined) return bce.prefixes.some((q) => q.text === p.text)
    if (policy?.prefixes !== undefined) return policy.prefixes.some((q) => q.text === p.text)
    // A pool MN may ask for the prefix it held last, while nobody else holds it.
    return this.#pool?.previousOf(mnId)?.text === p.text
  }

  #register(
    at: Millis,
    mag: string,
    mnId: string,
    pbu: BindingUpdate,
  ): { status: number; reason: string; ipv4Reply?: number } | { commands: LmaCommand[]; lifetime: number; prefixes?: Prefix[]; linkLocal?: Buffer; reason: string } {
    const lifetime = grantedLifetime(pbu.lifetime, this.lifetimeMax)
    const v4 = this.#ipv4For(mnId, pbu, this.#cache.get(mnId))
    if (v4 !== undefined && 'reply' in v4) return { status: v4.status, reason: v4.reason, ipv4Reply: v4.reply }
    const gre = findOption(pbu.options, 'gre-key')
    const hi = findOption(pbu.options, 'handoff-indicator')?.value ?? 0
    const att = findOption(pbu.options, 'access-tech-type')?.value ?? 0
    const llId = findOption(pbu.options, 'mn-ll-id')?.id
    const lla = findOption(pbu.options, 'link-local-address')?.address
    const ts = findOption(pbu.options, 'timestamp')
    const commands: LmaCommand[] = []
    let bce = this.#cache.get(mnId)
    if (bce === undefined) {
      // RFC 5213 §5.3.2: a new mobility session.
      const assigned = filterOptions(pbu.options, 'hnp').length === 0 ? { prefixes: [], pooled: false } : this.#assign(mnId, pbu)
      if (assigned === undefined) {
        if (v4?.pooled === true) this.#v4pool?.release(v4.address)
        return { status: BaStatus.INSUFFICIENT_RESOURCES, reason: 'pool-exhausted' }
      }
      bce = {
        mnId,
        mag,
        prefixes: assigned.prefixes,
        pooled: assigned.pooled,
        state: 'active',
        lifetime,
        expiresAt: at + lifetime * 1000,
        createdAt: at,
        updatedAt: at,
        att,
        hi,
        ...(llId !== undefined ? { llId } : {}),
        // RFC 5213 §5.1, §6.8: the MAG's link-local address on the MN's link, kept for the whole
        // session and handed to every later MAG; generated here when the MAG asks (ALL_ZERO).
        ...(lla === undefined ? {} : { linkLocal: isAllZero(lla) ? linkLocalFor(mnId) : lla }),
        ...(ts !== undefined && this.timestampMode !== 'sequence' ? { lastTimestamp: timestampToMs(ts) } : {}),
        lastSequence: pbu.sequence,
        ...(v4 !== undefined ? { ipv4: v4.address, ipv4Pooled: v4.pooled, ipv4PrefixLength: this.#v4pool!.prefixLength, ipv4Router: this.#v4pool!.router } : {}),
        ...(gre !== undefined && this.greKeys !== 'off' ? { greUplink: this.#allocateGreKey(), ...(gre.key !== null ? { greDownlink: gre.key } : {}) } : {}),
      }
      this.#cache.set(mnId, bce)
      this.#counters.registrations++
      commands.push({ type: 'arm-timer', key: EXPIRE + mnId, at: bce.expiresAt })
      const v = view(bce)
      commands.push({ type: 'binding-created', mnId, mag, prefixes: v.prefixes, binding: v })
      return { commands, lifetime, prefixes: bce.prefixes, ...(bce.linkLocal !== undefined ? { linkLocal: bce.linkLocal } : {}), reason: 'registered' }
    }
    const fromMag = bce.mag
    const wasDeregistering = bce.state === 'deregistering'
    bce.mag = mag
    bce.state = 'active'
    bce.lifetime = lifetime
    bce.expiresAt = at + lifetime * 1000
    bce.updatedAt = at
    bce.att = att
    bce.hi = hi
    if (llId !== undefined) bce.llId = llId
    // A MAG names the address it uses (RFC 5213 §6.9.1.2 item 15: it replaced ours, found in
    // use on the link): that one is handed on from now on. ALL_ZERO asks for the stored one.
    if (lla !== undefined && !isAllZero(lla)) bce.linkLocal = lla
    else if (lla !== undefined && bce.linkLocal === undefined) bce.linkLocal = linkLocalFor(mnId)
    if (ts !== undefined && this.timestampMode !== 'sequence') bce.lastTimestamp = timestampToMs(ts)
    bce.lastSequence = pbu.sequence
    // RFC 5844 §3.1: the IPv4 home address stays with the session (a new one if first asked now).
    if (v4 !== undefined) {
      bce.ipv4 = v4.address
      bce.ipv4Pooled = v4.pooled
      bce.ipv4PrefixLength = this.#v4pool!.prefixLength
      bce.ipv4Router = this.#v4pool!.router
    }
    if (gre !== undefined && this.greKeys !== 'off') {
      bce.greUplink ??= this.#allocateGreKey()
      if (gre.key !== null) bce.greDownlink = gre.key
    }
    if (wasDeregistering) {
      delete bce.deleteAt
      commands.push({ type: 'cancel-timer', key: DELETE + mnId })
    }
    commands.push({ type: 'arm-timer', key: EXPIRE + mnId, at: bce.expiresAt })
    const v = view(bce)
    let reason: string
    if (fromMag !== mag) {
      // RFC 5213 §5.3.4 (and §5.4.1 for HI 2/3/4): the binding follows the MN to the new MAG.
      this.#counters.handoffs++
      commands.push({ type: 'binding-moved', mnId, mag, fromMag, prefixes: v.prefixes, hi, binding: v })
      reason = 'handoff'
    } else {
      // RFC 5213 §5.3.3: lifetime extension, no handoff.
      this.#counters.refreshes++
      commands.push({ type: 'binding-updated', mnId, mag, prefixes: v.prefixes, binding: v, reason: wasDeregistering ? 'reregistered' : 'refreshed' })
      reason = wasDeregistering ? 'reregistered' : 'refreshed'
    }
    return { commands, lifetime, prefixes: bce.prefixes, ...(bce.linkLocal !== undefined ? { linkLocal: bce.linkLocal } : {}), reason }
  }

  /** Prefixes for a new session: the static ones, or the named / previous / next pool prefix. */
  #assign(mnId: string, pbu: BindingUpdate): { prefixes: Prefix[]; pooled: boolean } | undefined {
    const policy = this.#policies.get(mnId)
    if (policy?.prefixes !== undefined) return { prefixes: [...policy.prefixes], pooled: false }
    if (this.#pool === undefined) return undefined
    const named = filterOptions(pbu.options, 'hnp').find((h) => !isAllZero(h.prefix))
    if (named !== undefined) {
      const p = prefixFromBytes(named.prefix, named.prefixLength)
      return this.#pool.claim(p, mnId) ? { prefixes: [p], pooled: true } : undefined
    }
    const p = this.#pool.allocate(mnId)
    return p === undefined ? undefined : { prefixes: [p], pooled: true }
  }

  /** RFC 5213 §5.3.5. */
  #deregister(at: Millis, mag: string, mnId: string, pbu: BindingUpdate): { commands: LmaCommand[]; lifetime: number; prefixes?: Prefix[]; linkLocal?: Buffer; reason: string } {
    const bce = this.#cache.get(mnId)
    // No binding (already gone): acknowledge, so a retransmitted de-registration still completes.
    if (bce === undefined) return { commands: [], lifetime: 0, reason: 'deregistered-no-binding' }
    // A de-registration from a MAG that lost the binding to another MAG must not delete it.
    if (bce.mag !== mag) return { commands: [], lifetime: 0, prefixes: bce.prefixes, reason: 'deregistered-not-owner' }
    const ts = findOption(pbu.options, 'timestamp')
    if (ts !== undefined && this.timestampMode !== 'sequence') bce.lastTimestamp = timestampToMs(ts)
    bce.lastSequence = pbu.sequence
    bce.updatedAt = at
    if (bce.state === 'deregistering') return { commands: [], lifetime: 0, prefixes: bce.prefixes, reason: 'deregistered-again' }
    this.#counters.deregistrations++
    const commands: LmaCommand[] = [{ type: 'cancel-timer', key: EXPIRE + mnId }]
    if (this.minDelayBeforeBceDeleteMs === 0) {
      commands.push(...this.#delete(bce, 'deregistered'))
      return { commands, lifetime: 0, prefixes: bce.prefixes, reason: 'deregistered' }
    }
    bce.state = 'deregistering'
    bce.deleteAt = at + this.minDelayBeforeBceDeleteMs
    const v = view(bce)
    commands.push({ type: 'arm-timer', key: DELETE + mnId, at: bce.deleteAt })
    commands.push({ type: 'binding-updated', mnId, mag, prefixes: v.prefixes, binding: v, reason: 'deregistered' })
    return { commands, lifetime: 0, prefixes: bce.prefixes, reason: 'deregistered' }
  }

  #delete(bce: Bce, reason: DeleteReason): LmaCommand[] {
    this.#cache.delete(bce.mnId)
    if (bce.pooled) for (const p of bce.prefixes) this.#pool?.release(p)
    if (bce.ipv4 !== undefined && bce.ipv4Pooled === true) this.#v4pool?.release(bce.ipv4)
    const v = view(bce)
    return [{ type: 'binding-deleted', mnId: bce.mnId, mag: bce.mag, prefixes: v.prefixes, binding: v, reason }]
  }

  /**
   * RFC 5844 §3.1: the IPv4 home address for this PBU, or why not; undefined when none was asked.
   * The address held by the binding wins; a named one must be it (or the MN's static one, or a
   * free pool address); 0.0.0.0 asks for one.
   */
  #ipv4For(mnId: string, pbu: BindingUpdate, bce: Bce | undefined): { address: number; pooled: boolean } | Ipv4Refusal | undefined {
    const req = findOption(pbu.options, 'ipv4-hoa-request')
    if (req === undefined) return undefined
    const pool = this.#v4pool
    if (pool === undefined) return { status: BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE, reply: Ipv4HoaReplyStatus.ADMINISTRATIVELY_PROHIBITED, reason: 'ipv4-not-offered' }
    const asked = isAllZero(req.address) ? undefined : ip4ToNumber(req.address)
    const mismatch: Ipv4Refusal = { status: BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS, reply: Ipv4HoaReplyStatus.INCORRECT_IPV4_HOME_ADDRESS, reason: 'ipv4-address-not-the-mns' }
    if (bce?.ipv4 !== undefined) return asked !== undefined && asked !== bce.ipv4 ? mismatch : { address: bce.ipv4, pooled: bce.ipv4Pooled === true }
    const fixed = this.#policies.get(mnId)?.ipv4
    if (fixed !== undefined) return asked !== undefined && asked !== fixed ? mismatch : { address: fixed, pooled: false }
    if (asked !== undefined) {
      const c = pool.claim(asked, mnId)
      if (c === 'ok') return { address: asked, pooled: true }
      if (c === 'in-use') return mismatch
      return { status: BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS, reply: Ipv4HoaReplyStatus.INVALID_IPV4_ADDRESS, reason: `ipv4-address-${c}` }
    }
    const a = pool.allocate(mnId)
    if (a === undefined) return { status: BaStatus.INSUFFICIENT_RESOURCES, reply: Ipv4HoaReplyStatus.DYNAMIC_ASSIGNMENT_NOT_AVAILABLE, reason: 'ipv4-pool-exhausted' }
    return { address: a, pooled: true }
  }

  #allocateGreKey(): number {
    const used = new Set([...this.#cache.values()].map((b) => b.greUplink))
    while (used.has(this.#nextGreKey) || this.#nextGreKey === 0) this.#nextGreKey = (this.#nextGreKey + 1) >>> 0
    const k = this.#nextGreKey
    this.#nextGreKey = (this.#nextGreKey + 1) >>> 0
    return k
  }

  /** The options an accepting PBA adds: RFC 5844 §3.3.2-3.3.4 when asked for IPv4, RFC 5845 when asked for a key. */
  #pbaExtras(pbu: BindingUpdate, bce: Bce | undefined): MobilityOption[] {
    const out: MobilityOption[] = []
    if (bce === undefined) return out
    const pool = this.#v4pool
    if (findOption(pbu.options, 'ipv4-hoa-request') !== undefined && bce.ipv4 !== undefined && pool !== undefined) {
      out.push({ type: 'ipv4-hoa-reply', status: Ipv4HoaReplyStatus.SUCCESS, prefixLength: pool.prefixLength, address: numberToIp4(bce.ipv4) })
      out.push({ type: 'ipv4-default-router', address: numberToIp4(pool.router) })
      out.push({ type: 'ipv4-dhcp-support-mode', server: this.#dhcpServerMode })
    }
    if (findOption(pbu.options, 'gre-key') !== undefined && bce.greUplink !== undefined) out.push({ type: 'gre-key', key: bce.greUplink })
    return out
  }

  // --- timers ---

  #onTimer(at: Millis, key: string): LmaCommand[] {
    if (key.startsWith(REPLY)) {
      const cmd = this.#pending.get(key)
      if (cmd === undefined) return []
      this.#pending.delete(key)
      this.#countSent(cmd)
      return [cmd]
    }
    if (key.startsWith(EXPIRE)) {
      const bce = this.#cache.get(key.slice(EXPIRE.length))
      // A stale timer (the binding was refreshed since) is ignored: the newer one will fire.
      if (bce === undefined || bce.state !== 'active' || bce.expiresAt > at) return []
      this.#counters.expired++
      return this.#delete(bce, 'expired')
    }
    if (key.startsWith(DELETE)) {
      const bce = this.#cache.get(key.slice(DELETE.length))
      if (bce === undefined || bce.state !== 'deregistering' || (bce.deleteAt ?? Infinity) > at) return []
      return this.#delete(bce, 'deregistered')
    }
    return []
  }

  // --- faults ---

  #onFault(_at: Millis, patch: FaultPatch): LmaCommand[] {
    const out: LmaCommand[] = []
    let f: FaultState = patch.clear === true ? NO_FAULTS : this.#faults
    if (patch.drop !== undefined) {
      if (patch.drop === 'all') f = { ...f, dropAll: true }
      else if (patch.drop === 'none') f = { ...f, dropAll: false, dropNext: 0 }
      else f = { ...f, dropNext: nonNegInt(patch.drop, 0, 'drop') }
    }
    if (patch.delayMs !== undefined) f = { ...f, delayMs: nonNegInt(patch.delayMs, 0, 'delayMs') }
    if (patch.silent !== undefined) f = { ...f, silent: patch.silent }
    if (patch.status === null) f = { ...f, statusRules: [] }
    else if (patch.status !== undefined) {
      const s = patch.status
      if (!Number.isInteger(s.status) || s.status < 0 || s.status > 255) throw new RangeError(`status must be 0-255, got ${s.status}`)
      const remaining = s.once === true ? 1 : s.count !== undefined ? nonNegInt(s.count, 1, 'count') : null
      f = { ...f, statusRules: [...f.statusRules, { status: s.status, ...(s.mnId !== undefined ? { mnId: s.mnId } : {}), remaining }] }
    }
    this.#faults = f
    if (patch.reset === true) out.push(...this.#reset())
    return out
  }

  /** First matching rule's status, consuming one use of it. */
  #takeStatusRule(mnId: string): number | undefined {
    const rules = this.#faults.statusRules
    const i = rules.findIndex((r) => (r.mnId === undefined || r.mnId === mnId) && r.remaining !== 0)
    if (i < 0) return undefined
    const r = rules[i] as StatusRule
    if (r.remaining !== null) {
      const next = [...rules]
      if (r.remaining <= 1) next.splice(i, 1)
      else next[i] = { ...r, remaining: r.remaining - 1 }
      this.#faults = { ...this.#faults, statusRules: next }
    }
    return r.status
  }

  /** A simulated LMA restart: bindings, allocations and held answers are gone (fault knobs stay). */
  #reset(): LmaCommand[] {
    const out: LmaCommand[] = []
    for (const bce of [...this.#cache.values()]) {
      out.push({ type: 'cancel-timer', key: EXPIRE + bce.mnId }, { type: 'cancel-timer', key: DELETE + bce.mnId })
      out.push(...this.#delete(bce, 'reset'))
    }
    for (const key of this.#pending.keys()) out.push({ type: 'cancel-timer', key })
    this.#pending.clear()
    this.#pool?.clear()
    this.#v4pool?.clear()
    this.#restartCounter = (this.#restartCounter + 1) >>> 0 // RFC 5847 §3.2: 32-bit, bumped on restart
    this.#counters.resets++
    return out
  }

  // --- output ---

  #reply(at: Millis, r: { to: string; from: string; msg: MhMessage; status?: number; reason: string; mnId?: string }): LmaCommand[] {
    const cmd: Extract<LmaCommand, { type: 'send' }> = {
      type: 'send',
      to: r.to,
      from: r.from,
      bytes: mh.encode(r.msg),
      msg: r.msg,
      reason: r.reason,
      ...(r.status !== undefined ? { status: r.status } : {}),
      ...(r.mnId !== undefined ? { mnId: r.mnId } : {}),
    }
    if (this.#faults.delayMs > 0) {
      const key = `${REPLY}${++this.#replySeq}`
      this.#pending.set(key, cmd)
      return [{ type: 'arm-timer', key, at: at + this.#faults.delayMs }]
    }
    this.#countSent(cmd)
    return [cmd]
  }

  #countSent(cmd: Extract<LmaCommand, { type: 'send' }>): void {
    if (cmd.msg.kind === 'binding-ack') this.#counters.pbas++
  }

  #drop(from: string, reason: string, detail?: string): LmaCommand {
    this.#counters.dropped[reason] = (this.#counters.dropped[reason] ?? 0) + 1
    return { type: 'dropped', from, reason, ...(detail !== undefined ? { detail } : {}) }
  }
}

/** RFC 5213 §5.3.2 item 6 / §5.3.6: the granted lifetime is at most the LMA's maximum, in whole wire units. */
export function grantedLifetime(requested: number, max: number): number {
  const s = Math.min(requested, max)
  return Math.floor(s / LIFETIME_UNIT_SECONDS) * LIFETIME_UNIT_SECONDS
}

/**
 * RFC 5213 §5.3.6: the PBA copies the PBU's sequence number and its MN-ID, HI, ATT, MN LL-ID,
 * Link-local Address and Timestamp options, in the PBU's order; the HNP option(s) carry the
 * assigned prefixes when accepted (copied as received when rejected). Options the LMA does not
 * process (unknown) are not echoed; the IPv4 and GRE Key answers come in `extra`.
 */
export function buildPba(
  pbu: BindingUpdate,
  r: { status: number; lifetime: number; sequence?: number; prefixes?: readonly Prefix[]; linkLocal?: Buffer; timestamp?: { seconds: number; fraction: number }; extra?: readonly MobilityOption[] },
): ProxyBindingAck {
  const options: MobilityOption[] = []
  let hnpDone = false
  let tsDone = false
  for (const o of pbu.options) {
    switch (o.type) {
      case 'hnp':
        if (r.prefixes === undefined) options.push(o)
        else if (!hnpDone) for (const p of r.prefixes) options.push({ type: 'hnp', prefixLength: p.length, prefix: p.prefix })
        hnpDone = true
        break
      case 'timestamp':
        options.push(r.timestamp !== undefined ? { type: 'timestamp', ...r.timestamp } : o)
        tsDone = true
        break
      case 'link-local-address':
        options.push(r.linkLocal !== undefined ? { type: 'link-local-address', address: r.linkLocal } : o)
        break
      case 'mn-id':
      case 'handoff-indicator':
      case 'access-tech-type':
      case 'mn-ll-id':
        options.push(o)
        break
      case 'restart-counter':
      case 'gre-key':
      case 'ipv4-hoa-request':
      case 'ipv4-hoa-reply':
      case 'ipv4-default-router':
      case 'ipv4-dhcp-support-mode':
      case 'unknown':
        break
    }
  }
  if (!tsDone && r.timestamp !== undefined) options.push({ type: 'timestamp', ...r.timestamp })
  if (r.extra !== undefined) options.push(...r.extra)
  return {
    kind: 'binding-ack',
    status: r.status,
    flags: { k: false, r: false, p: pbu.flags.p, t: false, b: false },
    sequence: r.sequence ?? pbu.sequence,
    lifetime: r.lifetime,
    options,
  }
}

function view(b: Bce): BindingView {
  return {
    mnId: b.mnId,
    mag: b.mag,
    prefixes: b.prefixes.map((p) => p.text),
    state: b.state,
    lifetime: b.lifetime,
    expiresAt: b.expiresAt,
    ...(b.deleteAt !== undefined ? { deleteAt: b.deleteAt } : {}),
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
    att: b.att,
    hi: b.hi,
    ...(b.llId !== undefined ? { mnLlId: formatMac(b.llId) } : {}),
    ...(b.linkLocal !== undefined ? { linkLocal: formatIp6(b.linkLocal) } : {}),
    ...(b.lastTimestamp !== undefined ? { lastTimestamp: b.lastTimestamp } : {}),
    lastSequence: b.lastSequence,
    ...(b.ipv4 !== undefined ? { ipv4Address: `${formatIp4(numberToIp4(b.ipv4))}/${b.ipv4PrefixLength ?? 32}` } : {}),
    ...(b.ipv4Router !== undefined ? { ipv4Router: formatIp4(numberToIp4(b.ipv4Router)) } : {}),
    ...(b.greUplink !== undefined ? { greUplinkKey: b.greUplink } : {}),
    ...(b.greDownlink !== undefined ? { greDownlinkKey: b.greDownlink } : {}),
  }
}
