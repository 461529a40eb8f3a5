/**
 * The data plane of RFC 5213 §6.10 (MAG) and §5.6 (LMA): keeps the kernel's forwarding state in
 * step with the bindings. model.ts decides which objects a binding needs; this file counts
 * references to the shared ones (one tunnel per peer, one drop rule per access link), runs
 * every change as a transaction (a failure removes what the change already added) and removes
 * leftovers of an earlier run at start.
 *
 * The changes of one binding run in order; changes of different bindings run concurrently
 * (bounded), and a shared object set is created and removed on its own chain, so reference
 * counts and the kernel never disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { canonicalIp6 } from '@pmip6/wire'
import {
  accessLinkObjects,
  checkLayout,
  DEFAULT_MAX_TUNNELS,
  describe,
  downTable,
  isOurPriority,
  lmaPrefixObjects,
  localPrefixObjects,
  magPrefixObjects,
  prefixOf,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTPROT_PMIP,
  seg6DecapObjects,
  TUNNEL_NAME_PREFIX,
  tunnelMtuFor,
  tunnelName,
  tunnelObjects,
  type Backend,
  type BackendChoice,
  type KObj,
  type Layout,
  type UplinkSelect,
  type Prefix,
  type TunnelTarget,
  lmaBaseObjects,
  accessLink4Objects,
  lmaBase4Objects,
  lmaIpv4Objects,
  magIpv4Objects,
  isIpv4Prefix,
  prefix4Of,
  seg6Decap4Objects,
  GRE_NAME_PREFIX,
  greBindingObjects,
  greKeysFor,
  greLinkObj,
  greMtuFor,
  greName,
  grePrefixObjects,
  isOurTable,
  maxGreOf,
  type GreTarget,
} from './model'
import { NetlinkError, NetlinkRtnl, type Rtnl } from './rtnl'

export type Role = 'mag' | 'lma'

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void

export interface DataPlaneOptions {
  readonly role: Role
  /** 'auto' (default) tries ip6tnl, then seg6. */
  readonly backend?: BackendChoice
  /** First of our routing tables; default 100 (T .. T+maxTunnels+1 are ours). */
  readonly table?: number
  /** First of our rule priorities; default 1000 (P .. P+4 are ours). */
  readonly rulePriority?: number
  readonly maxTunnels?: number
  /** Our tunnel end: the Proxy-CoA (MAG) or the LMA address. Must be configured on an interface. */
  readonly self: string
  /** Path MTU towards the peers; default: the MTU of the interface holding `self`. */
  readonly pathMtu?: number
  /** How uplink traffic is steered into the tunnel (see UplinkSelect); default 'rule'. */
  readonly uplinkSelect?: UplinkSelect
  /** EnableMAGLocalRouting (RFC 5213 §6.10.3, §9); default false: everything goes through the LMA. */
  readonly localRouting?: boolean
  /** Access links guarded from the start (MAG): nothing from them is forwarded without a binding. */
  readonly accessLinks?: readonly string[]
  /** Set net.ipv6.conf.all.forwarding=1 when it is off; default true (with `ipv4`, net.ipv4.ip_forward too). */
  readonly enableForwarding?: boolean
  /**
   * RFC 5844: carry MNs' IPv4 home addresses too (ForwardingRequest.ipv4): IPv4 routes and rules
   * beside the IPv6 ones, seg6 End.DX4 decapsulation, ip6tnl `mode any`. Default false.
   */
  readonly ipv4?: boolean
  /** First routing table of bindings with GRE keys (RFC 5845; two each, above 255); default 10000. */
  readonly greTable?: number
  /** Bindings with GRE keys at once (one ip6gre device each); default 1024. */
  readonly maxGre?: number
  /** Where the kernel's sysctls are read (a test points it at a directory of its own); default /proc/sys. */
  readonly procSys?: string
  /** Default: rtnetlink through npm `netlink`. */
  readonly rtnl?: Rtnl
  readonly log?: LogFn
}

/** A binding's forwarding request. `peer` null: routed natively (Scenario B, RFC 6612 §3.3). */
export interface ForwardingRequest {
  readonly id: string
  /** Access link (MAG); ignored at the LMA. */
  readonly link: string
  readonly prefixes: readonly string[]
  readonly peer: string | null
  /**
   * RFC 5844: the MN's IPv4 home addresses ("192.0.2.2" or "192.0.2.2/32"; a host route each).
   * Needs the data plane opened with `ipv4`; not for Scenario B (peer null).
   */
  readonly ipv4?: readonly string[]
  /**
   * RFC 5845 §3: the binding's GRE keys (uplink: on packets MAG to LMA; downlink: LMA to MAG).
   * The binding gets its own ip6gre device and tables; needs a kernel with ip6gre (snapshot().gre).
   * A different uplink key on a later call is set on the device in place; a binding that gains
   * or loses keys, or whose receive key changes, moves with all its prefixes.
   */
  readonly gre?: { readonly uplink: number; readonly downlink: number }
}

/** RFC 5845 keys as they are on a binding's device. */
interface GreState {
  readonly slot: number
  readonly ikey: number
  okey: number
}

export interface DataPlaneSnapshot {
  readonly backend: Backend
  readonly role: Role
  readonly uplinkSelect: UplinkSelect
  readonly uplink: string
  readonly pathMtu: number
  readonly tunnelMtu: number
  readonly tunnels: readonly { readonly peer: string; readonly slot: number; readonly users: number; readonly device: string | null }[]
  readonly bindings: number
  /** Kernel objects we hold right now. */
  readonly objects: number
  readonly failures: number
  /** The kernel makes ip6gre devices (GRE keys, RFC 5845, can be carried). */
  readonly gre: boolean
  /** Bindings with GRE keys (one ip6gre device each). */
  readonly greBindings: number
  /** Access links where reverse path filtering drops GRE-keyed MNs' IPv4 uplink (see checkReversePath). */
  readonly reversePathFiltered: readonly string[]
  /** The command that lets them through, when there are such links. */
  readonly reversePathFix?: string
}

