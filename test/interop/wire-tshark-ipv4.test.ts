// Interop: PBU/PBA carrying the RFC 5844 IPv4 options and the RFC 5845 GRE Key, encoded by us,
// dissected by Debian's tshark: each option comes out with its fields, with no malformed-packet
// or expert entry. Wireshark names the Reply's status field mip6.ipv4aa.sts (it shares the
// RFC 5555 field) and shows the GRE Key's reserved bits under mip6.ipv4dra.reserved.
import { mh, PBU_FLAGS, PBA_FLAGS, parseIp4, parseIp6, setMhChecksum, type MobilityOption } from '@pmip6/wire'
import { ipv6Packet, pcapFile } from './pcap'
import { dissect, haveTshark, problems, values, type Field } from './tshark'

const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'

function mhPacket(src: string, dst: string, bytes: Buffer): Buffer {
  setMhChecksum(bytes, parseIp6(src), parseIp6(dst))
  return ipv6Packet(src, dst, 135, 64, bytes)
}

const nai: MobilityOption = { type: 'mn-id', subtype: 1, id: Buffer.from('mn4@example.com') }
const packets = [
  // 1: dual-stack PBU asking the LMA to allocate (0.0.0.0) and for a GRE key (T flag, key-less option)
  mhPacket(MAG, LMA, mh.encode({ kind: 'binding-update', sequence: 0x21, flags: { ...PBU_FLAGS, t: true }, lifetime: 3600, options: [nai, { type: 'ipv4-hoa-request', prefixLength: 32, address: parseIp4('0.0.0.0') }, { type: 'gre-key', key: null }] })),
  // 2: PBA assigning 192.0.2.10/24 with its router, server mode, and the MAG's downlink key
  mhPacket(
    LMA,
    MAG,
    mh.encode({
      kind: 'binding-ack',
      status: 0,
      flags: { ...PBA_FLAGS, t: true },
      sequence: 0x21,
      lifetime: 3600,
      options: [
        nai,
        { type: 'ipv4-hoa-reply', status: 0, prefixLength: 24, address: parseIp4('192.0.2.10') },
        { type: 'ipv4-default-router', address: parseIp4('192.0.2.1') },
        { type: 'ipv4-dhcp-support-mode', server: true },
        { type: 'gre-key', key: 0xdeadbeef },
      ],
    }),
  ),
  // 3: handoff PBU asking for the address it holds, prefix 24, with a key
  mhPacket(MAG, LMA, mh.encode({ kind: 'binding-update', sequence: 0x22, flags: { ...PBU_FLAGS, t: true }, lifetime: 3600, options: [nai, { type: 'ipv4-hoa-request', prefixLength: 24, address: parseIp4('192.0.2.10') }, { type: 'gre-key', key: 7 }] })),
  // 4: refusing PBA: 171 with Reply status 132, DHCP relay mode
  mhPacket(
    LMA,
    MAG,
    mh.encode({
      kind: 'binding-ack',
      status: 171,
      flags: PBA_FLAGS,
      sequence: 0x23,
      lifetime: 0,
      options: [nai, { type: 'ipv4-hoa-reply', status: 132, prefixLength: 0, address: parseIp4('0.0.0.0') }, { type: 'ipv4-dhcp-support-mode', server: false }],
    }),
  ),
]

const ci = process.env['CI'] === 'true'
const present = haveTshark()
if (!present && !ci) process.stderr.write('tshark is not installed: IPv4 option interop test skipped (with CI=true this fails)\n')
const maybe = present || ci ? describe : describe.skip

maybe('tshark dissects the RFC 5844 / RFC 5845 options as intended', () => {
  let pk: Field[][] = []
  beforeAll(() => {
    if (!present) throw new Error('tshark is missing: install Debian package tshark')
    pk = dissect(pcapFile(packets))
  })

  test('four packets, none malformed, no expert info', () => {
    expect(pk).toHaveLength(packets.length)
    for (const p of pk) expect(problems(p)).toEqual([])
  })

  test('PBU: IPv4 Home Address Request 0.0.0.0/32 and a key-less GRE Key', () => {
    const f = pk[0]!
    expect(values(f, 'mip6.bu.t_flag')).toEqual(['1'])
    expect(values(f, 'mip6.options.ipv4hareq')).toHaveLength(1)
    expect(values(f, 'mip6.ipv4ha.preflen')).toEqual(['32'])
    expect(values(f, 'mip6.ipv4ha.ha')).toEqual(['0.0.0.0'])
    expect(values(f, 'mip6.options.grek')).toEqual(['21:02:00:00'])
    expect(values(f, 'mip6.gre_key')).toEqual([])
  })

  test('PBA: Reply, Default-Router, DHCP Support Mode (server) and GRE Key', () => {
    const f = pk[1]!
    expect(values(f, 'mip6.ba.t_flag')).toEqual(['1'])
    expect(values(f, 'mip6.options.ipv4harep')).toHaveLength(1)
    expect(values(f, 'mip6.ipv4aa.sts')).toEqual(['0'])
    expect(values(f, 'mip6.ipv4ha.preflen')).toEqual(['24'])
    expect(values(f, 'mip6.ipv4ha.ha')).toEqual(['192.0.2.10'])
    expect(values(f, 'mip6.ipv4dra.dra')).toEqual(['192.0.2.1'])
    expect(values(f, 'mip6.ipv4dsm.s_flag')).toEqual(['1'])
    expect(values(f, 'mip6.gre_key')).toEqual([String(0xdeadbeef)])
  })

  test('handoff PBU: the held address and prefix, a GRE key', () => {
    const f = pk[2]!
    expect(values(f, 'mip6.ipv4ha.preflen')).toEqual(['24'])
    expect(values(f, 'mip6.ipv4ha.ha')).toEqual(['192.0.2.10'])
    expect(values(f, 'mip6.gre_key')).toEqual(['7'])
  })

  test('refusing PBA: status 171, Reply status 132, relay mode', () => {
    const f = pk[3]!
    expect(values(f, 'mip6.ba.status')).toEqual(['171'])
    expect(values(f, 'mip6.ipv4aa.sts')).toEqual(['132'])
    expect(values(f, 'mip6.ipv4dsm.s_flag')).toEqual(['0'])
  })

  test('the checker sees a malformed IPv4 option (so the checks above can fail)', () => {
    const bad = Buffer.from(mh.encode({ kind: 'binding-update', sequence: 1, flags: PBU_FLAGS, lifetime: 3600, options: [{ type: 'ipv4-hoa-request', prefixLength: 32, address: parseIp4('0.0.0.0') }] }))
    bad[13] = 4 // the Request claims 4 bytes instead of 6
    const [f] = dissect(pcapFile([mhPacket(MAG, LMA, bad)]))
    expect(problems(f!).length).toBeGreaterThan(0)
  })
})
