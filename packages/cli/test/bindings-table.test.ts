// The IPV4 column of `mag bindings` (RFC 5844): the home address or why there is none, and the
// address the MN's DHCPv4 client asked for when it is not the one it has (§3.3.1).
import type { BindingView } from '@pmip6/core'
import { formatBindings } from '../src/daemon-commands'

const base: BindingView = {
  mnId: 'mn1@example.com',
  link: 'mn1',
  state: 'registered',
  reason: 'pba-accepted',
  mode: 'network',
  lma: '2001:db8:ffff::2',
  prefixes: [],
  homePrefixes: [],
  lifetimeLeft: 100,
  grantedLifetime: 120,
  lastStatus: 0,
  retransmissions: 1,
  pending: null,
  att: 4,
  mac: '02:00:00:00:01:01',
  hi: 1,
  routerAddress: 'fe80::1',
  stack: 'ipv4',
  ipv4Address: '192.0.2.2/24',
  ipv4Router: '192.0.2.1',
  ipv4Reason: '',
  ipv4Requested: null,
  greKeys: null,
}
const ipv4Column = (b: BindingView): string => {
  const [head, row] = formatBindings([b]).split('\n')
  return row!.slice(head!.indexOf('IPV4'), head!.indexOf('LIFETIME')).trim()
}

describe('mag bindings: the IPV4 column', () => {
  test('the address alone when nothing was asked for, or when what was asked for is what the MN has', () => {
    expect(ipv4Column(base)).toBe('192.0.2.2/24')
    expect(ipv4Column({ ...base, ipv4Address: '192.0.2.77/24', ipv4Requested: { address: '192.0.2.77', outcome: 'used' } })).toBe('192.0.2.77/24')
  })

  test('the asked-for address and its outcome otherwise', () => {
    expect(ipv4Column({ ...base, ipv4Requested: { address: '192.0.2.77', outcome: 'assigned-other:192.0.2.2' } })).toBe('192.0.2.2/24 asked:192.0.2.77=assigned-other:192.0.2.2')
    expect(ipv4Column({ ...base, state: 'registering', ipv4Address: null, ipv4Requested: { address: '192.0.2.77', outcome: 'pending' } })).toBe('- asked:192.0.2.77=pending')
  })

  test('a view from a daemon without ipv4Requested still formats', () => {
    const { ipv4Requested: _gone, ...old } = base
    expect(ipv4Column(old as BindingView)).toBe('192.0.2.2/24')
  })
})
