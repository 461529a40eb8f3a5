// The lab (`mag lab`: lab LMA, two MAGs, a correspondent, MNs) on the ip6tnl backend, in a
// kernel that has ip6_tunnel (User-Mode Linux): RFC 5213 §6.10 forwarding through RFC 2473
// ip6ip6 devices, checked on the wire by tshark. The daemons run with `dataplane.backend: auto`,
// as shipped, so the first test is that auto picks ip6tnl here.
import { spawnSync } from 'node:child_process'
import { controlRequest } from '@pmip6/agent'
import { labDown, labMoveL2, labUp, readState } from '../../packages/cli/src/lab/lab'
import { Capture, endLab, ipJson, nsExec, snmp6, tunnels, waitFor, type Packet } from './helpers'

const LAB = 'kt6'
const NS = { lma: `${LAB}-lma`, cn: `${LAB}-cn`, mag1: `${LAB}-mag1`, mag2: `${LAB}-mag2`, mn: (i: number) => `${LAB}-mn${i}` }
const CN = '2001:db8:cccc::2'
const MAG1 = '2001:db8:ffff::1'
const MAG2 = '2001:db8:ffff::3'
const LMA = '2001:db8:ffff::2'
const mnId = (i: number) => `mn${i}@example.com`
const mnMac = (i: number) => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`
type Mag = 'mag1' | 'mag2'

interface Binding {
  mnId: string
  state: string
  prefixes: string[]
}
interface Status {
  dataplane: { name: string; state?: { backend: string; tunnels: { peer: string; users: number; device: string | null }[]; bindings: number } }
}

const sock = (node: Mag) => readState(LAB).sockets[node]!
const ctl = async <T>(node: Mag, req: Record<string, unknown>): Promise<T> => (await controlRequest(sock(node), { ...req, cmd: req['cmd'] as string }, 10_000)) as T
const binding = async (node: Mag, i: number) => (await ctl<Binding[]>(node, { cmd: 'bindings' })).find((b) => b.mnId === mnId(i))
const attach = (node: Mag, i: number, hint = 'new') => ctl(node, { cmd: 'attach', mn: mnId(i), link: `mn${i}`, mac: mnMac(i), att: 'wifi', hint })
const detach = (node: Mag, i: number) => ctl(node, { cmd: 'detach', mn: mnId(i) })
const registered = (node: Mag, i: number) => waitFor(`mn${i} registered on ${node}`, async () => ((await binding(node, i))?.state === 'registered' ? (await binding(node, i))! : null), 30_000, 200)

interface Addr {
  local: string
  scope: string
  preferred_life_time?: number
}
/** A preferred SLAAC address of MN i inside a /64 like 2001:db8:100:3::/64. */
function usable(i: number, prefix: string): string | null {
  const net = prefix.replace(/::\/64$/, ':')
  const r = nsExec(NS.mn(i), ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0'])
  const addrs = ((JSON.parse(r.out) as { addr_info?: Addr[] }[])[0]?.addr_info ?? []).filter((a) => a.scope === 'global')
  return addrs.find((a) => a.local.startsWith(net) && a.preferred_life_time !== 0)?.local ?? null
}
function ping(ns: string, dst: string, count = 3): { sent: number; received: number } {
  const r = nsExec(ns, ['ping', '-n', '-q', '-c', String(count), '-W', '2', '-i', '0.2', dst], 60_000)
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.out)
  if (!m) throw new Error(`ping gave no summary: ${r.out}${r.err}`)
  return { sent: Number(m[1]), received: Number(m[2]) }
}
/** Pings until one is answered (the first packets may wait for neighbour discovery), bounded. */
const reachable = (ns: string, dst: string) => waitFor(`${ns} reaches ${dst}`, () => ping(ns, dst, 1).received === 1, 30_000, 200)
const layers = (p: Packet) => ({ src: p.all('ipv6.src'), dst: p.all('ipv6.dst') })
const rxPackets = (ns: string, dev: string): number => ipJson<{ stats64?: { rx?: { packets?: number } } }>(['-n', ns, '-s', '-j', 'link', 'show', 'dev', dev])[0]?.stats64?.rx?.packets ?? -1

/**
 * Sends from the LMA's namespace, through a raw IPPROTO_IPV6 (41) socket, an RFC 2473 packet to
 * MAG1 exactly as the LMA's own tunnel would: outer LMA -> MAG1, inner `src` -> `dst`, an ICMPv6
 * echo request carrying `marker`.
 */
function injectDecap(src: string, dst: string, marker: string): void {
  const py = `
