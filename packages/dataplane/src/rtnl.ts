/**
 * The kernel side: adds, removes and lists the objects of model.ts over rtnetlink with npm
 * `netlink` 0.3.0 (pinned; design.md). Everything goes through the `Rtnl` interface, so tests
 * can count calls and inject a failure at the Nth one (FaultyRtnl).
 */
import { createRtNetlink, FlagsNew, type rt, type RtNetlinkSocket } from 'netlink'
import { formatIp4, formatIp6, parseIp4, parseIp6 } from '@pmip6/wire'
import {
  ip6tnlLinkInfo,
  ip6greLinkInfo,
  LWTUNNEL_ENCAP_SEG6,
  LWTUNNEL_ENCAP_SEG6_LOCAL,
  NLM_F_CREATE,
  NLM_F_EXCL,
  routeMsg,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  ruleMsg,
  type RuleFields,
  seg6EncapRed,
  seg6LocalEndDt6,
  seg6LocalEndDx4,
  IP6TNL_PROTO_ANY,
  IPPROTO_IPV6,
  AF_INET6,
  noLinkLocalAfSpec,
} from './encode'
import { BatchRtnl, RtnlRefusal } from './batch'
import { NetlinkRequests, NetlinkTimeout } from './request'
import { RTPROT_PMIP, RT_TABLE_LOCAL, describe, type GreLinkObj, type KObj, type Prefix, type RouteObj, type RuleObj } from './model'

const AF_INET = 2
/** linux/netlink.h NLM_F_REPLACE: an RTM_NEWROUTE that replaces the route with the same key. */
const NLM_F_REPLACE = 0x100
/** linux/rtnetlink.h RTPROT_KERNEL: what the kernel's own rules carry. */
const RTPROT_KERNEL = 2
/**
 * Bound on one netlink request. The kernel answers at once; what is slow is this process getting
 * the CPU back: starved for a few seconds (a single-CPU VM on a busy host), it resumes with the
 * reply queued and its timer already due. NetlinkRequests (request.ts) lets such a reply win over
 * the timer; the bound still covers long starvation (2 s failed the lab LMA's start in the
 * real-kernel tier) and dumps of a million bindings on a loaded machine (issue 23).
 */
const REQUEST_TIMEOUT_MS = 15_000
/** Waits before each retry of an add the kernel refused for want of memory for a moment. */
const TRANSIENT_RETRIES_MS = [2, 20, 200]
/** Receive queue for the ACKs and dumps (capped by net.core.rmem_max). */
const RECEIVE_BUFFER_BYTES = 4 << 20

export type NetlinkErrorCode = string

/** A kernel refusal or a transport problem, with the object it concerned. */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError'
  constructor(
    readonly op: 'add' | 'del' | 'list' | 'lookup',
    readonly what: string,
    /** errno name when the kernel gave one (EEXIST, ENOTSUP, ...), else 'EIO'. */
    readonly code: NetlinkErrorCode,
    message: string,
  ) {
    super(`${op} ${what}: ${message}`)
  }
}

/** An error of a batched request as the NetlinkError naming its object. */
function asNetlinkError(op: 'add' | 'del', o: KObj, e: unknown): NetlinkError {
  if (e instanceof NetlinkError) return e
  return new NetlinkError(op, describe(o), codeOf(e), e instanceof Error ? e.message : String(e))
}

function codeOf(e: unknown): NetlinkErrorCode {
  if (e instanceof RtnlRefusal || e instanceof NetlinkTimeout) return e.code
  const m = /\b(E[A-Z0-9]+)\b/.exec(e instanceof Error ? e.message : String(e))
  return m?.[1] ?? 'EIO'
}

/** What the data plane reads back from the kernel. */
export interface RuleInfo {
  readonly priority: number
  readonly table: number
  readonly action: string
  readonly protocol: number
  readonly src: Prefix | null
  readonly dst: Prefix | null
  readonly iif: string | null
  readonly ipProto: number | null
  /** 4: an IPv4 rule (RFC 5844); absent: IPv6. */
  readonly family?: 4
}
export interface RouteInfo {
  readonly table: number
  readonly dst: Prefix
  readonly src: Prefix | null
  readonly protocol: number
  readonly family?: 4
}
export interface LinkInfo {
  readonly index: number
  readonly name: string
  readonly kind: string | null
  readonly mtu: number | null
}

