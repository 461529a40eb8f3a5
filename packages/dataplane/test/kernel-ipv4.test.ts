// RFC 5844 IPv4 home addresses through the data plane, against a real kernel: the MN's IPv4
// carried over the IPv6 transport (seg6 encap.red, outer next header 4, End.DX4 nh4 0.0.0.0 at
// the receiving end, told apart from IPv6-in-IPv6 by `ipproto 4` rules), per-MN IPv4 routes and
// source rules beside the IPv6 ones, transactional (a failure at each netlink call leaves nothing),
// cleaned up at start and at close. Namespaces dp4-<pid>-<n>, created and deleted here; addresses
// 2001:db8::/32, 192.0.2.0/24 (MN home) and 198.51.100.0/24 (CN), only inside them. ip6tnl
// `mode any` is the kernel tier's (this kernel has no ip6_tunnel).
import { NsFixture } from '@pmip6/testkit'
import { LMA, MAG, Namespaces, describeInKernel, ip, ipJson, is158, key, kstate, nsExec, ours, sortRoutes, withCtl, Ctl, type IpRoute, type IpRule, type KState } from './fixtures/netns'

const T = 100 // DataPlane's default first table
const P = 1000 // and first rule priority
const HNP1 = '2001:db8:100:1::/64'

const describeIf = describeInKernel()
const namespaces = new Namespaces('dp4')

const HOA = '192.0.2.2'
const HOA_UNBOUND = '192.0.2.3'
const ROUTER4 = '192.0.2.1'
const CN4 = '198.51.100.2'

/** Rules and routes of both families, and links: IPv4 objects are ours too. */
function k46(ns: string): { v6: KState; rules4: IpRule[]; routes4: IpRoute[] } {
  return {
    v6: kstate(ns),
    rules4: ipJson<IpRule>(['-n', ns, '-4', '-j', 'rule']),
    routes4: sortRoutes(ipJson<IpRoute>(['-n', ns, '-4', '-j', 'route', 'show', 'table', 'all'])),
  }
}
const ours4 = (s: ReturnType<typeof k46>): string[] => [...ours(s.v6), ...s.rules4.filter(is158).map(key), ...s.routes4.filter(is158).map(key)].sort()

