// RFC 5845 GRE keys in the data plane, against a kernel that has ip6_gre (User-Mode Linux; this
// machine's kernel has no GRE): one ip6gre device per binding with keys, at the MAG and at the
// LMA. Two LMAs (each its own DataPlane, role lma), one MAG with two access links, and two MNs
// holding THE SAME private IPv4 home address 10.0.0.2, one per link and LMA: each pings an
// address behind its own LMA (203.0.113.2 on both: two separate private networks), and only
// the GRE key tells their packets apart. tshark reads the keys off a capture; each LMA's device
// counts only its own MN's packets; a new uplink key is set in place; a netlink failure at any
// step leaves nothing; leftovers of a crashed run go at start; close() leaves nothing.
// Namespaces ktgre-<pid>-<n> (the data plane's netns fixture), created and deleted here, also on
// failure; addresses 2001:db8::/32, 10.0.0.0/24 and 203.0.113.0/24 only inside them.
import { execFileSync } from 'node:child_process'
import { Capture, Ctl, ip6Addrs, ipBatch, ipJson, Namespaces, nsExec, pingEach, stopAllCtls, waitFor, withCtl } from './helpers'

// Three data planes, a dozen pings and a tshark start-up under ptrace on a busy host: bounded, generously.
jest.setTimeout(600_000)

const MAG = '2001:db8:ffff::1'
const LMA1 = '2001:db8:ffff::2'
const LMA2 = '2001:db8:ffff::3'
const HOA = '10.0.0.2'
const ROUTER4 = '10.0.0.1'
const CN = '203.0.113.2'
const HNP1 = '2001:db8:100:1::/64'
/** Keys as each side would negotiate them (RFC 5845 §3): the MAG's downlink keys are its own, unique on it; both LMAs chose the same uplink key 1. */
const K = { mn1: { uplink: 1, downlink: 0x1001 }, mn2: { uplink: 1, downlink: 0x1002 } }

const namespaces = new Namespaces('ktgre')
/** The transit bridge's namespace, the MAG, both LMAs and both MNs: named in beforeAll. */
const NS = { t: '', mag: '', lma1: '', lma2: '', mn1: '', mn2: '' }

interface LinkStats {
  ifname: string
  linkinfo?: { info_kind?: string; info_data?: { ikey?: string; okey?: string; local?: string; remote?: string } }
  stats64?: { rx: { packets: number }; tx: { packets: number } }
}
/** Our ip6gre devices in a namespace, with their parameters and counters. */
const greLinks = (ns: string): LinkStats[] => ipJson<LinkStats>(['-n', ns, '-d', '-s', '-j', 'link', 'show']).filter((l) => l.ifname.startsWith('pmip6g'))
/** iproute2 shows a GRE key as a dotted quad. */
const dotted = (k: number): string => [24, 16, 8, 0].map((s) => (k >>> s) & 0xff).join('.')

interface Obj {
  protocol?: string
}
/**
 * Our objects (protocol 158) of both families and the links: what "nothing left" compares. Two
 * `ip -batch` runs, not five execs (each costs 0.2-0.5 s or more under UML; the netlink-failure
 * test reads this a dozen times). `link show` goes last: ip sets its family for later lines.
 */
