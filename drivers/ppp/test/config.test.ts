// The agent's `drivers.ppp` section and its errors at load.
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

describe('drivers.ppp in the agent config', () => {
  test('defaults and a full section', () => {
    expect(validateConfig(base({ ppp: null })).drivers.ppp).toEqual({})
    expect(validateConfig(base({ ppp: { socket: '/run/mag/p.sock', identity: 'ipparam', interfacePattern: '^ppp', teardown: true, pidDir: '/run' } })).drivers.ppp).toEqual({
      socket: '/run/mag/p.sock',
      identity: 'ipparam',
      interfacePattern: '^ppp',
      teardown: true,
      pidDir: '/run',
    })
  })

  test('bad sections name the field', () => {
    expect(problems({ ppp: { identity: 'mac' } })).toEqual(['drivers.ppp.identity: must be one of peername, ipparam, peername-or-ipparam'])
    expect(problems({ ppp: { interfacePattern: '(' } })[0]).toMatch(/^drivers\.ppp\.interfacePattern: not a regular expression/)
    expect(problems({ ppp: { socket: 3 } })).toEqual(['drivers.ppp.socket: must be a non-empty string'])
    expect(problems({ ppp: [] })).toEqual(['drivers.ppp: must be a mapping'])
  })
})
