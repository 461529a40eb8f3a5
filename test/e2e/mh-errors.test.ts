// Issue 17 item 4 in the netns lab: RFC 6275 §9.2 (required by RFC 5213 §6.9.1.2 item 2). The
// LMA sends the MAG an unknown MH type, an MH with a bad Payload Proto and one whose Header
// Len is too small for its type; tshark on the MAG's transport link sees a Binding Error with
// status 2 and ICMPv6 Parameter Problems (code 0) pointing at the fields. The same packets from
// a host that is not an LMA of ours, or from an MN's access link, get no answer at all, and a
// burst is answered only as far as the RFC 4443 §2.4 token bucket allows. The packets are
// built in Python from raw bytes (fixtures/forge-mh.py).
import { spawnSync } from 'node:child_process'
import { Capture, describeLab, labName, waitFor, type Packet, labUp, LAB_HOOK_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS, labStatus } from './lab-harness'
import { ERROR_BUCKET_SIZE, ERROR_RATE_PER_S } from '../../packages/agent/src/ingress'
import { join } from 'node:path'

const LAB = labName('e17e')
const NS = { lma: `${LAB}-lma`, mag1: `${LAB}-mag1`, mn1: `${LAB}-mn1`, cn: `${LAB}-cn` }
const MAG1 = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const CN = '2001:db8:cccc::2'
const MN_MAC = '02:00:00:00:01:01'
const MAG_MAC = '02:00:00:00:00:fe'
const FORGE = join(__dirname, 'fixtures/forge-mh.py')

// MH type 42 (unassigned), 16 octets.
const UNKNOWN_TYPE = '3b012a0000000000' + '0000000000000000'
// A Heartbeat whose Payload Proto is 6 instead of 59 (RFC 6275 §6.1.1).
const BAD_PROTO = '06010d0000000000' + '0000000100000000'
// A Binding Acknowledgement of 8 octets: Header Len 0, the type needs at least 1.
const SHORT_BA = '3b00060000000000'
const MALFORMED = [UNKNOWN_TYPE, BAD_PROTO, SHORT_BA]

const counters = async (): Promise<Record<string, number>> => (await labStatus(LAB)).counters

function forge(ns: string, args: string[]): number {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'python3', FORGE, ...args], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`forge-mh.py ${args[0]}: ${r.stderr}`)
  return Number(r.stdout.trim())
}

/** Waits until `key` has risen by `by` since `before` (bounded). */
const risen = (before: Record<string, number>, key: string, by: number) =>
  waitFor(`${key} +${by}`, async () => {
    const c = await counters()
    return (c[key] ?? 0) - (before[key] ?? 0) >= by ? c : null
  }, 20_000, 100)

const fromMag = (ps: Packet[]) => ps.filter((p) => p.v('ipv6.src') === MAG1)