export interface Rtnl {
  add(o: KObj): Promise<void>
  del(o: KObj): Promise<void>
  rules(): Promise<RuleInfo[]>
  routes(): Promise<RouteInfo[]>
  links(): Promise<LinkInfo[]>
  /** Output interface of the route towards `addr` (RTM_GETROUTE). */
  routeDev(addr: string): Promise<string>
  /** Name of the interface holding `addr`. */
  addressDev(addr: string): Promise<string | null>
  delRuleInfo(r: RuleInfo): Promise<void>
  delRouteInfo(r: RouteInfo): Promise<void>
  delLinkByName(name: string): Promise<void>
  /** Replaces a route in place (same table, prefixes and device): a new MTU, RFC 5213 §6.9.5. */
  replaceRoute(o: RouteObj): Promise<void>
  setLinkMtu(name: string, mtu: number): Promise<void>
  /** Sets an existing ip6gre device's parameters in place (RFC 5845: a new key on a refresh). */
  changeGreLink(o: GreLinkObj): Promise<void>
  /**
   * Whether the kernel makes ip6gre devices: a device `name` is created and deleted again. A
   * probe, not a change: failure injection does not count it.
   */
  probeGre(name: string, local: string): Promise<boolean>
  close(): void
}

/** A prefix with its address bytes (objects built elsewhere, e.g. from JSON, may lack them). */
function withBytes(p: Prefix): { readonly bytes: Uint8Array; readonly length: number } {
  if (p.bytes !== undefined) return p as { readonly bytes: Uint8Array; readonly length: number }
  return { bytes: p.family === 4 ? parseIp4(p.addr) : parseIp6(p.addr), length: p.length }
}

/** The fields of a rule message; `protocol` set on adds. One literal, no spreads (issue 23). */
function ruleFields(o: RuleObj, protocol?: number): RuleFields {
  return {
    family: o.family === 4 ? 4 : 6,
    priority: o.priority,
    action: o.action,
    table: o.table,
    src: o.src ? withBytes(o.src) : undefined,
    dst: o.dst ? withBytes(o.dst) : undefined,
    iif: o.iif,
    ipProto: o.ipProto,
    protocol,
  }
}

function prefixInfo(b: Buffer | undefined, len: number, family: 4 | 6 = 6): Prefix | null {
  if (!b) return null
  const addr = family === 4 ? formatIp4(b) : formatIp6(b)
  return { text: `${addr}/${len}`, addr, length: len, bytes: Buffer.from(b), ...(family === 4 ? { family: 4 as const } : {}) }
}

const CREATE = FlagsNew.CREATE | FlagsNew.EXCL

export class NetlinkRtnl implements Rtnl {
  private readonly s: RtNetlinkSocket
  private readonly ifindex = new Map<string, number>()

  /** Our netlink port: passed with every request, or the library asks the kernel (getsockname) each time. */
  private readonly port: number

  /** The per-binding rules and routes go out batched on their own socket. */
  private readonly batch: BatchRtnl

  /** Deadlines of the typed requests on `s` (not the library's timeout: see request.ts). */
  private readonly req = new NetlinkRequests(REQUEST_TIMEOUT_MS)

  /** Options of every typed request: our port, and the library's timeout as a backstop only. */
  private opts(flags?: number): { timeout: number; localPort: number; flags?: number } {
    return { ...(flags !== undefined ? { flags } : {}), timeout: this.req.libraryTimeoutMs, localPort: this.port }
  }

