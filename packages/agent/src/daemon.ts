/**
 * The MAG daemon: the only place where the world meets the core (design.md). One queue of
 * events; each goes through `core.step()` and the commands that come out are executed here:
 * PBUs and RAs onto raw sockets, timers into one TimerSet, presence questions to the driver,
 * forwarding changes to the data plane, state changes into the log.
 *
 * Received packets are decoded here; malformed ones are counted by reason and dropped.
 */
import { mh, nd, parseMac, WireError, type NdOption } from '@pmip6/wire'
import { createMagCore, type MagCore, type MagCommand, type MagEvent, type BindingView, type LmaHeartbeatView } from '@pmip6/core'
import type { AccessDriver, LinkEvent, Logger, PresenceQuery } from '@pmip6/driver-api'
import type { MockDriver } from '@pmip6/driver-mock'
import type { AddressConfig, PolicyProfile, UnknownMnPolicy } from '@pmip6/core'
import type { AgentConfig } from './config'
import type { MagIo, Packet } from './io'
import { TimerSet, type Clock } from './timers'
import { Counters, LatencyRecorder } from './stats'

export type ForwardingChange = Extract<MagCommand, { type: 'forwarding-up' | 'forwarding-down' }>

/**
 * Where forwarding state goes (forwarding.ts: the kernel through rtnetlink). `apply` may finish
 * later; a rejected forwarding-up comes back to the core as a forwarding-failed event.
 */
export interface DataPlane {
  readonly name: string
  apply(cmd: ForwardingChange): void | Promise<void>
  status?(): unknown
  /** Resolves when every change handed over so far is done. */
  idle?(): Promise<void>
  /** keep: leave the kernel state in place (a restart takes it over). */
  close?(keep: boolean): Promise<void>
}

/** Signalling only: forwarding changes are logged and counted, nothing is installed. */
export const noDataPlane: DataPlane = { name: 'none', apply() {} }

/** The MNs whose binding changed in one batch of events, or 'all' (a profile change). */
export type BindingChanges = ReadonlySet<string> | 'all'

export interface DaemonDeps {
  readonly log: Logger
  readonly clock: Clock
  readonly io: MagIo
  readonly drivers: ReadonlyMap<string, AccessDriver>
  readonly dataplane?: DataPlane
}

export interface LatencyFigures {
  readonly count: number
  readonly p50: number | null
  readonly p99: number | null
}

const figures = (r: LatencyRecorder): LatencyFigures => ({ count: r.count, p50: r.percentile(50), p99: r.percentile(99) })

export interface DaemonStatus {
  readonly uptimeS: number
  readonly address: string
  readonly drivers: readonly string[]
  readonly links: readonly string[]
  readonly bindings: number
  readonly states: Record<string, number>
  readonly counters: Record<string, number>
  /** Attach fact to the HNP RA leaving, the LMA's answer time included. */
  readonly registrationLatencyUs: LatencyFigures
  /** PBU sent to PBA received: the LMA and the path, outside this MAG. */
  readonly lmaRoundTripUs: LatencyFigures
  /** Registration latency minus the LMA round trip: this MAG's own share. */
  readonly magProcessingUs: LatencyFigures
  readonly timers: number
  readonly dataplane: { readonly name: string; readonly state?: unknown }
  /** RFC 5847 heartbeat state per LMA. */
  readonly lmas: readonly LmaHeartbeatView[]
}

type HeartbeatCommand = Extract<MagCommand, { type: 'send-heartbeat' | 'lma-state' }>

export class MagDaemon {
  readonly core: MagCore
  private readonly timers: TimerSet
  private readonly queue: MagEvent[] = []
  private draining = false
  private readonly counters = new Counters()
  // Bumped for every PBU and PBA (2,000 each a second at 100,000 bindings): held, not looked up.
  private readonly cMhRx = this.counters.cell('mh.rx')
  private readonly cMhTx = this.counters.cell('mh.tx')
  private readonly startedAt: number
  private readonly links = new Set<string>()
  private readonly unsubscribe: (() => void)[] = []
  private readonly attachStarts = new Map<string, number>()
  readonly registrationLatency = new LatencyRecorder(10_000)
  readonly lmaRoundTrip = new LatencyRecorder(10_000)
  readonly magProcessing = new LatencyRecorder(10_000)
  /**
   * Send time (performance.now(), ms) of each outstanding PBU by its 16-bit sequence number, and
   * the MN it is for; undefined: none outstanding. Indexed arrays, not a Map of objects, and a
   * double rather than a BigInt: no allocation per PBU (2,000 refreshes a second, issue 8).
   */
  private readonly pbuSentAt = new Float64Array(0x10000)
  private readonly pbuSentMn: (string | undefined)[] = new Array<string | undefined>(0x10000).fill(undefined)
  /** The LMA round trip of the registration each attaching MN is waiting on. */
  private readonly attachRtt = new Map<string, number>()
  private readonly dataplane: DataPlane
  private stopped = false
  /** The policy store as the core has it (kept in step with 'profiles' events), for addressConfigOf. */
  private profiles: ReadonlyMap<string, PolicyProfile>
  private unknownMn: UnknownMnPolicy
  private readonly bindingListeners = new Set<(changed: BindingChanges) => void>()
  private readonly counterSources = new Map<string, () => Readonly<Record<string, number>>>()
  /** The drivers in the order presence is asked (fixed for the daemon's life). */
  private readonly driverList: readonly AccessDriver[]

