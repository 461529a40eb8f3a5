// The data plane against a real kernel (RFC 5213 §6.10 at the MAG, §5.6 at the LMA), each
// scenario in network namespaces this suite creates (dpt-<pid>-<n>) and always deletes. The
// rtnetlink socket belongs to the namespace of the process that opens it, so a DataPlane runs in
// fixtures/dataplane-ctl.js under `ip netns exec`, driven by JSON lines (fixtures/netns.ts); the
// assertions read the kernel with iproute2 (`ip -6 -j rule`, `route show table all`, `link`).
// Addresses are from 2001:db8::/32, only inside the namespaces. Needs root, iproute2, ping and the
// built package (packages/dataplane/dist): skipped without them, a failure when CI=true.
//
// This kernel may have no ip6_tunnel: everything here runs the seg6 backend (encap.red + End.DT6),
// chosen explicitly where counting netlink calls matters ('auto' probes with one more call).
import { NsFixture } from '@pmip6/testkit'
import { LMA, MAG, Namespaces, addr, untilKernelRoute, describeInKernel, ip, ipJson, is158, key, kstate, nsExec, ours, sortRoutes, veth, withCtl, Ctl, type IpRoute, type IpRule, type KState } from './fixtures/netns'

const T = 100 // DataPlane's default first table
const P = 1000 // and first rule priority
const MAX_TUNNELS = 64
const LMA2 = '2001:db8:ffff::3'
const HNP1 = '2001:db8:100:1::/64'
const HNP2 = '2001:db8:100:2::/64'
const HNP3 = '2001:db8:100:3::/64'
const CN = '2001:db8:cccc::2'
const MN_ADDR = '2001:db8:100:1::10'
const MN_UNBOUND = '2001:db8:200::10'

const describeIf = describeInKernel()

// ------------------------------------------------------------------ namespaces

const namespaces = new Namespaces('dpt')
/**
 * One namespace standing for a MAG: uplink m0 holding the Proxy-CoA, access links a0 and a1
 * (veth ends peered inside the namespace). Forwarding is on from the start, as the data plane
 * would turn it on (and with it the kernel's subnet-router anycast routes, part of "before").
 */
function magNs(): string {
  const ns = namespaces.add()
  const r = nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])
  if (r.code !== 0) throw new Error(`sysctl in ${ns}: ${r.err}`)
  veth(ns, 'm0', ns, 'm0p')
  veth(ns, 'a0', ns, 'a0p')
  veth(ns, 'a1', ns, 'a1p')
  addr(ns, 'm0', `${MAG}/64`)
  // Forwarding is on: the kernel adds the prefix's subnet-router anycast route too (RFC 4291 §2.6.1).
  untilKernelRoute(ns, 'anycast', MAG.replace(/::1$/, '::'))
  return ns
}

const localRules = (s: KState): IpRule[] => s.rules.filter((r) => r.table === 'local')
/** Objects of `b` not in `a` (by their iproute2 rendering). */
const added = (a: string[], b: string[]): string[] => b.filter((x) => !a.includes(x))

