/**
 * The MN's policy profile from RADIUS (RFC 5213 §6.2: the policy store may be AAA; RFC 6572
 * attributes). Sits between the drivers and the core: an attach of an MN without a cached
 * profile is held here while one Access-Request per MN is out; the answer becomes a profile in
 * the core's store and the attach goes on. The core never waits on I/O (design.md, sans-IO).
 *
 * What an MN held here looks like in `mag bindings`: state 'held' with reason 'aaa-pending'
 * (asked, no answer yet) or 'aaa-unreachable' (no server answered: asked again with backoff,
 * RFC 5080 §2.2.1 in spirit), or state 'denied' with the Access-Reject's Reply-Message or the
 * attribute that was missing or malformed. Bounded: one entry per MN, `maxPending` at most.
 *
 * Profiles are cached for their Session-Timeout or `cacheTtlS`; a reload drops the cache, and
 * so do RFC 5176 CoA and Disconnect requests (das.ts) for their MN. A profile stays in the
 * core's store while the MN has a binding, cached or not: an expiry is not a de-registration.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseIp6 } from '@pmip6/wire'
import type { BindingView, PolicyProfile, UnknownMnPolicy } from '@pmip6/core'
import type { AttachedFact, DetachedFact, Logger } from '@pmip6/driver-api'
import { Counters } from '../stats'
import type { Clock } from '../timers'
import { RadiusClient, type RadiusServer, type ServerView } from './client'
import { Attr, NasPortType, RadiusCode, SERVICE_TYPE_CALL_CHECK } from './constants'
import { encodeAccessRequest, hidePassword, octets, text, u32, type RadiusAttribute } from './codec'
import { profileFromAccept, type AaaProfile } from './profile'
import type { PolicySource, RadiusPolicyConfig, RadiusServerConfig } from './types'

/** What the AAA layer asks of the daemon. */
export interface AaaHost {
  /** Hands an attach (with the MN-ID to use) on to the core; `startedAt`: when the driver reported it (performance.now()). */
  admit(driver: string, fact: AttachedFact, startedAt: number): void
  /** Replaces the core's policy store. */
  setProfiles(profiles: readonly PolicyProfile[], unknownMn: UnknownMnPolicy): void
  /** Does the core hold an entry for this MN? */
  hasBinding(mnId: string): boolean
}

/** Reads a shared secret file: its first line, without the line end. */
export function readSecret(path: string): Buffer {
  const s = readFileSync(path, 'utf8').split(/\r?\n/)[0] ?? ''
  if (s.length === 0) throw new Error(`${path}: empty secret`)
  return Buffer.from(s, 'utf8')
}

export function serversOf(list: readonly RadiusServerConfig[]): RadiusServer[] {
  return list.map((s) => ({ address: s.address, port: s.port, secret: readSecret(s.secretFile) }))
}

/** RFC 3580 §3.21: Calling-Station-Id is the MAC as "00-10-A4-23-19-C0". */
export function stationId(mac: string): string {
  return mac.toUpperCase().replace(/:/g, '-')
}

/** RFC 2865 §5.41 NAS-Port-Type from the Access Technology Type (RFC 5213 §8.5). */
export function nasPortTypeOf(att: number): number {
  switch (att) {
    case 3:
      return NasPortType.ETHERNET
    case 4:
      return NasPortType.WIRELESS_802_11
    case 5:
    case 6:
    case 7:
    case 8:
      return NasPortType.WIRELESS_OTHER
    default:
      return NasPortType.VIRTUAL
  }
}

type EntryState = 'pending' | 'unreachable' | 'denied'

interface Entry {
  /** The driver's identity, else the MAC: what the MN is known by before the answer. */
  readonly key: string
  readonly userName: string
  driver: string
  fact: AttachedFact
  startedAt: number
  state: EntryState
  reason: string
  since: number
  attempts: number
  backoffMs: number
  timer: unknown
  /** Bumped when the entry is restarted or removed: a late answer for an old round is ignored. */
  round: number
}

interface Cached {
  readonly aaa: AaaProfile
  readonly expiresAt: number
  readonly server: string
}

export interface AaaStatus {
  readonly source: PolicySource
  readonly cached: number
  readonly pending: number
  readonly unreachable: number
  readonly denied: number
  readonly servers: readonly ServerView[]
}

