/**
 * The MAG daemon: the only place where the world meets the core (design.md). One queue of
 * events; each goes through `core.step()` and the commands that come out are executed here:
 * PBUs and RAs onto raw sockets, timers into one TimerSet, presence questions to the driver,
 * forwarding changes to the data plane, state changes into the log.
 *
 * Received packets are decoded here; malformed ones are counted by reason and dropped.
 *
 * Mobility Headers are first checked for where they came from (ingress.ts): only the
 * transport side and known LMAs are read. Those peers get RFC 6275 §9.2 answers to what
 * cannot be read: a Binding Error (status 2) for an unknown MH type, an ICMPv6 Parameter
 * Problem for a bad Payload Proto or a Header Len too small, both rate-limited (RFC 4443 §2.4).
 *
 * After a TIMESTAMP_MISMATCH (RFC 5213 §6.9.1.2 item 9) the core waits for a clock-synced
 * event: `mag clock-synced` gives it, and so does the kernel, asked with backoff while the
 * core waits (clockSynced: adjtimex STA_UNSYNC).
 */
import { randomInt } from 'node:crypto'
import { canonicalIp6, formatIp6, mh, nd, parameterProblem, invokingPacket, parseIp6, isIp6, BeStatus, ParamProbCode, IPV6_HEADER_LENGTH, IPPROTO_MH, ALL_ZERO_ADDR, parseMac, WireError, type NdOption } from '@pmip6/wire'
import type { LinkAddressOps } from '@pmip6/dataplane'
import { createMagCore, type MagCore, type MagCommand, type MagEvent, type BindingPage, type BindingView, type LmaHeartbeatView } from '@pmip6/core'
import type { AccessDriver, AttachedFact, LinkEvent, Logger, PresenceQuery } from '@pmip6/driver-api'
import type { MockDriver } from '@pmip6/driver-mock'
import type { AddressConfig, Ipv4LeaseCommand, PolicyProfile, UnknownMnPolicy } from '@pmip6/core'
import type { AgentConfig } from './config'
import type { MagIo, Packet } from './io'
import { TimerSet, type Clock } from './timers'
import { Counters, Histogram, LatencyRecorder } from './stats'
import { HeldLog } from './log'
import { MhIngress, TokenBucket, configuredLmas, ingressConfigOf, type MhDropReason } from './ingress'
import { LinkAddressExecutor } from './link-address'
import { PathMtuTable, type TunnelMtuChange } from './path-mtu'
import type { AaaHost, AaaPolicy, AaaStatus } from './radius/aaa'
import type { ServerView } from './radius/client'
import type { ListingSource } from './listing'

/** RFC 6275 §6.1.1: where the fields a Parameter Problem points at sit in the Mobility Header. */
const MH_PAYLOAD_PROTO_OFFSET = 0
const MH_HEADER_LEN_OFFSET = 1

export type ForwardingChange = Extract<MagCommand, { type: 'forwarding-up' | 'forwarding-down' }>

/**
 * Where forwarding state goes (forwarding.ts: the kernel through rtnetlink). `apply` may finish
 * later; a rejected forwarding-up comes back to the core as a forwarding-failed event.
 */
export interface DataPlane {
  readonly name: string
  /** Whether it carries RFC 5845 GRE keys (the kernel's: ip6gre); absent: not known. */
  readonly gre?: boolean
  apply(cmd: ForwardingChange): void | Promise<void>
  status?(): unknown
  /** Resolves when every change handed over so far is done. */
  idle?(): Promise<void>
  /** keep: leave the kernel state in place (a restart takes it over). */
  close?(keep: boolean): Promise<void>
  /** The path MTU towards `peer` (null: every peer without its own) changed (RFC 5213 §6.9.5). */
  setPathMtu?(peer: string | null, pathMtu: number): Promise<void>
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
  /**
   * Whether the kernel reports the clock synchronised (run.ts: adjtimex through @pmip6/rawsock);
   * absent: only `mag clock-synced` ends a clock wait.
   */
  readonly clockSynced?: () => boolean
  /**
   * Puts the LMA-supplied link-local router addresses on access links (RFC 5213 §6.9.1.2 item
   * 15); absent: no kernel to configure (an in-memory I/O), every address is ready at once.
   */
  readonly linkAddresses?: LinkAddressOps
  /** The tunnel MTU the operator configured (mag.tunnelMtu), if any: a learnt path never goes above it. */
  readonly tunnelMtuCap?: number
}

/** Clock checks while the core waits for a synchronised clock: 1 s, doubling up to 64 s (RFC 5213 §6.9.4 in spirit). */
export const CLOCK_CHECK_INITIAL_MS = 1_000
export const CLOCK_CHECK_MAX_MS = 64_000

export interface LatencyFigures {
  readonly count: number
  readonly p50: number | null
  readonly p99: number | null
}

