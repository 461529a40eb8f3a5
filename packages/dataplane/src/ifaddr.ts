/**
 * Interface addresses and link events over rtnetlink (npm `netlink`), for what the MAG needs
 * beside its forwarding state:
 * - RFC 5213 §6.8, §6.9.1.2 item 15: the link-local router address the LMA supplies goes on the
 *   MN's access link with the kernel's Duplicate Address Detection (RFC 4862 §5.4), and the call
 *   answers only once DAD is over: 'ready', or 'duplicate' when a node on the link (the MN)
 *   already uses it, in which case the address is taken off again (no half state).
 * - RFC 5213 §6.9.5: the MTU of links as the kernel reports it (RTM_NEWLINK notifications).
 *
 * Left out: optimistic DAD (RFC 4429: an optimistic address must not be a router's RA source).
 */
import { readFileSync } from 'node:fs'
import { createRtNetlink, FlagsNew, type RtNetlinkSocket, type rt } from 'netlink'
import { canonicalIp6, parseIp6 } from '@pmip6/wire'
import { NetlinkError } from './rtnl'
import { NetlinkRequests, NetlinkTimeout } from './request'

const AF_INET6 = 10
/**
 * Bound on one netlink request. The kernel answers at once; what is slow is this process getting
 * the CPU back: starved for a few seconds (a single-CPU VM on a busy host), it resumes with the
 * reply queued and its timer already due. NetlinkRequests (request.ts) lets such a reply win over
 * the timer; the bound still covers long starvation (2 s failed the lab LMA's start in the
 * real-kernel tier).
 */
const REQUEST_TIMEOUT_MS = 15_000
/** RFC 4291 §2.5.6: link-local addresses are fe80::/64. */
const LINK_LOCAL_PREFIX_LENGTH = 64
/** linux/rtnetlink.h RT_SCOPE_LINK */
const RT_SCOPE_LINK = 253
/** How often the address's DAD state is read back while it is tentative. */
const DAD_POLL_MS = 50
/** Slack over DupAddrDetectTransmits x RetransTimer (RFC 4862 §5.4) before giving up on DAD. */
const DAD_SLACK_MS = 3000
/** linux/rtnetlink.h RTNLGRP_LINK */
const RTNLGRP_LINK = 1

export type DadResult = 'ready' | 'duplicate'

export interface AddressAdded {
  readonly result: DadResult
  /** False when the address was there already (configured by someone else): leave it on removal. */
  readonly added: boolean
  /** The link has DAD turned off (accept_dad 0): a collision with the MN cannot be seen. */
  readonly dadOff: boolean
}

/** Adding and removing link-local addresses with DAD; a test double can stand in for the kernel. */
export interface LinkAddressOps {
  add(link: string, address: string): Promise<AddressAdded>
  del(link: string, address: string): Promise<void>
  close(): void
}

export interface LinkFact {
  readonly index: number
  readonly name: string
  readonly mtu: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function codeOf(e: unknown): string {
  if (e instanceof NetlinkTimeout) return e.code
  const m = /\b(E[A-Z0-9]+)\b/.exec(e instanceof Error ? e.message : String(e))
  return m?.[1] ?? 'EIO'
}

function sysctlInt(path: string, dflt: number): number {
  try {
    const v = Number(readFileSync(path, 'utf8').trim())
    return Number.isFinite(v) ? v : dflt
  } catch {
    return dflt
  }
}

/** The kernel's link-local addresses and DAD, through one rtnetlink socket of its own. */
export class NetlinkLinkAddresses implements LinkAddressOps {
  private readonly s: RtNetlinkSocket
  private readonly port: number
  private closed = false
  /** Deadlines of the requests (not the library's timeout: see request.ts). */
  private readonly req = new NetlinkRequests(REQUEST_TIMEOUT_MS)

  constructor(onError?: (e: Error) => void) {
    this.s = createRtNetlink()
    this.port = this.s.socket.address().port
    this.s.socket.on('error', (e: Error) => onError?.(e))
  }

  /** Our port, and the library's timeout as a backstop only. */
  private opts() {
    return { timeout: this.req.libraryTimeoutMs, localPort: this.port }
  }

  private async index(link: string): Promise<number> {
    const l = (await this.req.run('RTM_GETLINK dump', () => this.s.getLinks({}, {}, this.opts()))).find((m) => m.attrs.ifname === link)
    if (l?.data.index === undefined) throw new NetlinkError('lookup', `interface ${link}`, 'ENODEV', 'no such interface')
    return l.data.index
  }

  private async flags(index: number, want: Buffer): Promise<rt.AddressFlags | null> {
    const all = await this.req.run(`RTM_GETADDR dump (ifindex ${index})`, () => this.s.getAddresses({ family: AF_INET6, index }, {}, this.opts()))
    const hit = all.find((a) => a.data.index === index && (a.attrs.address ?? a.attrs.local)?.equals(want))
    if (!hit) return null
    return hit.attrs.flags ?? hit.data.flags ?? {}
  }