import socket, struct, sys
def a(x): return socket.inet_pton(socket.AF_INET6, x)
src, dst, mark = a(sys.argv[1]), a(sys.argv[2]), sys.argv[3].encode()
icmp = struct.pack('!BBHHH', 128, 0, 0, 0x6b74, 1) + mark
pseudo = src + dst + struct.pack('!I3xB', len(icmp), 58) + icmp
if len(pseudo) % 2: pseudo += b'\\0'
s = sum(struct.unpack('!%dH' % (len(pseudo) // 2), pseudo))
while s >> 16: s = (s & 0xffff) + (s >> 16)
icmp = icmp[:2] + struct.pack('!H', ~s & 0xffff) + icmp[4:]
inner = struct.pack('!IHBB', 0x60000000, len(icmp), 58, 64) + src + dst + icmp
sk = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41)
for _ in range(3): sk.sendto(inner, (sys.argv[4], 0))
`
  const r = spawnSync('ip', ['netns', 'exec', NS.lma, 'python3', '-c', py, src, dst, marker, MAG1], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`raw send from the LMA failed: ${r.stderr}`)
}

jest.setTimeout(600_000)
/**
 * The lab LMA's TimestampValidityWindow (RFC 5213 §9.1, default 300 ms) covers clock skew and
 * transit. MAG and LMA share the VM's clock here, but a PBU can wait well over 300 ms for a
 * busy single-CPU guest to run the LMA: a wider window keeps a 156 from being the VM's doing.
 */
const TIMESTAMP_WINDOW_MS = 10_000

beforeAll(async () => {
  await labDown(LAB, { quiet: true })
  await labUp({ name: LAB, mns: 2, quiet: true, startTimeoutMs: 120_000, magConfig: { dataplane: { backend: 'auto' } }, lmaConfig: { dataplane: { backend: 'auto' }, timestampWindowMs: TIMESTAMP_WINDOW_MS } })
}, 1_200_000)
afterAll(() => endLab('ip6tnl-lab', LAB))

let hnp1 = ''
let addr1 = ''

test("dataplane.backend 'auto' picks ip6tnl on both MAGs where the kernel has ip6_tunnel", async () => {
  expect(readState(LAB).dataplane).toBe('kernel-ip6tnl')
  expect((await ctl<Status>('mag2', { cmd: 'status' })).dataplane).toMatchObject({ name: 'kernel-ip6tnl', state: { backend: 'ip6tnl', tunnels: [] } })
})

test('§6.10.5 MN pings CN through an ip6ip6 device: tshark on the MAG-LMA link sees plain RFC 2473 (next header 41, no routing header), Proxy-CoA <-> LMA outside, MN <-> CN inside', async () => {
  await attach('mag1', 1)
  hnp1 = (await registered('mag1', 1)).prefixes[0]!
  addr1 = await waitFor('mn1 SLAAC address from its HNP', () => usable(1, hnp1), 30_000, 200)
  expect(tunnels(NS.mag1)).toEqual([expect.objectContaining({ ifname: 'pmip6t0', mtu: 1460, linkinfo: expect.objectContaining({ info_kind: 'ip6tnl', info_data: expect.objectContaining({ proto: 'ip6ip6', local: MAG1, remote: LMA }) }) })])
  // The lab LMA carries its MNs' IPv4 too (RFC 5844): its end is `mode any`; this MAG's data plane
  // has no `ipv4`, so its end is ip6ip6. IPv6 crosses both alike.
  expect(tunnels(NS.lma)).toEqual([expect.objectContaining({ linkinfo: expect.objectContaining({ info_data: expect.objectContaining({ proto: 'any', local: LMA, remote: MAG1 }) }) })])
  await reachable(NS.mn(1), CN)
  // Synced (a marker at both ends): dumpcap says 'Capturing on' before the interface is open, and
  // on a quiet machine the first two of these pings went by before it was (3 of 5 captured).
  const cap = await Capture.startSynced(NS.lma, 'p-mag1', 'ip6 proto 41')
  const r = ping(NS.mn(1), CN, 5)
  const pkts = await cap.stopSynced()
  expect(r).toEqual({ sent: 5, received: 5 })
  const up = pkts.filter((p) => p.v('icmpv6.type') === '128').map(layers)
  const down = pkts.filter((p) => p.v('icmpv6.type') === '129').map(layers)
  expect(up.length).toBeGreaterThanOrEqual(4)
  expect(down.length).toBeGreaterThanOrEqual(4)
  for (const l of up) expect(l).toEqual({ src: [MAG1, addr1], dst: [LMA, CN] })
  for (const l of down) expect(l).toEqual({ src: [LMA, CN], dst: [MAG1, addr1] })
  for (const p of pkts) {
    expect(p.all('ipv6.nxt')[0]).toBe('41')
    expect(p.v('ipv6.routing.type')).toBeUndefined()
    expect(p.v('ipv6.routing')).toBeUndefined()
  }
})

test('§6.10.1 a second MN of the same LMA shares the one tunnel device', async () => {
  await attach('mag1', 2)
  const hnp2 = (await registered('mag1', 2)).prefixes[0]!
  await waitFor('mn2 SLAAC address from its HNP', () => usable(2, hnp2), 30_000, 200)
  await reachable(NS.mn(2), CN)
  expect(tunnels(NS.mag1).map((l) => l.ifname)).toEqual(['pmip6t0'])
  expect(tunnels(NS.lma)).toHaveLength(1)
  expect((await ctl<Status>('mag1', { cmd: 'status' })).dataplane.state).toMatchObject({ tunnels: [{ peer: LMA, users: 2, device: 'pmip6t0' }], bindings: 2 })
})

test('§6.10.5 a decapsulated packet for a destination with no access route is dropped at the MAG, never forwarded natively; one for an MN is delivered', async () => {
  const before = rxPackets(NS.mag1, 'pmip6t0')
  const cnEchos = snmp6(NS.cn)['Icmp6InEchos']!
  const mnEchos = snmp6(NS.mn(1))['Icmp6InEchos']!
  // Not synced: the CN's own markers to ff02::1 would count in its Icmp6InEchos, checked below.
  const atCn = await Capture.start(NS.cn, 'eth0', 'icmp6 and ip6[40] == 128')
  injectDecap(LMA, CN, 'pmip6-kt-not-an-mn')
  injectDecap(LMA, addr1, 'pmip6-kt-to-mn1')
  // The MAG's tunnel device took all six: the three for CN reached the MAG and were decapsulated.
  await waitFor('the MAG to decapsulate the injected packets', () => rxPackets(NS.mag1, 'pmip6t0') >= before + 6, 10_000, 100)
  await waitFor('mn1 to get its three', () => snmp6(NS.mn(1))['Icmp6InEchos']! >= mnEchos + 3, 10_000, 100)
  const toCn = await atCn.stop()
  expect(toCn.filter((p) => p.v('ipv6.dst') === CN)).toEqual([])
  expect(snmp6(NS.cn)['Icmp6InEchos']).toBe(cnEchos)
  const rules = ipJson<{ priority: number; iif?: string; action?: string }>(['-n', NS.mag1, '-6', '-j', 'rule']).filter((x) => x.iif === 'pmip6t0')
  expect(rules).toEqual([expect.objectContaining({ priority: 1002 }), expect.objectContaining({ priority: 1004, action: 'blackhole' })])
})

/**
 * Sends from the LMA's namespace an ICMPv6 Packet Too Big (RFC 4443 §3.2) to MAG1 about a
 * packet MAG1 sent to the LMA (its first 40 bytes: the invoking IPv6 header), as a router on
 * the path would. The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket.
 */
function injectPtb(mtu: number): void {
  const py = `
import socket, struct, sys
def a(x): return socket.inet_pton(socket.AF_INET6, x)
inner = struct.pack('!IHBB', 0x60000000, 1400, 41, 64) + a(sys.argv[2]) + a(sys.argv[3]) + bytes(64)
sk = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
sk.sendto(struct.pack('!BBHI', 2, 0, 0, int(sys.argv[1])) + inner, (sys.argv[2], 0))
`
  const r = spawnSync('ip', ['netns', 'exec', NS.lma, 'python3', '-c', py, String(mtu), MAG1, LMA], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`Packet Too Big from the LMA failed: ${r.stderr}`)
}
const tunnelMtu = (ns: string) => tunnels(ns)[0]?.mtu
const counters = async (node: Mag) => (await ctl<{ counters: Record<string, number> }>(node, { cmd: 'status' })).counters

test('§6.9.5 the tunnel device MTU follows the path MTU: the uplink MTU lowered (RTM_NEWLINK), then a Packet Too Big from the path about our tunnelled packets to the LMA', async () => {
  expect(tunnelMtu(NS.mag1)).toBe(1460)
  nsExec(NS.mag1, ['ip', 'link', 'set', 'up0', 'mtu', '1400'])
  // Path MTU 1400 minus the 40-byte outer header (RFC 2473 §6.7).
  await waitFor('pmip6t0 to follow the uplink MTU', () => tunnelMtu(NS.mag1) === 1360, 30_000, 200)
  const before = await counters('mag1')
  injectPtb(1340)
  await waitFor('pmip6t0 to follow the Packet Too Big', () => tunnelMtu(NS.mag1) === 1300, 30_000, 200)
  expect((await counters('mag1'))['icmp.ptb.accepted']).toBe((before['icmp.ptb.accepted'] ?? 0) + 1)
  // Raising the uplink again does not undo what the path reported (RFC 8201 §4: kept for a while).
  nsExec(NS.mag1, ['ip', 'link', 'set', 'up0', 'mtu', '1500'])
  await waitFor('the uplink change to be seen', async () => (await counters('mag1'))['pmtu.uplink-change']! >= (before['pmtu.uplink-change'] ?? 0) + 1, 30_000, 200)
  expect(tunnelMtu(NS.mag1)).toBe(1300)
  // Traffic still flows through the lowered tunnel.
  await reachable(NS.mn(2), CN)
  // mag2's tunnel (made later) is not touched by mag1's path.
  expect(tunnels(NS.mag2)).toEqual([])
})

async function move(i: number, from: Mag, to: Mag): Promise<void> {
  labMoveL2(LAB, i, to)
  await detach(from, i)
  await attach(to, i, 'same-interface')
}

test('handoff to mag2 keeps the address; the tunnel on mag1 stays for its other MN and goes with the last one', async () => {
  await move(1, 'mag1', 'mag2')
  expect((await registered('mag2', 1)).prefixes).toEqual([hnp1])
  await reachable(NS.mn(1), CN)
  expect(usable(1, hnp1)).toBe(addr1)
  expect(tunnels(NS.mag2)).toEqual([expect.objectContaining({ linkinfo: expect.objectContaining({ info_data: expect.objectContaining({ local: MAG2, remote: LMA }) }) })])
  expect(tunnels(NS.mag1).map((l) => l.ifname)).toEqual(['pmip6t0'])
  // The LMA now has a tunnel to each MAG.
  expect(tunnels(NS.lma).map((l) => l.linkinfo?.info_data?.remote).sort()).toEqual([MAG1, MAG2])
  await move(2, 'mag1', 'mag2')
  await registered('mag2', 2)
  await waitFor('mag1 to remove its tunnel with its last MN', () => tunnels(NS.mag1).length === 0, 20_000, 200)
  expect((await ctl<Status>('mag1', { cmd: 'status' })).dataplane.state).toMatchObject({ tunnels: [], bindings: 0 })
  expect(ipJson<{ iif?: string }>(['-n', NS.mag1, '-6', '-j', 'rule']).filter((x) => x.iif?.startsWith('pmip6t'))).toEqual([])
  await waitFor('the LMA to remove its tunnel to mag1', () => tunnels(NS.lma).length === 1, 20_000, 200)
  expect((await ctl<Status>('mag2', { cmd: 'status' })).dataplane.state).toMatchObject({ tunnels: [{ peer: LMA, users: 2 }] })
  expect(ping(NS.mn(1), CN).received).toBe(3)
  expect(usable(1, hnp1)).toBe(addr1)
})
