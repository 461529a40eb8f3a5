// The RFC 5844 IPv4 planners of model.ts, without a kernel: which objects an IPv4 home address
// needs at the MAG and the LMA, the per-peer IPv4 route and ip6tnl `mode any`, End.DX4 decap.
import { describe as describeObj, magIpv4Objects, lmaIpv4Objects, prefix4Of, seg6Decap4Objects, tunnelObjects, type Layout, type TunnelTarget } from '../src/model'
import { routeMsg, ruleMsg, seg6LocalEndDx4, ip6tnlLinkInfo, IP6TNL_PROTO_ANY } from '../src/encode'

const L: Layout = { table: 100, rulePriority: 1000, maxTunnels: 4 }
const T: TunnelTarget = { backend: 'seg6', slot: 1, peer: '2001:db8:ffff::2', uplink: 'm0', pathMtu: 1500 }

describe('IPv4 planners (RFC 5844 data plane)', () => {
  test('prefix4Of: addresses are /32, host bits cleared, bad text refused', () => {
    expect(prefix4Of('192.0.2.2')).toMatchObject({ text: '192.0.2.2/32', length: 32, family: 4 })
    expect(prefix4Of('192.0.2.77/24').text).toBe('192.0.2.0/24')
    expect(() => prefix4Of('192.0.2.2/33')).toThrow(RangeError)
    expect(() => prefix4Of('2001:db8::1')).toThrow()
  })

  test('MAG: access route, `to HoA` down rule, `from HoA iif link` into the peer table', () => {
    expect(magIpv4Objects(L, prefix4Of('192.0.2.2'), 'a0', T).map(describeObj)).toEqual([
      '-4 route 192.0.2.2/32 dev a0 table 100',
      '-4 rule pref 1002 to 192.0.2.2/32 lookup 100',
      '-4 rule pref 1003 from 192.0.2.2/32 iif a0 lookup 103',
    ])
  })

  test('LMA: the HoA into the tunnel in the up table', () => {
    expect(lmaIpv4Objects(L, prefix4Of('192.0.2.2'), T).map(describeObj)).toEqual(['-4 route 192.0.2.2/32 encap seg6 encap.red segs 2001:db8:ffff::2 dev m0 table 106 mtu 1500'])
  })

  test('tunnels: an IPv4 default route per peer; ip6tnl becomes mode any with IPv4 rules at the MAG', () => {
    const base = { layout: L, role: 'mag' as const, slot: 0, self: '2001:db8:ffff::1', peer: '2001:db8:ffff::2', uplink: 'm0', pathMtu: 1500 }
    expect(tunnelObjects({ ...base, backend: 'seg6', ipv4: true }).map(describeObj)).toContain('-4 route 0.0.0.0/0 encap seg6 encap.red segs 2001:db8:ffff::2 dev m0 table 102 mtu 1500')
    expect(tunnelObjects({ ...base, backend: 'seg6' }).map(describeObj).some((d) => d.startsWith('-4'))).toBe(false)
    const t = tunnelObjects({ ...base, backend: 'ip6tnl', ipv4: true }).map(describeObj)
    expect(t).toEqual(expect.arrayContaining(['link pmip6t0 ip6tnl mode any 2001:db8:ffff::1 -> 2001:db8:ffff::2 mtu 1460', '-4 route 0.0.0.0/0 dev pmip6t0 table 102', '-4 rule pref 1002 iif pmip6t0 lookup 100', '-4 rule pref 1004 iif pmip6t0 blackhole']))
  })

  test('seg6 decap: End.DX4 for next header 4, told apart from 41 by its rule', () => {
    expect(seg6Decap4Objects(L, '2001:db8:ffff::1', 'm0').map(describeObj)).toEqual([
      'route 2001:db8:ffff::1/128 encap seg6local End.DX4 nh4 0.0.0.0 dev m0 table 100',
      'rule pref 1000 to 2001:db8:ffff::1/128 ipproto 4 lookup 100',
      'rule pref 1000 from 2001:db8:ffff::1/128 ipproto 4 lookup 254',
    ])
  })

  test('encoders: AF_INET rules and routes, End.DX4 with a zero nh4, ip6tnl proto 0', () => {
    const r = ruleMsg({ family: 4, priority: 1002, action: 'lookup', table: 100, dst: { bytes: Buffer.from([192, 0, 2, 2]), length: 32 } })
    expect(r[16]).toBe(2) // AF_INET
    expect(r[17]).toBe(32)
    const rt = routeMsg({ family: 4, table: 100, dst: { bytes: Buffer.from([192, 0, 2, 2]), length: 32 }, oif: 3, protocol: 158 })
    expect(rt[16]).toBe(2)
    // SEG6_LOCAL_ACTION(1) = END_DX4(6), SEG6_LOCAL_NH4(4) = 0.0.0.0
    expect(seg6LocalEndDx4().toString('hex')).toBe('08000100' + '06000000' + '08000400' + '00000000')
    expect(ip6tnlLinkInfo('2001:db8::1', '2001:db8::2', 64, IP6TNL_PROTO_ANY).toString('hex')).toContain('0500090000')
  })
})
