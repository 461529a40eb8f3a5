// RFC 5844 / RFC 5845 profile fields (issue 21): stack, ipv4HomeAddress, ipv4Allowed, greKey per
// profile and greKey per LMA reach the core; every bad value is named with its path.
import { validateConfig } from '../src/config'
import { problems } from './config-problems'
import { greKeyFields, greStartProblem } from '../src/forwarding'

const base = { mag: { address: '2001:db8:ffff::1' } }

describe('config: IPv4 home addresses and GRE keys', () => {
  test('RFC 5844 §3.2.2 stack per profile, the named address and the allowed prefixes; RFC 5845 keys per profile and per LMA', () => {
    const c = validateConfig({
      ...base,
      lmas: { '2001:db8:ffff::2': { greKey: true } },
      profiles: [
        { mnId: 'v4@example.com', lma: '2001:db8:ffff::2', stack: 'ipv4', ipv4HomeAddress: '192.0.2.20', ipv4Allowed: ['192.0.2.0/24'] },
        { mnId: 'dual@example.com', lma: '2001:db8:ffff::2', stack: 'dual', greKey: true },
        { mnId: 'v6@example.com', lma: '2001:db8:ffff::2' },
      ],
    })
    expect(c.core.profiles).toEqual([
      { mnId: 'v4@example.com', lma: '2001:db8:ffff::2', stack: 'ipv4', ipv4HomeAddress: '192.0.2.20', ipv4Allowed: ['192.0.2.0/24'] },
      { mnId: 'dual@example.com', lma: '2001:db8:ffff::2', stack: 'dual', greKey: true },
      { mnId: 'v6@example.com', lma: '2001:db8:ffff::2' },
    ])
    expect(c.core.lmas).toEqual({ '2001:db8:ffff::2': { greKey: true } })
  })

  test('bad values are named with their paths, all at once', () => {
    expect(
      problems({
        ...base,
        lmas: { '2001:db8:ffff::2': { greKey: 'yes' } },
        profiles: [
          { mnId: 'a@example.com', lma: '2001:db8:ffff::2', stack: 'ipv5' },
          { mnId: 'b@example.com', lma: '2001:db8:ffff::2', stack: 'ipv4', homePrefixes: ['2001:db8:1::/64'], ipv4HomeAddress: '224.0.0.1', ipv4Allowed: ['192.0.2.1/24', 7] },
          { mnId: 'c@example.com', lma: '2001:db8:ffff::2', ipv4HomeAddress: '192.0.2.3', greKey: 1 },
        ],
      }),
    ).toEqual([
      'profiles[0].stack: must be one of ipv6, ipv4, dual',
      'profiles[1].ipv4HomeAddress: not a unicast address (multicast): 224.0.0.1',
      'profiles[1].ipv4Allowed[0]: host bits set past /24: 192.0.2.1/24',
      'profiles[1].ipv4Allowed[1]: must be a non-empty string',
      "profiles[1].homePrefixes: an IPv4-only MN (stack 'ipv4') has no home network prefix",
      "profiles[2].ipv4HomeAddress: needs stack 'ipv4' or 'dual'",
      'profiles[2].greKey: must be true or false',
      'lmas.2001:db8:ffff::2.greKey: must be true or false',
    ])
  })
})

describe('RFC 5845 GRE keys on a data plane without ip6gre', () => {
  const cfg = validateConfig({
    ...base,
    dataplane: {},
    lmas: { '2001:db8:ffff::2': { greKey: true }, '2001:db8:ffff::3': {} },
    profiles: [
      { mnId: 'a@example.com', lma: '2001:db8:ffff::3' },
      { mnId: 'b@example.com', lma: '2001:db8:ffff::3', greKey: true },
      { mnId: 'c@example.com', lma: '2001:db8:ffff::3', greKey: false },
    ],
    unknownMn: { lma: '2001:db8:ffff::3', greKey: true },
  })

  test('every field that turns keys on is named', () => {
    expect(greKeyFields(cfg)).toEqual(['profiles[1].greKey', 'unknownMn.greKey', 'lmas.2001:db8:ffff::2.greKey'])
  })

  test('the start fails naming them when the kernel makes no ip6gre devices; not otherwise', () => {
    const why = greStartProblem(cfg, false)
    expect(why).toMatch(/^profiles\[1\]\.greKey, unknownMn\.greKey, lmas\.2001:db8:ffff::2\.greKey: GRE keys \(RFC 5845\) need ip6gre/)
    expect(greStartProblem(cfg, true)).toBeNull()
    expect(greStartProblem(validateConfig({ ...base, dataplane: {}, profiles: [{ mnId: 'a@example.com', lma: '2001:db8:ffff::3' }] }), false)).toBeNull()
  })
})