  constructor(onError?: (e: Error) => void) {
    // Socket-level errors (a receive-queue overrun) are reported, never thrown out of a native callback.
    this.batch = new BatchRtnl((e) => onError?.(e))
    this.s = createRtNetlink()
    this.port = this.s.socket.address().port
    try {
      this.s.socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES)
    } catch {
      // keep the default: only dumps and the rare link and `local` rule changes use this socket
    }
    // Without a listener the library's 'error' event would throw inside its native callback and
    // abort the process. Requests caught in such an error time out and are rolled back.
    this.s.socket.on('error', (e: Error) => onError?.(e))
  }

  /** The link dump under way, shared by every lookup that missed the cache meanwhile. */
  private linkDump: Promise<LinkInfo[]> | null = null

  private async index(name: string): Promise<number> {
    const cached = this.ifindex.get(name)
    if (cached !== undefined) return cached
    // A storm's first routes all miss together: one dump serves them, not one each.
    this.linkDump ??= this.links().finally(() => (this.linkDump = null))
    for (const l of await this.linkDump) this.ifindex.set(l.name, l.index)
    const i = this.ifindex.get(name)
    if (i === undefined) throw new NetlinkError('lookup', `interface ${name}`, 'ENODEV', 'no such interface')
    return i
  }

  /** seg6 encapsulations by peer: every MN route of one LMA carries the same bytes. */
  private readonly encaps = new Map<string, Buffer>()
  private encapTo(to: string): Buffer {
    let b = this.encaps.get(to)
    if (!b) {
      b = seg6EncapRed(to)
      this.encaps.set(to, b)
    }
    return b
  }

  /** A route message body; a removal names the route (table, prefixes, device) without its encapsulation. */
  private async routeBody(o: RouteObj, forAdd: boolean): Promise<Buffer> {
    return this.routeMsgFor(o, forAdd, await this.index(o.dev))
  }

  private routeMsgFor(o: RouteObj, forAdd: boolean, oif: number): Buffer {
    const encap =
      !forAdd || !o.encap
        ? undefined
        : o.encap.type === 'seg6-encap-red'
          ? { type: LWTUNNEL_ENCAP_SEG6, data: this.encapTo(o.encap.to) }
          : o.encap.type === 'seg6local-dt6'
            ? { type: LWTUNNEL_ENCAP_SEG6_LOCAL, data: seg6LocalEndDt6(o.encap.table) }
            : { type: LWTUNNEL_ENCAP_SEG6_LOCAL, data: seg6LocalEndDx4() }
    return routeMsg({
      family: o.family === 4 ? 4 : 6,
      table: o.table,
      dst: withBytes(o.dst),
      src: o.src ? withBytes(o.src) : undefined,
      oif,
      protocol: RTPROT_PMIP,
      encap,
      mtu: forAdd ? o.mtu : undefined,
    })
  }

  /** `what` names the object in an error; a function, so the text is only built when one happens. */
  private async wrap<T>(op: 'add' | 'del' | 'list' | 'lookup', what: string | (() => string), f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (e) {
      if (e instanceof NetlinkError) throw e
      throw new NetlinkError(op, typeof what === 'string' ? what : what(), codeOf(e), e instanceof Error ? e.message : String(e))
    }
  }

  /**
   * The request of a rule or route built at once, or null when it needs a device index not
   * looked up yet. Per-binding objects take this path: one promise per object, not a chain of
   * async frames (a storm of a million MNs adds two million routes).
   */
  private quick(o: KObj, forAdd: boolean): Promise<void> | null {
    if (o.kind === 'rule') return this.batch.request(forAdd ? RTM_NEWRULE : RTM_DELRULE, forAdd ? NLM_F_CREATE | NLM_F_EXCL : 0, ruleMsg(ruleFields(o, forAdd ? RTPROT_PMIP : undefined)))
    if (o.kind !== 'route') return null
    const oif = this.ifindex.get(o.dev)
    if (oif === undefined) return null
    return this.batch.request(forAdd ? RTM_NEWROUTE : RTM_DELROUTE, forAdd ? NLM_F_CREATE | NLM_F_EXCL : 0, this.routeMsgFor(o, forAdd, oif))
  }

  /**
   * Adds one object. ENOMEM and ENOBUFS are retried a few times: the kernel gives them for a
   * moment when it cannot allocate in atomic context (a seg6 route's per-CPU state, measured
   * once in 10,000 routes added at full speed), not because the object is wrong.
   */
  add(o: KObj): Promise<void> {
    const q = this.quick(o, true)
    if (q === null) return this.addRetrying(o, null)
    return q.catch((e: unknown) => this.addRetrying(o, asNetlinkError('add', o, e)))
  }

  /** The add with its retries; `failed`: the first attempt's error, when it was already made. */
  private async addRetrying(o: KObj, failed: NetlinkError | null): Promise<void> {
    let relooked = false
    let pending: unknown = failed
    for (let attempt = 0; ; attempt++) {
      try {
        if (pending !== null) throw pending
        await this.addOnce(o)
        return
      } catch (e) {
        pending = null
        // The cached index of a device that was deleted and made again under the same name
        // (pppd makes a new pppN per session): look the name up afresh, once.
        if (e instanceof NetlinkError && e.code === 'ENODEV' && o.kind === 'route' && !relooked && this.ifindex.has(o.dev)) {
          relooked = true
          this.ifindex.delete(o.dev)
          continue
        }
        if (!(e instanceof NetlinkError) || (e.code !== 'ENOMEM' && e.code !== 'ENOBUFS') || attempt >= TRANSIENT_RETRIES_MS.length) throw e
        await new Promise((r) => setTimeout(r, TRANSIENT_RETRIES_MS[attempt]))
      }
    }
  }

  private async addOnce(o: KObj): Promise<void> {
    await this.wrap('add', () => describe(o), async () => {
      switch (o.kind) {
        case 'rule':
          await this.batch.request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, ruleMsg(ruleFields(o, RTPROT_PMIP)))
          return
        case 'route':
          await this.batch.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, await this.routeBody(o, true))
          return
        case 'link':
          await this.newUpLink(o.name, o.mtu, ip6tnlLinkInfo(o.local, o.remote, 64, o.anyProto === true ? IP6TNL_PROTO_ANY : IPPROTO_IPV6))
          return
        case 'gre-link':
          await this.newUpLink(o.name, o.mtu, ip6greLinkInfo(o.local, o.remote, o.ikey, o.okey))
          return
        case 'local-rule': {
          // Add the moved rule first: there is never a moment without a `local` rule.
          await this.req.run(`RTM_NEWRULE local pref ${o.priority}`, () => this.s.newRule({ family: AF_INET6, action: 'toTbl', table: RT_TABLE_LOCAL }, { priority: o.priority, table: RT_TABLE_LOCAL, protocol: RTPROT_PMIP }, this.opts(CREATE)))
          try {
            await this.req.run('RTM_DELRULE local pref 0', () => this.s.delRule({ family: AF_INET6, action: 'toTbl', table: RT_TABLE_LOCAL }, { priority: 0, table: RT_TABLE_LOCAL }, this.opts()))
          } catch (e) {
            if (codeOf(e) !== 'ENOENT') throw e
          }
          return
        }
      }
    })
  }

  /** Creates a tunnel device and brings it up: one object, one step. */
  private async newUpLink(name: string, mtu: number, linkinfo: Buffer): Promise<void> {
    await this.req.run(`RTM_NEWLINK ${name}`, () => this.s.newLink({ family: 0 }, { ifname: name, mtu, linkinfo }, this.opts(CREATE)))
    this.ifindex.delete(name)
    try {
      const index = await this.index(name)
      // Two messages: some kernels (Debian's 6.1 UML) apply IFLA_AF_SPEC after the flags of the
      // same message, when the link-local address has been made already.
      await this.req.run(`RTM_SETLINK ${name} addrgenmode none`, () => this.s.setLink({ index }, { afSpec: noLinkLocalAfSpec() }, this.opts()))
      await this.req.run(`RTM_SETLINK ${name} up`, () => this.s.setLink({ index, change: { up: true }, flags: { up: true } }, {}, this.opts()))
    } catch (e) {
      // A device that cannot come up is not left behind.
      await this.delLinkByName(name).catch(() => undefined)
      throw e
    }
  }

  async changeGreLink(o: GreLinkObj): Promise<void> {
    await this.wrap('add', () => `${describe(o)} (change)`, async () => {
      const index = await this.index(o.name)
      // RTM_NEWLINK without NLM_F_CREATE on an existing device: the kind's changelink (it
      // re-links the tunnel with the new keys under RTNL). With IFLA_MTU, or ip6gre would reset
      // the MTU from the route to the peer.
      await this.req.run(`RTM_NEWLINK ${o.name} (change)`, () => this.s.newLink({ family: 0, index }, { mtu: o.mtu, linkinfo: ip6greLinkInfo(o.local, o.remote, o.ikey, o.okey) }, this.opts()))
    })
  }

  async probeGre(name: string, local: string): Promise<boolean> {
    try {
      // A documentation-prefix peer (RFC 3849): nothing is ever sent through the probe.
      await this.req.run(`RTM_NEWLINK ${name} (probe)`, () => this.s.newLink({ family: 0 }, { ifname: name, mtu: 1280, linkinfo: ip6greLinkInfo(local, '2001:db8::ffff', 1, 1) }, this.opts(CREATE)))
    } catch {
      return false
    }
    this.ifindex.delete(name)
    await this.delLinkByName(name)
    return true
  }

  del(o: KObj): Promise<void> {
    const q = this.quick(o, false)
    if (q !== null) return q.catch((e: unknown) => Promise.reject(asNetlinkError('del', o, e)))
    return this.delSlow(o)
  }

  private async delSlow(o: KObj): Promise<void> {
    await this.wrap('del', () => describe(o), async () => {
      switch (o.kind) {
        case 'rule':
          await this.batch.request(RTM_DELRULE, 0, ruleMsg(ruleFields(o)))
          return
        case 'route':
          await this.batch.request(RTM_DELROUTE, 0, await this.routeBody(o, false))
          return
        case 'link':
        case 'gre-link':
          await this.delLinkByName(o.name)
          return
        case 'local-rule':
          await this.restoreLocalRule(o.priority)
          return
      }
    })
  }

  /** Puts `lookup local` back at 0 (if missing), then removes the moved one. */
  private async restoreLocalRule(priority: number): Promise<void> {
    try {
      // Protocol "kernel", as the rule the kernel made at boot: put back exactly as it was.
      await this.req.run('RTM_NEWRULE local pref 0', () => this.s.newRule({ family: AF_INET6, action: 'toTbl', table: RT_TABLE_LOCAL }, { priority: 0, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL }, this.opts(CREATE)))
    } catch (e) {
      if (codeOf(e) !== 'EEXIST') throw e
    }
    await this.req.run(`RTM_DELRULE local pref ${priority}`, () => this.s.delRule({ family: AF_INET6, action: 'toTbl', table: RT_TABLE_LOCAL }, { priority, table: RT_TABLE_LOCAL }, this.opts()))
  }

  /** Rules of both families: IPv4 ones are ours too since RFC 5844 (cleanup must see them). */
  async rules(): Promise<RuleInfo[]> {
    return this.wrap('list', 'rules', async () => {
      const out: RuleInfo[] = []
      for (const family of [6, 4] as const) {
        for (const m of await this.req.run(`RTM_GETRULE dump (IPv${family})`, () => this.s.getRules({ family: family === 4 ? AF_INET : AF_INET6 }, {}, this.opts()))) {
          out.push({
            priority: m.attrs.priority ?? 0,
            table: m.attrs.table ?? m.data.table ?? 0,
            action: String(m.data.action ?? ''),
            protocol: m.attrs.protocol ?? 0,
            src: prefixInfo(m.attrs.src, m.data.srcLen ?? 0, family),
            dst: prefixInfo(m.attrs.dst, m.data.dstLen ?? 0, family),
            iif: m.attrs.iifname ?? null,
            ipProto: m.attrs.ipProto ?? null,
            ...(family === 4 ? { family } : {}),
          })
        }
      }
      return out
    })
  }

  async routes(): Promise<RouteInfo[]> {
    return this.wrap('list', 'routes', async () => {
      const out: RouteInfo[] = []
      for (const family of [6, 4] as const) {
        for (const m of await this.req.run(`RTM_GETROUTE dump (IPv${family})`, () => this.s.getRoutes({ family: family === 4 ? AF_INET : AF_INET6 }, {}, this.opts()))) {
          out.push({
            table: m.attrs.table ?? m.data.table ?? 0,
            dst: prefixInfo(m.attrs.dst ?? Buffer.alloc(family === 4 ? 4 : 16), m.data.dstLen ?? 0, family)!,
            src: m.data.srcLen ? prefixInfo(m.attrs.src, m.data.srcLen, family) : null,
            protocol: typeof m.data.protocol === 'number' ? m.data.protocol : 0,
            ...(family === 4 ? { family } : {}),
          })
        }
      }
      return out
    })
  }

  async links(): Promise<LinkInfo[]> {
    return this.wrap('list', 'links', async () =>
      (await this.req.run('RTM_GETLINK dump', () => this.s.getLinks({}, {}, this.opts()))).map((m) => ({
        index: m.data.index ?? 0,
        name: m.attrs.ifname ?? '',
        kind: m.attrs.linkinfo ? linkKind(m.attrs.linkinfo) : null,
        mtu: m.attrs.mtu ?? null,
      })),
    )
  }

  async routeDev(addr: string): Promise<string> {
    return this.wrap('lookup', `route to ${addr}`, async () => {
      const r = await this.req.run(`RTM_GETROUTE ${addr}`, () => this.s.getRoute({ family: AF_INET6, dstLen: 128 }, { dst: parseIp6(addr) }, this.opts()))
      const oif = r[0]?.attrs.oif
      if (oif === undefined) throw new NetlinkError('lookup', `route to ${addr}`, 'ENETUNREACH', 'no route')
      const l = (await this.links()).find((x) => x.index === oif)
      if (!l) throw new NetlinkError('lookup', `route to ${addr}`, 'ENODEV', `no interface ${oif}`)
      return l.name
    })
  }

  async addressDev(addr: string): Promise<string | null> {
    return this.wrap('lookup', `address ${addr}`, async () => {
      const want = parseIp6(addr)
      const addrs = await this.req.run('RTM_GETADDR dump', () => this.s.getAddresses({ family: AF_INET6 }, {}, this.opts()))
      const hit = addrs.find((a) => (a.attrs.address ?? a.attrs.local)?.equals(want))
      if (!hit) return null
      return (await this.links()).find((l) => l.index === hit.data.index)?.name ?? null
    })
  }

  async delRuleInfo(r: RuleInfo): Promise<void> {
    await this.wrap('del', `rule pref ${r.priority}`, async () => {
      const data: rt.Rule = { family: r.family === 4 ? AF_INET : AF_INET6, srcLen: r.src?.length ?? 0, dstLen: r.dst?.length ?? 0, action: r.action as rt.Rule['action'], table: 0 }
      const attrs: rt.RuleAttrs = { priority: r.priority, table: r.table }
      if (r.src) attrs.src = Buffer.from(withBytes(r.src).bytes)
      if (r.dst) attrs.dst = Buffer.from(withBytes(r.dst).bytes)
      if (r.iif) attrs.iifname = r.iif
      if (r.ipProto !== null) attrs.ipProto = r.ipProto
      await this.req.run(`RTM_DELRULE pref ${r.priority}`, () => this.s.delRule(data, attrs, this.opts()))
    })
  }

  async delRouteInfo(r: RouteInfo): Promise<void> {
    await this.wrap('del', `route ${r.dst.text} table ${r.table}`, async () => {
      const attrs: rt.RouteAttrs = { table: r.table }
      if (r.dst.length > 0) attrs.dst = Buffer.from(withBytes(r.dst).bytes)
      if (r.src) attrs.src = Buffer.from(withBytes(r.src).bytes)
      await this.req.run(`RTM_DELROUTE ${r.dst.text} table ${r.table}`, () => this.s.delRoute({ family: r.family === 4 ? AF_INET : AF_INET6, dstLen: r.dst.length, srcLen: r.src?.length ?? 0, table: 0 }, attrs, this.opts()))
    })
  }

  async delLinkByName(name: string): Promise<void> {
    await this.wrap('del', `link ${name}`, async () => {
      const i = await this.index(name)
      await this.req.run(`RTM_DELLINK ${name}`, () => this.s.delLink({ index: i }, {}, this.opts()))
      this.ifindex.delete(name)
    })
  }

  async replaceRoute(o: RouteObj): Promise<void> {
    await this.wrap('add', () => `${describe(o)} (replace)`, async () => {
      await this.batch.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, await this.routeBody(o, true))
    })
  }

  async setLinkMtu(name: string, mtu: number): Promise<void> {
    await this.wrap('add', `link ${name} mtu ${mtu}`, async () => {
      const index = await this.index(name)
      await this.req.run(`RTM_SETLINK ${name} mtu ${mtu}`, () => this.s.setLink({ index }, { mtu }, this.opts()))
    })
  }

  close(): void {
    this.batch.close()
    this.s.socket.close()
  }
}