/** A change that failed and was rolled back; `cause` is the kernel's refusal. */
export class ForwardingError extends Error {
  override readonly name = 'ForwardingError'
  constructor(
    readonly id: string,
    override readonly cause: NetlinkError | Error,
  ) {
    super(`forwarding for ${id}: ${cause.message}`)
  }
}

/**
 * A kernel object set shared by bindings (a tunnel to one peer, the drop rule of an access
 * link): installed by the first user, removed after the last. Creation and removal run on the
 * resource's own chain, so a user arriving while the removal is queued finds it installed again.
 */
interface Shared {
  readonly key: string
  users: number
  installed: readonly KObj[] | null
  chain: Promise<void>
  /** Tunnels: the table slot, held while installed. */
  slot: number
  /** Configured access links stay guarded while the daemon runs. */
  readonly pinned: boolean
  /**
   * Set while a set made by this very call is being installed with every request on the batched
   * socket already queued (acquire's fast path): the caller's own requests join the same datagram.
   */
  pipelined?: boolean
  /** Steps on `chain` not finished yet (holdInstalled takes a reference only when there are none). */
  queued: number
}

/**
 * What the data plane keeps per binding: the link, the peer and the canonical prefix texts,
 * nothing more. The kernel objects of a prefix are planned again (model.ts) when they are
 * removed or retuned: they depend only on these, the tunnel's slot (held while the binding
 * uses it) and the daemon's fixed options. Keeping the objects themselves cost 1.3 KiB per
 * binding, more than the rest of the MAG (issue 23). `link` and `peer` are the shared key
 * strings of the guard and tunnel, and a prefix text the caller's own string when it is
 * already canonical, so none of them is a copy per binding.
 */
class Binding {
  /**
   * Canonical prefix texts; prefixes come and go one by one. RFC 5844 IPv4 home addresses are
   * here too, as canonical IPv4 prefix texts ("192.0.2.2/32"): no ':' tells them apart. A single
   * prefix (almost every binding) is held as its text: an array of one costs 56 bytes more.
   */
  private held: string | string[]

  constructor(
    readonly link: string,
    readonly peer: string | null,
    prefixes: readonly string[],
  ) {
    this.held = prefixes.length === 1 ? prefixes[0]! : prefixes.slice()
  }

  /** The prefix texts (a copy when there is one). */
  get prefixes(): readonly string[] {
    return typeof this.held === 'string' ? [this.held] : this.held
  }

  has(text: string): boolean {
    return typeof this.held === 'string' ? this.held === text : this.held.includes(text)
  }

  add(texts: readonly string[]): void {
    if (texts.length === 0) return
    this.held = [...this.prefixes, ...texts]
  }

  /** false: it was not there. */
  remove(text: string): boolean {
    if (typeof this.held === 'string') {
      if (this.held !== text) return false
      this.held = []
      return true
    }
    const i = this.held.indexOf(text)
    if (i < 0) return false
    this.held.splice(i, 1)
    return true
  }
}

/**
 * A binding with GRE keys (RFC 5845): its own ip6gre device (slot and keys) instead of the peer's
 * shared tunnel. A subclass, so the bindings without keys pay nothing for the field (issue 23).
 */
class GreBinding extends Binding {
  constructor(
    link: string,
    peer: string,
    prefixes: readonly string[],
    readonly gre: GreState,
  ) {
    super(link, peer, prefixes)
  }
}
const greOf = (b: Binding): GreState | null => (b instanceof GreBinding ? b.gre : null)

/** Whether a request's keys need the binding's device made again (gained, lost, another receive key). */
function greMoves(had: GreState | null, want: { ikey: number } | null): boolean {
  if (had === null || want === null) return had !== want
  return had.ikey !== want.ikey
}

/** Plans a prefix text of either family (an IPv6 text always holds a ':', an IPv4 one never). */
const planPrefix = (text: string): Prefix => (text.includes(':') ? prefixOf(text) : prefix4Of(text))

const DEFAULT_TABLE = 100
const DEFAULT_RULE_PRIORITY = 1000
const FALLBACK_PATH_MTU = 1500
/** Changes of different bindings running at once; each has a few requests outstanding. */
const MAX_CONCURRENT_CHANGES = 256
/** Waiting-queue entries consumed before the array is compacted (shift() per entry is O(n)). */
const QUEUE_COMPACT_AT = 4096
const FORWARDING_SYSCTL = '/proc/sys/net/ipv6/conf/all/forwarding'
const FORWARDING4_SYSCTL = '/proc/sys/net/ipv4/ip_forward'
const PROBE_DEVICE = `${TUNNEL_NAME_PREFIX}probe`
/** Peer of the probe tunnel: nothing is ever sent through it (documentation prefix, RFC 3849). */
const PROBE_PEER = '2001:db8::ffff'
const GRE_PROBE_DEVICE = `${GRE_NAME_PREFIX}probe`

const noLog: LogFn = () => undefined
const noop = (): void => undefined

/**
 * The undo log of one change: what was added, in order, so a failure removes exactly that, in
 * reverse. Removal failures during a rollback are logged; the first error is what the caller sees.
 */
class Tx {
  readonly added: KObj[] = []
  constructor(
    private readonly rtnl: Rtnl,
    private readonly log: LogFn,
  ) {}
  async add(o: KObj): Promise<void> {
    await this.rtnl.add(o)
    this.added.push(o)
  }
  /** Adds independent objects at once; on a failure the ones that made it are still recorded. */
  async addAll(objs: readonly KObj[]): Promise<void> {
    const results = await Promise.allSettled(objs.map((o) => this.rtnl.add(o)))
    let first: unknown = null
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') this.added.push(objs[i]!)
      else first ??= r.reason
    })
    if (first !== null) throw first
  }
  async rollback(): Promise<void> {
    for (const o of this.added.reverse()) {
      try {
        await this.rtnl.del(o)
      } catch (e) {
        this.log('error', 'rollback could not remove an object', { object: describe(o), error: e instanceof Error ? e.message : String(e) })
      }
    }
    this.added.length = 0
  }
}