  constructor(
    readonly cfg: AgentConfig,
    private readonly deps: DaemonDeps,
  ) {
    this.core = createMagCore(cfg.core)
    this.timers = new TimerSet(deps.clock, (key, at, kind, id, ref) => this.enqueue({ type: 'timer', at: Math.max(at, deps.clock.now()), key, kind, id, ref }))
    this.startedAt = deps.clock.now()
    this.dataplane = deps.dataplane ?? noDataPlane
    this.driverList = [...deps.drivers.values()]
    this.profiles = new Map(cfg.core.profiles.map((p) => [p.mnId, p]))
    this.unknownMn = cfg.core.unknownMn ?? 'refuse'
  }

  get mock(): MockDriver | undefined {
    return this.deps.drivers.get('mock') as MockDriver | undefined
  }

  async start(): Promise<void> {
    const { io, log } = this.deps
    io.onMh((p) => this.onMh(p))
    io.onNd((p) => this.onNd(p))
    for (const link of Object.keys(this.cfg.core.links ?? {})) this.ensureLink(link)
    for (const [name, d] of this.deps.drivers) {
      this.unsubscribe.push(d.onEvent((ev) => this.onFact(name, ev)))
      await d.start()
      // Who is attached already (a restart): register them again.
      for (const f of await d.attached()) this.onFact(name, f)
    }
    log.info('mag started', { address: this.cfg.address, drivers: [...this.deps.drivers.keys()], dataplane: this.dataplane.name })
  }

  /** Stops drivers, timers and sockets. With `deregister`, every MN is de-registered first. */
  async stop(deregister = this.cfg.shutdown === 'deregister'): Promise<void> {
    if (this.stopped) return
    if (deregister) await this.deregisterAll(this.cfg.shutdownTimeoutMs)
    this.stopped = true
    for (const u of this.unsubscribe.splice(0)) u()
    for (const d of this.deps.drivers.values()) await d.stop()
    this.timers.stop()
    this.deps.io.close()
    try {
      await this.dataplane.close?.(!deregister)
    } catch (e) {
      this.deps.log.error('data plane close failed', { error: (e as Error).message })
    }
    this.deps.log.info('mag stopped', { deregistered: deregister })
  }

