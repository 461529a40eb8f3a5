// The agent's `drivers.hostapd` section: what the daemon hands this driver, and the errors a
// bad section gives at load (each naming its field).
import { ConfigError, validateConfig } from '../../../packages/agent/src/config'

const base = (drivers: unknown) => ({ mag: { address: '2001:db8:ffff::1' }, drivers })
const problems = (drivers: unknown): string[] => {
  try {
    validateConfig(base(drivers))
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.reason}`)
    throw e
  }
  return []
}

describe('drivers.hostapd in the agent config', () => {
  test('a full section, with the string shorthand for an interface', () => {
    const cfg = validateConfig(base({ hostapd: { ctrlDir: '/run/hostapd', pingIntervalMs: 2000, teardown: 'disassociate', interfaces: ['wlan0', { name: 'wlan1', identity: 'dot1x', perStaVif: true, ctrlPath: '/run/h/wlan1' }] } }))
    expect(cfg.drivers.hostapd).toEqual({
      ctrlDir: '/run/hostapd',
      pingIntervalMs: 2000,
      teardown: 'disassociate',
      interfaces: [{ name: 'wlan0' }, { name: 'wlan1', identity: 'dot1x', perStaVif: true, ctrlPath: '/run/h/wlan1' }],
    })
    expect(cfg.drivers.mock).toBeUndefined()
  })

  test('bad sections name the field', () => {
    expect(problems({ hostapd: {} })).toEqual(['drivers.hostapd.interfaces: is required'])
    expect(problems({ hostapd: { interfaces: [] } })).toEqual(['drivers.hostapd.interfaces: needs at least one hostapd interface'])
    expect(problems({ hostapd: true })).toEqual(['drivers.hostapd: needs a mapping with at least `interfaces`'])
    expect(problems({ hostapd: 'wlan0' })).toEqual(['drivers.hostapd: must be a mapping'])
    expect(problems({ hostapd: { interfaces: [{ name: 'wlan0', identity: 'eap' }] } })).toEqual(['drivers.hostapd.interfaces[0].identity: must be one of mac, dot1x'])
    expect(problems({ hostapd: { interfaces: ['wlan0', 'wlan0'] } })).toEqual(['drivers.hostapd.interfaces[1].name: duplicate interface wlan0'])
    expect(problems({ hostapd: { interfaces: ['a/b'] } })).toEqual(['drivers.hostapd.interfaces[0].name: not an interface name: a/b'])
    expect(problems({ hostapd: { interfaces: ['wlan0'], pingIntervalMs: 5, colour: 1 } })).toEqual([
      'drivers.hostapd.colour: unknown field (known: interfaces, ctrlDir, clientDir, pingIntervalMs, requestTimeoutMs, teardown, att)',
      'drivers.hostapd.pingIntervalMs: must be between 100 and 3600000',
    ])
  })

  test('an unknown driver name is an error at load', () => {
    expect(problems({ wimax: {} })).toEqual(['drivers.wimax: unknown driver (known: mock, hostapd, ppp)'])
  })
})