export class DataPlane {
  private readonly tunnels = new Map<string, Shared>()
  private readonly freeSlots: number[] = []
  /** Free GRE slots (a device and two tables each, RFC 5845). */
  private readonly freeGreSlots: number[] = []
  private readonly guards = new Map<string, Shared>()
  /** Path MTU per peer learnt since start (RFC 5213 §6.9.5), over the base one. */
  private readonly peerPathMtu = new Map<string, number>()
  private readonly bindings = new Map<string, Binding>()
  /** Tail of each binding's chain of changes: one binding's changes run in order. */
  private readonly chains = new Map<string, Promise<void>>()
  /** Prefixes being removed from a binding, with that binding and the end of its removal (markLeaving). */
  private readonly leaving = new Map<string, { readonly id: string; readonly done: Promise<void> }>()
  private readonly baseObjs: KObj[] = []
  private readonly inFlight = new Set<Promise<void>>()
  /** Changes running at once (each has at most a few netlink requests outstanding). */
  private running = 0
  /** Changes waiting for room, consumed from `waitHead` (a storm queues a million). */
  private waiting: (() => void)[] = []
  private waitHead = 0
  private objectCount = 0
  private failures = 0
  /** Links already found behind reverse path filtering (said once each). */
  private readonly rpFiltered = new Set<string>()
  private closed = false

  private constructor(
    private readonly opts: DataPlaneOptions,
    private readonly rtnl: Rtnl,
    private readonly log: LogFn,
    readonly backend: Backend,
    readonly uplink: string,
    private basePathMtu: number,
    private readonly layout: Layout,
    /** The kernel makes ip6gre devices (probed at open). */
    readonly gre: boolean,
  ) {
    for (let i = layout.maxTunnels - 1; i >= 0; i--) this.freeSlots.push(i)
    for (let i = maxGreOf(layout) - 1; i >= 0; i--) this.freeGreSlots.push(i)
  }

  /**
   * Checks the layout, finds the uplink, chooses the backend, removes our leftovers of an earlier
   * run and installs the per-daemon objects (seg6 decapsulation, access-link guards). On any
   * failure what it installed is removed and the socket closed: nothing half-done stays.
   */
  static async open(opts: DataPlaneOptions): Promise<DataPlane> {
    const layout: Layout = {
      table: opts.table ?? DEFAULT_TABLE,
      rulePriority: opts.rulePriority ?? DEFAULT_RULE_PRIORITY,
      maxTunnels: opts.maxTunnels ?? DEFAULT_MAX_TUNNELS,
      ...(opts.greTable !== undefined ? { greTable: opts.greTable } : {}),
      ...(opts.maxGre !== undefined ? { maxGre: opts.maxGre } : {}),
    }
    checkLayout(layout)
    const log = opts.log ?? noLog
    const rtnl = opts.rtnl ?? new NetlinkRtnl((e) => log('warn', 'netlink socket error (requests caught in it time out and roll back)', { error: e.message }))
    try {
      const self = canonicalIp6(opts.self)
      const uplink = await rtnl.addressDev(self)
      if (uplink === null) throw new Error(`address ${self} is not configured on any interface (the data plane's tunnel end)`)
      const pathMtu = opts.pathMtu ?? (await rtnl.links()).find((l) => l.name === uplink)?.mtu ?? FALLBACK_PATH_MTU
      await cleanup(rtnl, layout, log)
      const backend = await chooseBackend(rtnl, opts.backend ?? 'auto', self, log)
      // RFC 5845 GRE keys need ip6gre devices, whatever the backend of the other bindings.
      const gre = await rtnl.probeGre(GRE_PROBE_DEVICE, self)
      if (!gre) log('info', 'ip6gre is not available in this kernel: bindings with GRE keys (RFC 5845) will be refused')
      if (opts.enableForwarding ?? true) enableForwarding(log, FORWARDING_SYSCTL, 'IPv6')
      if ((opts.enableForwarding ?? true) && opts.ipv4 === true) enableForwarding(log, FORWARDING4_SYSCTL, 'IPv4')
      const dp = new DataPlane({ ...opts, self }, rtnl, log, backend, uplink, pathMtu, layout, gre)
      await dp.installBase(self)
      log('info', 'data plane ready', { role: opts.role, backend, gre, uplink, pathMtu, tunnelMtu: tunnelMtuFor(pathMtu), table: layout.table, rulePriority: layout.rulePriority })
      return dp
    } catch (e) {
      rtnl.close()
      throw e
    }
  }

  private async installBase(self: string): Promise<void> {
    const tx = new Tx(this.rtnl, this.log)
    try {
      if (this.backend === 'seg6') {
        const inner = this.opts.role === 'mag' ? downTable(this.layout) : RT_TABLE_MAIN
        for (const o of seg6DecapObjects(this.layout, self, this.uplink, inner)) await tx.add(o)
        if (this.opts.ipv4 === true) for (const o of seg6Decap4Objects(this.layout, self, this.uplink)) await tx.add(o)
      }
      if (this.opts.role === 'lma') for (const o of lmaBaseObjects(this.layout)) await tx.add(o)
      if (this.opts.role === 'lma' && this.opts.ipv4 === true) for (const o of lmaBase4Objects(this.layout)) await tx.add(o)
      for (const link of this.opts.accessLinks ?? []) {
        const objs = this.guardObjects(link)
        for (const o of objs) await tx.add(o)
        this.guards.set(link, { key: link, users: 0, installed: objs, chain: Promise.resolve(), slot: -1, pinned: true, queued: 0 })
      }
    } catch (e) {
      this.guards.clear()
      await tx.rollback()
      throw e
    }
    this.baseObjs.push(...tx.added)
    this.objectCount += tx.added.length
  }

  /** Path MTU towards peers without a value of their own (the uplink's, or the configured one). */
  get pathMtu(): number {
    return this.basePathMtu
  }

  /** Tunnel MTU towards peers (RFC 5213 §6.9.5): the path MTU minus the encapsulation. */
  get tunnelMtu(): number {
    return tunnelMtuFor(this.pathMtu)
  }

