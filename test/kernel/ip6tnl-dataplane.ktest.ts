// The ip6tnl backend of the data plane (RFC 5213 §6.10.1, §6.10.5; RFC 2473 tunnels) against a
// kernel that has ip6_tunnel (User-Mode Linux; this machine's kernel has none, so
// packages/dataplane/test/kernel.test.ts covers seg6 only): `auto` picks it, a netlink failure
// at any step leaves nothing behind, and a crashed run's devices, rules and routes go at start.
import { ip, ip6Addrs, ipBatch, kstate, listNetns, nsExec, ours, stopAllCtls, tunnels, withCtl, Ctl } from './helpers'

const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const LMA2 = '2001:db8:ffff::3'
const HNP1 = '2001:db8:100:1::/64'
const HNP2 = '2001:db8:100:2::/64'

const created: string[] = []
let count = 0
/** A namespace standing for a MAG: uplink m0 with the Proxy-CoA, access links a0, a1 (veth ends peered inside). */
function magNs(): string {
  const ns = `ktdp${++count}`
  ip(['netns', 'add', ns])
  created.push(ns)
  ipBatch(
    [
      'link set lo up',
      'link add m0 type veth peer name m0p',
      'link add a0 type veth peer name a0p',
      'link add a1 type veth peer name a1p',
      // No link-local addresses: the kernel adds them (and their fe80:: routes) some time after
      // the link comes up, which would change the namespace between a test's before and after.
      ...['m0', 'm0p', 'a0', 'a0p', 'a1', 'a1p'].map((d) => `link set dev ${d} addrgenmode none`),
      ...['m0', 'm0p', 'a0', 'a0p', 'a1', 'a1p'].map((d) => `link set ${d} up`),
      `address add ${MAG}/64 dev m0 nodad`,
    ],
    ns,
  )
  const r = nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])
  if (r.code !== 0) throw new Error(`sysctl in ${ns}: ${r.err}`)
  return ns
}
const magOpts = (extra: object = {}): object => ({ role: 'mag', self: MAG, backend: 'ip6tnl', accessLinks: ['a0', 'a1'], ...extra })

beforeAll(() => {
  for (const ns of listNetns().filter((n) => /^ktdp\d+$/.test(n))) ip(['netns', 'del', ns])
})
afterAll(async () => {
  await stopAllCtls()
  for (const ns of created) ip(['netns', 'del', ns])
})

test("`auto` picks ip6tnl where the kernel has ip6_tunnel; its probe device leaves nothing", async () => {
  const ns = magNs()
  const before = kstate(ns)
  await withCtl(ns, async (c) => {
    const r = await c.ok({ op: 'open', opts: magOpts({ backend: 'auto' }) })
    expect(r.snapshot).toMatchObject({ backend: 'ip6tnl', bindings: 0, tunnels: [] })
    expect(tunnels(ns)).toEqual([])
    await c.ok({ op: 'close' })
  })
  expect(kstate(ns)).toEqual(before)
})

test('§6.10.1 one RFC 2473 ip6ip6 device per LMA, shared by its MNs, removed with the last; §6.10.5 its decapsulated packets have a drop floor', async () => {
  const ns = magNs()
  const before = kstate(ns)
  await withCtl(ns, async (c) => {
    await c.ok({ op: 'open', opts: magOpts() })
    await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA } })
    await c.ok({ op: 'up', req: { id: 'mn2', link: 'a1', prefixes: [HNP2], peer: LMA } })
    const t = tunnels(ns)
    expect(t).toHaveLength(1)
    expect(t[0]).toMatchObject({ ifname: 'pmip6t0', mtu: 1460, linkinfo: { info_kind: 'ip6tnl', info_data: { proto: 'ip6ip6', local: MAG, remote: LMA } } })
    // No link-local of its own: the tunnel carries the MNs' packets only (no RS, MLD or DAD of ours).
    expect(ip6Addrs(ns, 'pmip6t0')).toEqual([])
    const rules = kstate(ns).rules.filter((r) => r.iif === 'pmip6t0')
    expect(rules).toEqual([expect.objectContaining({ priority: 1002, table: '100' }), expect.objectContaining({ priority: 1004, action: 'blackhole' })])
    await c.ok({ op: 'down', id: 'mn1' })
    await c.ok({ op: 'idle' })
    expect(tunnels(ns).map((l) => l.ifname)).toEqual(['pmip6t0'])
    await c.ok({ op: 'down', id: 'mn2' })
    const idle = await c.ok({ op: 'idle' })
    expect(idle.snapshot).toMatchObject({ tunnels: [], bindings: 0 })
    expect(tunnels(ns)).toEqual([])
    expect(kstate(ns).rules.filter((r) => r.iif === 'pmip6t0')).toEqual([])
    await c.ok({ op: 'close' })
  })
  expect(kstate(ns)).toEqual(before)
})

