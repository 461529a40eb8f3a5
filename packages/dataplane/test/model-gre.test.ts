// The RFC 5845 GRE planners of model.ts and the ip6gre link encoder, without a kernel: one
// ip6gre device and two tables per binding with keys, keys by role (ikey received, okey sent),
// rules ahead of every shared one at the MAG, the GRE table range in checkLayout and cleanup.
import {
  checkLayout,
  describe as describeObj,
  greBindingObjects,
  greDownTable,
  greKeysFor,
  greMtuFor,
  greName,
  grePrefixObjects,
  greUpTable,
  isOurTable,
  prefix4Of,
  prefixOf,
  type GreTarget,
  type Layout,
} from '../src/model'
import { ip6greLinkInfo } from '../src/encode'

const L: Layout = { table: 100, rulePriority: 1000, maxTunnels: 4 }
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const hex = (s: string): string => s.replace(/#.*$/gm, '').replace(/\s+/g, '')
const target = (extra: Partial<GreTarget> = {}): GreTarget => ({ slot: 3, self: MAG, peer: LMA, ikey: 7, okey: 0x01020304, pathMtu: 1500, ipv4: true, ...extra })

describe('GRE planners (RFC 5845 data plane)', () => {
  test('keys by role: the MAG receives with the downlink key and sends with the uplink key; the LMA the reverse', () => {
    expect(greKeysFor('mag', { uplink: 11, downlink: 22 })).toEqual({ ikey: 22, okey: 11 })
    expect(greKeysFor('lma', { uplink: 11, downlink: 22 })).toEqual({ ikey: 11, okey: 22 })
  })

  test('tables: slot g has down table G+2g and up table G+2g+1 (default G 10000); device pmip6g<g>; MTU less 48 bytes, floor 1280', () => {
    expect([greDownTable(L, 0), greUpTable(L, 0), greDownTable(L, 3), greUpTable(L, 3)]).toEqual([10000, 10001, 10006, 10007])
    expect(greDownTable({ ...L, greTable: 5000 }, 1)).toBe(5002)
    expect(greName(3)).toBe('pmip6g3')
    expect(greMtuFor(1500)).toBe(1452)
    expect(greMtuFor(1300)).toBe(1280)
  })

  test('MAG binding: device first, default routes of both families into it in the up table, its decapsulated packets to the down table at P, its floor at P+1', () => {
    expect(greBindingObjects(L, 'mag', target()).map(describeObj)).toEqual([
      `link pmip6g3 ip6gre ${MAG} -> ${LMA} ikey 7 okey 16909060 mtu 1452`,
      'route ::/0 dev pmip6g3 table 10007',
      '-4 route 0.0.0.0/0 dev pmip6g3 table 10007',
      'rule pref 1000 iif pmip6g3 lookup 10006',
      'rule pref 1001 iif pmip6g3 blackhole',
      '-4 rule pref 1000 iif pmip6g3 lookup 10006',
      '-4 rule pref 1001 iif pmip6g3 blackhole',
    ])
    // Without IPv4 in the data plane: IPv6 objects only.
    expect(greBindingObjects(L, 'mag', target({ ipv4: false })).map(describeObj).some((d) => d.startsWith('-4'))).toBe(false)
  })

  test('MAG prefixes: the route on the access link in the binding down table, the source rule into its up table at P+1 (before the shared P+2 rules)', () => {
    expect(grePrefixObjects(L, 'mag', prefix4Of('10.0.0.2'), 'a0', 3).map(describeObj)).toEqual(['-4 route 10.0.0.2/32 dev a0 table 10006', '-4 rule pref 1001 from 10.0.0.2/32 iif a0 lookup 10007'])
    expect(grePrefixObjects(L, 'mag', prefixOf('2001:db8:100:1::/64'), 'a0', 3).map(describeObj)).toEqual([
      'route 2001:db8:100:1::/64 dev a0 table 10006',
      'rule pref 1001 from 2001:db8:100:1::/64 iif a0 lookup 10007',
    ])
  })

  test('two bindings with the same IPv4 address on two links share no object: each has its own device, tables and rules', () => {
    const a = [...greBindingObjects(L, 'mag', target({ slot: 0 })), ...grePrefixObjects(L, 'mag', prefix4Of('10.0.0.2'), 'a0', 0)].map(describeObj)
    const b = [...greBindingObjects(L, 'mag', target({ slot: 1, ikey: 8 })), ...grePrefixObjects(L, 'mag', prefix4Of('10.0.0.2'), 'a1', 1)].map(describeObj)
    expect(a.filter((x) => b.includes(x))).toEqual([])
  })

  test('LMA: the device alone per binding, each prefix routed into it from the up table', () => {
    expect(greBindingObjects(L, 'lma', target({ self: LMA, peer: MAG })).map(describeObj)).toEqual([`link pmip6g3 ip6gre ${LMA} -> ${MAG} ikey 7 okey 16909060 mtu 1452`])
    expect(grePrefixObjects(L, 'lma', prefix4Of('10.0.0.2'), '', 3).map(describeObj)).toEqual(['-4 route 10.0.0.2/32 dev pmip6g3 table 106'])
    expect(grePrefixObjects(L, 'lma', prefixOf('2001:db8:100:1::/64'), '', 3).map(describeObj)).toEqual(['route 2001:db8:100:1::/64 dev pmip6g3 table 106'])
  })

  test('cleanup tables: the shared range and the GRE range, nothing between or past', () => {
    const l = { ...L, greTable: 5000, maxGre: 2 }
    expect([100, 106, 5000, 5003].map((t) => isOurTable(l, t))).toEqual([true, true, true, true])
    expect([99, 107, 254, 4999, 5004].map((t) => isOurTable(l, t))).toEqual([false, false, false, false, false])
  })

  test.each([
    ['a GRE range in the kernel tables', { ...L, greTable: 200 }, 'greTable 200'],
    ['a GRE range past 32 bits', { ...L, greTable: 0xfffffff0, maxGre: 100 }, 'greTable 4294967280'],
    ['no GRE slot', { ...L, maxGre: 0 }, 'maxGre 0'],
  ])('checkLayout rejects %s with a RangeError naming the value', (_what, layout, msg) => {
    expect(() => checkLayout(layout)).toThrow(RangeError)
    expect(() => checkLayout(layout)).toThrow(msg)
  })

  test('ip6greLinkInfo: kind "ip6gre", Key Present on both directions, keys in network byte order, hop limit 64, no encapsulation limit', () => {
    expect(ip6greLinkInfo(MAG, LMA, 7, 0x01020304).toString('hex')).toBe(
      hex(`
        0b00 0100 69703667726500 00                       # IFLA_INFO_KIND "ip6gre\\0", padded
        5c00 0280                                         # IFLA_INFO_DATA | NLA_F_NESTED, 92 bytes
        0600 0200 2000 0000                               # IFLA_GRE_IFLAGS (be16) GRE_KEY
        0600 0300 2000 0000                               # IFLA_GRE_OFLAGS (be16) GRE_KEY
        0800 0400 00000007                                # IFLA_GRE_IKEY (be32) 7
        0800 0500 01020304                                # IFLA_GRE_OKEY (be32)
        1400 0600 20010db8ffff00000000000000000001        # IFLA_GRE_LOCAL
        1400 0700 20010db8ffff00000000000000000002        # IFLA_GRE_REMOTE
        0500 0800 40 000000                               # IFLA_GRE_TTL (u8) 64
        0800 0d00 01000000                                # IFLA_GRE_FLAGS (u32) IP6_TNL_F_IGN_ENCAP_LIMIT`),
    )
  })
})