const REGISTRATION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const figures = (r: LatencyRecorder): LatencyFigures => ({ count: r.count, p50: r.percentile(50), p99: r.percentile(99) })

export interface DaemonStatus {
  readonly uptimeS: number
  readonly address: string
  readonly drivers: readonly string[]
  /** The first STATUS_LINKS_MAX access links (a PPP MAG has one per session: status stays O(1)). */
  readonly links: readonly string[]
  /** All access links. */
  readonly linkCount: number
  readonly bindings: number
  readonly states: Record<string, number>
  readonly counters: Record<string, number>
  /** Attach fact to the HNP RA leaving, the LMA's answer time included. */
  readonly registrationLatencyUs: LatencyFigures
  /** Attach to RA with the home prefix, every registration since start: the Prometheus histogram. */
  readonly registrationLatencyHistogram?: { readonly bounds: readonly number[]; readonly cumulative: readonly number[]; readonly sum: number; readonly count: number }
  /** When the counters started (ms since the epoch): RFC 6475 pmip6CounterDiscontinuityTime. */
  readonly countersSince?: number
  /** PBU sent to PBA received: the LMA and the path, outside this MAG. */
  readonly lmaRoundTripUs: LatencyFigures
  /** Registration latency minus the LMA round trip: this MAG's own share. */
  readonly magProcessingUs: LatencyFigures
  readonly timers: number
  readonly dataplane: { readonly name: string; readonly state?: unknown }
  /** RFC 5847 heartbeat state per LMA. */
  readonly lmas: readonly LmaHeartbeatView[]
  /** The RADIUS policy source, when `policy.source` is not `file`. */
  readonly aaa?: AaaStatus & { readonly accounting?: readonly ServerView[] }
}

/** Access links `status` names; `linkCount` counts them all. */
export const STATUS_LINKS_MAX = 64

/** A binding as `mag bindings` shows it: with what RADIUS said of the MN, when it did. */
export type BindingRow = BindingView & { readonly aaa?: Readonly<Record<string, unknown>> }

type HeartbeatCommand = Extract<MagCommand, { type: 'send-heartbeat' | 'lma-state' }>

/** RFC 4443 §3.2 */
const ICMP6_PACKET_TOO_BIG = 2

export class MagDaemon implements AaaHost {
  readonly core: MagCore
  private readonly timers: TimerSet
  private readonly queue: MagEvent[] = []
  private draining = false
  private readonly counters = new Counters()
  // Bumped for every PBU and PBA (2,000 each a second at 100,000 bindings): held, not looked up.
  private readonly cMhRx = this.counters.cell('mh.rx')
  private readonly cMhTx = this.counters.cell('mh.tx')
  // One attach and one forwarding change per registration: held too, not names built per event.
  private readonly cFwdUp = this.counters.cell('dataplane.forwarding-up')
  private readonly cFwdDown = this.counters.cell('dataplane.forwarding-down')
  private readonly cNdTxRa = this.counters.cell('nd.tx.ra')
  /** `driver.<name>.attached` / `.detached` of each driver. */
  private readonly cFacts = new Map<string, { readonly attached: { n: number }; readonly detached: { n: number } }>()
  /** Where Mobility Headers are taken from (item 1 of issue 17). */
  private readonly ingress: MhIngress
  /** RFC 4443 §2.4 (f): Binding Errors and Parameter Problems share one bucket. */
  private readonly errorBucket: TokenBucket
  private peersStale = false
  private readonly startedAt: number
  private readonly links = new Set<string>()
  private readonly unsubscribe: (() => void)[] = []
  private readonly attachStarts = new Map<string, number>()
  readonly registrationLatency = new LatencyRecorder(10_000)
  /** Seconds; bounds from 100 µs (an idle MAG with its LMA next door) to 10 s (retransmissions). */
  readonly registrationHistogram = new Histogram(REGISTRATION_BUCKETS_S)
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
  /** The pending kernel clock check, and the wait before the next one (kept across waits until a registration succeeds). */
  private clockCheck: unknown = null
  private clockCheckMs = CLOCK_CHECK_INITIAL_MS
  private readonly linkAddrs: LinkAddressExecutor
  /** RFC 5213 §6.9.5: the path MTU towards each LMA, from the uplink's MTU and Packet Too Big. */
  readonly pathMtu: PathMtuTable
  private uplink: string | null = null
  /** Last MTU the kernel reported for each link but the uplink (RFC 5213 §6.9.5: an access link's caps the RA's MTU). */
  private readonly accessMtu = new Map<string, number>()
  private pmtuTimer: unknown = null
  private readonly selfBytes: Buffer
  /** The RADIUS policy source: attaches go through it first (radius/aaa.ts). */
  private aaa: AaaPolicy | null = null
  private accountingViews: (() => readonly ServerView[]) | null = null
  /** Lines written once a batch's packets are out (HeldLog). */
  private readonly log: HeldLog

