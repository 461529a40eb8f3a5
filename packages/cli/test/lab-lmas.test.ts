// The lab's shapes (plan.ts, topology.ts, lab.ts's profiles) as pure code: one LMA exactly as
// before, two LMAs with their own CNs and pools, MN profiles naming the LMA that serves them, GRE
// keys with one shared IPv4 pool, and the refusals (overlapping pools without GRE keys, bad counts).
import { labProfiles, ipv4Lab, greKeysRefusal } from '../src/lab/lab'
import { PLAN, SINGLE_LMA, ipv4Overlap, lmaPlans, mnLma, names, poolRouter, LMA2_DISTINCT_POOL4 } from '../src/lab/plan'
import { planTopology } from '../src/lab/topology'
import type { NetBatch } from '../src/lab/netbuild'

const n = names('t')
type Topo = ReturnType<typeof planTopology>
const lines = (p: Topo, what: string, ns: string | null): string[] =>
  p.phases
    .find((x) => x.what === what)!
    .build.batches()
    .filter((b): b is Extract<NetBatch, { kind: 'ip' }> => b.kind === 'ip' && b.ns === ns)
    .flatMap((b) => b.lines)
const sysctls = (p: Topo, what: string, ns: string): string[] =>
  p.phases
    .find((x) => x.what === what)!
    .build.batches()
    .flatMap((b) => (b.kind === 'sysctl' ? b.namespaces.filter((x) => x.ns === ns).flatMap((x) => x.settings.map((s) => `${s.key}=${s.value}`)) : []))
const everything = (p: Topo) => p.phases.map((x) => ({ what: x.what, batches: x.build.batches() }))