  private pathMtuFor(peer: string): number {
    return this.peerPathMtu.get(peer) ?? this.basePathMtu
  }

  /**
   * RFC 5213 §6.9.5: "the corresponding tunnel MTU value MUST be updated" when a path MTU
   * changes: for `peer`, or (null) for every peer without its own value. ip6tnl: the device's
   * MTU; seg6: the routes into the tunnel carry the outer path MTU, replaced in place. Runs on
   * each tunnel's own chain (after its creation, before its removal); later tunnels use it too.
   */
  async setPathMtu(peer: string | null, pathMtu: number): Promise<void> {
    const key = peer === null ? null : canonicalIp6(peer)
    if (key === null) this.basePathMtu = pathMtu
    // Back to the base value (a lowered one expired): the peer follows the base again.
    else if (pathMtu === this.basePathMtu) this.peerPathMtu.delete(key)
    else this.peerPathMtu.set(key, pathMtu)
    const targets = [...this.tunnels.values()].filter((t) => (key === null ? !this.peerPathMtu.has(t.key) : t.key === key))
    // RFC 5845 bindings: each its own device, retuned on the binding's own chain.
    const greIds: string[] = []
    for (const [id, b] of this.bindings) if (b instanceof GreBinding && b.peer !== null && (key === null ? !this.peerPathMtu.has(b.peer) : b.peer === key)) greIds.push(id)
    await Promise.all([...targets.map((t) => this.retune(t)), ...greIds.map((id) => this.serial(id, () => this.retuneGre(id)))])
  }

  private async retuneGre(id: string): Promise<void> {
    const b = this.bindings.get(id)
    if (!(b instanceof GreBinding) || b.peer === null) return
    await this.rtnl.setLinkMtu(greName(b.gre.slot), greMtuFor(this.pathMtuFor(b.peer)))
  }

  private retune(t: Shared): Promise<void> {
    t.queued++
    const step = t.chain.then(async () => {
      if (t.installed === null || t.slot < 0) return
      const pathMtu = this.pathMtuFor(t.key)
      const objs = tunnelObjects({ layout: this.layout, backend: this.backend, role: this.opts.role, slot: t.slot, self: this.opts.self, peer: t.key, uplink: this.uplink, pathMtu, ipv4: this.opts.ipv4 === true })
      if (this.backend === 'ip6tnl') await this.rtnl.setLinkMtu(tunnelName(t.slot), tunnelMtuFor(pathMtu))
      else for (const o of objs) if (o.kind === 'route') await this.rtnl.replaceRoute(o)
      t.installed = objs
      // 'subtree' with seg6: each MN's uplink route encapsulates too, with the same MTU.
      for (const b of this.bindings.values()) {
        if (b.peer !== t.key || b instanceof GreBinding) continue
        for (const p of b.prefixes) for (const o of this.prefixObjects(b.link, b.peer, planPrefix(p), null)) if (o.kind === 'route' && o.encap?.type === 'seg6-encap-red') await this.rtnl.replaceRoute(o)
      }
      this.log('info', 'tunnel mtu', { peer: t.key, pathMtu, tunnelMtu: tunnelMtuFor(pathMtu) })
    })
    void step.then(
      () => t.queued--,
      () => t.queued--,
    )
    t.chain = step.catch(() => undefined)
    return step
  }

  /**
   * Installs forwarding for a binding's prefixes (RFC 5213 §6.10.5 at the MAG, §5.6.1 at the LMA).
   * Calling it again for the same id adds prefixes; a different link or peer moves the binding.
   * On failure nothing of this call stays and the promise rejects with a ForwardingError.
   */
  up(req: ForwardingRequest): Promise<void> {
    const before = this.leaving.size > 0 ? this.othersLeaving(req) : null
    return this.serial(req.id, () => this.doUp(req), before)
  }

  /** Removes forwarding for some prefixes of a binding, or all of them (prefixes absent). Never rejects for unknown ids. */
  down(id: string, prefixes?: readonly string[]): Promise<void> {
    const b = this.bindings.get(id)
    const run = this.serial(id, () => this.doDown(id, prefixes))
    if (b !== undefined) this.markLeaving(id, prefixes === undefined ? b.prefixes.slice() : b.prefixes.filter((p) => prefixes.includes(p)), run)
    return run
  }

  /**
   * A prefix (or IPv4 home address) on its way out of one binding: another binding that is given
   * it (an LMA that restarted hands its pool out afresh; the core withdraws it from its old
   * holder first) waits until it is gone, as the kernel refuses a second route to it.
   */
  private markLeaving(id: string, prefixes: readonly string[], run: Promise<void>): void {
    if (prefixes.length === 0) return
    const done = run.catch(() => undefined)
    const mark = { id, done }
    for (const p of prefixes) this.leaving.set(p, mark)
    void done.then(() => {
      for (const p of prefixes) if (this.leaving.get(p) === mark) this.leaving.delete(p)
    })
  }

  /** What `req` must wait for: removals of its prefixes by other bindings, queued before it (null: none). */
  private othersLeaving(req: ForwardingRequest): Promise<unknown> | null {
    const waits: Promise<void>[] = []
    for (const t of [...req.prefixes, ...(req.ipv4 ?? [])]) {
      let m = this.leaving.get(t)
      if (m === undefined) {
        try {
          m = this.leaving.get(planPrefix(t).text)
        } catch {
          continue // doUp refuses it with its reason
        }
      }
      if (m !== undefined && m.id !== req.id) waits.push(m.done)
    }
    return waits.length === 0 ? null : Promise.all(waits)
  }

  snapshot(): DataPlaneSnapshot {
    return {
      backend: this.backend,
      role: this.opts.role,
      uplinkSelect: this.opts.uplinkSelect ?? 'rule',
      uplink: this.uplink,
      pathMtu: this.pathMtu,
      tunnelMtu: this.tunnelMtu,
      tunnels: [...this.tunnels.values()]
        .filter((t) => t.installed !== null)
        .map((t) => ({ peer: t.key, slot: t.slot, users: t.users, device: this.backend === 'ip6tnl' ? tunnelName(t.slot) : null })),
      bindings: this.bindings.size,
      objects: this.objectCount,
      failures: this.failures,
      gre: this.gre,
      greBindings: maxGreOf(this.layout) - this.freeGreSlots.length,
      reversePathFiltered: [...this.rpFiltered],
      ...(this.rpFiltered.size > 0 ? { reversePathFix: reversePathFix(this.rpFiltered) } : {}),
    }
  }

