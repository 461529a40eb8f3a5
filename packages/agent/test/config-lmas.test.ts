// `lmas:` per-LMA settings (issue 17, item 9): RFC 5847 §5 heartbeat variables per LMA address,
// validated with the field path of every bad value.
import { validateConfig } from '../src/config'
import { problems } from './config-problems'

const base = {
  mag: { address: '2001:db8:ffff::1', heartbeatInterval: 30 },
  profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2' }],
}

describe('config lmas', () => {
  test('RFC 5847 §5 per LMA: heartbeatInterval (0 = none) and heartbeatMissingThreshold reach the core under the canonical address', () => {
    const c = validateConfig({ ...base, lmas: { '2001:DB8:FFFF:0::2': { heartbeatInterval: 0 }, '2001:db8:ffff::3': { heartbeatInterval: 10, heartbeatMissingThreshold: 5 }, '2001:db8:ffff::4': null } })
    expect(c.core.lmas).toEqual({ '2001:db8:ffff::2': { heartbeatIntervalS: 0 }, '2001:db8:ffff::3': { heartbeatIntervalS: 10, heartbeatMissingThreshold: 5 }, '2001:db8:ffff::4': {} })
    expect(c.core.heartbeatIntervalS).toBe(30)
    expect(validateConfig(base).core.lmas).toBeUndefined()
  })

  test('bad LMA keys and values are named with their paths, all at once', () => {
    expect(
      problems({
        ...base,
        lmas: { 'lma.example.com': { heartbeatInterval: 0 }, '2001:db8:ffff::2': { heartbeatInterval: 4000, heartbeatMissingThreshold: 0, heartbeat: false }, '2001:db8:ffff::3': 'off' },
      }),
    ).toEqual([
      'lmas.lma.example.com: not an IPv6 address: lma.example.com',
      'lmas.2001:db8:ffff::2.heartbeat: unknown field (known: heartbeatInterval, heartbeatMissingThreshold, greKey)',
      'lmas.2001:db8:ffff::2.heartbeatInterval: must be between 0 and 3600',
      'lmas.2001:db8:ffff::2.heartbeatMissingThreshold: must be between 1 and 255',
      'lmas.2001:db8:ffff::3: must be a mapping',
    ])
    expect(problems({ ...base, lmas: ['2001:db8:ffff::2'] })).toEqual(['lmas: must be a mapping'])
    expect(problems({ ...base, lmas: { '2001:db8:ffff::2': {}, '2001:db8:ffff:0::2': {} } })).toEqual(['lmas.2001:db8:ffff:0::2: duplicate LMA 2001:db8:ffff::2'])
  })
})
