// Config loading: YAML and JSON, defaults, and errors that name the field path and the reason.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfigFile, parseConfig, validateConfig } from '@pmip6/lab-lma'

function err(raw: unknown): string {
  try {
    validateConfig(raw)
  } catch (e) {
    if (e instanceof ConfigError) return e.message
    throw e
  }
  throw new Error('no error')
}

describe('lab LMA configuration', () => {
  test('YAML with defaults (RFC 5213 §9.1: 300 ms window, 10 s MinDelayBeforeBCEDelete)', () => {
    const c = parseConfig(`
address: 2001:db8:ffff:0::2
pool: 2001:db8:100::/48
mns:
  mn1@example.com: [2001:db8:1:1::/64]
  mn2@example.com:
  mn3@example.com: { mags: [2001:db8:ffff::1], proxyEnabled: true }
controlSocket: /tmp/lma.sock
`)
    expect(c).toEqual({
      address: '2001:db8:ffff::2',
      pool: '2001:db8:100::/48',
      poolPrefixLength: 64,
      mns: { 'mn1@example.com': { prefixes: ['2001:db8:1:1::/64'] }, 'mn2@example.com': {}, 'mn3@example.com': { mags: ['2001:db8:ffff::1'], proxyEnabled: true } },
      acceptUnknown: false,
      lifetimeMax: 262140,
      timestampWindowMs: 300,
      minDelayBeforeBceDeleteMs: 10000,
      timestampMode: 'auto', // RFC 5213 §5.5: per PBU
      restartCounter: 0,
      controlSocket: '/tmp/lma.sock',
    })
  })

  test('realtimePriority (issue 23): kept when 1-99, absent by default', () => {
    expect(validateConfig({ address: '2001:db8::2', pool: '2001:db8:100::/48' }).realtimePriority).toBeUndefined()
    expect(validateConfig({ address: '2001:db8::2', pool: '2001:db8:100::/48', realtimePriority: 10 }).realtimePriority).toBe(10)
  })

  test('JSON works too, and no mns table means accept any MN from the pool', () => {
    const c = parseConfig(JSON.stringify({ address: '2001:db8::2', pool: '2001:db8:100::/48', timestampMode: 'sequence', lifetimeMax: 600 }))
    expect(c).toMatchObject({ acceptUnknown: true, timestampMode: 'sequence', lifetimeMax: 600 })
  })

  test.each([
    [{}, 'config.address: required (the LMA address)'],
    [{ address: 'nope' }, 'config.address: not an IPv6 address'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::' }, 'config.pool: not an IPv6 prefix'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::1/48' }, 'config.pool: has bits set past its length (did you mean 2001:db8:100::/48?)'],
    [{ address: '2001:db8::2', prefixPool: '2001:db8:100::/48' }, 'config.prefixPool: unknown field'],
    [{ address: '2001:db8::2' }, 'config.pool: required to serve MNs not in the mns table'],
    [{ address: '2001:db8::2', mns: { a: {} } }, 'config.mns.a.prefixes: required when no pool is configured'],
    [{ address: '2001:db8::2', mns: { a: { prefixes: ['x'] } } }, 'config.mns.a.prefixes[0]: not an IPv6 prefix'],
    [{ address: '2001:db8::2', mns: { a: ['2001:db8:1::/64'], b: ['2001:db8:1::/64'] } }, 'config.mns.b.prefixes[0]: 2001:db8:1::/64 is already configured for a'],
    [{ address: '2001:db8::2', mns: { a: { prefixes: ['2001:db8:1::/64'], colour: 1 } } }, 'config.mns.a.colour: unknown field'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', mags: ['2001:db8::1', 'x'] }, 'config.mags[1]: not an IPv6 address'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', lifetimeMax: 2 }, 'config.lifetimeMax: must be between 4 and 262140'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', realtimePriority: 0 }, 'config.realtimePriority: must be between 1 and 99'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', realtimePriority: 'fifo' }, 'config.realtimePriority: not an integer'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', timestampWindowMs: 1.5 }, 'config.timestampWindowMs: not an integer'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', timestampMode: 'clock' }, "config.timestampMode: must be 'auto', 'timestamps' or 'sequence'"],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', poolPrefixLength: 40 }, "config.poolPrefixLength: shorter than the pool's /48"],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', unknownMnStatus: 12 }, 'config.unknownMnStatus: must be between 128 and 255'],
    [{ address: '2001:db8::2', pool: '2001:db8:100::/48', controlSocket: `/tmp/${'x'.repeat(120)}` }, 'config.controlSocket: longer than 107 bytes'],
    [[1, 2], 'config: not a mapping'],
  ])('%j -> %s', (raw, message) => {
    expect(err(raw)).toContain(message)
  })

  test('file errors name the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lma-cfg-'))
    try {
      const f = join(dir, 'lma.yaml')
      writeFileSync(f, 'address: [unclosed\n')
      expect(() => loadConfigFile(f)).toThrow(new RegExp(`^${f}: not valid YAML or JSON`))
      expect(() => loadConfigFile(join(dir, 'missing.yaml'))).toThrow(/missing.yaml: cannot read: ENOENT/)
      writeFileSync(f, 'address: 2001:db8::2\npool: 2001:db8:100::/48\n')
      expect(loadConfigFile(f).pool).toBe('2001:db8:100::/48')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