const magOpts = (extra: object = {}): object => ({ role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0', 'a1'], ...extra })

describeIf('data plane in a real kernel (network namespaces)', () => {
  jest.setTimeout(120_000)

  beforeAll(() => namespaces.removeStale())

  afterAll(async () => {
    await NsFixture.stopAll()
    namespaces.deleteAll()
  })

  // ---------------------------------------------------------------- encode.ts through the kernel

  test('our seg6 encap.red and End.DT6 routes are what iproute2 installs: same `ip -d -j route` rendering and the same RTA_ENCAP bytes back', async () => {
    const ns = magNs()
    // iproute2's version in tables 150/152, ours (model objects through NetlinkRtnl) in 151/153.
    ip(['-n', ns, '-6', 'route', 'add', HNP1, 'encap', 'seg6', 'mode', 'encap.red', 'segs', LMA, 'dev', 'm0', 'table', '150'])
    ip(['-n', ns, '-6', 'route', 'add', `${MAG}/128`, 'encap', 'seg6local', 'action', 'End.DT6', 'table', '100', 'dev', 'm0', 'table', '152'])
    await withCtl(ns, async (c) => {
      await c.ok({ op: 'add', obj: { kind: 'route', table: 151, dst: { text: HNP1, addr: '2001:db8:100:1::', length: 64 }, dev: 'm0', encap: { type: 'seg6-encap-red', to: LMA } } })
      await c.ok({ op: 'add', obj: { kind: 'route', table: 153, dst: { text: `${MAG}/128`, addr: MAG, length: 128 }, dev: 'm0', encap: { type: 'seg6local-dt6', table: 100 } } })
      const show = (table: number): string =>
        ip(['-n', ns, '-6', '-d', '-j', 'route', 'show', 'table', String(table)])
          .trim()
          .replace(`"table":"${table}"`, '"table":"X"')
          .replace(/"protocol":"(boot|158)"/, '"protocol":"P"')
      expect(show(151)).toBe(show(150))
      expect(show(153)).toBe(show(152))
      expect(JSON.parse(show(151))).toEqual([expect.objectContaining({ dst: HNP1, encap: 'seg6', mode: 'encap.red', segs: [LMA], dev: 'm0' })])
      // The kernel stores and dumps the SRH tunnel info as given: byte-equal payloads.
      const raw = async (table: number) => (await c.ok({ op: 'encap', table })).routes
      expect(await raw(151)).toEqual(await raw(150))
      expect(await raw(153)).toEqual(await raw(152))
      expect(await raw(151)).toEqual([{ encapType: 5, encap: expect.stringContaining('0300000000020400000000002001') }])
    })
  })

  // ---------------------------------------------------------------- a. transactions

  describe('a. a netlink failure anywhere leaves nothing behind (CONTRIBUTING: "a failed netlink call leaves nothing half-installed")', () => {
    test('open(): a failure at each of its netlink calls leaves the namespace exactly as before (rules, routes, links; `local` back at 0)', async () => {
      const ns = magNs()
      const before = kstate(ns)
      expect(localRules(before)).toEqual([{ priority: 0, src: 'all', table: 'local' }])
      await withCtl(ns, async (c) => {
        const first = await c.ok({ op: 'open', opts: magOpts() })
        // seg6: End.DT6 route, two ipproto 41 rules, the moved local rule, one blackhole per access link.
        expect(first.calls).toBe(6)
        expect(first.snapshot).toMatchObject({ backend: 'seg6', objects: 6, bindings: 0 })
        const opened = kstate(ns)
        expect(localRules(opened)).toEqual([{ priority: P + 1, src: 'all', table: 'local', protocol: '158' }])
        expect(ours(opened)).toHaveLength(6)
        await c.ok({ op: 'close' })
        expect(kstate(ns)).toEqual(before)
        for (let k = 1; k <= first.calls!; k++) {
          const r = await c.send({ op: 'open', opts: magOpts(), failAt: k })
          expect(r.ok).toBe(false)
          expect(r.error).toMatchObject({ name: 'NetlinkError', code: 'ENOBUFS' })
          expect(r.error!.message).toContain(`injected failure at call ${k}`)
          // At the moment open() rejected, and afterwards:
          expect(r.state!.rules).toEqual(before.rules)
          expect(sortRoutes(r.state!.routes)).toEqual(before.routes)
          expect(kstate(ns)).toEqual(before)
        }
      })
      expect(kstate(ns)).toEqual(before)
    })

    const upCases: { name: string; opts: object; req: object; base: number; adds: number }[] = [
      {
        name: "MAG, 'rule', local routing, 2 prefixes, guarded link",
        opts: magOpts({ localRouting: true }),
        req: { id: 'mn1', link: 'a0', prefixes: [HNP1, HNP2], peer: LMA },
        base: 6,
        adds: 1 + 2 * 3, // tunnel route; per prefix: down route, local-routing rule, tunnel rule
      },
      {
        name: "MAG, 'subtree', access link not guarded at open",
        opts: magOpts({ uplinkSelect: 'subtree', accessLinks: [] }),
        req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA },
        base: 4,
        adds: 2 + 1 + 2, // link rule into the up table and blackhole; tunnel route; down route and `default from HNP`
      },
      {
        name: 'MAG, Scenario B (no peer), 2 prefixes',
        opts: magOpts(),
        req: { id: 'mn1', link: 'a1', prefixes: [HNP1, HNP3], peer: null },
        base: 6,
        adds: 2 * 3,
      },
      {
        name: 'LMA, 3 prefixes',
        opts: { role: 'lma', self: MAG, backend: 'seg6' },
        req: { id: 'mn1', link: '', prefixes: [HNP1, HNP2, HNP3], peer: LMA2 },
        base: 5,
        adds: 1 + 3,
      },
    ]

    test.each(upCases)('up(), $name: a failure at each add rejects with ForwardingError and removes all of it; a later up() succeeds', async (tc) => {
      const ns = magNs()
      const before = kstate(ns)
      await withCtl(ns, async (c) => {
        const opened = await c.ok({ op: 'open', opts: tc.opts })
        expect(opened.snapshot!.objects).toBe(tc.base)
        const base = kstate(ns)
        expect(ours(base)).toHaveLength(tc.base)

        const clean = await c.ok({ op: 'up', req: tc.req })
        expect(clean.calls).toBe(tc.adds)
        expect(clean.snapshot!.objects).toBe(tc.base + tc.adds)
        expect(ours(kstate(ns))).toHaveLength(tc.base + tc.adds)
        await c.ok({ op: 'down', id: 'mn1' })
        await c.ok({ op: 'idle' })
        expect(kstate(ns)).toEqual(base)

        for (let k = 1; k <= tc.adds; k++) {
          const r = await c.send({ op: 'up', req: tc.req, failAt: k })
          expect(r.ok).toBe(false)
          expect(r.error).toMatchObject({ name: 'ForwardingError', cause: { name: 'NetlinkError', code: 'ENOBUFS' } })
          expect(r.error!.message).toContain(`injected failure at call ${k}`)
          // When up() rejected, nothing of it was left (the state was read before anything else ran).
          expect({ k, rules: r.state!.rules }).toEqual({ k, rules: base.rules })
          expect({ k, routes: sortRoutes(r.state!.routes) }).toEqual({ k, routes: base.routes })
          expect(r.snapshot).toMatchObject({ objects: tc.base, bindings: 0, tunnels: [], failures: k })
          const idle = await c.ok({ op: 'idle' })
          expect(idle.snapshot).toMatchObject({ objects: tc.base, bindings: 0, tunnels: [] })
          expect(kstate(ns)).toEqual(base)
        }

        const again = await c.ok({ op: 'up', req: tc.req })
        expect(again.snapshot!.objects).toBe(tc.base + tc.adds)
        expect(again.snapshot!.bindings).toBe(1)
        expect(ours(kstate(ns))).toHaveLength(tc.base + tc.adds)
        await c.ok({ op: 'close' })
      })
      expect(kstate(ns)).toEqual(before)
    })
  })

  // ---------------------------------------------------------------- b. isolation

  test('b. two MNs on two LMAs share nothing: own slots and tables, disjoint objects; down() of one leaves the other intact, of the last leaves the base', async () => {
    const ns = magNs()
    const before = kstate(ns)
    await withCtl(ns, async (c) => {
      await c.ok({ op: 'open', opts: magOpts() })
      const base = ours(kstate(ns))
      const up1 = await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA } })
      const s1 = ours(kstate(ns))
      const up2 = await c.ok({ op: 'up', req: { id: 'mn2', link: 'a1', prefixes: [HNP2], peer: LMA2 } })
      const s2 = ours(kstate(ns))
      const tunnels = up2.snapshot!.tunnels
      expect(tunnels).toHaveLength(2)
      const slot1 = tunnels.find((t) => t.peer === LMA)!.slot
      const slot2 = tunnels.find((t) => t.peer === LMA2)!.slot
      expect(slot1).not.toBe(slot2)
      expect(tunnels.every((t) => t.users === 1)).toBe(true)
      expect(up1.snapshot!.tunnels).toEqual([{ peer: LMA, slot: slot1, users: 1, device: null }])

      const objs1 = added(base, s1)
      const objs2 = added(s1, s2)
      expect(objs1).toHaveLength(3) // tunnel route, down route, uplink rule
      expect(objs2).toHaveLength(3)
      expect(s1.every((o) => s2.includes(o))).toBe(true) // mn2's up() changed nothing of mn1's
      expect(objs1.filter((o) => objs2.includes(o))).toEqual([])

      const rules = kstate(ns).rules
      const tbl = (slot: number): string => String(T + 2 + slot)
      expect(rules).toContainEqual(expect.objectContaining({ priority: P + 3, src: '2001:db8:100:1::', srclen: 64, iif: 'a0', table: tbl(slot1) }))
      expect(rules).toContainEqual(expect.objectContaining({ priority: P + 3, src: '2001:db8:100:2::', srclen: 64, iif: 'a1', table: tbl(slot2) }))
      const peerRoutes = (slot: number) => ipJson<IpRoute>(['-n', ns, '-6', '-d', '-j', 'route', 'show', 'table', tbl(slot)])
      expect(peerRoutes(slot1)).toEqual([expect.objectContaining({ dst: 'default', encap: 'seg6', mode: 'encap.red', segs: [LMA], dev: 'm0' })])
      expect(peerRoutes(slot2)).toEqual([expect.objectContaining({ dst: 'default', encap: 'seg6', mode: 'encap.red', segs: [LMA2], dev: 'm0' })])

      const d1 = await c.ok({ op: 'down', id: 'mn1' })
      await c.ok({ op: 'idle' })
      expect(ours(kstate(ns))).toEqual([...base, ...objs2].sort())
      expect(peerRoutes(slot1)).toEqual([])
      expect(peerRoutes(slot2)).toHaveLength(1)
      expect(d1.snapshot!.bindings).toBe(1)

      const d2 = await c.ok({ op: 'down', id: 'mn2' })
      const idle = await c.ok({ op: 'idle' })
      expect(d2.snapshot!.bindings).toBe(0)
      expect(idle.snapshot).toMatchObject({ tunnels: [], objects: base.length })
      expect(ours(kstate(ns))).toEqual(base)
      await c.ok({ op: 'close' })
    })
    expect(kstate(ns)).toEqual(before)
  })

  test('b2. a prefix handed from one binding to another in one step (an LMA that restarted gives it to another MN): removed from the first, then installed for the second, never refused', async () => {
    const ns = magNs()
    await withCtl(ns, async (c) => {
      await c.ok({ op: 'open', opts: magOpts({ uplinkSelect: 'subtree' }) })
      await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA } })
      await c.ok({ op: 'up', req: { id: 'mn2', link: 'a1', prefixes: [HNP2], peer: LMA } })
      // mn2 loses HNP2 to nobody and gets HNP1, which mn1 holds: down(mn1) and up(mn2) back to back.
      await c.ok({ op: 'down', id: 'mn2' })
      const h = await c.ok({ op: 'handover', from: 'mn1', req: { id: 'mn2', link: 'a1', prefixes: [HNP1], peer: LMA } })
      expect(h.snapshot!.bindings).toBe(1)
      const down = ipJson<IpRoute>(['-n', ns, '-6', '-j', 'route', 'show', 'table', String(T)])
      expect(down.map((r) => [r.dst, r.dev])).toEqual([[HNP1, 'a1']])
      await c.ok({ op: 'close' })
    })
  })

  // ---------------------------------------------------------------- c. cleanup

  test('c. open() removes only our leftovers of an earlier run; foreign rules and routes stay, nothing is doubled; close() restores the original rule list', async () => {
    const ns = magNs()
    const x = (...args: string[]) => ip(['-n', ns, '-6', ...args])
    // Foreign: another priority, our priorities with another protocol, our protocol elsewhere,
    // our tables with another protocol, the main table.
    x('rule', 'add', 'pref', '500', 'from', '2001:db8:9::/48', 'lookup', '300')
    x('rule', 'add', 'pref', String(P + 3), 'from', '2001:db8:9::/48', 'lookup', '300', 'protocol', 'static')
    x('rule', 'add', 'pref', String(P + 4), 'iif', 'a1p', 'blackhole', 'protocol', '157')
    x('rule', 'add', 'pref', '2000', 'from', '2001:db8:9::/48', 'lookup', '300', 'protocol', '158')
    x('route', 'add', '2001:db8:9::/48', 'dev', 'a1', 'table', '300', 'protocol', '158')
    x('route', 'add', '2001:db8:9::/48', 'dev', 'a1', 'table', String(T), 'protocol', 'static')
    x('route', 'add', '2001:db8:7::/48', 'dev', 'a1', 'table', String(T + 2), 'protocol', '157')
    x('route', 'add', '2001:db8:8::/48', 'dev', 'a1', 'protocol', '158')
    const original = kstate(ns)
    expect(localRules(original)).toEqual([{ priority: 0, src: 'all', table: 'local' }])

    // An earlier run: up(), then the process leaves its state (close with keep) and exits.
    const leaveLeftovers = async (): Promise<void> => {
      await withCtl(ns, async (c) => {
        await c.ok({ op: 'open', opts: magOpts() })
        await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA } })
        await c.ok({ op: 'close', keep: true })
        await c.ok({ op: 'exit' })
      })
      const leftovers = kstate(ns)
      expect(added(ours(original), ours(leftovers))).toHaveLength(6 + 3)
      expect(localRules(leftovers)).toEqual([{ priority: P + 1, src: 'all', table: 'local', protocol: '158' }])
    }

    // cleanup() alone: exactly the original state, the `local` rule back at 0 without our mark.
    await leaveLeftovers()
    await withCtl(ns, async (c) => {
      const r = await c.ok({ op: 'cleanup', layout: { table: T, rulePriority: P, maxTunnels: MAX_TUNNELS } })
      expect(r.removed).toBe(6 + 3)
    })
    expect(kstate(ns)).toEqual(original)

    // open() cleans up first.
    await leaveLeftovers()

    await withCtl(ns, async (c) => {
      const r = await c.ok({ op: 'open', opts: magOpts() })
      const now = kstate(ns)
      // Every foreign rule and route is still there, once.
      for (const rule of original.rules.filter((q) => q.table !== 'local')) expect(now.rules.filter((q) => key(q) === key(rule))).toHaveLength(1)
      for (const route of original.routes) expect(now.routes.filter((q) => key(q) === key(route))).toHaveLength(1)
      // No duplicates at all, and of ours only the fresh base: the binding's objects are gone.
      expect(new Set(now.rules.map(key)).size).toBe(now.rules.length)
      expect(new Set(now.routes.map(key)).size).toBe(now.routes.length)
      const fresh = added(ours(original), ours(now))
      expect(fresh).toHaveLength(r.snapshot!.objects)
      expect(fresh.some((o) => o.includes('2001:db8:100:1::'))).toBe(false)
      expect(ipJson(['-n', ns, '-6', '-j', 'route', 'show', 'table', String(T + 2)])).toEqual([expect.objectContaining({ dst: '2001:db8:7::/48', protocol: '157' })])
      expect(localRules(now)).toEqual([{ priority: P + 1, src: 'all', table: 'local', protocol: '158' }])
      await c.ok({ op: 'close' })
    })
    expect(kstate(ns)).toEqual(original)
  })

  // ---------------------------------------------------------------- d. forwarding

  describe('d. packets flow MN <-> CN through the seg6 tunnel (§6.10.5, §5.6.1)', () => {
    const ns = { mag: '', lma: '', mn: '', cn: '' }

    beforeAll(() => {
      Object.assign(ns, namespaces.path())
      addr(ns.lma, 'c0', '2001:db8:cccc::1/64')
      addr(ns.cn, 'eth0', `${CN}/64`)
      ip(['-n', ns.cn, '-6', 'route', 'add', 'default', 'via', '2001:db8:cccc::1', 'dev', 'eth0'])
      addr(ns.mag, 'a0', 'fe80::1/64')
      addr(ns.mn, 'eth0', `${MN_ADDR}/64`)
      addr(ns.mn, 'eth0', `${MN_UNBOUND}/64`)
      ip(['-n', ns.mn, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0'])
    })

    function ping(src: string): { sent: number; received: number } {
      const r = nsExec(ns.mn, ['ping', '-n', '-q', '-c', '3', '-W', '1', '-i', '0.2', '-I', src, CN], 20_000)
      const m = /(\d+) packets transmitted, (\d+) received/.exec(r.out)
      if (!m) throw new Error(`ping gave no summary: ${r.out}${r.err}`)
      return { sent: Number(m[1]), received: Number(m[2]) }
    }

    test.each(['rule', 'subtree'] as const)("uplinkSelect '%s': MN pings CN; an unbound source gets nothing (blackhole); after down() on the MAG nothing passes", async (select) => {
      const lma = new Ctl(ns.lma)
      const mag = new Ctl(ns.mag)
      try {
        const l = await lma.ok({ op: 'open', opts: { role: 'lma', self: LMA } })
        expect(l.snapshot!.backend).toBe('seg6') // no ip6_tunnel here; 'auto' fell back
        await lma.ok({ op: 'up', req: { id: 'mn1', link: '', prefixes: [HNP1], peer: MAG } })
        await mag.ok({ op: 'open', opts: { role: 'mag', self: MAG, accessLinks: ['a0'], uplinkSelect: select } })
        // Before the binding: the access link's blackhole takes everything.
        expect(ping(MN_ADDR).received).toBe(0)
        await mag.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA } })
        nsExec(ns.mn, ['ping', '-n', '-q', '-c', '1', '-W', '2', '-I', MN_ADDR, CN], 10_000) // neighbours resolved
        expect(ping(MN_ADDR)).toEqual({ sent: 3, received: 3 })
        expect(ping(MN_UNBOUND)).toEqual({ sent: 3, received: 0 })
        await mag.ok({ op: 'down', id: 'mn1' })
        await mag.ok({ op: 'idle' })
        expect(ping(MN_ADDR)).toEqual({ sent: 3, received: 0 })
        await mag.ok({ op: 'close' })
        await lma.ok({ op: 'close' })
        expect(ours(kstate(ns.mag))).toEqual([])
        expect(ours(kstate(ns.lma))).toEqual([])
      } finally {
        await mag.stop()
        await lma.stop()
      }
    })
  })

  describe('e. many at once (issue 23: storms, netlink batching)', () => {
    const route = (i: number): object => ({ kind: 'route', table: 150, dst: { text: `2001:db8:2:${i.toString(16)}::/64`, addr: `2001:db8:2:${i.toString(16)}::`, length: 64 }, dev: 'a0' })

    test('requests sharing a datagram, which asks for one ack: the refused one in the middle fails alone with its own errno, every other one is installed', async () => {
      const ns = magNs()
      // Route 5 exists already: its add in the batch is refused with EEXIST.
      ip(['-n', ns, '-6', 'route', 'add', '2001:db8:2:5::/64', 'dev', 'a0', 'table', '150'])
      await withCtl(ns, async (c) => {
        const r = await c.ok({ op: 'addMany', objs: Array.from({ length: 10 }, (_, k) => route(k + 1)) })
        expect(r.datagrams).toBe(1)
        expect(r.results).toEqual(['ok', 'ok', 'ok', 'ok', 'EEXIST', 'ok', 'ok', 'ok', 'ok', 'ok'])
      })
      const table = ipJson<IpRoute>(['-n', ns, '-6', '-j', 'route', 'show', 'table', '150']).map((x) => x.dst)
      expect(table.sort()).toEqual(Array.from({ length: 10 }, (_, k) => `2001:db8:2:${(k + 1).toString(16)}::/64`).sort())
      // And a datagram whose last message (the one asking for the ack) is refused.
      await withCtl(ns, async (c) => {
        const r = await c.ok({ op: 'addMany', objs: [route(20), route(21), route(9)] })
        expect(r.results).toEqual(['ok', 'ok', 'EEXIST'])
      })
      expect(ipJson<IpRoute>(['-n', ns, '-6', '-j', 'route', 'show', 'table', '150'])).toHaveLength(12)
    })

    test('a storm of 3,000 bindings at once: every route in the kernel; all of them down at once: nothing of ours left but the base objects', async () => {
      const ns = magNs()
      const before = kstate(ns)
      await withCtl(ns, async (c) => {
        const opened = await c.ok({ op: 'open', opts: magOpts({ uplinkSelect: 'subtree' }) })
        const base = ours(kstate(ns))
        const up = await c.send({ op: 'storm', count: 3000, link: 'a0', peer: LMA }, 120_000)
        expect(up).toMatchObject({ ok: true, failed: 0, snapshot: { bindings: 3000, objects: opened.snapshot!.objects + 1 + 3000 * 2 } })
        const st = kstate(ns)
        // Per MN: its access route in the down table and its `default from HNP` into the tunnel.
        expect(st.routes.filter((r) => is158(r) && r.table === String(T) && r.dev === 'a0')).toHaveLength(3000)
        expect(st.routes.filter((r) => is158(r) && r.dst === 'default' && r.from !== undefined && r.from.startsWith('2001:db8:1:'))).toHaveLength(3000)
        await c.send({ op: 'unstorm', count: 3000 }, 120_000)
        // The tunnel goes after its last user, on its own chain.
        expect(await c.ok({ op: 'idle' })).toMatchObject({ snapshot: { bindings: 0, tunnels: [], objects: opened.snapshot!.objects } })
        expect(ours(kstate(ns))).toEqual(base)
        await c.ok({ op: 'close' })
      })
      expect(kstate(ns)).toEqual(before)
    })
  })
})