describeLab('issue 17 item 4: RFC 6275 §9.2 Binding Error and Parameter Problem', () => {
  jest.setTimeout(300_000) // tshark alone takes 10+ s to start on a loaded machine

  beforeAll(() => {
    labUp(LAB, ['--mns', '1'])
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('§9.2 from the LMA: unknown type -> Binding Error status 2; bad Payload Proto / short Header Len -> Parameter Problem code 0 at octet 40 / 41', async () => {
    const cap = await Capture.startSynced(NS.mag1, 'up0', 'ip6 proto 135 or (icmp6 and ip6[40] == 4)')
    try {
      const before = await counters()
      for (const hex of MALFORMED) expect(forge(NS.lma, ['raw-l3', LMA, MAG1, hex])).toBe(1)
      await risen(before, 'mh.tx.binding-error', 1)
      await risen(before, 'icmp6.tx.parameter-problem', 2)
      const out = fromMag(await cap.stopSynced())
      const be = out.filter((p) => p.v('mip6.mhtype') === '7')
      expect(be).toHaveLength(1)
      expect(be[0]!.v('ipv6.dst')).toBe(LMA)
      expect(be[0]!.v('mip6.be.status')).toBe('2')
      expect(be[0]!.v('mip6.be.haddr')).toBe('::')
      const pp = out.filter((p) => p.v('icmpv6.type') === '4')
      expect(pp.map((p) => [p.v('ipv6.dst'), p.v('icmpv6.code'), p.v('icmpv6.pointer')])).toEqual([
        [LMA, '0', '40'],
        [LMA, '0', '41'],
      ])
      // tshark reads the invoking packet inside: from the LMA to us, the MH as it came.
      expect(pp[0]!.all('ipv6.src')).toEqual([MAG1, LMA])
      expect(pp[0]!.all('mip6.proto')).toEqual(['6'])
      expect(pp[1]!.all('mip6.hlen')).toEqual(['0'])
      for (const p of pp) expect(p.v('icmpv6.checksum.status')).toBe('1')
    } finally {
      cap.kill()
    }
  })

  test('no answer to a host that is not an LMA of ours, nor to an MN on its access link claiming the LMA address', async () => {
    const caps = [await Capture.startSynced(NS.mag1, 'up0', 'ip6 proto 135 or (icmp6 and ip6[40] == 4)'), await Capture.startSynced(NS.mag1, 'mn1', 'ip6 proto 135 or (icmp6 and ip6[40] == 4)')]
    try {
      const before = await counters()
      for (const hex of MALFORMED) {
        expect(forge(NS.cn, ['raw-l3', CN, MAG1, hex])).toBe(1)
        expect(forge(NS.mn1, ['ip6-l2', 'eth0', MN_MAC, MAG_MAC, LMA, MAG1, '135', '64', hex])).toBe(1)
      }
      const c = await risen(before, 'mh.rx.dropped', 6)
      expect((c['mh.rx.dropped.unknown-peer'] ?? 0) - (before['mh.rx.dropped.unknown-peer'] ?? 0)).toBe(3)
      expect((c['mh.rx.dropped.access-link'] ?? 0) - (before['mh.rx.dropped.access-link'] ?? 0)).toBe(3)
      const [up, acc] = [await caps[0]!.stopSynced(), await caps[1]!.stopSynced()]
      // The six arrived (tshark saw them), and nothing left the MAG in answer.
      expect(up.filter((p) => p.v('ipv6.src') === CN)).toHaveLength(3)
      expect(acc.filter((p) => p.v('ipv6.src') === LMA)).toHaveLength(3)
      expect(fromMag(up)).toEqual([])
      expect(fromMag(acc)).toEqual([])
      const after = await counters()
      expect(after['mh.tx.binding-error'] ?? 0).toBe(before['mh.tx.binding-error'] ?? 0)
      expect(after['icmp6.tx.parameter-problem'] ?? 0).toBe(before['icmp6.tx.parameter-problem'] ?? 0)
    } finally {
      for (const c of caps) c.kill()
    }
  })

  test('RFC 4443 §2.4 (f): a burst of 100 unknown types from the LMA is answered at most ERROR_BUCKET_SIZE + ERROR_RATE_PER_S per second', async () => {
    const cap = await Capture.startSynced(NS.mag1, 'up0', `ip6 proto 135 and src host ${MAG1}`)
    try {
      const before = await counters()
      const t0 = Date.now()
      expect(forge(NS.lma, ['raw-l3', LMA, MAG1, UNKNOWN_TYPE, '100'])).toBe(100)
      const c = await risen(before, 'mh.drop.unexpected-other', 100)
      const elapsedS = (Date.now() - t0) / 1000
      const d = (k: string): number => (c[k] ?? 0) - (before[k] ?? 0)
      expect(d('mh.tx.binding-error') + d('mh.errors.rate-limited')).toBe(100)
      expect(d('mh.tx.binding-error')).toBeGreaterThanOrEqual(1)
      expect(d('mh.tx.binding-error')).toBeLessThanOrEqual(ERROR_BUCKET_SIZE + Math.ceil(ERROR_RATE_PER_S * elapsedS))
      expect(d('mh.errors.rate-limited')).toBeGreaterThan(0)
      const be = (await cap.stopSynced()).filter((p) => p.v('mip6.mhtype') === '7')
      expect(be).toHaveLength(d('mh.tx.binding-error'))
    } finally {
      cap.kill()
    }
  })
})