  async add(link: string, address: string): Promise<AddressAdded> {
    const what = `address ${address} on ${link}`
    const bytes = parseIp6(canonicalIp6(address))
    let index: number
    try {
      index = await this.index(link)
    } catch (e) {
      if (e instanceof NetlinkError) throw e
      throw new NetlinkError('add', what, codeOf(e), e instanceof Error ? e.message : String(e))
    }
    const conf = `/proc/sys/net/ipv6/conf/${link}`
    const dadOff = sysctlInt(`${conf}/accept_dad`, 1) <= 0 || sysctlInt(`${conf}/dad_transmits`, 1) <= 0
    let added = true
    try {
      await this.req.run(`RTM_NEWADDR ${what}`, () => this.s.newAddress({ family: AF_INET6, prefixlen: LINK_LOCAL_PREFIX_LENGTH, scope: RT_SCOPE_LINK, index }, { address: bytes, local: bytes }, { ...this.opts(), flags: FlagsNew.CREATE | FlagsNew.EXCL }))
    } catch (e) {
      if (codeOf(e) !== 'EEXIST') throw new NetlinkError('add', what, codeOf(e), e instanceof Error ? e.message : String(e))
      added = false
    }
    // RFC 4862 §5.4: DupAddrDetectTransmits NSs, RetransTimer apart, then the address is ours.
    const dadMs = sysctlInt(`${conf}/dad_transmits`, 1) * sysctlInt(`/proc/sys/net/ipv6/neigh/${link}/retrans_time_ms`, 1000)
    const until = Date.now() + dadMs + DAD_SLACK_MS
    for (;;) {
      if (this.closed) throw new NetlinkError('add', what, 'ECANCELED', 'closed while DAD ran')
      let f: rt.AddressFlags | null
      try {
        f = await this.flags(index, bytes)
      } catch (e) {
        if (added) await this.del(link, address).catch(() => undefined)
        throw new NetlinkError('add', what, codeOf(e), e instanceof Error ? e.message : String(e))
      }
      if (f === null) throw new NetlinkError('add', what, 'ENOENT', 'the address went away during DAD')
      if (f.dadfailed) {
        // Ours or not, a duplicate address must not stay: RAs must never come from it.
        await this.del(link, address).catch(() => undefined)
        return { result: 'duplicate', added, dadOff }
      }
      if (!f.tentative) return { result: 'ready', added, dadOff }
      if (Date.now() > until) {
        if (added) await this.del(link, address).catch(() => undefined)
        throw new NetlinkError('add', what, 'ETIMEDOUT', `DAD did not finish within ${dadMs + DAD_SLACK_MS} ms`)
      }
      await sleep(DAD_POLL_MS)
    }
  }

  async del(link: string, address: string): Promise<void> {
    const what = `address ${address} on ${link}`
    try {
      const bytes = parseIp6(canonicalIp6(address))
      const index = await this.index(link)
      await this.req.run(`RTM_DELADDR ${what}`, () => this.s.delAddress({ family: AF_INET6, prefixlen: LINK_LOCAL_PREFIX_LENGTH, index }, { address: bytes, local: bytes }, this.opts()))
    } catch (e) {
      const code = e instanceof NetlinkError ? e.code : codeOf(e)
      // Gone already (the link went, or someone removed it): the goal is met.
      if (code === 'EADDRNOTAVAIL' || code === 'ENODEV' || code === 'ENOENT') return
      if (e instanceof NetlinkError) throw e
      throw new NetlinkError('del', what, code, e instanceof Error ? e.message : String(e))
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.s.socket.close()
  }
}

/**
 * RTM_NEWLINK notifications (RTNLGRP_LINK): the MTU of every link as the kernel changes it.
 * `links()` reads the current ones once (the baseline).
 */
export class LinkWatcher {
  private readonly s: RtNetlinkSocket
  private readonly port: number
  private readonly req = new NetlinkRequests(REQUEST_TIMEOUT_MS)

  constructor(onLink: (l: LinkFact) => void, onError?: (e: Error) => void) {
    this.s = createRtNetlink()
    this.port = this.s.socket.address().port
    this.s.socket.on('error', (e: Error) => onError?.(e))
    this.s.on('message', (msgs) => {
      for (const m of msgs) {
        // RTM_NEWLINK notifications and our own dump replies alike: each is a fact about a link.
        if (m.kind !== 'link') continue
        const { index } = m.data
        const { ifname, mtu } = m.attrs
        if (index === undefined || ifname === undefined || mtu === undefined) continue
        onLink({ index, name: ifname, mtu })
      }
    })
    this.s.socket.addMembership(RTNLGRP_LINK)
  }

  async links(): Promise<LinkFact[]> {
    const out: LinkFact[] = []
    for (const m of await this.req.run('RTM_GETLINK dump', () => this.s.getLinks({}, {}, { timeout: this.req.libraryTimeoutMs, localPort: this.port }))) {
      if (m.data.index !== undefined && m.attrs.ifname !== undefined && m.attrs.mtu !== undefined) out.push({ index: m.data.index, name: m.attrs.ifname, mtu: m.attrs.mtu })
    }
    return out
  }

  /** Name of the interface holding `addr` (the MAG's uplink: where its Proxy-CoA lives). */
  async addressDev(addr: string): Promise<string | null> {
    const want = parseIp6(canonicalIp6(addr))
    const all = await this.req.run('RTM_GETADDR dump', () => this.s.getAddresses({ family: AF_INET6 }, {}, { timeout: this.req.libraryTimeoutMs, localPort: this.port }))
    const hit = all.find((a) => (a.attrs.address ?? a.attrs.local)?.equals(want))
    if (hit?.data.index === undefined) return null
    return (await this.links()).find((l) => l.index === hit.data.index)?.name ?? null
  }

  close(): void {
    this.s.socket.close()
  }
}