  /** Waits until every change queued so far has run. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
    await Promise.allSettled([...this.tunnels.values(), ...this.guards.values()].map((r) => r.chain))
  }

  /**
   * Removes everything this data plane installed (the daemon's clean stop) and closes the
   * socket. With keep, the kernel state stays (a restart takes it over through cleanup).
   */
  async close(opts: { keep?: boolean } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.idle()
    if (!opts.keep) await this.removeAll()
    this.rtnl.close()
  }

  // ------------------------------------------------------------------ internals

  /** `before` (never rejects): waited for too, outside the bound on changes running at once. */
  private serial(id: string, f: () => Promise<void>, before: Promise<unknown> | null = null): Promise<void> {
    if (this.closed) return Promise.reject(new Error('data plane closed'))
    const prev = this.chains.get(id)
    const ahead = before === null ? prev : prev === undefined ? before : Promise.all([prev, before])
    // Nothing ahead for this binding: start now, not a turn of the microtask queue later.
    const run = ahead === undefined ? this.limited(f) : ahead.then(() => this.limited(f))
    const tail = run.catch(() => undefined)
    this.chains.set(id, tail)
    this.inFlight.add(tail)
    void tail.then(() => {
      this.inFlight.delete(tail)
      if (this.chains.get(id) === tail) this.chains.delete(id)
    })
    return run
  }

  /** Bounds the requests outstanding on the netlink socket, so its receive queue never overflows. */
  private async limited(f: () => Promise<void>): Promise<void> {
    if (this.running >= MAX_CONCURRENT_CHANGES) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.running++
    try {
      await f()
    } finally {
      this.running--
      this.wakeNext()
    }
  }

