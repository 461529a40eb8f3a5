// The two-LMA GRE lab (`mag lab up --lmas 2 --gre-keys`) through the real agent and the real lab
// LMAs, in a kernel that has ip6_gre (User-Mode Linux; this machine's kernel has no GRE, and
// gre.ktest.ts drives the data plane directly). Two MNs behind mag1: mn1 served by lma, mn2 by
// lma2, both LMAs handing out IPv4 home addresses from 192.0.2.0/24, so both MNs hold THE SAME
// address 192.0.2.2 (RFC 5845: private pools of two LMAs told apart by GRE keys). Each MN's
// unmodified busybox udhcpc gets it from mag1's DHCPv4 server on its own access link; each pings
// the CN behind its own LMA (203.0.113.2 on both sides: two separate networks); tshark on mag1's
// transport link reads each packet's GRE key (gre.key), and each LMA's ip6gre device counts
// only its own MN's packets. Detach leaves no GRE device at either end.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@pmip6/agent'
import { writeUdhcpcScript } from '../../packages/cli/src/lab/demo'
import { labDown, labStatus, labUp, readState } from '../../packages/cli/src/lab/lab'
import { Capture, endLab, ipJson, nsExec, pingEach, waitFor } from './helpers'

const LAB = 'ktg'
const NS = { lma: `${LAB}-lma`, lma2: `${LAB}-lma2`, mag1: `${LAB}-mag1`, mn1: `${LAB}-mn1`, mn2: `${LAB}-mn2` }
const MAG1 = '2001:db8:ffff::1'
const LMA = { lma: '2001:db8:ffff::2', lma2: '2001:db8:ffff::4' }
const CN4 = '203.0.113.2'
const ROUTER4 = '192.0.2.1'
const mnId = (i: number) => `mn${i}@example.com`
const mnMac = (i: number) => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`
/** The lab LMA's timestamp window, widened for a busy single-CPU guest (see ip6tnl-lab.ktest.ts). */
const TIMESTAMP_WINDOW_MS = 10_000
/** A control-socket answer from a daemon in a busy single-CPU guest: bounded, generously. */
const CONTROL_TIMEOUT_MS = 30_000

interface View {
  mnId: string
  state: string
  lma: string
  ipv4Address: string | null
  ipv4Router: string | null
  greKeys: { uplink: number; downlink: number } | null
}
interface LinkStats {
  ifname: string
  linkinfo?: { info_kind?: string; info_data?: { ikey?: string; okey?: string; local?: string; remote?: string } }
  stats64?: { rx: { packets: number }; tx: { packets: number } }
}

jest.setTimeout(600_000)

const dir = mkdtempSync(join(tmpdir(), 'kt-gre-lab-'))
const script = join(dir, 'udhcpc.sh')
const sock = () => readState(LAB).sockets['mag1']!
const bindings = async () => (await controlRequest(sock(), { cmd: 'bindings' }, CONTROL_TIMEOUT_MS)) as View[]
/** Our ip6gre devices in a namespace, with their parameters and counters. */
const greLinks = (ns: string): LinkStats[] => ipJson<LinkStats>(['-n', ns, '-d', '-s', '-j', 'link', 'show']).filter((l) => l.ifname.startsWith('pmip6g'))
/** iproute2 shows a GRE key as a dotted quad. */
const dotted = (k: number): string => [24, 16, 8, 0].map((s) => (k >>> s) & 0xff).join('.')
const permanentNeighbours = (ns: string) => ipJson<{ dst: string; dev: string; state?: string[] }>(['-n', ns, '-4', '-j', 'neigh', 'show']).filter((n) => (n.state ?? []).includes('PERMANENT'))
/** MN i's IPv4 address on eth0 ("192.0.2.2/24"), or null. */
function mnIpv4(i: number): string | null {
  const r = nsExec(`${LAB}-mn${i}`, ['ip', '-4', '-j', 'addr', 'show', 'dev', 'eth0'])
  const a = (JSON.parse(r.out || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[])[0]?.addr_info?.[0]
  return a ? `${a.local}/${a.prefixlen}` : null
}

const views: Record<1 | 2, View | null> = { 1: null, 2: null }

beforeAll(async () => {
  // udhcpc hands what it got to a script; the demo's configures the MN as Debian's would.
  writeUdhcpcScript(script)
  await labDown(LAB, { quiet: true })
  await labUp({
    name: LAB,
    mns: 2,
    lmas: 2,
    greKeys: true,
    quiet: true,
    startTimeoutMs: 120_000,
    magConfig: { dataplane: { backend: 'ip6tnl' } },
    lmaConfig: { dataplane: { backend: 'ip6tnl' }, timestampWindowMs: TIMESTAMP_WINDOW_MS },
  })
}, 1_200_000)

afterAll(() => endLab('gre-lab', LAB, dir))

test('`mag lab status` names both LMAs, their shared IPv4 pool, GRE keys on, and which LMA serves each MN', () => {
  const s = labStatus(LAB) as { lmas: number; greKeys: boolean; nodes: Record<string, Record<string, unknown>> }
  expect(s).toMatchObject({ lmas: 2, greKeys: true })
  expect(s.nodes['lma']).toMatchObject({ address: LMA.lma, ipv4Pool: '192.0.2.0/24', ipv4Router: ROUTER4, greKeys: true, running: true, cn: 'cn' })
  expect(s.nodes['lma2']).toMatchObject({ address: LMA.lma2, ipv4Pool: '192.0.2.0/24', ipv4Router: ROUTER4, greKeys: true, running: true, cn: 'cn2' })
  expect(s.nodes['cn2']).toMatchObject({ ipv4Address: CN4, lma: 'lma2' })
  expect([s.nodes['mn1']?.['lma'], s.nodes['mn2']?.['lma']]).toEqual(['lma', 'lma2'])
})

test('RFC 5845: mn1 (lma) and mn2 (lma2) register at mag1 with GRE keys and get the same IPv4 home address; one ip6gre device each, keyed as negotiated', async () => {
  for (const i of [1, 2]) await controlRequest(sock(), { cmd: 'attach', mn: mnId(i), link: `mn${i}`, mac: mnMac(i), att: 'wifi', hint: 'new' }, CONTROL_TIMEOUT_MS)
  for (const i of [1, 2] as const) {
    views[i] = await waitFor(`mn${i} registered with an IPv4 home address and GRE keys`, async () => (await bindings()).find((b) => b.mnId === mnId(i) && b.state === 'registered' && b.ipv4Address !== null && b.greKeys !== null) ?? null, 120_000, 250)
  }
  const [v1, v2] = [views[1]!, views[2]!]
  expect([v1.lma, v2.lma]).toEqual([LMA.lma, LMA.lma2])
  // Each LMA gave the first address of its own pool: the two MNs share it.
  expect(v1.ipv4Address).toBe('192.0.2.2/24')
  expect(v2.ipv4Address).toBe(v1.ipv4Address)
  expect([v1.ipv4Router, v2.ipv4Router]).toEqual([ROUTER4, ROUTER4])
  // The MAG's downlink keys are its own, unique on it; each LMA chose its uplink key.
  expect(v1.greKeys!.downlink).not.toBe(v2.greKeys!.downlink)
  const mag = greLinks(NS.mag1)
  expect(mag).toHaveLength(2)
  for (const [v, lma] of [
    [v1, LMA.lma],
    [v2, LMA.lma2],
  ] as const) {
    expect(mag.filter((l) => l.linkinfo?.info_data?.remote === lma).map((l) => ({ kind: l.linkinfo?.info_kind, ikey: l.linkinfo?.info_data?.ikey, okey: l.linkinfo?.info_data?.okey }))).toEqual([{ kind: 'ip6gre', ikey: dotted(v.greKeys!.downlink), okey: dotted(v.greKeys!.uplink) }])
  }
  // Each LMA holds one device, for its own MN only, keys the other way round.
  expect(greLinks(NS.lma).map((l) => [l.linkinfo?.info_data?.ikey, l.linkinfo?.info_data?.okey, l.linkinfo?.info_data?.remote])).toEqual([[dotted(v1.greKeys!.uplink), dotted(v1.greKeys!.downlink), MAG1]])
  expect(greLinks(NS.lma2).map((l) => [l.linkinfo?.info_data?.ikey, l.linkinfo?.info_data?.okey, l.linkinfo?.info_data?.remote])).toEqual([[dotted(v2.greKeys!.uplink), dotted(v2.greKeys!.downlink), MAG1]])
})

test("RFC 5844 §3.4: each MN's own udhcpc gets the shared address and router from mag1, on its own access link", async () => {
  expect(views[1] && views[2]).toBeTruthy()
  const hoa = views[1]!.ipv4Address!.split('/')[0]!
  // The DHCPv4 server has both leases once their neighbour entries are in place (one per link).
  await waitFor("mag1's DHCPv4 leases for mn1 and mn2", () => {
    const n = permanentNeighbours(NS.mag1).filter((x) => x.dst === hoa)
    return n.some((x) => x.dev === 'mn1') && n.some((x) => x.dev === 'mn2')
  }, 60_000, 250)
  for (const i of [1, 2]) {
    // An unmodified client, asked again until it binds (each try is bounded by udhcpc's own -t/-T).
    await waitFor(`mn${i}'s udhcpc to bind`, () => nsExec(`${LAB}-mn${i}`, ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-A', '1', '-s', script], 60_000).code === 0, 180_000, 500)
    expect(mnIpv4(i)).toBe(views[1]!.ipv4Address)
    expect(ipJson<{ dst: string; gateway?: string }>(['-n', `${LAB}-mn${i}`, '-4', '-j', 'route', 'show', 'default'])).toEqual([expect.objectContaining({ gateway: ROUTER4 })])
  }
})

