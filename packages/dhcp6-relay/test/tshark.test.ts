// Interop: our Relay-forward and Relay-reply, in UDP over IPv6 in a pcap, dissected by Debian's
// tshark (an independent decoder): every field must come out as intended, with no
// malformed-packet or expert entry. With CI=true a missing tshark is a failure.
import { parseIp6, pseudoHeaderChecksum } from '@pmip6/wire'
import { ipv6Packet, pcapFile } from '../../../test/interop/pcap'
import { dissect, haveTshark, problems, values } from '../../../test/interop/tshark'
import { RelayLogic, dhcp6, DHCP6_SERVER_PORT, DHCP6_CLIENT_PORT } from '../src'
import { ADVERTISE, SOLICIT } from './vectors'

const MAG = '2001:db8:ffff::1'
const SERVER = '2001:db8:ffff::2'
const CLIENT = 'fe80::211:22ff:fe33:4455'

function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const u = Buffer.alloc(8 + payload.length)
  u.writeUInt16BE(sport, 0)
  u.writeUInt16BE(dport, 2)
  u.writeUInt16BE(u.length, 4)
  payload.copy(u, 8)
  const sum = pseudoHeaderChecksum(parseIp6(src), parseIp6(dst), 17, u)
  u.writeUInt16BE(sum === 0 ? 0xffff : sum, 6)
  return ipv6Packet(src, dst, 17, 64, u)
}

const run = haveTshark() ? test : process.env['CI'] === 'true' ? test : test.skip

run('tshark dissects the relay logic output as RFC 8415 Relay-forward / Relay-reply', () => {
  if (!haveTshark()) throw new Error('tshark is missing; CI=true, so this is a failure, not a skip')
  const logic = new RelayLogic({ servers: [SERVER] })
  logic.setBindings([{ mnId: 'mn1@example.com', link: 'mn1', mac: '00:11:22:33:44:55', mode: 'network', state: 'registered', prefixes: ['2001:db8:100:1::/64'], stateful: true, routerAddress: 'fe80::1' }])
  const [fwd] = logic.fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' })
  if (fwd?.type !== 'to-server') throw new Error(`no relay-forward: ${JSON.stringify(fwd)}`)
  const reply = dhcp6.encode({ kind: 'relay-reply', hopCount: 0, linkAddress: '2001:db8:100:1::1', peerAddress: CLIENT, interfaceId: Buffer.from('mn1'), options: [], relayMessage: ADVERTISE })
  const [down] = logic.fromServer({ data: reply, src: SERVER })
  if (down?.type !== 'to-client') throw new Error(`no reply: ${JSON.stringify(down)}`)
  const pkts = dissect(
    pcapFile([
      udpPacket(MAG, SERVER, DHCP6_SERVER_PORT, DHCP6_SERVER_PORT, fwd.bytes),
      udpPacket(SERVER, MAG, DHCP6_SERVER_PORT, DHCP6_SERVER_PORT, reply),
      udpPacket('fe80::1', down.to, DHCP6_SERVER_PORT, down.port, down.bytes),
    ]),
  )
  expect(pkts).toHaveLength(3)
  for (const p of pkts) expect(problems(p)).toEqual([])
  const [f, r, c] = pkts as [typeof pkts[0], typeof pkts[0], typeof pkts[0]]
  expect(values(f, 'dhcpv6.msgtype')).toEqual(['12', '1'])
  expect(values(f, 'dhcpv6.hopcount')).toEqual(['0'])
  expect(values(f, 'dhcpv6.linkaddr')).toEqual(['2001:db8:100:1::1'])
  expect(values(f, 'dhcpv6.peeraddr')).toEqual([CLIENT])
  expect(values(f, 'dhcpv6.option.type')).toEqual(expect.arrayContaining(['18', '79', '9', '1', '8']))
  expect(values(f, 'dhcpv6.interface_id')).toEqual(['6d:6e:31']) // "mn1"
  expect(values(f, 'dhcpv6.xid')).toEqual(['0x123456'])
  expect(values(r, 'dhcpv6.msgtype')).toEqual(['13', '2'])
  expect(values(c, 'dhcpv6.msgtype')).toEqual(['2'])
  expect(values(c, 'udp.dstport')).toEqual([String(DHCP6_CLIENT_PORT)])
})