test('an injected netlink failure at each add of an ip6tnl binding (device, routes, rules) rejects and leaves nothing behind; a later up() works', async () => {
  const ns = magNs()
  const before = kstate(ns)
  const req = { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA }
  await withCtl(ns, async (c) => {
    await c.ok({ op: 'open', opts: magOpts() })
    const base = kstate(ns)
    const clean = await c.ok({ op: 'up', req })
    // Tunnel: device, default route, `iif lookup down`, `iif blackhole`; the prefix: down route, uplink rule.
    expect(clean.calls).toBe(6)
    await c.ok({ op: 'down', id: 'mn1' })
    await c.ok({ op: 'idle' })
    expect(kstate(ns)).toEqual(base)
    for (let k = 1; k <= clean.calls!; k++) {
      const r = await c.send({ op: 'up', req, failAt: k })
      expect(r.ok).toBe(false)
      expect(r.error).toMatchObject({ name: 'ForwardingError', cause: { name: 'NetlinkError', code: 'ENOBUFS' } })
      await c.ok({ op: 'idle' })
      expect({ k, state: kstate(ns) }).toEqual({ k, state: base })
    }
    const again = await c.ok({ op: 'up', req })
    expect(again.snapshot).toMatchObject({ bindings: 1, tunnels: [{ peer: LMA, users: 1, device: 'pmip6t0' }] })
    await c.ok({ op: 'close' })
  })
  expect(kstate(ns)).toEqual(before)
})

test('leftovers of a crashed run (pmip6t* devices, our rules and routes) are removed at start; a device that is not ours stays', async () => {
  const ns = magNs()
  ip(['-n', ns, 'link', 'add', 'other6', 'type', 'ip6tnl', 'local', MAG, 'remote', '2001:db8:ffff::99', 'mode', 'ip6ip6'])
  const before = kstate(ns)
  const crashed = new Ctl(ns)
  await crashed.ok({ op: 'open', opts: magOpts() })
  await crashed.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], peer: LMA } })
  await crashed.ok({ op: 'up', req: { id: 'mn2', link: 'a1', prefixes: [HNP2], peer: LMA2 } })
  const opened = kstate(ns)
  expect(tunnels(ns).map((l) => l.ifname).sort()).toEqual(['pmip6t0', 'pmip6t1'])
  await crashed.send({ op: 'exit' })
  await crashed.exited()
  expect(kstate(ns)).toEqual(opened) // nothing was closed
  await withCtl(ns, async (c) => {
    const r = await c.ok({ op: 'open', opts: magOpts() })
    expect(r.snapshot).toMatchObject({ backend: 'ip6tnl', bindings: 0, tunnels: [] })
    expect(tunnels(ns)).toEqual([])
    // Only the new run's base objects (the access links' floors) are ours now.
    expect(ours(kstate(ns))).toHaveLength(2)
    await c.ok({ op: 'close' })
  })
  expect(kstate(ns)).toEqual(before)
  expect(kstate(ns).links).toContain('other6')
})