test("each MN pings the CN behind its own LMA: tshark on mag1's transport link reads each MN's GRE keys, each LMA's device counts only its own MN's packets", async () => {
  expect(mnIpv4(1) !== null && mnIpv4(2) !== null).toBe(true)
  const [k1, k2] = [views[1]!.greKeys!, views[2]!.greKeys!]
  const hoa = views[1]!.ipv4Address!.split('/')[0]!
  // ARP at both ends first, then counted pings.
  for (const i of [1, 2]) await waitFor(`mn${i} reaches its CN`, () => pingEach(`${LAB}-mn${i}`, CN4, 1, 5).received === 1, 120_000, 200)
  const rx = (ns: string): number => greLinks(ns)[0]!.stats64!.rx.packets
  const tx = (ns: string): number => greLinks(ns)[0]!.stats64!.tx.packets
  const cap = await Capture.startSynced(NS.mag1, 'up0', 'ip6 proto 47')
  // One MN at a time: while mn1 pings, lma2's device sees nothing, and the other way round.
  const c0 = { rx1: rx(NS.lma), tx1: tx(NS.lma), rx2: rx(NS.lma2), tx2: tx(NS.lma2) }
  const p1 = pingEach(NS.mn1, CN4, 4)
  const c1 = { rx1: rx(NS.lma), tx1: tx(NS.lma), rx2: rx(NS.lma2), tx2: tx(NS.lma2) }
  const p2 = pingEach(NS.mn2, CN4, 3)
  const c2 = { rx1: rx(NS.lma), tx1: tx(NS.lma), rx2: rx(NS.lma2), tx2: tx(NS.lma2) }
  const pkts = await cap.stopSynced()
  expect(p1).toEqual({ sent: 4, received: 4 })
  expect(p2).toEqual({ sent: 3, received: 3 })
  expect({ rx1: c1.rx1 - c0.rx1, tx1: c1.tx1 - c0.tx1, rx2: c1.rx2 - c0.rx2, tx2: c1.tx2 - c0.tx2 }).toEqual({ rx1: 4, tx1: 4, rx2: 0, tx2: 0 })
  expect({ rx1: c2.rx1 - c1.rx1, tx1: c2.tx1 - c1.tx1, rx2: c2.rx2 - c1.rx2, tx2: c2.tx2 - c1.tx2 }).toEqual({ rx1: 0, tx1: 0, rx2: 3, tx2: 3 })

  // On the wire: GRE over IPv6 (next header 47) with a key; the inner packets of both MNs are
  // alike (192.0.2.2 <-> 203.0.113.2): the outer addresses and the key tell them apart.
  const seen = pkts.map((p) => ({ src: p.all('ipv6.src')[0], dst: p.all('ipv6.dst')[0], nxt: p.all('ipv6.nxt')[0], key: Number(p.v('gre.key')), inner: [p.v('ip.src'), p.v('ip.dst')], icmp: p.v('icmp.type') }))
  const count = (src: string, dst: string, key: number, icmp: string): number => seen.filter((s) => s.src === src && s.dst === dst && s.key === key && s.icmp === icmp).length
  expect(count(MAG1, LMA.lma, k1.uplink, '8')).toBe(4)
  expect(count(LMA.lma, MAG1, k1.downlink, '0')).toBe(4)
  expect(count(MAG1, LMA.lma2, k2.uplink, '8')).toBe(3)
  expect(count(LMA.lma2, MAG1, k2.downlink, '0')).toBe(3)
  for (const s of seen) {
    expect(s.nxt).toBe('47')
    expect(s.inner).toEqual(s.icmp === '8' ? [hoa, CN4] : [CN4, hoa])
  }
  expect(seen).toHaveLength(14)
})

test('detach: both bindings go, and with them every ip6gre device at mag1 and at both LMAs', async () => {
  for (const i of [1, 2]) await controlRequest(sock(), { cmd: 'detach', mn: mnId(i) }, CONTROL_TIMEOUT_MS)
  await waitFor('both MNs gone from mag1', async () => !(await bindings()).some((b) => b.mnId === mnId(1) || b.mnId === mnId(2)), 60_000, 250)
  await waitFor('the GRE devices to go at every end', () => greLinks(NS.mag1).length + greLinks(NS.lma).length + greLinks(NS.lma2).length === 0, 60_000, 250)
  expect(pingEach(NS.mn1, CN4, 1, 2).received).toBe(0)
})
