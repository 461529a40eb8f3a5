// Pure unit tests of the data plane's decisions (model.ts, RFC 5213 §6.10 at the MAG, §5.6 at the
// LMA) and of the netlink attribute bytes (encode.ts). No kernel here: kernel.test.ts runs these
// objects against a real one. Golden bytes are written from the Linux uapi headers
// (linux/seg6_iptunnel.h, linux/seg6.h, linux/seg6_local.h, linux/lwtunnel.h, linux/if_link.h,
// linux/ip6_tunnel.h) and were cross-checked against what iproute2 6.1 sends for the same
// command (strace of `ip -6 route add ... encap seg6 mode encap.red segs 2001:db8:ffff::2` and
// `... encap seg6local action End.DT6 table 100`: identical RTA_ENCAP payloads); kernel.test.ts
// repeats that comparison through the kernel on every run.
import {
  FR_ACT_BLACKHOLE,
  LWTUNNEL_ENCAP_SEG6,
  FR_ACT_TO_TBL,
  RTM_NEWRULE,
  routeMsg,
  ruleMsg,
  setNlmsgHeader,
  accessLinkObjects,
  checkLayout,
  decapTable,
  describe as describeObj,
  downTable,
  hostPrefix,
  ip6tnlLinkInfo,
  noLinkLocalAfSpec,
  isOurPriority,
  lmaBaseObjects,
  lmaPrefixObjects,
  localPrefixObjects,
  magPrefixObjects,
  nlattr,
  ourTables,
  peerTable,
  prefixOf,
  RT_TABLE_MAIN,
  seg6DecapObjects,
  seg6EncapRed,
  seg6LocalEndDt6,
  tunnelMtuFor,
  tunnelObjects,
  upTable,
  type KObj,
  type Layout,
  type TunnelTarget,
} from '../src'