  private wakeNext(): void {
    if (this.waitHead >= this.waiting.length) return
    const next = this.waiting[this.waitHead]!
    this.waiting[this.waitHead++] = noop
    if (this.waitHead === this.waiting.length) {
      this.waiting = []
      this.waitHead = 0
    } else if (this.waitHead >= QUEUE_COMPACT_AT && this.waitHead * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitHead)
      this.waitHead = 0
    }
    next()
  }

  private async doUp(req: ForwardingRequest): Promise<void> {
    const peerKey = req.peer === null ? null : canonicalIp6(req.peer)
    // RFC 5845: the keys as this end's device takes them (ikey received, okey sent).
    const keys = req.gre === undefined ? null : greKeysFor(this.opts.role, req.gre)
    // RFC 2890 §2.1: the Key field is 32 bits. Refused before anything of the binding changes.
    const badKey = keys === null ? undefined : [keys.ikey, keys.okey].find((k) => !Number.isInteger(k) || k < 0 || k > 0xffffffff)
    if (badKey !== undefined) {
      this.failures++
      throw new ForwardingError(req.id, new Error(`not a GRE key (32 bits, RFC 2890 §2.1): ${String(badKey)}`))
    }
    const old = this.bindings.get(req.id)
    /** Prefixes that move with the binding when only its GRE keys changed (the caller names the new ones only). */
    let carried: readonly string[] = []
    if (old && (old.link !== req.link || old.peer !== peerKey || greMoves(greOf(old), keys))) {
      // Moved (another access link, another MAG at the LMA, a mode switch, GRE keys gained, lost
      // or another receive key): the old state goes first, as both may hold the same route.
      if (old.link === req.link && old.peer === peerKey) carried = old.prefixes.slice()
      this.bindings.delete(req.id)
      await this.release(old)
    }
    const existing = this.bindings.get(req.id)
    const existingGre = existing ? greOf(existing) : null
    const tx = new Tx(this.rtnl, this.log)
    let guard: Shared | null = null
    let tunnel: Shared | null = null
    let greSlot: number | null = null
    /** The okey an existing GRE device had before this call changed it (put back on failure). */
    let okeyBefore: number | null = null
    let link = req.link
    let peer = peerKey
    const added: string[] = []
    let tunnelSetUp: Promise<Shared> | null = null
    try {
      if (keys !== null && peerKey === null) throw new Error('GRE keys (RFC 5845) need a tunnel peer')
      if (!existing && keys !== null && !this.gre) throw new Error('GRE keys (RFC 5845) need ip6gre devices, and this kernel makes none (CONFIG_IPV6_GRE, modprobe ip6_gre)')
      if (!existing && this.opts.role === 'mag') guard = this.holdInstalled(this.guards, req.link) ?? (await this.acquire(this.guards, req.link, () => this.guardObjects(req.link)))
      if (!existing && peerKey !== null && keys === null) tunnel = this.holdInstalled(this.tunnels, peerKey)
      if (!existing && peerKey !== null && keys === null && tunnel === null) {
        tunnelSetUp = this.acquire(this.tunnels, peerKey, (r) => this.tunnelObjectsFor(r))
        // A tunnel this call creates has its slot already and its routes queued (seg6): the
        // prefix routes below leave in the same datagram instead of a round trip later, which
        // at the LMA is a round trip before the PBA (issue 23). Otherwise wait for it.
        if (!this.tunnels.get(peerKey)!.pipelined) {
          tunnel = await tunnelSetUp
          tunnelSetUp = null
        }
      }
      if (!existing && keys !== null && peerKey !== null) {
        // RFC 5845 §3: the binding's own device and tables, device first.
        const slot = this.freeGreSlots.pop()
        if (slot === undefined) throw new Error(`no free GRE slot: ${maxGreOf(this.layout)} bindings with GRE keys in use (dataplane.maxGre)`)
        greSlot = slot
        for (const o of greBindingObjects(this.layout, this.opts.role, this.greTarget(peerKey, slot, keys))) await tx.add(o)
      }
      if (existing && existingGre !== null && keys !== null && existingGre.okey !== keys.okey) {
        // A new uplink key on a refresh (RFC 5845 §3: the LMA's choice): set on the device in place.
        await this.rtnl.changeGreLink(greLinkObj(this.greTarget(existing.peer!, existingGre.slot, keys)))
        okeyBefore = existingGre.okey
        existingGre.okey = keys.okey
      }
      // The shared key strings, not a copy per binding.
      if (existing) ({ link, peer } = existing)
      else {
        if (this.opts.role === 'mag') link = this.guards.get(req.link)?.key ?? req.link
        if (peerKey !== null && keys === null) peer = this.tunnels.get(peerKey)!.key
      }
      const slotOf = existing ? (existingGre?.slot ?? null) : greSlot
      const objs: KObj[] = []
      const v6 = carried.length === 0 ? req.prefixes : [...carried.filter((t) => t.includes(':')), ...req.prefixes]
      const v4 = carried.length === 0 ? (req.ipv4 ?? []) : [...carried.filter((t) => !t.includes(':')), ...(req.ipv4 ?? [])]
      for (const text of v6) {
        const p = prefixOf(text)
        const canon = p.text === text ? text : p.text
        if (existing?.has(canon) || added.includes(canon)) continue
        added.push(canon)
        for (const o of this.prefixObjects(link, peer, p, slotOf)) objs.push(o)
      }
      for (const text of v4) {
        if (this.opts.ipv4 !== true) throw new Error('an IPv4 home address needs the data plane opened with ipv4')
        if (peer === null) throw new Error('IPv4 home addresses are carried through a tunnel only (no Scenario B for IPv4)')
        const p = prefix4Of(text)
        const canon = p.text === text ? text : p.text
        if (existing?.has(canon) || added.includes(canon)) continue
        added.push(canon)
        for (const o of this.prefixObjects(link, peer, p, slotOf)) objs.push(o)
      }
      const adding = tx.addAll(objs)
      if (tunnelSetUp !== null) {
        const [tr, ar] = await Promise.allSettled([tunnelSetUp, adding])
        if (tr.status === 'rejected') throw tr.reason
        tunnel = tr.value
        if (ar.status === 'rejected') throw ar.reason
      } else await adding
    } catch (e) {
      if (tunnelSetUp !== null && tunnel === null) {
        // The plan threw (a bad prefix, IPv4 refused) while the pipelined tunnel set-up still
        // ran: wait for it, so its reference is given back below too.
        const [tr] = await Promise.allSettled([tunnelSetUp])
        if (tr.status === 'fulfilled') tunnel = tr.value
      }
      await tx.rollback()
      if (greSlot !== null) this.freeGreSlots.push(greSlot)
      if (okeyBefore !== null && existing && existingGre !== null) {
        // The key this call set goes back with the rest of it.
        const back = { ikey: existingGre.ikey, okey: okeyBefore }
        try {
          await this.rtnl.changeGreLink(greLinkObj(this.greTarget(existing.peer!, existingGre.slot, back)))
          existingGre.okey = okeyBefore
        } catch (e2) {
          this.log('error', 'rollback could not put the GRE key back', { id: req.id, okey: okeyBefore, error: e2 instanceof Error ? e2.message : String(e2) })
        }
      }
      // The shared sets this call created go too before it rejects ("nothing of this call
      // stays"): their removal runs on their own chains, so wait for it.
      const released: Promise<void>[] = []
      for (const [map, r] of [[this.tunnels, tunnel], [this.guards, guard]] as const) {
        if (!r) continue
        this.releaseShared(map, r)
        released.push(r.chain)
      }
      await Promise.allSettled(released)
      this.failures++
      const err = new ForwardingError(req.id, e instanceof Error ? e : new Error(String(e)))
      this.log('warn', 'forwarding set-up failed and was rolled back', { id: req.id, link: req.link, peer: peerKey, error: err.message })
      throw err
    }
    this.objectCount += tx.added.length
    if (existing) existing.add(added)
    // Binding keeps a copy of exactly its length (or the one text): `added` grew by push() and holds room for 16 more (136 bytes).
    else if (greSlot !== null && keys !== null && peer !== null) this.bindings.set(req.id, new GreBinding(link, peer, added, { slot: greSlot, ikey: keys.ikey, okey: keys.okey }))
    else this.bindings.set(req.id, new Binding(link, peer, added))
    if (greSlot !== null) this.log('info', 'gre device up', { id: req.id, device: greName(greSlot), peer: peerKey, ikey: keys?.ikey, okey: keys?.okey })
    if (keys !== null && this.opts.role === 'mag' && (req.ipv4?.length ?? 0) > 0) this.checkReversePath(req.link)
  }

  /**
   * RFC 5845 at the MAG: a GRE-keyed MN's IPv4 home address is routed only in its binding's own
   * tables (another MN may hold it too), which the kernel's reverse path check, a lookup towards
   * the source as if sent from the host, never reaches. Strict filtering (1) then drops the MN's
   * uplink before our rules see it; loose (2) does unless the host has some route to the address
   * (a default route). The host's filter is the operator's; the data plane says so, once a link,
   * with the setting that lets the MN through (the effective mode is the larger of `all` and the
   * link's own).
   */
  private checkReversePath(link: string): void {
    if (this.rpFiltered.has(link)) return
    const mode = reversePathFilter(this.opts.procSys ?? '/proc/sys', link)
    if (mode === 0) return
    this.rpFiltered.add(link)
    this.log('warn', "reverse path filtering drops the IPv4 uplink of GRE-keyed MNs on this link (RFC 5845: their home addresses are routed in their bindings' own tables)", {
      link,
      rpFilter: mode,
      fix: reversePathFix([link]),
    })
  }

  private greTarget(peer: string, slot: number, keys: { readonly ikey: number; readonly okey: number }): GreTarget {
    return { slot, self: this.opts.self, peer, ikey: keys.ikey, okey: keys.okey, pathMtu: this.pathMtuFor(peer), ipv4: this.opts.ipv4 === true }
  }

  /**
   * The kernel objects of one prefix of a binding (model.ts): planned on install, and planned
   * again on removal (the same inputs give the same objects; a removal names a route by its
   * table, prefixes and device, never by its MTU). `gre`: the binding's GRE slot (RFC 5845).
   */
  private prefixObjects(link: string, peer: string | null, p: Prefix, gre: number | null): KObj[] {
    if (gre !== null) return grePrefixObjects(this.layout, this.opts.role, p, link, gre)
    if (peer === null) return localPrefixObjects(this.layout, p, link)
    const t: TunnelTarget = { backend: this.backend, slot: this.tunnels.get(peer)!.slot, peer, uplink: this.uplink, pathMtu: this.pathMtuFor(peer) }
    // RFC 5844: an IPv4 home address (family 4) has its own routes and rules beside the IPv6 ones.
    if (isIpv4Prefix(p)) return this.opts.role === 'mag' ? magIpv4Objects(this.layout, p, link, t) : lmaIpv4Objects(this.layout, p, t)
    return this.opts.role === 'mag' ? magPrefixObjects(this.layout, p, link, t, this.opts.localRouting ?? false, this.opts.uplinkSelect ?? 'rule') : lmaPrefixObjects(this.layout, p, t)
  }

  private async removePrefix(b: Binding, text: string): Promise<void> {
    await this.removeObjs(this.prefixObjects(b.link, b.peer, planPrefix(text), greOf(b)?.slot ?? null))
  }

  private async doDown(id: string, prefixes?: readonly string[]): Promise<void> {
    const b = this.bindings.get(id)
    if (!b) return
    if (prefixes !== undefined) {
      const gone = new Set(prefixes.map((p) => planPrefix(p).text))
      if (b.prefixes.some((p) => !gone.has(p))) {
        for (const p of gone) {
          if (!b.remove(p)) continue
          await this.removePrefix(b, p)
        }
        return
      }
    }
    this.bindings.delete(id)
    await this.release(b)
  }

  /** Removes a binding's prefix objects and drops its references to the shared ones. */
  private async release(b: Binding): Promise<void> {
    for (const p of b.prefixes) await this.removePrefix(b, p)
    if (b instanceof GreBinding && b.peer !== null) {
      // RFC 5845: the binding's own device and tables go with it.
      await this.removeObjs(greBindingObjects(this.layout, this.opts.role, this.greTarget(b.peer, b.gre.slot, b.gre)))
      this.freeGreSlots.push(b.gre.slot)
      this.log('info', 'gre device down', { device: greName(b.gre.slot), peer: b.peer })
    } else if (b.peer !== null) {
      const t = this.tunnels.get(b.peer)
      if (t) this.releaseShared(this.tunnels, t)
    }
    if (this.opts.role === 'mag') {
      const g = this.guards.get(b.link)
      if (g) this.releaseShared(this.guards, g)
    }
  }

  /**
   * Takes a reference to a shared object set, installing it if it is not there. The install is
   * itself a transaction: a failure leaves none of its objects and gives the reference back.
   */
  private async acquire(map: Map<string, Shared>, key: string, make: (r: Shared) => readonly KObj[]): Promise<Shared> {
    let r = map.get(key)
    const fresh = r === undefined
    if (!r) {
      r = { key, users: 0, installed: null, chain: Promise.resolve(), slot: -1, pinned: false, queued: 0 }
      map.set(key, r)
    }
    const res = r
    res.users++
    const install = async (): Promise<void> => {
      if (res.installed !== null) return
      const objs = make(res)
      const tx = new Tx(this.rtnl, this.log)
      try {
        // Rules and routes go through the batched socket, which keeps their order in a datagram:
        // no need to wait for each ack. A link (ip6tnl) must exist before what refers to it.
        if (objs.every((o) => o.kind === 'route' || o.kind === 'rule')) {
          const all = tx.addAll(objs)
          res.pipelined = fresh
          await all
        } else for (const o of objs) await tx.add(o)
      } catch (e) {
        await tx.rollback()
        this.freeSlot(res)
        throw e
      }
      res.installed = objs
      this.objectCount += objs.length
      if (map === this.tunnels) this.log('info', 'tunnel up', { peer: key, slot: res.slot, backend: this.backend, tunnelMtu: this.tunnelMtu })
    }
    // A set made by this call has nothing queued on its chain: its install starts now, in this
    // tick (see doUp). Otherwise it waits its turn behind a removal or an MTU change.
    res.queued++
    const step = (fresh ? install() : res.chain.then(install)).finally(() => {
      res.pipelined = false
      res.queued--
    })
    res.chain = step.catch(() => undefined)
    try {
      await step
    } catch (e) {
      res.users--
      this.forgetIfUnused(map, res)
      throw e
    }
    return res
  }

  /** Gives a reference back; the last one removes the objects (RFC 5213 §6.10.1 for tunnels). */
  private releaseShared(map: Map<string, Shared>, res: Shared): void {
    res.users--
    // Still used, or kept for the daemon's life: nothing to queue (a later last release queues the removal).
    if (res.users > 0 || res.pinned) return
    res.queued++
    res.chain = res.chain
      .then(async () => {
        if (res.users > 0 || res.pinned || res.installed === null) return
        const objs = res.installed
        res.installed = null
        await this.removeObjs(objs)
        this.freeSlot(res)
        if (map === this.tunnels) this.log('info', 'tunnel down', { peer: res.key })
        this.forgetIfUnused(map, res)
      })
      .finally(() => {
        res.queued--
      })
  }

  /**
   * A reference to a shared set that is installed with nothing queued on its chain, taken at
   * once (a speed device: every binding after a link's or a peer's first comes here, and
   * acquire() costs a few promises and turns of the microtask queue, twice per MAG binding).
   * null: acquire() it, behind whatever its chain holds.
   */
  private holdInstalled(map: Map<string, Shared>, key: string): Shared | null {
    const r = map.get(key)
    if (r === undefined || r.installed === null || r.queued > 0) return null
    r.users++
    return r
  }

  private forgetIfUnused(map: Map<string, Shared>, res: Shared): void {
    if (res.users === 0 && res.installed === null && !res.pinned && map.get(res.key) === res) map.delete(res.key)
  }

  private freeSlot(res: Shared): void {
    if (res.slot >= 0) this.freeSlots.push(res.slot)
    res.slot = -1
  }

  private guardObjects(link: string): readonly KObj[] {
    const objs = accessLinkObjects(this.layout, link, this.opts.uplinkSelect ?? 'rule')
    return this.opts.ipv4 === true ? [...objs, ...accessLink4Objects(this.layout, link)] : objs
  }

  private tunnelObjectsFor(res: Shared): readonly KObj[] {
    const slot = this.freeSlots.pop()
    if (slot === undefined) throw new Error(`no free tunnel slot: ${this.layout.maxTunnels} peers in use (dataplane.maxTunnels)`)
    res.slot = slot
    return tunnelObjects({ layout: this.layout, backend: this.backend, role: this.opts.role, slot, self: this.opts.self, peer: res.key, uplink: this.uplink, pathMtu: this.pathMtuFor(res.key), ipv4: this.opts.ipv4 === true })
  }

  /** Removal is best effort: an object already gone (a link deleted under us) is not an error. */
  private async removeObjs(objs: readonly KObj[]): Promise<void> {
    for (const o of [...objs].reverse()) {
      try {
        await this.rtnl.del(o)
      } catch (e) {
        const code = e instanceof NetlinkError ? e.code : ''
        if (code !== 'ENOENT' && code !== 'ESRCH' && code !== 'ENODEV') this.log('warn', 'could not remove an object', { object: describe(o), error: e instanceof Error ? e.message : String(e) })
      }
      this.objectCount--
    }
  }

  private async removeAll(): Promise<void> {
    for (const [id, b] of [...this.bindings]) {
      this.bindings.delete(id)
      await this.release(b)
    }
    await Promise.allSettled([...this.tunnels.values(), ...this.guards.values()].map((r) => r.chain))
    for (const g of this.guards.values()) {
      if (g.installed === null) continue
      const objs = g.installed
      g.installed = null
      if (g.pinned) continue // part of baseObjs
      await this.removeObjs(objs)
    }
    this.guards.clear()
    await this.removeObjs(this.baseObjs.splice(0))
  }
}