  constructor(
    readonly cfg: AgentConfig,
    private readonly deps: DaemonDeps,
  ) {
    // RFC 6275 §11.7.1 lets the sequence numbers start anywhere: at random, so they cannot be
    // guessed (issue 17); what an LMA still holds from an earlier run is unknown either way,
    // and a status 135 resynchronises (core).
    this.log = new HeldLog(deps.log)
    this.core = createMagCore({ ...cfg.core, initialSequence: cfg.core.initialSequence ?? randomInt(0x10000) })
    this.timers = new TimerSet(deps.clock, (key, at, kind, id, ref) => this.enqueue({ type: 'timer', at: Math.max(at, deps.clock.now()), key, kind, id, ref }))
    this.startedAt = deps.clock.now()
    this.dataplane = deps.dataplane ?? noDataPlane
    this.driverList = [...deps.drivers.values()]
    this.profiles = new Map(cfg.core.profiles.map((p) => [p.mnId, p]))
    this.unknownMn = cfg.core.unknownMn ?? 'refuse'
    this.ingress = new MhIngress(ingressConfigOf(cfg))
    this.ingress.setPeers(configuredLmas(cfg.core.profiles, cfg.core.unknownMn))
    this.errorBucket = new TokenBucket(deps.clock.now())
    this.linkAddrs = new LinkAddressExecutor(
      deps.linkAddresses ?? null,
      (r) => this.enqueue({ type: 'link-address', at: this.deps.clock.now(), ...r }),
      deps.log,
      this.counters,
    )
    const caps = new Map(Object.entries(cfg.core.lmaMtu ?? {}).map(([k, v]) => [canonicalIp6(k), v]))
    this.pathMtu = new PathMtuTable(cfg.dataplane?.pathMtu ?? null, caps, deps.tunnelMtuCap ?? null)
    this.selfBytes = parseIp6(cfg.address)
  }

  get mock(): MockDriver | undefined {
    return this.deps.drivers.get('mock') as MockDriver | undefined
  }

  async start(): Promise<void> {
    const { io } = this.deps
    const log = this.log
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
    if (this.clockCheck !== null) this.deps.clock.clearTimeout(this.clockCheck)
    this.clockCheck = null
    for (const u of this.unsubscribe.splice(0)) u()
    for (const d of this.deps.drivers.values()) await d.stop()
    this.timers.stop()
    this.aaa?.stop()
    if (this.pmtuTimer !== null) this.deps.clock.clearTimeout(this.pmtuTimer)
    // De-registered MNs took their router addresses off; what is under way finishes first.
    await this.linkAddrs.close()
    this.deps.io.close()
    try {
      await this.dataplane.close?.(!deregister)
    } catch (e) {
      this.log.error('data plane close failed', { error: (e as Error).message })
    }
    this.log.info('mag stopped', { deregistered: deregister })
  }