export class AaaPolicy {
  private readonly client: RadiusClient
  private readonly entries = new Map<string, Entry>()
  /** The entries per state, kept as they change: `mag status` reads them without a walk (issue 23). */
  private readonly perState: Record<EntryState, number> = { pending: 0, unreachable: 0, denied: 0 }
  /** By the key the MN was asked under (driver identity or MAC). */
  private readonly cache = new Map<string, Cached>()
  /** The cache's keys by MN-ID, in the cache's order: an MN's entry is one lookup away (`mag bindings`, release()). */
  private readonly cacheKeysOf = new Map<string, Set<string>>()
  /** RADIUS profiles in the core's store, by MN-ID: cached ones and those of MNs with a binding. */
  private readonly inCore = new Map<string, PolicyProfile>()
  /** Keys that map to an MN-ID in the core (for Disconnect / CoA by MAC or identity). */
  private readonly keyOf = new Map<string, string>()
  readonly counters = new Counters()
  private flushScheduled = false
  private readonly ready: { driver: string; fact: AttachedFact; startedAt: number }[] = []
  private profilesDirty = false
  private sweepTimer: unknown = null
  private stopped = false

  constructor(
    readonly source: Exclude<PolicySource, 'file'>,
    private readonly cfg: RadiusPolicyConfig,
    private fileProfiles: readonly PolicyProfile[],
    private unknownMn: UnknownMnPolicy,
    private readonly proxyCoa: string,
    private readonly host: AaaHost,
    private readonly log: Logger,
    private readonly clock: Clock,
    /** The data plane carries IPv4 (`dataplane.ipv4`): an IPv4 HoA from RADIUS makes the MN dual-stack. */
    private readonly ipv4 = false,
  ) {
    this.client = new RadiusClient(
      {
        kind: 'auth',
        servers: serversOf(cfg.servers),
        timeoutMs: cfg.timeoutMs,
        retries: cfg.retries,
        deadTimeMs: cfg.deadTimeMs,
        requireMessageAuthenticator: cfg.requireMessageAuthenticator,
        answerCodes: [RadiusCode.ACCESS_ACCEPT, RadiusCode.ACCESS_REJECT, RadiusCode.ACCESS_CHALLENGE],
      },
      clock,
      (e) => log.warn('radius socket error', { error: e.message }),
    )
    this.armSweep()
  }

  /** The store the core starts with: the file's profiles (fallback), RADIUS ones come later. */
  coreProfiles(): { profiles: PolicyProfile[]; unknownMn: UnknownMnPolicy } {
    const byId = new Map<string, PolicyProfile>()
    if (this.source === 'radius-then-file') for (const p of this.fileProfiles) byId.set(p.mnId, p)
    for (const [id, p] of this.inCore) byId.set(id, p)
    return { profiles: [...byId.values()], unknownMn: this.source === 'radius-then-file' ? this.unknownMn : 'refuse' }
  }

  // ------------------------------------------------------------------ driver facts

  /** An attach: admitted at once with a cached profile, else held while RADIUS is asked. */
  attached(driver: string, f: AttachedFact, startedAt: number): void {
    if (this.stopped) return
    this.counters.inc('attach')
    const key = f.mnId ?? f.mac
    if (key === undefined) {
      // Nothing to ask RADIUS about: the core refuses it the same way (no profile).
      this.counters.inc('attach-without-identity')
      this.host.admit(driver, f, startedAt)
      return
    }
    const c = this.cache.get(key)
    if (c && c.expiresAt > this.clock.now()) {
      this.counters.inc('cache-hit')
      this.host.admit(driver, { ...f, mnId: c.aaa.mnId }, startedAt)
      return
    }
    if (c) this.expire(key)
    const e = this.entries.get(key)
    if (e && e.state !== 'denied') {
      // One request per MN: this attach waits for the answer already asked for.
      this.counters.inc('attach-while-pending')
      e.fact = f
      e.driver = driver
      e.startedAt = startedAt
      return
    }
    if (!e && this.entries.size >= this.cfg.maxPending) {
      this.counters.inc('refused-overload')
      this.log.warn('aaa: too many MNs waiting for RADIUS, attach refused', { mn: key, maxPending: this.cfg.maxPending })
      return
    }
    if (e) this.remove(e)
    const entry: Entry = {
      key,
      userName: f.mnId ?? stationId(f.mac!),
      driver,
      fact: f,
      startedAt,
      state: 'pending',
      reason: 'aaa-pending',
      since: this.clock.now(),
      attempts: 0,
      backoffMs: this.cfg.retryInitialMs,
      timer: null,
      round: 0,
    }
    this.entries.set(key, entry)
    this.perState.pending++
    this.counters.inc('cache-miss')
    void this.ask(entry)
  }