/** IFLA_INFO_KIND out of a raw IFLA_LINKINFO payload. */
function linkKind(b: Buffer): string | null {
  let off = 0
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off)
    const type = b.readUInt16LE(off + 2) & 0x3fff
    if (len < 4 || off + len > b.length) return null
    if (type === 1) return b.toString('latin1', off + 4, off + len).replace(/\0+$/, '')
    off += (len + 3) & ~3
  }
  return null
}

/**
 * Test double for failure injection: forwards to `inner`, but the `failAt`-th mutating call
 * (add or del, counted from 1) fails as the kernel would. Listing is never counted.
 */
export class FaultyRtnl implements Rtnl {
  calls = 0
  constructor(
    private readonly inner: Rtnl,
    public failAt: number,
    private readonly code: NetlinkErrorCode = 'ENOBUFS',
  ) {}
  private tick(op: 'add' | 'del', what: string): void {
    this.calls++
    if (this.calls === this.failAt) throw new NetlinkError(op, what, this.code, `injected failure at call ${this.calls}`)
  }
  async add(o: KObj): Promise<void> {
    this.tick('add', describe(o))
    await this.inner.add(o)
  }
  async del(o: KObj): Promise<void> {
    this.tick('del', describe(o))
    await this.inner.del(o)
  }
  rules(): Promise<RuleInfo[]> {
    return this.inner.rules()
  }
  routes(): Promise<RouteInfo[]> {
    return this.inner.routes()
  }
  links(): Promise<LinkInfo[]> {
    return this.inner.links()
  }
  routeDev(addr: string): Promise<string> {
    return this.inner.routeDev(addr)
  }
  addressDev(addr: string): Promise<string | null> {
    return this.inner.addressDev(addr)
  }
  delRuleInfo(r: RuleInfo): Promise<void> {
    return this.inner.delRuleInfo(r)
  }
  delRouteInfo(r: RouteInfo): Promise<void> {
    return this.inner.delRouteInfo(r)
  }
  delLinkByName(name: string): Promise<void> {
    return this.inner.delLinkByName(name)
  }
  async replaceRoute(o: RouteObj): Promise<void> {
    this.tick('add', describe(o))
    await this.inner.replaceRoute(o)
  }
  async setLinkMtu(name: string, mtu: number): Promise<void> {
    this.tick('add', `link ${name} mtu ${mtu}`)
    await this.inner.setLinkMtu(name, mtu)
  }
  async changeGreLink(o: GreLinkObj): Promise<void> {
    this.tick('add', `${describe(o)} (change)`)
    await this.inner.changeGreLink(o)
  }
  probeGre(name: string, local: string): Promise<boolean> {
    return this.inner.probeGre(name, local)
  }
  close(): void {
    this.inner.close()
  }
}