  private async deregisterAll(timeoutMs: number): Promise<void> {
    const now = this.deps.clock.now()
    for (const b of this.core.bindings(now)) this.enqueue({ type: 'detached', at: now, link: b.link, mnId: b.mnId, ...(b.mac ? { llId: parseMac(b.mac) } : {}), cause: 'admin' })
    const until = Date.now() + timeoutMs
    while (this.core.bindings().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  }

  // ------------------------------------------------------------------ inputs

  /** Puts the RADIUS policy source between the drivers and the core. */
  useAaa(aaa: AaaPolicy, accounting?: () => readonly ServerView[]): void {
    this.aaa = aaa
    this.accountingViews = accounting ?? null
    this.addCounters('aaa.', () => aaa.counters.snapshot())
  }

  onFact(driver: string, f: LinkEvent): void {
    if (this.stopped) return
    this.factCells(driver)[f.type].n++
    if (f.type === 'attached') {
      if (this.aaa) this.aaa.attached(driver, f, performance.now())
      else this.admit(driver, f, performance.now())
      return
    }
    this.aaa?.detached(f)
    this.enqueue({ type: 'detached', at: this.deps.clock.now(), link: f.link, cause: f.cause, ...(f.mnId ? { mnId: f.mnId } : {}), ...(f.mac ? { llId: parseMac(f.mac) } : {}) })
  }

  private factCells(driver: string): { readonly attached: { n: number }; readonly detached: { n: number } } {
    let c = this.cFacts.get(driver)
    if (c === undefined) {
      c = { attached: this.counters.cell(`driver.${driver}.attached`), detached: this.counters.cell(`driver.${driver}.detached`) }
      this.cFacts.set(driver, c)
    }
    return c
  }

  /** An attach goes on to the core (after the policy source, if any); `startedAt`: when the driver reported it (performance.now()). */
  admit(_driver: string, f: AttachedFact, startedAt: number = performance.now()): void {
    if (this.stopped) return
    const at = this.deps.clock.now()
    {
      this.ensureLink(f.link)
      if (f.mnId) this.attachStarts.set(f.mnId, startedAt)
      this.enqueue({
        type: 'attached',
        at,
        link: f.link,
        att: f.att,
        ...(f.mnId ? { mnId: f.mnId } : {}),
        ...(f.mac ? { llId: parseMac(f.mac) } : {}),
        ...(f.hint ? { hint: f.hint } : {}),
      })
    }
  }

  setProfiles(profiles: readonly PolicyProfile[], unknownMn: UnknownMnPolicy): void {
    this.enqueue({ type: 'profiles', at: this.deps.clock.now(), profiles, unknownMn })
  }

  hasBinding(mnId: string): boolean {
    return this.core.binding(mnId) !== undefined
  }

  /**
   * RFC 5176 Disconnect-Request: the MN's link is torn down where the driver can, and the core
   * de-registers it. false: no such MN.
   */
  disconnect(mnId: string): boolean {
    const b = this.core.binding(mnId, this.deps.clock.now())
    if (!b) return false
    this.counters.inc('aaa.disconnect')
    this.deps.log.info('disconnect', { mnId, link: b.link, mac: b.mac })
    for (const d of this.deps.drivers.values()) void d.teardown?.({ link: b.link, mnId, ...(b.mac ? { mac: b.mac } : {}) })?.catch(() => undefined)
    this.enqueue({ type: 'detached', at: this.deps.clock.now(), link: b.link, mnId, ...(b.mac ? { llId: parseMac(b.mac) } : {}), cause: 'admin' })
    return true
  }

  private onMh(p: Packet): void {
    this.cMhRx.n++
    const why = this.ingress.check(p.link, p.src)
    if (why !== null) return this.mhRxDrop(why, p)
    let m
    try {
      m = mh.decode(p.data)
    } catch (e) {
      this.drop('mh', e, p)
      this.answerMalformed(e as WireError, p)
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
      case 'binding-error':
        // RFC 5847 §3: an LMA without heartbeat support answers ours with status 2; the core decides.
        this.enqueue({ type: 'binding-error', at: this.deps.clock.now(), from: p.src, error: m })
        return
      case 'binding-update':
        this.counters.inc(`mh.drop.unexpected-${m.kind}`)
        return
      case 'other':
        this.counters.inc(`mh.drop.unexpected-${m.kind}`)
        this.answerUnknownType(m.mhType, p)
        return
    }
  }

  /**
   * Signalling from anywhere but the transport side and our LMAs: counted, dropped, never
   * answered (ingress.ts says why).
   */
  private mhRxDrop(why: MhDropReason, p: Packet): void {
    this.counters.inc('mh.rx.dropped')
    this.counters.inc(`mh.rx.dropped.${why}`)
    this.log.debug('mobility header dropped', { reason: why, src: p.src, link: p.link })
  }

  /**
   * RFC 6275 §9.2: an MH type we do not recognise gets a Binding Error with status 2. The Home
   * Address field is the unspecified address: PMIPv6 signalling carries no Home Address
   * destination option (RFC 6275 §6.1.9).
   */
  private answerUnknownType(mhType: number, p: Packet): void {
    if (!this.mayAnswer(p)) return
    const be = mh.encode({ kind: 'binding-error', status: BeStatus.UNRECOGNIZED_MH_TYPE, homeAddress: ALL_ZERO_ADDR, options: [] })
    try {
      this.deps.io.sendMh(be, p.src, p.dst)
      this.counters.inc('mh.tx.binding-error')
    } catch (e) {
      this.counters.inc('mh.tx-error')
      this.log.warn('binding error send failed', { to: p.src, error: (e as Error).message })
      return
    }
    this.log.info('binding error sent', { to: p.src, status: BeStatus.UNRECOGNIZED_MH_TYPE, mhType })
  }

  /**
   * RFC 6275 §9.2: a Payload Proto other than 59, or a Header Len below what the type needs,
   * gets an ICMPv6 Parameter Problem, code 0, pointing at that field. Truncated messages and
   * bad options are dropped silently (§9.2 names no answer for them).
   */
  private answerMalformed(e: WireError, p: Packet): void {
    let field: number
    if (e.reason === 'bad-payload-proto') field = MH_PAYLOAD_PROTO_OFFSET
    else if (e.reason === 'bad-message-length') field = MH_HEADER_LEN_OFFSET
    else return
    if (!this.mayAnswer(p)) return
    let bytes: Buffer
    try {
      const invoking = invokingPacket({ src: parseIp6(p.src), dst: parseIp6(p.dst), hopLimit: p.hopLimit, nextHeader: IPPROTO_MH, payload: p.data })
      // The Pointer counts from the start of the invoking packet: the rebuilt IPv6 header first.
      bytes = parameterProblem.encode({ kind: 'parameter-problem', code: ParamProbCode.ERRONEOUS_HEADER_FIELD, pointer: IPV6_HEADER_LENGTH + field, invoking })
    } catch (err) {
      if (!(err instanceof WireError)) throw err
      return
    }
    try {
      this.deps.io.sendIcmp(bytes, p.src, p.dst)
      this.counters.inc('icmp6.tx.parameter-problem')
    } catch (err) {
      this.counters.inc('icmp6.tx-error')
      this.log.warn('parameter problem send failed', { to: p.src, error: (err as Error).message })
      return
    }
    this.log.info('parameter problem sent', { to: p.src, reason: e.reason, pointer: IPV6_HEADER_LENGTH + field })
  }

  /**
   * RFC 4443 §2.4: no error about a packet sent to a multicast address, and no more than the
   * token bucket allows. Only peers get here (the ingress check came first).
   */
  private mayAnswer(p: Packet): boolean {
    if (!isIp6(p.dst) || p.dst.toLowerCase().startsWith('ff')) return false
    if (!this.errorBucket.take(this.deps.clock.now())) {
      this.counters.inc('mh.errors.rate-limited')
      return false
    }
    return true
  }

  /**
   * RFC 4861 §6.1.1: an RS is silently discarded unless every validity rule holds; each is
   * counted where it is enforced:
   * - IP Hop Limit 255: the core (`core.rs-dropped:hop-limit`);
   * - checksum valid: the kernel, on every raw ICMPv6 socket (the packet never reaches us);
   * - ICMP Code 0, ICMP length 8 or more, every option's length above 0: the decoder
   *   (`nd.malformed.bad-icmp-code`, `.truncated`, `.bad-option-length`, `.option-overflow`);
   * - from the unspecified address, no Source Link-Layer Address option: here
   *   (`nd.drop.unspecified-source-with-slla`).
   */
  private onNd(p: Packet): void {
    if (p.data[0] === ICMP6_PACKET_TOO_BIG) return this.onPacketTooBig(p)
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
    if (slla && isUnspecified(p.src)) {
      this.counters.inc('nd.drop.unspecified-source-with-slla')
      this.log.debug('router solicitation dropped', { reason: 'unspecified-source-with-slla', link: p.link })
      return
    }
    this.enqueue({ type: 'rs', at: this.deps.clock.now(), link: p.link, from: p.src, hopLimit: p.hopLimit, ...(slla ? { llId: slla.address } : {}) })
  }

  private drop(proto: string, e: unknown, p: Packet): void {
    if (!(e instanceof WireError)) throw e
    this.counters.inc(`${proto}.malformed`)
    this.counters.inc(`${proto}.malformed.${e.reason}`)
    this.log.debug('malformed packet dropped', { proto, reason: e.reason, offset: e.offset, src: p.src, link: p.link })
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
    this.log.hold()
    try {
      for (let ev2 = this.queue.shift(); ev2 !== undefined; ev2 = this.queue.shift()) {
        if (ev2.type === 'profiles') {
          this.profiles = new Map(ev2.profiles.map((p) => [p.mnId, p]))
          if (ev2.unknownMn !== undefined) this.unknownMn = ev2.unknownMn
          changed = 'all'
          this.peersStale = true
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
      this.log.release()
    }
    if (this.peersStale) this.refreshPeers()
    if (changed !== null && listening) this.notifyBindings(changed)
  }

  // ------------------------------------------------------------------ outputs

  private execute(c: MagCommand): void {
    const { io } = this.deps
    const log = this.log
    switch (c.type) {
      case 'send-pbu': {
        const bytes = mh.encode(c.pbu)
        // Timestamps are taken as a packet is handed to the kernel: on veth, sendmsg() also runs
        // the receiving namespace's processing, which belongs to the peer, not to us.
        const sentAt = performance.now()
        this.ingress.addPeer(c.to)
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
          io.sendNd(bytes, c.link, c.to, c.src, c.llDst)
          this.cNdTxRa.n++
        } catch (e) {
          this.counters.inc('nd.tx-error')
          log.warn('ra send failed', { mnId: c.mnId, link: c.link, to: c.to, error: (e as Error).message })
          return
        }
        if (c.ra.options.some((o) => o.type === 'prefix-info' && o.validLifetime > 0)) this.registrationDone(c.mnId, sentAt)
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
        ;(c.type === 'forwarding-up' ? this.cFwdUp : this.cFwdDown).n++
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
        } else if (c.to === 'clock-wait') this.watchClock()
        else if (c.to === 'registered') this.clockCheckMs = CLOCK_CHECK_INITIAL_MS
        log.info('state changed', { mnId: c.mnId, from: c.from, to: c.to, reason: c.reason })
        return
      case 'send-heartbeat':
      case 'lma-state':
        this.executeHeartbeat(c)
        return
      case 'ipv4-lease':
        // RFC 5844 §3.4: the DHCPv4 server (when running) follows the MN's IPv4 binding.
        this.counters.inc(c.lease ? 'ipv4.lease-set' : 'ipv4.lease-cleared')
        log.info(c.lease ? 'ipv4 lease' : 'ipv4 lease gone', { mnId: c.mnId, link: c.link, ...(c.lease ? { address: `${c.lease.address}/${c.lease.prefixLength}`, router: c.lease.router } : {}) })
        for (const sink of this.ipv4LeaseSinks) sink(c)
        // An IPv4-only MN gets no RA: its registration ends when its address reaches the link.
        if (c.lease) this.registrationDone(c.mnId, performance.now())
        return
      case 'link-address-up':
        this.linkAddrs.up(c.link, c.address)
        return
      case 'link-address-down':
        this.linkAddrs.down(c.link, c.address)
        return
    }
  }

  /**
   * The first service of an attach reached the MN's link (an RA with its home prefix, or its IPv4
   * lease for the DHCPv4 server, whichever comes first): the registration latency is recorded.
   */
  private registrationDone(mnId: string, at: number): void {
    const started = this.attachStarts.get(mnId)
    if (started === undefined) return
    this.attachStarts.delete(mnId)
    const total = (at - started) * 1000
    this.registrationLatency.add(total)
    this.registrationHistogram.observe(total / 1e6)
    const rtt = this.attachRtt.get(mnId)
    if (rtt !== undefined) {
      this.attachRtt.delete(mnId)
      this.magProcessing.add(total - rtt)
    }
  }

  // ------------------------------------------------------------------ path MTU (RFC 5213 §6.9.5)

  /**
   * A link's MTU as the kernel reports it (at start and on every RTM_NEWLINK): the uplink's
   * sets every tunnel's MTU, an access link's caps the MTU option of the MNs on it.
   */
  linkMtu(name: string, mtu: number): void {
    if (this.stopped) return
    if (name === this.uplink) {
      const changes = this.pathMtu.setUplink(mtu)
      if (changes.length === 0) return
      this.counters.inc('pmtu.uplink-change')
      this.log.info('uplink mtu', { link: name, mtu })
      this.applyMtu(changes)
      return
    }
    const last = this.accessMtu.get(name)
    if (last === mtu) return
    this.accessMtu.set(name, mtu)
    // The first report is the baseline: the configured access MTU stands until the link changes.
    if (last === undefined || !this.links.has(name)) return
    this.counters.inc('pmtu.access-link-change')
    this.log.info('access link mtu', { link: name, mtu })
    this.enqueue({ type: 'mtu', at: this.deps.clock.now(), link: name, mtu })
  }

  /** The interface holding the Proxy-CoA, and its MTU now. */
  setUplink(name: string, mtu: number): void {
    this.uplink = name
    this.linkMtu(name, mtu)
  }

  private applyMtu(changes: readonly TunnelMtuChange[]): void {
    const at = this.deps.clock.now()
    for (const c of changes) {
      const pathMtu = this.pathMtu.pathMtu(c.lma ?? null)
      if (pathMtu !== null && this.dataplane.setPathMtu) {
        this.dataplane.setPathMtu(c.lma ?? null, pathMtu).catch((e: unknown) => {
          this.counters.inc('pmtu.dataplane-error')
          this.log.warn('tunnel mtu update failed', { lma: c.lma ?? null, pathMtu, error: e instanceof Error ? e.message : String(e) })
        })
      }
      this.enqueue({ type: 'mtu', at, ...(c.lma !== undefined ? { lma: c.lma } : {}), mtu: c.mtu })
    }
    this.armPmtuExpiry()
  }

  private armPmtuExpiry(): void {
    if (this.pmtuTimer !== null) this.deps.clock.clearTimeout(this.pmtuTimer)
    this.pmtuTimer = null
    const t = this.pathMtu.nextExpiry()
    if (t === null || this.stopped) return
    this.pmtuTimer = this.deps.clock.setTimeout(() => {
      this.pmtuTimer = null
      const changes = this.pathMtu.expire(this.deps.clock.now())
      if (changes.length > 0) this.log.info('path mtu raised again', { changes })
      this.applyMtu(changes)
    }, Math.max(0, t - this.deps.clock.now()))
  }

  /**
   * RFC 4443 §3.2, RFC 8201 §4: a Packet Too Big about a packet of ours (source: the Proxy-CoA)
   * to an LMA lowers that path's MTU. Never from an access link (an MN could shrink every MN's
   * MTU), never about another destination; counted and dropped otherwise.
   */
  private onPacketTooBig(p: Packet): void {
    this.counters.inc('icmp.ptb.rx')
    const drop = (why: string) => this.counters.inc(`icmp.ptb.dropped.${why}`)
    if (this.links.has(p.link)) return drop('from-access-link')
    // Type, Code, Checksum, MTU, then as much of the invoking packet as fits: its IPv6 header.
    if (p.data.length < 8 + 40 || p.data[1] !== 0) return drop('malformed')
    const mtu = p.data.readUInt32BE(4)
    if (!p.data.subarray(8 + 8, 8 + 24).equals(this.selfBytes)) return drop('not-our-packet')
    const lma = formatIp6(p.data.subarray(8 + 24, 8 + 40))
    if (!this.knownLma(lma)) return drop('unknown-path')
    const change = this.pathMtu.packetTooBig(lma, mtu, this.deps.clock.now())
    if (change === null) return drop(mtu < 1280 ? 'below-minimum' : 'not-lower')
    this.counters.inc('icmp.ptb.accepted')
    this.log.info('packet too big', { lma, pathMtu: mtu, from: p.src, tunnelMtu: change.mtu })
    this.applyMtu([change])
  }

  private knownLma(lma: string): boolean {
    for (const p of this.profiles.values()) if (canonicalIp6(p.lma) === lma) return true
    return typeof this.unknownMn === 'object' && canonicalIp6(this.unknownMn.profile.lma) === lma
  }

  // ------------------------------------------------------------------ heartbeat (RFC 5847)

  private executeHeartbeat(c: HeartbeatCommand): void {
    const { io } = this.deps
    const log = this.log
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
    if (c.state === 'unsupported') log.warn('lma has no heartbeat support: no more heartbeats to it', fields)
    else if (c.state === 'unreachable' || c.reason.startsWith('lma-restarted')) log.warn('lma state', fields)
    else log.info('lma state', fields)
  }

  // ------------------------------------------------------------------ clock (RFC 5213 §6.9.1.2 item 9)

  /** The core waits for a synchronised clock: ask the kernel, with backoff, until it says so. */
  private watchClock(): void {
    if (this.clockCheck !== null || !this.deps.clockSynced || this.stopped) return
    const wait = this.clockCheckMs
    this.clockCheckMs = Math.min(2 * wait, CLOCK_CHECK_MAX_MS)
    this.clockCheck = this.deps.clock.setTimeout(() => this.checkClock(), wait)
  }

  private checkClock(): void {
    this.clockCheck = null
    // An operator's `mag clock-synced` (or a detach) may have ended the wait already.
    if (this.stopped || (this.core.stateCounts()['clock-wait'] ?? 0) === 0) return
    let synced = false
    try {
      synced = this.deps.clockSynced!()
    } catch (e) {
      this.counters.inc('clock.check-error')
      this.log.warn('clock check failed', { error: (e as Error).message })
    }
    this.counters.inc('clock.checks')
    if (!synced) {
      this.watchClock()
      return
    }
    this.counters.inc('clock.synced-by-kernel')
    this.log.info('clock synchronised (kernel): registering again', { nextCheckMs: this.clockCheckMs })
    this.enqueue({ type: 'clock-synced', at: this.deps.clock.now() })
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
    this.log.warn('presence check failed', { driver: d.name, mnId, error: (e as Error).message })
  }

  /** RFC 5213 §6.10: without forwarding the binding is of no use; the core ends it with the reason. */
  private forwardingFailed(c: ForwardingChange, e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e)
    this.counters.inc('dataplane.error')
    this.log.error('data plane change failed', { mnId: c.mnId, op: c.type, prefixes: c.prefixes, error: reason })
    // The IPv4 home addresses too: for an IPv4-only MN they are all the core can match the failure on.
    if (c.type === 'forwarding-up') this.enqueue({ type: 'forwarding-failed', at: this.deps.clock.now(), mnId: c.mnId, prefixes: c.prefixes, ...(c.ipv4 && c.ipv4.length > 0 ? { ipv4: c.ipv4 } : {}), reason })
  }

  /**
   * After a profile change: the LMAs the profiles name, and those still holding bindings of
   * ours (their de-registration answers must get through).
   */
  private refreshPeers(): void {
    this.peersStale = false
    const peers = configuredLmas([...this.profiles.values()], this.unknownMn)
    for (const l of this.core.lmas()) if (l.bindings > 0) peers.push(l.lma)
    this.ingress.setPeers(peers)
  }

  /** On every attach: a link may be a new interface under an old name (a new pppd session). */
  private ensureLink(link: string): void {
    this.ingress.addAccessLink(link)
    this.deps.io.addLink(link)
    this.links.add(link)
  }

  // ------------------------------------------------------------------ views

  bindings(): readonly BindingView[] {
    return this.core.bindings(this.deps.clock.now())
  }

  /**
   * A page of the list (`mag bindings` at any size): see MagCore.bindingsPage. Its rows carry the
   * RADIUS profile's extra facts like bindingRows(); the MNs the policy source still holds (no
   * core entry: pending, aaa-unreachable, denied) come after the core's entries on the last page,
   * so a paged walk shows every row that bindingRows() does, once.
   */
  bindingsPage(after: number, limit: number): BindingPage {
    const page = this.core.bindingsPage(after, limit, this.deps.clock.now())
    const aaa = this.aaa
    if (!aaa) return page
    const rows = this.withAaa(page.bindings)
    return { ...page, bindings: page.next === null ? [...rows, ...aaa.views()] : rows }
  }

  bindingCount(): number {
    return this.core.bindingCount()
  }

  /**
   * What the sliced listing reads (listing.ts): the core's slots with the RADIUS facts, at most
   * `maxSlots` of them a call, then the MNs the policy source holds.
   */
  readonly listing: ListingSource = {
    bindingsPage: (after, maxRows, maxSlots) => {
      const page = this.core.bindingsPage(after, maxRows, this.deps.clock.now(), maxSlots)
      return this.aaa ? { bindings: this.withAaa(page.bindings), next: page.next } : page
    },
    heldRows: () => this.aaa?.heldViews() ?? [],
  }

  /**
   * What `mag bindings` shows: the core's entries (with the RADIUS profile's extra facts for an
   * MN that got it from RADIUS), then the MNs the policy source still holds (pending,
   * aaa-unreachable, denied).
   */
  bindingRows(): readonly BindingRow[] {
    const list = this.bindings()
    const aaa = this.aaa
    if (!aaa) return list
    return [...this.withAaa(list), ...aaa.views()]
  }

  private withAaa(list: readonly BindingView[]): BindingRow[] {
    const aaa = this.aaa
    if (!aaa) return [...list]
    return list.map((b) => {
      const c = aaa.cachedProfile(b.mnId)
      if (!c) return b
      const p = c.profile
      return { ...b, aaa: { server: c.server, cacheExpiresInS: c.expiresInS, interfaceId: p.interfaceId, ipv4HomeAddress: p.ipv4HomeAddress, dhcp6Servers: p.dhcp6Servers, dhcp4Servers: p.dhcp4Servers } }
    })
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

  /** Who follows the core's IPv4 lease facts (the DHCPv4 server, RFC 5844 §3.4). */
  private readonly ipv4LeaseSinks: ((c: Ipv4LeaseCommand) => void)[] = []
  onIpv4Lease(sink: (c: Ipv4LeaseCommand) => void): void {
    this.ipv4LeaseSinks.push(sink)
  }

  /**
   * The MN's DHCPv4 client asked for an address while it had no lease (RFC 5844 §3.4.1): the
   * core decides whether its next PBU names it (ipv4-requested). A MAC that is no MAC is dropped here.
   */
  ipv4Requested(r: { readonly mac: string; readonly address: string; readonly via: 'option-50' | 'ciaddr'; readonly link?: string }): void {
    let llId: Buffer
    try {
      llId = parseMac(r.mac)
    } catch {
      return
    }
    this.enqueue({ type: 'ipv4-requested', at: this.deps.clock.now(), llId, address: r.address, via: r.via, ...(r.link !== undefined ? { link: r.link } : {}) })
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
        this.log.error('bindings listener failed', { error: (e as Error).message })
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
      links: firstOf(this.links, STATUS_LINKS_MAX),
      linkCount: this.links.size,
      bindings,
      states,
      counters: { ...this.counters.snapshot(), ...prefixKeys('core.', this.core.counters()), ...this.extraCounters() },
      registrationLatencyUs: figures(lat),
      registrationLatencyHistogram: this.registrationHistogram.snapshot(),
      countersSince: this.startedAt,
      lmaRoundTripUs: figures(this.lmaRoundTrip),
      magProcessingUs: figures(this.magProcessing),
      timers: this.timers.size,
      dataplane: { name: this.dataplane.name, ...(this.dataplane.status ? { state: this.dataplane.status() } : {}) },
      lmas: this.core.lmas(),
      ...(this.aaa ? { aaa: { ...this.aaa.status(), ...(this.accountingViews ? { accounting: this.accountingViews() } : {}) } } : {}),
    }
  }
}

/** '::' in any spelling (the socket gives RFC 5952 text; a test may not). */
function isUnspecified(a: string): boolean {
  if (a === '::') return true
  try {
    return isIp6(a) && parseIp6(a).every((x) => x === 0)
  } catch {
    return false
  }
}

function firstOf<T>(set: ReadonlySet<T>, n: number): T[] {
  const out: T[] = []
  for (const x of set) {
    if (out.length === n) break
    out.push(x)
  }
  return out
}

function prefixKeys(p: string, o: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(o)) out[p + k] = v
  return out
}