describeIf('IPv4 home addresses in the data plane (RFC 5844; seg6 End.DX4 in a real kernel)', () => {
  jest.setTimeout(180_000)
  const ns = { mag: '', lma: '', mn: '', cn: '' }

  beforeAll(() => {
    namespaces.removeStale()
    Object.assign(ns, namespaces.path())
    // CN: IPv4 only (198.51.100.0/24 behind the LMA).
    ip(['-n', ns.lma, '-4', 'addr', 'add', '198.51.100.1/24', 'dev', 'c0'])
    ip(['-n', ns.cn, '-4', 'addr', 'add', `${CN4}/24`, 'dev', 'eth0'])
    ip(['-n', ns.cn, '-4', 'route', 'add', 'default', 'via', '198.51.100.1'])
    // MN: its IPv4 home address and default router, as DHCPv4 would give them (RFC 5844 §3.4).
    ip(['-n', ns.mn, '-4', 'addr', 'add', `${HOA}/24`, 'dev', 'eth0'])
    ip(['-n', ns.mn, '-4', 'addr', 'add', `${HOA_UNBOUND}/24`, 'dev', 'eth0'])
    ip(['-n', ns.mn, '-4', 'route', 'add', 'default', 'via', ROUTER4])
    // MAG: the IPv4 Default-Router Address on the access link (the agent puts it there).
    ip(['-n', ns.mag, '-4', 'addr', 'add', `${ROUTER4}/32`, 'dev', 'a0'])
  })

  afterAll(async () => {
    await NsFixture.stopAll()
    namespaces.deleteAll()
  })

  function ping4(src: string): { sent: number; received: number } {
    const r = nsExec(ns.mn, ['ping', '-4', '-n', '-q', '-c', '3', '-W', '1', '-i', '0.2', '-I', src, CN4], 20_000)
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.out)
    if (!m) throw new Error(`ping gave no summary: ${r.out}${r.err}`)
    return { sent: Number(m[1]), received: Number(m[2]) }
  }

  test('the MN pings the CN over IPv4 through the tunnel; an unbound IPv4 source gets nothing; down() stops it; close() leaves nothing of ours', async () => {
    const before = { mag: ours4(k46(ns.mag)), lma: ours4(k46(ns.lma)) }
    const lma = new Ctl(ns.lma)
    const mag = new Ctl(ns.mag)
    try {
      await lma.ok({ op: 'open', opts: { role: 'lma', self: LMA, backend: 'seg6', ipv4: true } })
      await lma.ok({ op: 'up', req: { id: 'mn1', link: '', prefixes: [HNP1], ipv4: [HOA], peer: MAG } })
      await mag.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      expect(ping4(HOA).received).toBe(0) // the access link's IPv4 floor
      await mag.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      nsExec(ns.mn, ['ping', '-4', '-n', '-q', '-c', '1', '-W', '2', '-I', HOA, CN4], 10_000) // neighbours resolved
      expect(ping4(HOA)).toEqual({ sent: 3, received: 3 })
      expect(ping4(HOA_UNBOUND)).toEqual({ sent: 3, received: 0 })

      // The layout: IPv4 objects beside the IPv6 ones, as model.ts says.
      const m = k46(ns.mag)
      expect(m.routes4).toEqual(expect.arrayContaining([expect.objectContaining({ dst: `${HOA}`, dev: 'a0', table: String(T), protocol: '158' })]))
      expect(m.rules4).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ priority: P + 2, dst: HOA, table: String(T) }),
          expect.objectContaining({ priority: P + 3, src: HOA, iif: 'a0', table: String(T + 2) }),
          expect.objectContaining({ priority: P + 4, iif: 'a0', action: 'blackhole' }),
        ]),
      )
      expect(m.v6.rules).toEqual(expect.arrayContaining([expect.objectContaining({ priority: P, dst: MAG, ipproto: 'ipencap', table: String(T) })]))
      const l = k46(ns.lma)
      expect(l.routes4).toEqual(expect.arrayContaining([expect.objectContaining({ dst: HOA, table: String(T + 66), protocol: '158' })]))

      // IPv4 away (a partial down by address), IPv6 stays.
      await mag.ok({ op: 'down', id: 'mn1', prefixes: [HOA] })
      expect(ping4(HOA).received).toBe(0)
      expect(k46(ns.mag).routes4.filter(is158)).toHaveLength(1) // the peer's 0.0.0.0/0 into the tunnel
      await mag.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      expect(ping4(HOA).received).toBeGreaterThan(0)
      await mag.ok({ op: 'down', id: 'mn1' })
      await mag.ok({ op: 'idle' })
      expect(ping4(HOA)).toEqual({ sent: 3, received: 0 })
      await mag.ok({ op: 'close' })
      await lma.ok({ op: 'close' })
      expect(ours4(k46(ns.mag))).toEqual(before.mag)
      expect(ours4(k46(ns.lma))).toEqual(before.lma)
    } finally {
      await mag.stop()
      await lma.stop()
    }
  })

  test('up() with IPv4: a failure at each of its netlink calls leaves the kernel as before the call', async () => {
    await withCtl(ns.mag, async (c) => {
      await c.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      const base = ours4(k46(ns.mag))
      const req = { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA }
      const full = await c.ok({ op: 'up', req })
      const n = full.calls!
      expect(n).toBeGreaterThanOrEqual(5) // tunnel (2 routes) + IPv6 prefix + IPv4 route and rules
      await c.ok({ op: 'down', id: 'mn1' })
      await c.ok({ op: 'idle' })
      for (let i = 1; i <= n; i++) {
        const r = await c.send({ op: 'up', req, failAt: i })
        expect(r.ok).toBe(false)
        await c.ok({ op: 'idle' })
        expect([i, ours4(k46(ns.mag))]).toEqual([i, base])
      }
      await c.ok({ op: 'close' })
    })
  })

  test('RFC 5845 on a kernel without ip6gre: open() reports gre false and a binding with GRE keys is refused with the reason, leaving nothing', async () => {
    // Whether this kernel makes ip6gre devices, asked of iproute2: the data plane's probe must agree.
    const probe = nsExec(ns.mag, ['ip', 'link', 'add', 'dp4greprobe', 'type', 'ip6gre', 'local', MAG, 'remote', '2001:db8::fffe'])
    const kernelHasGre = probe.code === 0
    if (kernelHasGre) ip(['-n', ns.mag, 'link', 'del', 'dp4greprobe'])
    await withCtl(ns.mag, async (c) => {
      const r = await c.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      expect(r.snapshot).toMatchObject({ gre: kernelHasGre, greBindings: 0 })
      // Where the kernel has ip6gre, test/kernel/gre.ktest.ts covers the devices themselves.
      if (!kernelHasGre) {
        const base = ours4(k46(ns.mag))
        const f = await c.send({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA, gre: { uplink: 1, downlink: 2 } } })
        expect(f.ok).toBe(false)
        expect(f.error).toMatchObject({ name: 'ForwardingError' })
        expect(f.error!.message).toContain('ip6gre')
        expect(f.snapshot).toMatchObject({ bindings: 0, greBindings: 0, failures: 1 })
        expect(ours4(k46(ns.mag))).toEqual(base)
        // The same MN without keys is served: the refusal held nothing back.
        await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      }
      await c.ok({ op: 'close' })
    })
  })

  test('open() removes IPv4 leftovers of a crashed run', async () => {
    const original = ours4(k46(ns.mag))
    await withCtl(ns.mag, async (c) => {
      await c.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      await c.send({ op: 'exit' }).catch(() => undefined)
    })
    const left = k46(ns.mag)
    expect(left.rules4.filter(is158).length).toBeGreaterThan(0)
    await withCtl(ns.mag, async (c) => {
      const r = await c.ok({ op: 'cleanup', layout: { table: T, rulePriority: P, maxTunnels: 64 } })
      expect(r.removed).toBeGreaterThan(0)
    })
    expect(ours4(k46(ns.mag))).toEqual(original)
  })
})