  private async deregisterAll(timeoutMs: number): Promise<void> {
    const now = this.deps.clock.now()
    for (const b of this.core.bindings(now)) this.enqueue({ type: 'detached', at: now, link: b.link, mnId: b.mnId, ...(b.mac ? { llId: parseMac(b.mac) } : {}), cause: 'admin' })
    const until = Date.now() + timeoutMs
    while (this.core.bindings().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  }

  // ------------------------------------------------------------------ inputs

  onFact(driver: string, f: LinkEvent): void {
    if (this.stopped) return
    const at = this.deps.clock.now()
    this.counters.inc(`driver.${driver}.${f.type}`)
    if (f.type === 'attached') {
      this.ensureLink(f.link)
      if (f.mnId) this.attachStarts.set(f.mnId, performance.now())
      this.enqueue({
        type: 'attached',
        at,
        link: f.link,
        att: f.att,
        ...(f.mnId ? { mnId: f.mnId } : {}),
        ...(f.mac ? { llId: parseMac(f.mac) } : {}),
        ...(f.hint ? { hint: f.hint } : {}),
      })
    } else {
      this.enqueue({ type: 'detached', at, link: f.link, cause: f.cause, ...(f.mnId ? { mnId: f.mnId } : {}), ...(f.mac ? { llId: parseMac(f.mac) } : {}) })
    }
  }

  private onMh(p: Packet): void {
    this.cMhRx.n++
    let m
    try {
      m = mh.decode(p.data)
    } catch (e) {
      this.drop('mh', e, p)
      return
    }
    switch (m.kind) {
      case 'binding-ack': {
        if (!m.flags.p) {
          this.counters.inc('mh.drop.not-proxy')
          return
        }
        const seq = m.sequence & 0xffff
        const sentMn = this.pbuSentMn[seq]
        if (sentMn !== undefined) {
          this.pbuSentMn[seq] = undefined
          const rtt = (performance.now() - this.pbuSentAt[seq]!) * 1000
          this.lmaRoundTrip.add(rtt)
          if (this.attachStarts.has(sentMn)) this.attachRtt.set(sentMn, rtt)
        }
        this.enqueue({ type: 'pba', at: this.deps.clock.now(), from: p.src, pba: m })
        return
      }
      case 'heartbeat':
        // RFC 5847: requests from an LMA and responses to ours; the core matches and answers.
        this.enqueue({ type: 'heartbeat', at: this.deps.clock.now(), from: p.src, heartbeat: m })
        return
      case 'binding-update':
      case 'binding-error':
      case 'other':
        this.counters.inc(`mh.drop.unexpected-${m.kind}`)
        return
    }
  }

  private onNd(p: Packet): void {
    this.counters.inc('nd.rx')
    let m
    try {
      m = nd.decode(p.data)
    } catch (e) {
      this.drop('nd', e, p)
      return
    }
    if (m.kind !== 'router-solicitation') {
      this.counters.inc('nd.drop.not-rs')
      return
    }
    if (!this.links.has(p.link)) {
      this.counters.inc('nd.drop.not-access-link')
      return
    }
    const slla = m.options.find((o: NdOption): o is Extract<NdOption, { type: 'source-ll-addr' }> => o.type === 'source-ll-addr')
    this.enqueue({ type: 'rs', at: this.deps.clock.now(), link: p.link, from: p.src, hopLimit: p.hopLimit, ...(slla ? { llId: slla.address } : {}) })
  }

  private drop(proto: string, e: unknown, p: Packet): void {
    if (!(e instanceof WireError)) throw e
    this.counters.inc(`${proto}.malformed`)
    this.counters.inc(`${proto}.malformed.${e.reason}`)
    this.deps.log.debug('malformed packet dropped', { proto, reason: e.reason, offset: e.offset, src: p.src, link: p.link })
  }

  /** Every event goes through this one queue, so commands never interleave with other events. */
  enqueue(ev: MagEvent): void {
    if (this.stopped) return
    this.queue.push(ev)
    if (this.draining) return
    this.draining = true
    // Which MNs changed in this batch ('all' after a profile change); only gathered for listeners.
    const listening = this.bindingListeners.size > 0
    let changed: Set<string> | 'all' | null = null
    try {
      for (let ev2 = this.queue.shift(); ev2 !== undefined; ev2 = this.queue.shift()) {
        if (ev2.type === 'profiles') {
          this.profiles = new Map(ev2.profiles.map((p) => [p.mnId, p]))
          if (ev2.unknownMn !== undefined) this.unknownMn = ev2.unknownMn
          changed = 'all'
        }
        const cmds = this.core.step(ev2)
        for (const c of cmds) {
          if (listening && changed !== 'all' && (c.type === 'state-changed' || c.type === 'forwarding-up' || c.type === 'forwarding-down')) {
            changed ??= new Set()
            changed.add(c.mnId)
          }
          this.execute(c)
        }
      }
    } finally {
      this.draining = false
    }
    if (changed !== null && listening) this.notifyBindings(changed)
  }

  // ------------------------------------------------------------------ outputs

  private execute(c: MagCommand): void {
    const { io, log } = this.deps
    switch (c.type) {
      case 'send-pbu': {
        const bytes = mh.encode(c.pbu)
        // Timestamps are taken as a packet is handed to the kernel: on veth, sendmsg() also runs
        // the receiving namespace's processing, which belongs to the peer, not to us.
        const sentAt = performance.now()
        try {
          io.sendMh(bytes, c.to, this.cfg.address)
          this.cMhTx.n++
        } catch (e) {
          this.counters.inc('mh.tx-error')
          log.warn('pbu send failed', { mnId: c.mnId, lma: c.to, seq: c.pbu.sequence, error: (e as Error).message })
        }
        // Bounded by construction: one slot per sequence number, a newer PBU replaces an unanswered one.
        const seq = c.pbu.sequence & 0xffff
        this.pbuSentAt[seq] = sentAt
        this.pbuSentMn[seq] = c.mnId
        log.debug('pbu sent', { mnId: c.mnId, lma: c.to, seq: c.pbu.sequence, lifetime: c.pbu.lifetime })
        return
      }
      case 'send-ra': {
        const bytes = nd.encode(c.ra)
        const sentAt = performance.now()
        try {
          io.sendNd(bytes, c.link, c.to, c.src)
          this.counters.inc('nd.tx.ra')
        } catch (e) {
          this.counters.inc('nd.tx-error')
          log.warn('ra send failed', { mnId: c.mnId, link: c.link, to: c.to, error: (e as Error).message })
          return
        }
        const started = this.attachStarts.get(c.mnId)
        if (started !== undefined && c.ra.options.some((o) => o.type === 'prefix-info' && o.validLifetime > 0)) {
          this.attachStarts.delete(c.mnId)
          const total = (sentAt - started) * 1000
          this.registrationLatency.add(total)
          const rtt = this.attachRtt.get(c.mnId)
          if (rtt !== undefined) {
            this.attachRtt.delete(c.mnId)
            this.magProcessing.add(total - rtt)
          }
        }
        return
      }
      case 'arm-timer':
        this.timers.armParts(c.kind, c.id, c.at, c.ref ?? -1)
        return
      case 'cancel-timer':
        this.timers.cancelParts(c.kind, c.id, c.ref ?? -1)
        return
      case 'query-presence':
        this.askPresence(c.mnId, c.link, c.llId)
        return
      case 'forwarding-up':
      case 'forwarding-down':
        this.counters.inc(`dataplane.${c.type}`)
        try {
          const done = this.dataplane.apply(c)
          if (done) done.catch((e: unknown) => this.forwardingFailed(c, e))
        } catch (e) {
          this.forwardingFailed(c, e)
        }
        log.info(c.type === 'forwarding-up' ? 'forwarding up' : 'forwarding down', { mnId: c.mnId, link: c.link, prefixes: c.prefixes, mode: c.mode, lma: c.lma })
        return
      case 'link-teardown': {
        this.counters.inc('link.teardown')
        log.info('link teardown', { mnId: c.mnId, link: c.link, mac: c.llId })
        for (const d of this.deps.drivers.values()) void d.teardown?.({ link: c.link, mnId: c.mnId, ...(c.llId ? { mac: c.llId } : {}) })
        return
      }
      case 'state-changed':
        if (c.to === 'removed') {
          this.attachStarts.delete(c.mnId)
          this.attachRtt.delete(c.mnId)
        }
        log.info('state changed', { mnId: c.mnId, from: c.from, to: c.to, reason: c.reason })
        return
      case 'send-heartbeat':
      case 'lma-state':
        this.executeHeartbeat(c)
        return
    }
  }

  // ------------------------------------------------------------------ heartbeat (RFC 5847)

  private executeHeartbeat(c: HeartbeatCommand): void {
    const { io, log } = this.deps
    if (c.type === 'send-heartbeat') {
      const kind = c.heartbeat.flags.r ? 'response' : 'request'
      try {
        io.sendMh(mh.encode(c.heartbeat), c.to, this.cfg.address)
        this.counters.inc('mh.tx')
        this.counters.inc(`mh.tx.heartbeat-${kind}`)
      } catch (e) {
        this.counters.inc('mh.tx-error')
        log.warn('heartbeat send failed', { lma: c.to, kind, seq: c.heartbeat.sequence, error: (e as Error).message })
        return
      }
      log.debug('heartbeat sent', { lma: c.to, kind, seq: c.heartbeat.sequence })
      return
    }
    const fields = { lma: c.lma, state: c.state, reason: c.reason, restartCounter: c.restartCounter }
    if (c.state === 'unreachable' || c.reason.startsWith('lma-restarted')) log.warn('lma state', fields)
    else log.info('lma state', fields)
  }

  /** Asks the drivers in turn until one says the MN is there; synchronous answers stay synchronous. */
  private askPresence(mnId: string, link: string, mac: string | null, from = 0): void {
    const q: PresenceQuery = mac ? { link, mnId, mac } : { link, mnId }
    const drivers = this.driverList
    for (let i = from; i < drivers.length; i++) {
      const d = drivers[i]!
      let r: boolean | Promise<boolean>
      try {
        r = d.present(q)
      } catch (e) {
        this.presenceFailed(d, mnId, e)
        continue
      }
      if (r === true) return this.enqueue({ type: 'presence', at: this.deps.clock.now(), mnId, present: true })
      if (r === false) continue
      r.then(
        (yes) => (yes ? this.enqueue({ type: 'presence', at: this.deps.clock.now(), mnId, present: true }) : this.askPresence(mnId, link, mac, i + 1)),
        (e: unknown) => {
          this.presenceFailed(d, mnId, e)
          this.askPresence(mnId, link, mac, i + 1)
        },
      )
      return
    }
    this.enqueue({ type: 'presence', at: this.deps.clock.now(), mnId, present: false })
  }

  private presenceFailed(d: AccessDriver, mnId: string, e: unknown): void {
    this.deps.log.warn('presence check failed', { driver: d.name, mnId, error: (e as Error).message })
  }

  /** RFC 5213 §6.10: without forwarding the binding is of no use; the core ends it with the reason. */
  private forwardingFailed(c: ForwardingChange, e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e)
    this.counters.inc('dataplane.error')
    this.deps.log.error('data plane change failed', { mnId: c.mnId, op: c.type, prefixes: c.prefixes, error: reason })
    if (c.type === 'forwarding-up') this.enqueue({ type: 'forwarding-failed', at: this.deps.clock.now(), mnId: c.mnId, prefixes: c.prefixes, reason })
  }