describe('lab shapes', () => {
  test('one LMA: the default shape is the lab as it always was (same batches, namespaces, profiles)', () => {
    expect(everything(planTopology(n, 3, SINGLE_LMA))).toEqual(everything(planTopology(n, 3)))
    expect(planTopology(n, 2).namespaces).toEqual(['t-lma', 't-cn', 't-air', 't-mag1', 't-mag2', 't-mn1', 't-mn2'])
    expect(labProfiles(2, SINGLE_LMA)).toEqual([
      { mnId: 'mn1@example.com', lma: PLAN.lma, macs: ['02:00:00:00:01:01'] },
      { mnId: 'mn2@example.com', lma: PLAN.lma, macs: ['02:00:00:00:01:02'] },
    ])
    expect(ipv4Lab(SINGLE_LMA)).toBe(false)
  })

  test('two LMAs: lma2 and cn2 namespaces, lma2 on the transport bridge, cn2 behind lma2 with the same IPv4 address as cn (its own network)', () => {
    const p = planTopology(n, 2, { lmas: 2, greKeys: false })
    expect(p.namespaces).toEqual(['t-lma', 't-cn', 't-lma2', 't-cn2', 't-air', 't-mag1', 't-mag2', 't-mn1', 't-mn2'])
    const root = lines(p, 'links', null)
    expect(root).toContain('link add up0 netns t-lma2 type veth peer name p-lma2 netns t-lma')
    expect(root).toContain('link add eth0 netns t-cn2 type veth peer name cn0 netns t-lma2')
    expect(lines(p, 'addresses and links up', 't-lma')).toEqual(expect.arrayContaining(['link set p-lma2 master br0', 'link set p-lma2 up']))
    expect(lines(p, 'addresses and links up', 't-lma2')).toEqual([
      'link set lo up',
      'addr add 2001:db8:ffff::4/64 dev up0 nodad',
      'link set up0 up',
      'addr add 2001:db8:cccd::1/64 dev cn0 nodad',
      'addr add 203.0.113.1/24 dev cn0',
      'link set cn0 up',
    ])
    expect(lines(p, 'addresses and links up', 't-cn2')).toEqual(['link set lo up', 'addr add 2001:db8:cccd::2/64 dev eth0 nodad', 'addr add 203.0.113.2/24 dev eth0', 'link set eth0 up'])
    expect(lines(p, 'routes', 't-cn2')).toEqual(['route add default via 2001:db8:cccd::1 dev eth0', 'route add default via 203.0.113.1 dev eth0'])
    expect(sysctls(p, 'interface settings', 't-lma2')).toEqual(['net.ipv6.conf.all.forwarding=1', 'net.ipv4.ip_forward=1'])
    // No reverse path settings without GRE keys.
    expect(sysctls(p, 'namespace defaults', 't-mag1').filter((s) => s.includes('rp_filter'))).toEqual([])
  })

  test('two LMAs: distinct pools without GRE keys, one shared IPv4 pool with them; MN i served by lma (odd) or lma2 (even)', () => {
    const [a, b] = lmaPlans({ lmas: 2, greKeys: false })
    expect([a!.node, a!.homePool, a!.homePool4, a!.address]).toEqual(['lma', '2001:db8:100::/48', '192.0.2.0/24', '2001:db8:ffff::2'])
    expect([b!.node, b!.homePool, b!.homePool4, b!.address]).toEqual(['lma2', '2001:db8:200::/48', LMA2_DISTINCT_POOL4, '2001:db8:ffff::4'])
    expect(ipv4Overlap(a!.homePool4, b!.homePool4)).toBe(false)
    const g = lmaPlans({ lmas: 2, greKeys: true })
    expect(g.map((x) => x.homePool4)).toEqual(['192.0.2.0/24', '192.0.2.0/24'])
    expect([1, 2, 3, 4].map((i) => mnLma(i, 2))).toEqual(['lma', 'lma2', 'lma', 'lma2'])
    expect([1, 2].map((i) => mnLma(i, 1))).toEqual(['lma', 'lma'])
    expect(labProfiles(3, { lmas: 2, greKeys: true })).toEqual([
      { mnId: 'mn1@example.com', lma: '2001:db8:ffff::2', macs: ['02:00:00:00:01:01'], stack: 'dual', greKey: true },
      { mnId: 'mn2@example.com', lma: '2001:db8:ffff::4', macs: ['02:00:00:00:01:02'], stack: 'dual', greKey: true },
      { mnId: 'mn3@example.com', lma: '2001:db8:ffff::2', macs: ['02:00:00:00:01:03'], stack: 'dual', greKey: true },
    ])
    expect(labProfiles(2, { lmas: 2, greKeys: false }).map((p) => [p['lma'], p['stack'], p['greKey']])).toEqual([
      ['2001:db8:ffff::2', 'dual', undefined],
      ['2001:db8:ffff::4', 'dual', undefined],
    ])
  })

  test('GRE keys: no reverse path filtering at the MAGs and LMAs, set as namespace defaults (before any device); no link-local addresses on devices the daemons make', () => {
    const p = planTopology(n, 2, { lmas: 2, greKeys: true })
    for (const ns of ['t-mag1', 't-mag2', 't-lma', 't-lma2']) expect(sysctls(p, 'namespace defaults', ns)).toEqual(expect.arrayContaining(['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']))
    for (const ns of ['t-mn1', 't-cn', 't-cn2']) expect(sysctls(p, 'namespace defaults', ns).filter((s) => s.includes('rp_filter'))).toEqual([])
    // ... and the daemons' devices (made after the lab's links) get no link-local address.
    for (const ns of ['t-mag1', 't-lma2']) expect(sysctls(p, 'interface settings', ns)).toContain('net.ipv6.conf.default.addr_gen_mode=1')
    expect(sysctls(p, 'namespace defaults', 't-mag1')).not.toContain('net.ipv6.conf.default.addr_gen_mode=1')
    expect(sysctls(planTopology(n, 2, { lmas: 2, greKeys: false }), 'interface settings', 't-mag1').filter((s) => s.includes('default.addr_gen_mode'))).toEqual([])
  })

  test('refusals: overlapping pools without GRE keys (naming ipv4Pools and greKeys), a bad count, a bad pool; overlapping pools with GRE keys are taken', () => {
    expect(() => lmaPlans({ lmas: 2, greKeys: false, ipv4Pools: ['192.0.2.0/24', '192.0.2.128/25'] })).toThrow(/^ipv4Pools: 192\.0\.2\.0\/24 \(lma\) and 192\.0\.2\.128\/25 \(lma2\) overlap: .*turn greKeys on/)
    expect(() => planTopology(n, 2, { lmas: 2, greKeys: false, ipv4Pools: ['10.0.0.0/24', '10.0.0.0/24'] })).toThrow(/overlap/)
    expect(lmaPlans({ lmas: 2, greKeys: true, ipv4Pools: ['10.0.0.0/24', '10.0.0.0/24'] }).map((p) => p.homePool4)).toEqual(['10.0.0.0/24', '10.0.0.0/24'])
    expect(lmaPlans({ lmas: 2, greKeys: false, ipv4Pools: ['192.0.2.0/25', '192.0.2.128/25'] }).map((p) => p.homePool4)).toEqual(['192.0.2.0/25', '192.0.2.128/25'])
    expect(() => lmaPlans({ lmas: 3, greKeys: false })).toThrow('lmas must be 1 or 2, not 3')
    expect(() => lmaPlans({ lmas: 0, greKeys: false })).toThrow('lmas must be 1 or 2')
    expect(() => lmaPlans({ lmas: 2, greKeys: false, ipv4Pools: ['192.0.2.0/24'] })).toThrow('ipv4Pools: 1 pools for 2 LMAs')
    expect(() => lmaPlans({ lmas: 1, greKeys: false, ipv4Pools: ['192.0.2.0/33'] })).toThrow('ipv4Pools[0]: not an IPv4 prefix: 192.0.2.0/33')
    expect(() => lmaPlans({ lmas: 1, greKeys: false, ipv4Pools: ['192.0.2.0/31'] })).toThrow('ipv4Pools[0]: 192.0.2.0/31: a pool is /8 to /30')
    expect(greKeysRefusal('Unknown device type')).toMatch(/^greKeys: GRE keys \(RFC 5845\) need ip6gre .*Unknown device type/)
  })

  test('ipv4Overlap and poolRouter', () => {
    expect(ipv4Overlap('192.0.2.0/24', '192.0.2.77/32')).toBe(true)
    expect(ipv4Overlap('10.0.0.0/8', '10.200.0.0/16')).toBe(true)
    expect(ipv4Overlap('192.0.2.0/25', '192.0.2.128/25')).toBe(false)
    expect(ipv4Overlap('198.51.100.0/24', '203.0.113.0/24')).toBe(false)
    expect(poolRouter('192.0.2.0/24')).toBe('192.0.2.1')
    expect(poolRouter('198.51.100.0/24')).toBe('198.51.100.1')
    expect(poolRouter('10.1.2.128/25')).toBe('10.1.2.129')
  })
})