  /** A detach: an MN waiting here is forgotten (its attach never reached the core). */
  detached(f: DetachedFact): void {
    const key = f.mnId ?? f.mac
    const e = key === undefined ? undefined : this.entries.get(key)
    if (e && (f.mnId !== undefined || e.fact.link === f.link)) {
      this.counters.inc('detached-while-held')
      this.remove(e)
    }
  }

  private remove(e: Entry): void {
    e.round++
    if (e.timer !== null) this.clock.clearTimeout(e.timer)
    e.timer = null
    if (this.entries.get(e.key) === e) {
      this.entries.delete(e.key)
      this.perState[e.state]--
    }
  }

  private setState(e: Entry, s: EntryState): void {
    if (this.entries.get(e.key) === e) {
      this.perState[e.state]--
      this.perState[s]++
    }
    e.state = s
  }

  // ------------------------------------------------------------------ the request

  private attributes(e: Entry): RadiusAttribute[] {
    const a: RadiusAttribute[] = [text(Attr.USER_NAME, e.userName)]
    if (this.cfg.userPassword === 'none') a.push(u32(Attr.SERVICE_TYPE, SERVICE_TYPE_CALL_CHECK))
    if (e.fact.mac) a.push(text(Attr.CALLING_STATION_ID, stationId(e.fact.mac)))
    a.push(u32(Attr.NAS_PORT_TYPE, nasPortTypeOf(e.fact.att)))
    a.push(octets(Attr.NAS_IPV6_ADDRESS, parseIp6(this.proxyCoa)))
    if (this.cfg.nasIdentifier) a.push(text(Attr.NAS_IDENTIFIER, this.cfg.nasIdentifier))
    return a
  }

  private async ask(e: Entry): Promise<void> {
    const round = e.round
    e.attempts++
    this.counters.inc('requests')
    const attrs = this.attributes(e)
    const outcome = await this.client.request((id, server) => {
      const auth = randomBytes(16)
      const all = this.cfg.userPassword === 'user-name' ? [...attrs, octets(Attr.USER_PASSWORD, hidePassword(Buffer.from(e.userName), server.secret, auth))] : attrs
      return { bytes: encodeAccessRequest(id, all, server.secret, auth), authenticator: auth }
    })
    if (this.stopped || e.round !== round || this.entries.get(e.key) !== e) {
      this.counters.inc('answer-for-gone-mn')
      return
    }
    if (outcome.kind !== 'answer') return this.unreachable(e, outcome.kind === 'busy' ? 'busy' : `no answer from ${outcome.tried.join(', ')}`)
    const p = outcome.packet
    if (p.code === RadiusCode.ACCESS_REJECT) {
      const msg = p.attributes.filter((a) => a.type === Attr.REPLY_MESSAGE).map((a) => a.value.toString('utf8')).join(' ')
      return this.deny(e, `aaa-reject${msg ? `: ${msg}` : ''}`, outcome.server)
    }
    if (p.code === RadiusCode.ACCESS_CHALLENGE) return this.deny(e, 'aaa-challenge: not supported (no EAP on this path)', outcome.server)
    const r = profileFromAccept(p.attributes, e.userName, { addressConfig: this.cfg.addressConfig, ipv4: this.ipv4, ...(this.cfg.hostMode ? { hostMode: this.cfg.hostMode } : {}) })
    if (!r.ok) {
      this.counters.inc('accept-unusable')
      return this.deny(e, `aaa-bad-accept: ${r.attribute}: ${r.why}`, outcome.server)
    }
    this.accept(e, r.value, outcome.server, outcome.rttUs)
  }

  private accept(e: Entry, aaa: AaaProfile, server: string, rttUs: number): void {
    this.counters.inc('accepted')
    this.remove(e)
    const ttlS = aaa.sessionTimeoutS !== null && aaa.sessionTimeoutS > 0 ? aaa.sessionTimeoutS : this.cfg.cacheTtlS
    this.cachePut(e.key, { aaa, expiresAt: this.clock.now() + ttlS * 1000, server })
    this.keyOf.set(e.key, aaa.mnId)
    const have = this.inCore.get(aaa.mnId)
    if (!have || JSON.stringify(have) !== JSON.stringify(aaa.profile)) {
      this.inCore.set(aaa.mnId, aaa.profile)
      this.profilesDirty = true
    }
    this.log.info('aaa: profile from radius', { mn: aaa.mnId, asked: e.userName, server, rttUs: Math.round(rttUs), lma: aaa.profile.lma, homePrefixes: aaa.profile.homePrefixes ?? [], mode: aaa.profile.mode, cacheS: ttlS })
    this.ready.push({ driver: e.driver, fact: { ...e.fact, mnId: aaa.mnId }, startedAt: e.startedAt })
    this.scheduleFlush()
  }