  /** On every attach: a link may be a new interface under an old name (a new pppd session). */
  private ensureLink(link: string): void {
    this.deps.io.addLink(link)
    this.links.add(link)
  }

  // ------------------------------------------------------------------ views

  bindings(): readonly BindingView[] {
    return this.core.bindings(this.deps.clock.now())
  }

  /** One MN's binding, or undefined when there is none. */
  binding(mnId: string): BindingView | undefined {
    return this.core.binding(mnId, this.deps.clock.now())
  }

  /**
   * Calls `fn` after each batch of events that changed a binding (state, prefixes, forwarding)
   * or the profiles, with the MNs that changed ('all' after a profile change): services beside
   * the core (the DHCPv6 relay) re-read those with `binding(mnId)` (or `bindings()` for 'all')
   * instead of reaching into the core. Returns the unsubscribe function.
   */
  onBindingsChanged(fn: (changed: BindingChanges) => void): () => void {
    this.bindingListeners.add(fn)
    return () => {
      this.bindingListeners.delete(fn)
    }
  }

  /** Address configuration the MN's current profile allows (RFC 5213 §6.2); 'stateless' when unknown. */
  addressConfigOf(mnId: string): AddressConfig {
    const p = this.profiles.get(mnId)
    if (p) return p.addressConfig ?? 'stateless'
    return typeof this.unknownMn === 'object' ? (this.unknownMn.profile.addressConfig ?? 'stateless') : 'stateless'
  }