/**
 * Removes what an earlier run of a daemon with this layout left: rules at our priorities that
 * carry our protocol number, routes of our protocol in our tables (the GRE range too), our
 * tunnel devices (ip6tnl `pmip6t*`, ip6gre `pmip6g*`); and puts
 * the `local` rule back at 0 if a seg6 run moved it. Nothing else is touched.
 */
export async function cleanup(rtnl: Rtnl, layout: Layout, log: LogFn = noLog): Promise<number> {
  let removed = 0
  const rules = await rtnl.rules()
  // A moved `local` rule goes back the way close() puts it back (the `local-rule` object's
  // removal): at 0 without our protocol mark, or `ip rule` would show a rule of ours at 0 that
  // no later cleanup removes.
  const moved = rules.filter((r) => isOurPriority(layout, r.priority) && r.table === RT_TABLE_LOCAL && r.protocol === RTPROT_PMIP)
  for (const r of moved) {
    await rtnl.del({ kind: 'local-rule', priority: r.priority })
    removed++
  }
  for (const r of rules) {
    if (!isOurPriority(layout, r.priority) || r.protocol !== RTPROT_PMIP || moved.includes(r)) continue
    await rtnl.delRuleInfo(r)
    removed++
  }
  for (const r of await rtnl.routes()) {
    if (!isOurTable(layout, r.table) || r.protocol !== RTPROT_PMIP) continue
    await rtnl.delRouteInfo(r)
    removed++
  }
  for (const l of await rtnl.links()) {
    const ours = (l.name.startsWith(TUNNEL_NAME_PREFIX) && l.kind === 'ip6tnl') || (l.name.startsWith(GRE_NAME_PREFIX) && l.kind === 'ip6gre')
    if (!ours) continue
    await rtnl.delLinkByName(l.name)
    removed++
  }
  if (removed > 0) log('info', 'removed leftovers of an earlier run', { objects: removed })
  return removed
}