const L: Layout = { table: 100, rulePriority: 1000, maxTunnels: 4 }
const HNP = prefixOf('2001:db8:100:1::/64')
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const SEG6: TunnelTarget = { backend: 'seg6', slot: 1, peer: LMA, uplink: 'm0', pathMtu: 1500 }
const IP6TNL: TunnelTarget = { backend: 'ip6tnl', slot: 1, peer: LMA, uplink: 'm0', pathMtu: 1500 }
const DEFAULT = prefixOf('::/0')
/** Hex with `# comments` to the end of a line. */
const hex = (s: string): string => s.replace(/#.*$/gm, '').replace(/\s+/g, '')

describe('layout', () => {
  test('tables: down T, decap T+1, peer i at T+2+i, up at T+2+maxTunnels; ourTables is exactly T..T+maxTunnels+2', () => {
    expect([downTable(L), decapTable(L), peerTable(L, 0), peerTable(L, 3), upTable(L)]).toEqual([100, 101, 102, 105, 106])
    expect(ourTables(L)).toEqual([100, 101, 102, 103, 104, 105, 106])
  })

  test('priorities P..P+4 are ours, nothing else', () => {
    expect([999, 1000, 1004, 1005].map((p) => isOurPriority(L, p))).toEqual([false, true, true, false])
  })

  test('checkLayout accepts the edges: last table 252, last priority 32765', () => {
    expect(() => checkLayout({ table: 186, rulePriority: 1000, maxTunnels: 64 })).not.toThrow() // tables 186..252
    expect(() => checkLayout({ table: 1, rulePriority: 1, maxTunnels: 1 })).not.toThrow()
    expect(() => checkLayout({ table: 100, rulePriority: 32761, maxTunnels: 4 })).not.toThrow() // 32761..32765
  })

  test.each([
    ['table 0', { table: 0, rulePriority: 1000, maxTunnels: 4 }, /table 0/],
    ['fractional table', { table: 1.5, rulePriority: 1000, maxTunnels: 4 }, /table 1.5/],
    ['tables reaching 253 (default)', { table: 187, rulePriority: 1000, maxTunnels: 64 }, /within 1..252/],
    ['tables reaching main/local', { table: 250, rulePriority: 1000, maxTunnels: 4 }, /within 1..252/],
    ['priority 0 (the local rule)', { table: 100, rulePriority: 0, maxTunnels: 4 }, /rulePriority 0/],
    ['fractional priority', { table: 100, rulePriority: 10.5, maxTunnels: 4 }, /rulePriority 10.5/],
    ['priorities reaching 32766 (main)', { table: 100, rulePriority: 32762, maxTunnels: 4 }, /below 32766/],
  ])('checkLayout rejects %s with a RangeError naming the value', (_what, layout, msg) => {
    expect(() => checkLayout(layout)).toThrow(RangeError)
    expect(() => checkLayout(layout)).toThrow(msg)
  })
})

describe('tunnelMtuFor (RFC 5213 §6.9.5, RFC 2473 §6.1)', () => {
  test('path MTU minus the 40-byte outer header, never below the IPv6 minimum 1280', () => {
    expect(tunnelMtuFor(1500)).toBe(1460)
    expect(tunnelMtuFor(9000)).toBe(8960)
    expect(tunnelMtuFor(1320)).toBe(1280)
    expect(tunnelMtuFor(1300)).toBe(1280)
    expect(tunnelMtuFor(1280)).toBe(1280)
  })
})

describe('prefixes', () => {
  test('prefixOf canonicalises the text and masks host bits; hostPrefix is a /128', () => {
    expect(prefixOf('2001:0DB8:0100:0001:0000::/64')).toEqual({ text: '2001:db8:100:1::/64', addr: '2001:db8:100:1::', length: 64, bytes: Buffer.from('20010db8010000010000000000000000', 'hex') })
    expect(prefixOf('2001:db8:100:1::10/64').text).toBe('2001:db8:100:1::/64')
    expect(prefixOf('::/0')).toEqual({ text: '::/0', addr: '::', length: 0, bytes: Buffer.alloc(16) })
    expect(hostPrefix('2001:db8:ffff:0::1')).toEqual({ text: '2001:db8:ffff::1/128', addr: '2001:db8:ffff::1', length: 128, bytes: Buffer.from('20010db8ffff00000000000000000001', 'hex') })
  })
})

describe('magPrefixObjects (§6.10.5)', () => {
  test("'rule': downlink route on the access link, uplink rule `from HNP iif link` at P+3 into the peer's table", () => {
    expect(magPrefixObjects(L, HNP, 'a0', SEG6, false, 'rule')).toEqual([
      { kind: 'route', table: 100, dst: HNP, dev: 'a0' },
      { kind: 'rule', priority: 1003, action: 'lookup', table: 103, src: HNP, iif: 'a0' },
    ])
  })

  test("'rule' is the same for both backends: the peer table holds the tunnel", () => {
    expect(magPrefixObjects(L, HNP, 'a0', IP6TNL, false, 'rule')).toEqual(magPrefixObjects(L, HNP, 'a0', SEG6, false, 'rule'))
  })

  test("'subtree' seg6: no per-MN rule; a source-specific default route in the up table encapsulating towards the LMA", () => {
    expect(magPrefixObjects(L, HNP, 'a0', SEG6, false, 'subtree')).toEqual([
      { kind: 'route', table: 100, dst: HNP, dev: 'a0' },
      { kind: 'route', table: 106, dst: DEFAULT, src: HNP, dev: 'm0', encap: { type: 'seg6-encap-red', to: LMA }, mtu: 1500 },
    ])
  })

  test("'subtree' ip6tnl: the source-specific default goes out of the slot's device", () => {
    expect(magPrefixObjects(L, HNP, 'a0', IP6TNL, false, 'subtree')).toEqual([
      { kind: 'route', table: 100, dst: HNP, dev: 'a0' },
      { kind: 'route', table: 106, dst: DEFAULT, src: HNP, dev: 'pmip6t1' },
    ])
  })

  test('§6.10.3 EnableMAGLocalRouting adds `from HNP iif link lookup down` at P+2, before the tunnel rule', () => {
    for (const select of ['rule', 'subtree'] as const) {
      const objs = magPrefixObjects(L, HNP, 'a0', SEG6, true, select)
      expect(objs).toContainEqual({ kind: 'rule', priority: 1002, action: 'lookup', table: 100, src: HNP, iif: 'a0' })
      expect(objs).toHaveLength(3)
    }
  })

  test('the peer address is canonicalised in the encapsulation', () => {
    const objs = magPrefixObjects(L, HNP, 'a0', { ...SEG6, peer: '2001:0db8:ffff:0:0:0:0:2' }, false, 'subtree')
    expect(objs[1]).toMatchObject({ encap: { type: 'seg6-encap-red', to: LMA } })
  })
})

describe('localPrefixObjects (Scenario B, RFC 6612 §3.3)', () => {
  test('routed natively: down route, `to prefix lookup down` at P+2, `from prefix iif link lookup main` at P+3', () => {
    const p = prefixOf('2001:db8:a1:1::/64')
    expect(localPrefixObjects(L, p, 'a0')).toEqual([
      { kind: 'route', table: 100, dst: p, dev: 'a0' },
      { kind: 'rule', priority: 1002, action: 'lookup', table: 100, dst: p },
      { kind: 'rule', priority: 1003, action: 'lookup', table: RT_TABLE_MAIN, src: p, iif: 'a0' },
    ])
  })
})

describe('lmaPrefixObjects (§5.6.1) and lmaBaseObjects', () => {
  const toMag: TunnelTarget = { backend: 'seg6', slot: 2, peer: MAG, uplink: 'l0', pathMtu: 1500 }
  test('seg6: the HNP route in the up table encapsulates towards the MAG with the path MTU', () => {
    expect(lmaPrefixObjects(L, HNP, toMag)).toEqual([{ kind: 'route', table: 106, dst: HNP, dev: 'l0', encap: { type: 'seg6-encap-red', to: MAG }, mtu: 1500 }])
  })
  test('ip6tnl: the HNP route goes out of the slot device', () => {
    expect(lmaPrefixObjects(L, HNP, { ...toMag, backend: 'ip6tnl' })).toEqual([{ kind: 'route', table: 106, dst: HNP, dev: 'pmip6t2' }])
  })
  test('one rule at P+3 into the up table', () => {
    expect(lmaBaseObjects(L)).toEqual([{ kind: 'rule', priority: 1003, action: 'lookup', table: 106 }])
  })
})

describe('accessLinkObjects (§6.10.5: nothing is forwarded without a binding)', () => {
  test("'rule' (default): only the blackhole at P+4", () => {
    expect(accessLinkObjects(L, 'a0')).toEqual([{ kind: 'rule', priority: 1004, action: 'blackhole', iif: 'a0' }])
    expect(accessLinkObjects(L, 'a0', 'rule')).toEqual(accessLinkObjects(L, 'a0'))
  })
  test("'subtree': the link's one rule into the up table at P+3, then the blackhole", () => {
    expect(accessLinkObjects(L, 'a0', 'subtree')).toEqual([
      { kind: 'rule', priority: 1003, action: 'lookup', table: 106, iif: 'a0' },
      { kind: 'rule', priority: 1004, action: 'blackhole', iif: 'a0' },
    ])
  })
})

describe('seg6DecapObjects', () => {
  test('End.DT6 for our address into the inner table, the two ipproto 41 rules at P, the local rule moved to P+1', () => {
    const me = hostPrefix(MAG)
    expect(seg6DecapObjects(L, '2001:db8:ffff:0::1', 'm0', 100)).toEqual([
      { kind: 'route', table: 101, dst: me, dev: 'm0', encap: { type: 'seg6local-dt6', table: 100 } },
      { kind: 'rule', priority: 1000, action: 'lookup', table: 101, dst: me, ipProto: 41 },
      { kind: 'rule', priority: 1000, action: 'lookup', table: RT_TABLE_MAIN, src: me, ipProto: 41 },
      { kind: 'local-rule', priority: 1001 },
    ])
  })
})

describe('tunnelObjects (§6.10.1)', () => {
  const base = { layout: L, slot: 2, self: MAG, peer: '2001:db8:ffff:0::2', uplink: 'm0', pathMtu: 1500 }
  test('seg6: one default route in the peer table, encap.red towards the peer, route MTU = path MTU (the kernel subtracts the headroom)', () => {
    const want: KObj[] = [{ kind: 'route', table: 104, dst: DEFAULT, dev: 'm0', encap: { type: 'seg6-encap-red', to: LMA }, mtu: 1500 }]
    expect(tunnelObjects({ ...base, backend: 'seg6', role: 'mag' })).toEqual(want)
    expect(tunnelObjects({ ...base, backend: 'seg6', role: 'lma' })).toEqual(want)
  })
  test('§6.10.5 ip6tnl at the MAG: device pmip6t<slot> with MTU path-40, default route through it, `iif dev lookup down` at P+2, `iif dev blackhole` at P+4 (no native forwarding of decapsulated packets)', () => {
    expect(tunnelObjects({ ...base, backend: 'ip6tnl', role: 'mag' })).toEqual([
      { kind: 'link', name: 'pmip6t2', local: MAG, remote: LMA, mtu: 1460 },
      { kind: 'route', table: 104, dst: DEFAULT, dev: 'pmip6t2' },
      { kind: 'rule', priority: 1002, action: 'lookup', table: 100, iif: 'pmip6t2' },
      { kind: 'rule', priority: 1004, action: 'blackhole', iif: 'pmip6t2' },
    ])
  })
  test('ip6tnl at the LMA: no down-table rule; the tunnel MTU is floored at 1280', () => {
    expect(tunnelObjects({ ...base, backend: 'ip6tnl', role: 'lma', pathMtu: 1300 })).toEqual([
      { kind: 'link', name: 'pmip6t2', local: MAG, remote: LMA, mtu: 1280 },
      { kind: 'route', table: 104, dst: DEFAULT, dev: 'pmip6t2' },
    ])
  })
})

describe('describe (error and log texts)', () => {
  test('reads like the iproute2 command', () => {
    const [decapRoute, decapRule, , local] = seg6DecapObjects(L, MAG, 'm0', 100)
    expect(describeObj(decapRoute!)).toBe('route 2001:db8:ffff::1/128 encap seg6local End.DT6 table 100 dev m0 table 101')
    expect(describeObj(decapRule!)).toBe('rule pref 1000 to 2001:db8:ffff::1/128 ipproto 41 lookup 101')
    expect(describeObj(local!)).toBe('rule pref 1001 lookup local (moved from 0)')
    expect(describeObj(accessLinkObjects(L, 'a0')[0]!)).toBe('rule pref 1004 iif a0 blackhole')
    expect(describeObj(magPrefixObjects(L, HNP, 'a0', SEG6, false, 'subtree')[1]!)).toBe('route ::/0 from 2001:db8:100:1::/64 encap seg6 encap.red segs 2001:db8:ffff::2 dev m0 table 106 mtu 1500')
    expect(describeObj({ kind: 'link', name: 'pmip6t0', local: MAG, remote: LMA, mtu: 1460 })).toBe('link pmip6t0 ip6tnl 2001:db8:ffff::1 -> 2001:db8:ffff::2 mtu 1460')
  })
})

/** Netlink attributes of a buffer: linux/netlink.h struct nlattr { __u16 nla_len; __u16 nla_type; }, NLA_ALIGNTO 4. */
function attrs(b: Buffer): { type: number; nested: boolean; payload: Buffer }[] {
  const out: { type: number; nested: boolean; payload: Buffer }[] = []
  let off = 0
  while (off < b.length) {
    const len = b.readUInt16LE(off)
    const type = b.readUInt16LE(off + 2)
    expect(len).toBeGreaterThanOrEqual(4)
    expect(off + len).toBeLessThanOrEqual(b.length)
    out.push({ type: type & 0x3fff, nested: (type & 0x8000) !== 0, payload: b.subarray(off + 4, off + len) })
    off += (len + 3) & ~3
  }
  expect(off).toBe(b.length)
  return out
}

describe('encode.ts golden bytes', () => {
  test('nlattr pads to 4 bytes and counts only the unpadded length; NLA_F_NESTED is 0x8000', () => {
    expect(nlattr(9, Buffer.from([0x29])).toString('hex')).toBe('0500090029000000')
    expect(nlattr(2, Buffer.alloc(0), true).toString('hex')).toBe('04000280')
  })

  test("seg6EncapRed('2001:db8:ffff::2'): SEG6_IPTUNNEL_SRH { int mode = ENCAP_RED; struct ipv6_sr_hdr with one segment } (= iproute2's bytes)", () => {
    const b = seg6EncapRed('2001:db8:ffff::2')
    expect(b.toString('hex')).toBe(
      hex(`
        2000 0100                          # nla_len 32, SEG6_IPTUNNEL_SRH (1)
        03000000                           # mode: SEG6_IPTUN_MODE_ENCAP_RED (3), host-endian int
        00 02 04 00 00 00 0000             # nexthdr 0, hdrlen 2, type 4, segments_left 0, first_segment 0, flags 0, tag 0
        20010db8ffff00000000000000000002   # segments[0]`),
    )
    // Decoded against the uapi layouts, field by field.
    const [a, ...rest] = attrs(b)
    expect(rest).toHaveLength(0)
    expect(a!.type).toBe(1) // SEG6_IPTUNNEL_SRH, linux/seg6_iptunnel.h
    const p = a!.payload
    expect(p.length).toBe(4 + 8 + 16) // sizeof(int) + sizeof(struct ipv6_sr_hdr) + 1 segment
    expect(p.readInt32LE(0)).toBe(3) // SEG6_IPTUN_MODE_ENCAP_RED
    const srh = p.subarray(4)
    expect(srh[0]).toBe(0) // nexthdr
    expect(srh[1]).toBe((srh.length - 8) / 8) // hdrlen: 8-octet units after the first 8
    expect(srh[2]).toBe(4) // IPV6_SRCRT_TYPE_4
    expect(srh[3]).toBe(0) // segments_left
    expect(srh[4]).toBe(0) // first_segment: index of the last entry
    expect(srh[5]).toBe(0) // flags
    expect(srh.readUInt16BE(6)).toBe(0) // tag
    expect(srh.subarray(8).toString('hex')).toBe('20010db8ffff00000000000000000002')
  })

  test('seg6LocalEndDt6(100): SEG6_LOCAL_ACTION = End.DT6 (7), SEG6_LOCAL_TABLE = 100, u32 each (= iproute2 bytes)', () => {
    const b = seg6LocalEndDt6(100)
    expect(b.toString('hex')).toBe(hex('0800 0100 07000000   0800 0300 64000000'))
    const a = attrs(b)
    expect(a.map((x) => [x.type, x.payload.readUInt32LE(0)])).toEqual([
      [1, 7], // SEG6_LOCAL_ACTION, SEG6_LOCAL_ACTION_END_DT6 (linux/seg6_local.h)
      [3, 100], // SEG6_LOCAL_TABLE
    ])
  })

  test('ip6tnlLinkInfo: IFLA_INFO_KIND "ip6tnl", nested IFLA_INFO_DATA with LOCAL, REMOTE, TTL 64, FLAGS IGN_ENCAP_LIMIT, PROTO 41', () => {
    const b = ip6tnlLinkInfo(MAG, LMA)
    expect(b.toString('hex')).toBe(
      hex(`
        0b00 0100 697036746e6c00 00                       # IFLA_INFO_KIND "ip6tnl\\0", padded
        4400 0280                                         # IFLA_INFO_DATA | NLA_F_NESTED, 68 bytes
        1400 0200 20010db8ffff00000000000000000001        # IFLA_IPTUN_LOCAL
        1400 0300 20010db8ffff00000000000000000002        # IFLA_IPTUN_REMOTE
        0500 0400 40 000000                               # IFLA_IPTUN_TTL (u8) 64
        0800 0800 01000000                                # IFLA_IPTUN_FLAGS (u32) IP6_TNL_F_IGN_ENCAP_LIMIT
        0500 0900 29 000000                               # IFLA_IPTUN_PROTO (u8) IPPROTO_IPV6`),
    )
    const [kind, data] = attrs(b)
    expect(kind!.type).toBe(1)
    expect(kind!.payload.toString('latin1')).toBe('ip6tnl\0')
    expect(data!.type).toBe(2)
    expect(data!.nested).toBe(true)
    const inner = new Map(attrs(data!.payload).map((x) => [x.type, x.payload]))
    expect(inner.get(2)!.toString('hex')).toBe('20010db8ffff00000000000000000001')
    expect(inner.get(3)!.toString('hex')).toBe('20010db8ffff00000000000000000002')
    expect(inner.get(4)![0]).toBe(64)
    expect(inner.get(8)!.readUInt32LE(0)).toBe(0x1)
    expect(inner.get(9)![0]).toBe(41)
    expect(ip6tnlLinkInfo(MAG, LMA, 255).subarray(12 + 4 + 40 + 4, 12 + 4 + 40 + 5)[0]).toBe(255)
  })

  test('noLinkLocalAfSpec: IFLA_AF_SPEC entry AF_INET6 holding IFLA_INET6_ADDR_GEN_MODE (u8) IN6_ADDR_GEN_MODE_NONE', () => {
    const m = noLinkLocalAfSpec()
    expect([...m.keys()]).toEqual([10]) // AF_INET6 (linux/socket.h)
    expect(m.get(10)!.toString('hex')).toBe(hex(`0500 0800 01 000000  # IFLA_INET6_ADDR_GEN_MODE (linux/if_link.h) = 1, padded`))
  })
})

describe('rule and route messages (the batched hot path)', () => {
  /** Walks the attributes after the 16-byte netlink header and the 12-byte family header. */
  function attrs(msg: Buffer): Map<number, Buffer> {
    const m = new Map<number, Buffer>()
    let off = 16 + 12
    while (off + 4 <= msg.length) {
      const len = msg.readUInt16LE(off)
      expect(len).toBeGreaterThanOrEqual(4)
      m.set(msg.readUInt16LE(off + 2) & 0x3fff, msg.subarray(off + 4, off + len))
      off += (len + 3) & ~3
    }
    expect(off).toBe(msg.length) // every attribute padded to 4 bytes, nothing trailing
    return m
  }

  test('ruleMsg: fib_rule_hdr (family, lengths, action) and FRA_PRIORITY/TABLE/SRC/IIFNAME/PROTOCOL', () => {
    const p = prefixOf('2001:db8:100:1::/64')
    const msg = ruleMsg({ priority: 1003, action: 'lookup', table: 102, src: { bytes: p.bytes!, length: 64 }, iif: 'mn1', protocol: 158 })
    expect([...msg.subarray(16, 28)]).toEqual([10, 0, 64, 0, 0, 0, 0, FR_ACT_TO_TBL, 0, 0, 0, 0])
    const a = attrs(msg)
    expect(a.get(6)!.readUInt32LE(0)).toBe(1003)
    expect(a.get(15)!.readUInt32LE(0)).toBe(102)
    expect(a.get(2)).toEqual(p.bytes)
    expect(a.get(3)!.toString('latin1')).toBe('mn1\0')
    expect([...a.get(21)!]).toEqual([158])
    const bh = ruleMsg({ priority: 1004, action: 'blackhole', iif: 'mn1' })
    expect(bh[16 + 7]).toBe(FR_ACT_BLACKHOLE)
    expect(attrs(bh).has(15)).toBe(false)
  })

  test('routeMsg: rtmsg (family, lengths, protocol, scope, type) and RTA_TABLE/DST/SRC/OIF/ENCAP/METRICS', () => {
    const dflt = prefixOf('::/0')
    const src = prefixOf('2001:db8:100:1::/64')
    const msg = routeMsg({ table: 166, dst: { bytes: dflt.bytes!, length: 0 }, src: { bytes: src.bytes!, length: 64 }, oif: 7, protocol: 158, encap: { type: LWTUNNEL_ENCAP_SEG6, data: seg6EncapRed('2001:db8:ffff::2') }, mtu: 1500 })
    expect([...msg.subarray(16, 28)]).toEqual([10, 0, 64, 0, 0, 158, 0, 1, 0, 0, 0, 0])
    const a = attrs(msg)
    expect(a.get(15)!.readUInt32LE(0)).toBe(166)
    expect(a.has(1)).toBe(false) // ::/0 has no RTA_DST
    expect(a.get(2)).toEqual(src.bytes)
    expect(a.get(4)!.readUInt32LE(0)).toBe(7)
    expect(a.get(21)!.readUInt16LE(0)).toBe(LWTUNNEL_ENCAP_SEG6)
    expect(a.get(22)).toEqual(seg6EncapRed('2001:db8:ffff::2'))
    expect([...a.get(8)!]).toEqual([8, 0, 2, 0, 0xdc, 0x05, 0, 0]) // RTAX_MTU 1500
  })

  test('setNlmsgHeader fills length, type, flags, sequence and port', () => {
    const msg = ruleMsg({ priority: 1, action: 'blackhole' })
    setNlmsgHeader(msg, RTM_NEWRULE, 0x605, 42, 4711)
    expect(msg.readUInt32LE(0)).toBe(msg.length)
    expect([msg.readUInt16LE(4), msg.readUInt16LE(6), msg.readUInt32LE(8), msg.readUInt32LE(12)]).toEqual([RTM_NEWRULE, 0x605, 42, 4711])
  })
})