  /** Answers arriving together become one store change, then their attaches in order. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      if (this.stopped) return
      this.pushProfiles()
      for (const r of this.ready.splice(0)) this.host.admit(r.driver, r.fact, r.startedAt)
    })
  }

  private pushProfiles(): void {
    if (!this.profilesDirty) return
    this.profilesDirty = false
    const { profiles, unknownMn } = this.coreProfiles()
    this.host.setProfiles(profiles, unknownMn)
  }

  private unreachable(e: Entry, why: string): void {
    this.counters.inc('unreachable')
    const fallback = this.source === 'radius-then-file' ? this.fileProfileFor(e) : null
    if (fallback) {
      this.counters.inc('fallback-file')
      this.log.warn('aaa: radius unreachable, using the file profile', { mn: e.key, why })
      this.remove(e)
      this.host.admit(e.driver, e.fact, e.startedAt)
      return
    }
    const first = e.state !== 'unreachable'
    this.setState(e, 'unreachable')
    e.reason = 'aaa-unreachable'
    const wait = Math.round(e.backoffMs * (0.9 + 0.2 * Math.random()))
    e.backoffMs = Math.min(2 * e.backoffMs, this.cfg.retryMaxMs)
    ;(first ? this.log.warn : this.log.debug).call(this.log, 'aaa: radius unreachable, MN held', { mn: e.key, why, retryInMs: wait, attempts: e.attempts })
    const round = e.round
    e.timer = this.clock.setTimeout(() => {
      e.timer = null
      if (e.round === round && this.entries.get(e.key) === e && !this.stopped) void this.ask(e)
    }, wait)
  }

  private fileProfileFor(e: Entry): boolean {
    if (e.fact.mnId !== undefined && this.fileProfiles.some((p) => p.mnId === e.fact.mnId)) return true
    if (e.fact.mac !== undefined) {
      const m = e.fact.mac.toLowerCase()
      if (this.fileProfiles.some((p) => (p.macs ?? []).some((x) => x.toLowerCase() === m))) return true
    }
    return typeof this.unknownMn === 'object' && (e.fact.mnId !== undefined || this.unknownMn.profile.macNaiRealm !== undefined)
  }

  private deny(e: Entry, reason: string, server: string): void {
    this.counters.inc('denied')
    this.setState(e, 'denied')
    e.reason = reason
    e.since = this.clock.now()
    this.log.warn('aaa: MN denied', { mn: e.key, reason, server })
  }

  // ------------------------------------------------------------------ cache

  private cachePut(key: string, c: Cached): void {
    this.cacheDelete(key)
    this.cache.set(key, c)
    let keys = this.cacheKeysOf.get(c.aaa.mnId)
    if (!keys) this.cacheKeysOf.set(c.aaa.mnId, (keys = new Set()))
    keys.add(key)
  }

  private cacheDelete(key: string): Cached | undefined {
    const c = this.cache.get(key)
    if (!c) return undefined
    this.cache.delete(key)
    const keys = this.cacheKeysOf.get(c.aaa.mnId)
    if (keys) {
      keys.delete(key)
      if (keys.size === 0) this.cacheKeysOf.delete(c.aaa.mnId)
    }
    return c
  }

  /** The MN's first cache entry (in the cache's order), by one keyed lookup. */
  private cachedFor(mnId: string): Cached | undefined {
    const keys = this.cacheKeysOf.get(mnId)
    if (!keys) return undefined
    for (const k of keys) return this.cache.get(k)
    return undefined
  }

  private expire(key: string): void {
    const c = this.cacheDelete(key)
    if (!c) return
    this.counters.inc('cache-expired')
    this.release(c.aaa.mnId)
  }

  /** The MN's profile leaves the core's store once nothing needs it there. */
  private release(mnId: string): void {
    if (this.host.hasBinding(mnId)) return
    if (this.cacheKeysOf.has(mnId)) return
    if (this.inCore.delete(mnId)) this.profilesDirty = true
  }

