// IPv4 home addresses over the ip6tnl backend (RFC 5844 data plane), in a kernel that has
// ip6_tunnel (User-Mode Linux): this machine's kernel has none, so the netns lab tests IPv4 with
// the seg6 backend only. The lab with a dual-stack mn1, MAGs with `dataplane.ipv4` on ip6tnl,
// the lab LMA with its IPv4 pool: mn1's own busybox udhcpc gets the IPv4 home address from the
// MAG's DHCPv4 server (RFC 5844 §3.4), pings the CN's 203.0.113.2 through the tunnel, and tshark
// on the MAG-LMA link sees IPv4-in-IPv6 (outer next header 4, RFC 2473 §3) beside mn1's IPv6
// (next header 41) on the same `mode any` devices; detach leaves the IPv4 state as it was.
import { mkdtempSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@pmip6/agent'
import { writeUdhcpcScript } from '../../packages/cli/src/lab/demo'
import { labDown, labUp, readState } from '../../packages/cli/src/lab/lab'
import { Capture, endLab, ipJson, nsExec, pingEach, tunnels, waitFor, type IpRoute, type IpRule, type Packet } from './helpers'

const LAB = 'kt4'
const NS = { lma: `${LAB}-lma`, mag1: `${LAB}-mag1`, mn1: `${LAB}-mn1` }
const MN = 'mn1@example.com'
const MAC = '02:00:00:00:01:01'
const LMA = '2001:db8:ffff::2'
const MAG1 = '2001:db8:ffff::1'
const CN = '2001:db8:cccc::2'
const CN4 = '203.0.113.2'
const ROUTER4 = '192.0.2.1'
/** The lab LMA's timestamp window, widened for a busy single-CPU guest (see ip6tnl-lab.ktest.ts). */
const TIMESTAMP_WINDOW_MS = 10_000
/** A control-socket answer from a daemon in a busy single-CPU guest: bounded, generously. */
const CONTROL_TIMEOUT_MS = 30_000

interface View {
  mnId: string
  state: string
  stack: string
  prefixes: string[]
  ipv4Address: string | null
  ipv4Router: string | null
}

jest.setTimeout(600_000)

const dir = mkdtempSync(join(tmpdir(), 'kt-ipv4-'))
const script = join(dir, 'udhcpc.sh')
const sock = () => readState(LAB).sockets['mag1']!
const bindings = async () => (await controlRequest(sock(), { cmd: 'bindings' }, CONTROL_TIMEOUT_MS)) as View[]

/** IPv4 rules and routes (every table) of a namespace, by one `ip -batch`. */
function v4state(ns: string): { rules: IpRule[]; routes: IpRoute[] } {
  const out = execFileSync('ip', ['-n', ns, '-4', '-j', '-batch', '-'], { input: 'rule show\nroute show table all\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
  const [rules, routes] = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown[])
  const key = (o: object) => JSON.stringify(o)
  return { rules: rules as IpRule[], routes: (routes as IpRoute[]).sort((a, b) => key(a).localeCompare(key(b))) }
}
const v6rules = (ns: string) => ipJson<IpRule>(['-n', ns, '-6', '-j', 'rule', 'show'])
const permanentNeighbours = (ns: string) => ipJson<{ dst: string; dev: string; state?: string[] }>(['-n', ns, '-4', '-j', 'neigh', 'show']).filter((n) => (n.state ?? []).includes('PERMANENT'))

/** mn1's IPv4 address on eth0 ("192.0.2.7/24"), or null. */
function mnIpv4(): string | null {
  const r = nsExec(NS.mn1, ['ip', '-4', '-j', 'addr', 'show', 'dev', 'eth0'])
  const a = (JSON.parse(r.out || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[])[0]?.addr_info?.[0]
  return a ? `${a.local}/${a.prefixlen}` : null
}
/** A preferred global IPv6 address of mn1 inside its /64 home network prefix, or null. */
function mnIpv6(prefix: string): string | null {
  const net = prefix.replace(/::\/64$/, ':')
  const r = nsExec(NS.mn1, ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0'])
  const addrs = ((JSON.parse(r.out || '[]') as { addr_info?: { local: string; scope: string; preferred_life_time?: number }[] }[])[0]?.addr_info ?? []).filter((a) => a.scope === 'global')
  return addrs.find((a) => a.local.startsWith(net) && a.preferred_life_time !== 0)?.local ?? null
}
/** `count` echo requests from mn1, each answered within `replyS` seconds or lost (see pingEach). */
const ping = (dst: string, count: number, replyS?: number) => pingEach(NS.mn1, dst, count, replyS)
/** Pings until one is answered (the first ones may wait for ARP / neighbour discovery), bounded. */
const reachable = (dst: string) => waitFor(`mn1 reaches ${dst}`, () => ping(dst, 1, 5).received === 1, 120_000, 200)
/** Outer and inner layers of a tunnelled packet, as tshark dissected them. */
const layers = (p: Packet) => ({ nxt: p.all('ipv6.nxt')[0], v6src: p.all('ipv6.src'), v6dst: p.all('ipv6.dst'), v4src: p.all('ip.src'), v4dst: p.all('ip.dst'), v4proto: p.all('ip.proto') })

let before: { mag: ReturnType<typeof v4state>; lma: ReturnType<typeof v4state>; magRules6: IpRule[] } | null = null
let hoa = ''
let hnp = ''

beforeAll(async () => {
  // udhcpc hands what it got to a script; this one configures the MN as Debian's would.
  writeUdhcpcScript(script)
  await labDown(LAB, { quiet: true })
  await labUp({
    name: LAB,
    mns: 1,
    quiet: true,
    startTimeoutMs: 120_000,
    magConfig: {
      profiles: [{ mnId: MN, lma: LMA, macs: [MAC], stack: 'dual' }],
      dataplane: { backend: 'ip6tnl', ipv4: true },
      dhcp4: { enabled: true },
    },
    // The lab LMA has an IPv4 pool (192.0.2.0/24): its data plane carries IPv4, its tunnels are `mode any`.
    lmaConfig: { dataplane: { backend: 'ip6tnl' }, timestampWindowMs: TIMESTAMP_WINDOW_MS },
  })
}, 1_200_000)

afterAll(() => endLab('ip6tnl-ipv4', LAB, dir))

test('RFC 5844 §3.4 the dual-stack MN registers; its own udhcpc gets the IPv4 home address and default router of the binding; the ip6tnl devices at the MAG and the LMA are `mode any`', async () => {
  before = { mag: v4state(NS.mag1), lma: v4state(NS.lma), magRules6: v6rules(NS.mag1) }
  expect(tunnels(NS.mag1)).toEqual([])
  await controlRequest(sock(), { cmd: 'attach', mn: MN, link: 'mn1', mac: MAC, att: 'wifi', hint: 'new' }, CONTROL_TIMEOUT_MS)
  const v = await waitFor('mn1 registered with an IPv4 home address', async () => (await bindings()).find((b) => b.mnId === MN && b.state === 'registered' && b.ipv4Address !== null), 60_000, 250)
  expect(v).toMatchObject({ stack: 'dual', ipv4Router: ROUTER4 })
  expect(v.ipv4Address).toMatch(/^192\.0\.2\.\d+\/24$/)
  expect(v.prefixes).toHaveLength(1)
  hoa = v.ipv4Address!.split('/')[0]!
  hnp = v.prefixes[0]!
  // The DHCPv4 server has the lease once its neighbour entry for the home address is in place.
  await waitFor("mag1's DHCPv4 lease for mn1", () => permanentNeighbours(NS.mag1).some((n) => n.dst === hoa && n.dev === 'mn1'), 60_000, 250)
  // An unmodified client, asked again until it binds (each try is bounded by udhcpc's own -t/-T).
  await waitFor('udhcpc to bind', () => nsExec(NS.mn1, ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-A', '1', '-s', script], 60_000).code === 0, 120_000, 500)
  expect(mnIpv4()).toBe(v.ipv4Address)
  expect(ipJson<{ dst: string; gateway?: string }>(['-n', NS.mn1, '-4', '-j', 'route', 'show', 'default'])).toEqual([expect.objectContaining({ gateway: ROUTER4 })])
  // `ip -d link`: both ends of the one tunnel are ip6tnl `mode any` (IPv4 and IPv6 payloads).
  expect(tunnels(NS.mag1)).toEqual([expect.objectContaining({ ifname: 'pmip6t0', linkinfo: expect.objectContaining({ info_kind: 'ip6tnl', info_data: expect.objectContaining({ proto: 'any', local: MAG1, remote: LMA }) }) })])
  expect(tunnels(NS.lma)).toEqual([expect.objectContaining({ linkinfo: expect.objectContaining({ info_kind: 'ip6tnl', info_data: expect.objectContaining({ proto: 'any', local: LMA, remote: MAG1 }) }) })])
})

test('mn1 pings the CN over IPv4 and over IPv6 through the one ip6tnl device: tshark on the MAG-LMA link sees IPv4-in-IPv6 (outer next header 4) and IPv6-in-IPv6 (41), MAG <-> LMA outside, no routing header', async () => {
  expect(hoa).not.toBe('')
  const addr6 = await waitFor('mn1 SLAAC address from its HNP', () => mnIpv6(hnp), 60_000, 250)
  await reachable(CN4)
  await reachable(CN)
  // Synced at both ends (a marker on the link): every packet of the pings is in the capture.
  const cap = await Capture.startSynced(NS.lma, 'p-mag1', 'ip6 proto 4 or ip6 proto 41')
  const r4 = ping(CN4, 5)
  const r6 = ping(CN, 3)
  const pkts = await cap.stopSynced()
  expect(r4).toEqual({ sent: 5, received: 5 })
  expect(r6).toEqual({ sent: 3, received: 3 })
  const v4 = pkts.filter((p) => p.v('ipv6.nxt') === '4')
  const v6 = pkts.filter((p) => p.v('ipv6.nxt') === '41')
  expect(v4.length + v6.length).toBe(pkts.length)
  // ICMP (1) echo requests (8) up, replies (0) down; one IPv6 header outside, one IPv4 header inside.
  const up4 = v4.filter((p) => p.v('icmp.type') === '8').map(layers)
  const down4 = v4.filter((p) => p.v('icmp.type') === '0').map(layers)
  expect(up4).toHaveLength(5)
  expect(down4).toHaveLength(5)
  for (const l of up4) expect(l).toEqual({ nxt: '4', v6src: [MAG1], v6dst: [LMA], v4src: [hoa], v4dst: [CN4], v4proto: ['1'] })
  for (const l of down4) expect(l).toEqual({ nxt: '4', v6src: [LMA], v6dst: [MAG1], v4src: [CN4], v4dst: [hoa], v4proto: ['1'] })
  // The same device carries mn1's IPv6: RFC 2473 ip6ip6 framing.
  const up6 = v6.filter((p) => p.v('icmpv6.type') === '128').map((p) => ({ src: p.all('ipv6.src'), dst: p.all('ipv6.dst') }))
  expect(up6).toHaveLength(3)
  for (const l of up6) expect(l).toEqual({ src: [MAG1, addr6], dst: [LMA, CN] })
  for (const p of pkts) expect(p.v('ipv6.routing')).toBeUndefined()
  expect(tunnels(NS.mag1).map((l) => l.ifname)).toEqual(['pmip6t0'])
})

test('detach: the binding, its IPv4 routes and rules at the MAG and the LMA, the DHCPv4 lease and the tunnels go; nothing IPv4 is left that was not there before the attach', async () => {
  expect(before).not.toBeNull()
  await controlRequest(sock(), { cmd: 'detach', mn: MN }, CONTROL_TIMEOUT_MS)
  await waitFor('mn1 gone from mag1', async () => !(await bindings()).some((b) => b.mnId === MN), 60_000, 250)
  await waitFor('the tunnels to go at both ends', () => tunnels(NS.mag1).length === 0 && tunnels(NS.lma).length === 0, 60_000, 250)
  await waitFor("the DHCPv4 lease's neighbour entry to go", () => !permanentNeighbours(NS.mag1).some((n) => n.dst === hoa), 60_000, 250)
  // Polled: the lease's router address goes after its neighbour entry, in its own `ip` call.
  const same = (ns: string, was: ReturnType<typeof v4state>) => {
    const now = v4state(ns)
    return JSON.stringify(now) === JSON.stringify(was) ? now : null
  }
  await waitFor('mag1 IPv4 rules and routes as before the attach', () => same(NS.mag1, before!.mag), 60_000, 250).catch(() => undefined)
  await waitFor('LMA IPv4 rules and routes as before the attach', () => same(NS.lma, before!.lma), 60_000, 250).catch(() => undefined)
  // Compared field by field, so a failure shows what was left.
  expect(v4state(NS.mag1)).toEqual(before!.mag)
  expect(v4state(NS.lma)).toEqual(before!.lma)
  expect(v6rules(NS.mag1)).toEqual(before!.magRules6)
  // And nothing passes: mn1 still has its address, but no IPv4 route leads anywhere from the MAG.
  expect(ping(CN4, 2, 2).received).toBe(0)
})