function ours(ns: string): { rules: string[]; routes: string[]; links: string[] } {
  const batch = (fam: string, lines: string[]): unknown[][] =>
    execFileSync('ip', ['-n', ns, fam, '-j', '-batch', '-'], { input: lines.join('\n') + '\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown[])
  const [rules6, routes6, links] = batch('-6', ['rule show', 'route show table all', 'link show']) as [Obj[], Obj[], { ifname: string }[]]
  const [rules4, routes4] = batch('-4', ['rule show', 'route show table all']) as [Obj[], Obj[]]
  const mine = (os: Obj[]): string[] => os.filter((o) => o.protocol === '158').map((o) => JSON.stringify(o))
  return {
    rules: [...mine(rules6), ...mine(rules4)].sort(),
    routes: [...mine(routes6), ...mine(routes4)].sort(),
    links: links.map((l) => l.ifname).sort(),
  }
}

const magOpts = { role: 'mag', self: MAG, backend: 'ip6tnl', ipv4: true, accessLinks: ['a0', 'a1'] }
const lmaOpts = (self: string): object => ({ role: 'lma', self, backend: 'ip6tnl', ipv4: true })
const magReq = (id: 'mn1' | 'mn2', extra: object = {}): object => ({ id, link: id === 'mn1' ? 'a0' : 'a1', prefixes: [], ipv4: [HOA], peer: id === 'mn1' ? LMA1 : LMA2, gre: K[id], ...extra })
const lmaReq = (id: 'mn1' | 'mn2'): object => ({ id, link: '', prefixes: [], ipv4: [HOA], peer: MAG, gre: K[id] })

beforeAll(() => {
  namespaces.removeStale()
  for (const k of Object.keys(NS) as (keyof typeof NS)[]) {
    const ns = (NS[k] = namespaces.add())
    // Our ip6gre devices make no link-local address themselves (the data plane says so when it
    // brings them up), so a device's counters hold the MNs' packets only: asserted below.
    const r = nsExec(ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'])
    if (r.code !== 0) throw new Error(`sysctl in ${ns}: ${r.err}`)
  }
  // The transport: a bridge joining the MAG and both LMAs (2001:db8:ffff::/64).
  ipBatch(
    [
      'link add br0 type bridge mcast_snooping 0',
      'link set br0 up',
      ...[
        ['tm', NS.mag, 'm0'],
        ['t1', NS.lma1, 'u0'],
        ['t2', NS.lma2, 'u0'],
      ].flatMap(([p, ns, d]) => [`link add ${p} type veth peer name ${d} netns ${ns}`, `link set ${p} master br0`, `link set ${p} up`]),
    ],
    NS.t,
  )
  ipBatch(['link set m0 up', `address add ${MAG}/64 dev m0 nodad`, `link add a0 type veth peer name e0 netns ${NS.mn1}`, `link add a1 type veth peer name e0 netns ${NS.mn2}`, 'link set a0 up', 'link set a1 up', `address add ${ROUTER4}/32 dev a0`, `address add ${ROUTER4}/32 dev a1`], NS.mag)
  for (const [ns, self] of [
    [NS.lma1, LMA1],
    [NS.lma2, LMA2],
  ] as const) {
    // The CN address of each LMA's private network, on the LMA itself.
    ipBatch(['link set u0 up', `address add ${self}/64 dev u0 nodad`, `address add ${CN}/32 dev lo`], ns)
  }
  // Both MNs: the same home address and default router, as DHCPv4 would give them (RFC 5844 §3.4).
  for (const ns of [NS.mn1, NS.mn2]) ipBatch(['link set e0 up', `address add ${HOA}/24 dev e0`, `route add default via ${ROUTER4}`], ns)
})

afterAll(async () => {
  try {
    await stopAllCtls()
  } finally {
    namespaces.deleteAll()
  }
})

test('RFC 5845: two MNs with the same IPv4 home address at one MAG, each behind its own LMA, told apart by the GRE key alone; close() leaves nothing', async () => {
  const before = { mag: ours(NS.mag), lma1: ours(NS.lma1), lma2: ours(NS.lma2) }
  const mag = new Ctl(NS.mag)
  const lma1 = new Ctl(NS.lma1)
  const lma2 = new Ctl(NS.lma2)
  try {
    const opened = await mag.ok({ op: 'open', opts: magOpts })
    expect(opened.snapshot).toMatchObject({ backend: 'ip6tnl', gre: true, greBindings: 0 })
    await lma1.ok({ op: 'open', opts: lmaOpts(LMA1) })
    await lma2.ok({ op: 'open', opts: lmaOpts(LMA2) })
    await lma1.ok({ op: 'up', req: lmaReq('mn1') })
    await lma2.ok({ op: 'up', req: lmaReq('mn2') })
    expect(pingEach(NS.mn1, CN, 1, 2).received).toBe(0) // the access link's floor: no binding yet
    await mag.ok({ op: 'up', req: magReq('mn1') })
    const two = await mag.ok({ op: 'up', req: magReq('mn2') })
    expect(two.snapshot).toMatchObject({ bindings: 2, greBindings: 2, tunnels: [] })

    // One device per binding, keys by role: the MAG receives with its downlink key, sends with the uplink one.
    const devs = greLinks(NS.mag)
    expect(devs.map((l) => [l.ifname, l.linkinfo?.info_kind, l.linkinfo?.info_data?.remote, l.linkinfo?.info_data?.ikey, l.linkinfo?.info_data?.okey])).toEqual([
      ['pmip6g0', 'ip6gre', LMA1, dotted(K.mn1.downlink), dotted(K.mn1.uplink)],
      ['pmip6g1', 'ip6gre', LMA2, dotted(K.mn2.downlink), dotted(K.mn2.uplink)],
    ])
    expect(greLinks(NS.lma1).map((l) => [l.linkinfo?.info_data?.ikey, l.linkinfo?.info_data?.okey])).toEqual([[dotted(K.mn1.uplink), dotted(K.mn1.downlink)]])
    for (const [ns, dev] of [[NS.mag, 'pmip6g0'], [NS.mag, 'pmip6g1'], [NS.lma1, 'pmip6g0'], [NS.lma2, 'pmip6g0']] as const) expect([ns, dev, ip6Addrs(ns, dev)]).toEqual([ns, dev, []])
    // Neither MN's address is in the shared down table: each is in its binding's own.
    const routes4 = ipJson<{ dst: string; dev?: string; table?: string }>(['-n', NS.mag, '-4', '-j', 'route', 'show', 'table', 'all']).filter((r) => r.dst === HOA)
    expect(routes4.map((r) => [r.table, r.dev]).sort()).toEqual([
      ['10000', 'a0'],
      ['10002', 'a1'],
    ])

    // Neighbours resolved first (ARP at both ends), then counted pings.
    await waitFor('mn1 to reach the CN behind LMA1', () => pingEach(NS.mn1, CN, 1, 5).received === 1, 120_000, 200)
    await waitFor('mn2 to reach the CN behind LMA2', () => pingEach(NS.mn2, CN, 1, 5).received === 1, 120_000, 200)
    const rx = (ns: string): number => greLinks(ns)[0]!.stats64!.rx.packets
    const rx0 = { lma1: rx(NS.lma1), lma2: rx(NS.lma2) }
    // Synced at both ends (a marker on m0): no packet lost to dumpcap's start or stop.
    const cap = await Capture.startSynced(NS.mag, 'm0', 'ip6 proto 47')
    const p1 = pingEach(NS.mn1, CN, 4)
    const p2 = pingEach(NS.mn2, CN, 3)
    const pkts = await cap.stopSynced()
    expect(p1).toEqual({ sent: 4, received: 4 })
    expect(p2).toEqual({ sent: 3, received: 3 })
    // Each LMA's device took exactly its own MN's echo requests.
    expect(rx(NS.lma1) - rx0.lma1).toBe(4)
    expect(rx(NS.lma2) - rx0.lma2).toBe(3)

    // On the wire (tshark): GRE over IPv6 with a key; the inner packets are alike (10.0.0.2 <->
    // 203.0.113.2), the outer addresses and the key tell the MNs apart.
    const seen = pkts.map((p) => ({ src: p.all('ipv6.src')[0], dst: p.all('ipv6.dst')[0], nxt: p.all('ipv6.nxt')[0], key: Number(p.v('gre.key')), inner: [p.v('ip.src'), p.v('ip.dst')], icmp: p.v('icmp.type') }))
    const count = (src: string, dst: string, key: number, icmp: string): number => seen.filter((s) => s.src === src && s.dst === dst && s.key === key && s.icmp === icmp).length
    expect(count(MAG, LMA1, K.mn1.uplink, '8')).toBe(4)
    expect(count(LMA1, MAG, K.mn1.downlink, '0')).toBe(4)
    expect(count(MAG, LMA2, K.mn2.uplink, '8')).toBe(3)
    expect(count(LMA2, MAG, K.mn2.downlink, '0')).toBe(3)
    for (const s of seen) {
      expect(s.nxt).toBe('47')
      expect(s.inner).toEqual(s.icmp === '8' ? [HOA, CN] : [CN, HOA])
    }
    expect(seen).toHaveLength(14)

    // A new uplink key on a refresh (the LMA's choice) is set on the device in place.
    await lma1.ok({ op: 'up', req: { ...lmaReq('mn1'), gre: { uplink: 9, downlink: K.mn1.downlink } } })
    const changed = await mag.ok({ op: 'up', req: magReq('mn1', { gre: { uplink: 9, downlink: K.mn1.downlink } }) })
    expect(changed.calls).toBe(1) // one RTM_NEWLINK, nothing re-made
    expect(greLinks(NS.mag)[0]!.linkinfo?.info_data?.okey).toBe(dotted(9))
    expect(pingEach(NS.mn1, CN, 2)).toEqual({ sent: 2, received: 2 })

    await mag.ok({ op: 'down', id: 'mn1' })
    await mag.ok({ op: 'idle' })
    expect(pingEach(NS.mn1, CN, 1, 2).received).toBe(0)
    expect(pingEach(NS.mn2, CN, 1).received).toBe(1) // the other binding is untouched
    await mag.ok({ op: 'down', id: 'mn2' })
    const idle = await mag.ok({ op: 'idle' })
    expect(idle.snapshot).toMatchObject({ bindings: 0, greBindings: 0, objects: 4 }) // the access links' floors
    expect(greLinks(NS.mag)).toEqual([])
    await mag.ok({ op: 'close' })
    await lma1.ok({ op: 'close' })
    await lma2.ok({ op: 'close' })
    expect({ mag: ours(NS.mag), lma1: ours(NS.lma1), lma2: ours(NS.lma2) }).toEqual(before)
  } finally {
    await mag.stop()
    await lma1.stop()
    await lma2.stop()
  }
})

test('a netlink failure at each step of a GRE binding (device, routes, rules, prefix, key change) rejects and leaves nothing of the call; a later up() works', async () => {
  const before = ours(NS.mag)
  await withCtl(NS.mag, async (c) => {
    await c.ok({ op: 'open', opts: magOpts })
    const base = ours(NS.mag)
    const req = magReq('mn1', { prefixes: [HNP1] })
    const clean = await c.ok({ op: 'up', req })
    // Device, 2 default routes, 4 device rules; per address and prefix: route and rule.
    expect(clean.calls).toBe(11)
    await c.ok({ op: 'down', id: 'mn1' })
    await c.ok({ op: 'idle' })
    expect(ours(NS.mag)).toEqual(base)
    for (let k = 1; k <= clean.calls!; k++) {
      const r = await c.send({ op: 'up', req, failAt: k })
      expect(r.ok).toBe(false)
      expect(r.error).toMatchObject({ name: 'ForwardingError', cause: { name: 'NetlinkError', code: 'ENOBUFS' } })
      await c.ok({ op: 'idle' })
      expect({ k, state: ours(NS.mag) }).toEqual({ k, state: base })
    }
    await c.ok({ op: 'up', req })
    const held = ours(NS.mag)
    // The key change fails: the device keeps its key, the binding its state.
    const r = await c.send({ op: 'up', req: magReq('mn1', { prefixes: [HNP1], gre: { uplink: 5, downlink: K.mn1.downlink } }), failAt: 1 })
    expect(r.ok).toBe(false)
    expect(greLinks(NS.mag)[0]!.linkinfo?.info_data?.okey).toBe(dotted(K.mn1.uplink))
    expect(ours(NS.mag)).toEqual(held)
    // Keys lost (status 2 on a refresh): the binding moves to the peer's shared tunnel with its prefixes.
    const plain = await c.ok({ op: 'up', req: magReq('mn1', { prefixes: [], gre: undefined }) })
    expect(plain.snapshot).toMatchObject({ bindings: 1, greBindings: 0, tunnels: [{ peer: LMA1, device: 'pmip6t0' }] })
    expect(greLinks(NS.mag)).toEqual([])
    const r4 = ipJson<{ dst: string; dev?: string; table?: string }>(['-n', NS.mag, '-4', '-j', 'route', 'show', 'table', '100'])
    expect(r4).toEqual([expect.objectContaining({ dst: HOA, dev: 'a0' })])
    await c.ok({ op: 'close' })
  })
  expect(ours(NS.mag)).toEqual(before)
})

test('leftovers of a crashed run (pmip6g* devices, rules and routes of the GRE tables) are removed at start', async () => {
  const before = ours(NS.mag)
  const crashed = new Ctl(NS.mag)
  await crashed.ok({ op: 'open', opts: magOpts })
  await crashed.ok({ op: 'up', req: magReq('mn1') })
  await crashed.ok({ op: 'up', req: magReq('mn2') })
  expect(greLinks(NS.mag)).toHaveLength(2)
  await crashed.send({ op: 'exit' })
  await crashed.exited()
  expect(greLinks(NS.mag)).toHaveLength(2) // nothing was closed
  await withCtl(NS.mag, async (c) => {
    const r = await c.ok({ op: 'open', opts: magOpts })
    expect(r.snapshot).toMatchObject({ bindings: 0, greBindings: 0, gre: true })
    expect(greLinks(NS.mag)).toEqual([])
    await c.ok({ op: 'close' })
  })
  expect(ours(NS.mag)).toEqual(before)
})