  /** Counters of a service beside the daemon, shown in `mag status` under `<prefix>`. */
  addCounters(prefix: string, fn: () => Readonly<Record<string, number>>): void {
    this.counterSources.set(prefix, fn)
  }

  private notifyBindings(changed: BindingChanges): void {
    for (const fn of this.bindingListeners) {
      try {
        fn(changed)
      } catch (e) {
        this.deps.log.error('bindings listener failed', { error: (e as Error).message })
      }
    }
  }

  private extraCounters(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [p, fn] of this.counterSources) Object.assign(out, prefixKeys(p, fn()))
    return out
  }

  status(): DaemonStatus {
    // Counts only: a view per binding cost ~1 µs each, and storms and scrapes poll status (issue 8).
    const states: Record<string, number> = { ...this.core.stateCounts() }
    let bindings = 0
    for (const k in states) bindings += states[k]!
    const lat = this.registrationLatency
    return {
      uptimeS: Math.round((this.deps.clock.now() - this.startedAt) / 1000),
      address: this.cfg.address,
      drivers: [...this.deps.drivers.keys()],
      links: [...this.links],
      bindings,
      states,
      counters: { ...this.counters.snapshot(), ...prefixKeys('core.', this.core.counters()), ...this.extraCounters() },
      registrationLatencyUs: figures(lat),
      lmaRoundTripUs: figures(this.lmaRoundTrip),
      magProcessingUs: figures(this.magProcessing),
      timers: this.timers.size,
      dataplane: { name: this.dataplane.name, ...(this.dataplane.status ? { state: this.dataplane.status() } : {}) },
      lmas: this.core.lmas(),
    }
  }
}

function prefixKeys(p: string, o: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(o)) out[p + k] = v
  return out
}