async function chooseBackend(rtnl: Rtnl, choice: BackendChoice, self: string, log: LogFn): Promise<Backend> {
  if (choice !== 'auto') return choice
  try {
    await rtnl.add({ kind: 'link', name: PROBE_DEVICE, local: self, remote: PROBE_PEER, mtu: 1280 })
  } catch (e) {
    log('info', 'ip6tnl is not available in this kernel; using seg6 encap.red + End.DT6', { error: e instanceof Error ? e.message : String(e) })
    return 'seg6'
  }
  await rtnl.delLinkByName(PROBE_DEVICE)
  return 'ip6tnl'
}

/** The sysctl that turns reverse path filtering off for these links (`all` counts for each). */
function reversePathFix(links: Iterable<string>): string {
  return `sysctl -w net.ipv4.conf.all.rp_filter=0 ${[...links].map((l) => `net.ipv4.conf.${l}.rp_filter=0`).join(' ')}`
}

/** The effective IPv4 reverse path filter of a device: the larger of `all` and its own (0 where unreadable). */
function reversePathFilter(procSys: string, dev: string): number {
  const read = (d: string): number => {
    try {
      const v = Number.parseInt(readFileSync(`${procSys}/net/ipv4/conf/${d}/rp_filter`, 'utf8'), 10)
      return Number.isInteger(v) && v > 0 ? v : 0
    } catch {
      return 0
    }
  }
  return Math.max(read('all'), read(dev))
}

function enableForwarding(log: LogFn, path: string, family: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === '1') return
    writeFileSync(path, '1\n')
    log('info', `enabled ${family} forwarding (${path})`)
  } catch (e) {
    throw new Error(`cannot enable ${family} forwarding (${path}): ${e instanceof Error ? e.message : String(e)}`)
  }
}