  /** Sweeps expired profiles and those of MNs gone from the core (bounded work, every 30 s at most). */
  private armSweep(): void {
    if (this.stopped) return
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep()
      this.armSweep()
    }, Math.min(30_000, Math.max(1000, this.cfg.cacheTtlS * 1000)))
  }

  sweep(): void {
    const now = this.clock.now()
    for (const [k, c] of [...this.cache]) if (c.expiresAt <= now) this.expire(k)
    for (const id of [...this.inCore.keys()]) this.release(id)
    for (const [k, id] of [...this.keyOf]) if (!this.cache.has(k) && !this.inCore.has(id)) this.keyOf.delete(k)
    this.pushProfiles()
  }

  /** The MN-ID an identity (User-Name, MAC text, MN-ID) refers to, if RADIUS gave it a profile. */
  mnIdFor(identity: string): string | undefined {
    if (this.inCore.has(identity)) return identity
    return this.keyOf.get(identity)
  }

  /** An MN still waiting here under this identity. */
  heldKey(identity: string): string | undefined {
    return this.entries.has(identity) ? identity : undefined
  }

  /** Drops one MN's cached profile (RFC 5176 CoA, Disconnect): the next attach asks again. */
  dropProfile(mnIdOrKey: string): boolean {
    let dropped = false
    for (const [k, c] of [...this.cache]) {
      if (k === mnIdOrKey || c.aaa.mnId === mnIdOrKey) {
        this.cacheDelete(k)
        this.release(c.aaa.mnId)
        dropped = true
      }
    }
    const e = this.entries.get(mnIdOrKey)
    if (e) {
      this.remove(e)
      dropped = true
    }
    if (dropped) this.counters.inc('profile-dropped')
    this.pushProfiles()
    return dropped
  }

  /** A reload: new file profiles, and every cached RADIUS profile dropped (bound MNs keep theirs). */
  reload(profiles: readonly PolicyProfile[], unknownMn: UnknownMnPolicy): number {
    this.fileProfiles = profiles
    this.unknownMn = unknownMn
    const n = this.cache.size
    for (const k of [...this.cache.keys()]) {
      const c = this.cacheDelete(k)!
      this.release(c.aaa.mnId)
    }
    this.counters.inc('cache-flushed', n)
    this.profilesDirty = true
    this.pushProfiles()
    return n
  }

  /** Extra profile facts (interface ID, IPv4 HoA, DHCP servers) of an MN, for `mag bindings`. */
  profileOf(mnId: string): AaaProfile | undefined {
    return this.cachedFor(mnId)?.aaa
  }

  /** An MN's cached RADIUS profile with the server that gave it and the seconds it has left, for a row of `mag bindings`. */
  cachedProfile(mnId: string): { profile: AaaProfile; server: string; expiresInS: number } | undefined {
    const c = this.cachedFor(mnId)
    return c && { profile: c.aaa, server: c.server, expiresInS: Math.max(0, Math.round((c.expiresAt - this.clock.now()) / 1000)) }
  }

  /** MNs waiting here, as binding views: state 'held' or 'denied' with the reason. */
  views(): BindingView[] {
    return [...this.heldViews()]
  }

  /** views() one at a time: the listing turns them into text in slices (issue 23). */
  *heldViews(): Generator<BindingView> {
    for (const e of this.entries.values()) yield this.heldView(e)
  }

  private heldView(e: Entry): BindingView {
    return {
      mnId: e.key,
      link: e.fact.link,
      state: e.state === 'denied' ? 'denied' : 'held',
      reason: e.reason,
      mode: 'network',
      lma: null,
      prefixes: [],
      homePrefixes: [],
      lifetimeLeft: 0,
      grantedLifetime: 0,
      lastStatus: null,
      retransmissions: Math.max(0, e.attempts - 1),
      pending: null,
      att: e.fact.att,
      mac: e.fact.mac ?? null,
      hi: 0,
      routerAddress: '',
      // RFC 5844 fields: no profile yet, so the default stack and no IPv4 state.
      stack: 'ipv6',
      ipv4Address: null,
      ipv4Router: null,
      ipv4Reason: '',
      ipv4Requested: null,
      greKeys: null,
    }
  }

  status(): AaaStatus {
    const { pending, unreachable, denied } = this.perState
    return { source: this.source, cached: this.cache.size, pending, unreachable, denied, servers: this.client.views() }
  }

  stop(): void {
    this.stopped = true
    if (this.sweepTimer !== null) this.clock.clearTimeout(this.sweepTimer)
    for (const e of [...this.entries.values()]) this.remove(e)
    this.client.close()
  }
}
