// Config validation: a good file loads; every bad field is reported with its path and reason.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig, loadConfig } from '../src/config'
import { problems } from './config-problems'

const good = {
  mag: { address: '2001:db8:ffff::1', fixedLinkLocal: 'fe80::1', fixedLinkLayer: '02:00:00:00:00:fe', lifetime: 600 },
  links: { wlan0: { shared: true }, ppp0: null },
  drivers: { mock: { att: 4 } },
  profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2', homePrefixes: ['2001:db8:1:1::/64'], macs: ['00:11:22:33:44:55'], mode: 'host' }],
  unknownMn: { lma: '2001:db8:ffff::2', macNaiRealm: 'example.com' },
  localPool: '2001:db8:aa00::/48',
}

describe('config', () => {
  test('a complete config loads into the core config', () => {
    const c = validateConfig(good)
    expect(c.address).toBe('2001:db8:ffff::1')
    expect(c.controlSocket).toBe('/run/mag/mag.sock')
    expect(c.core.lifetimeS).toBe(600)
    expect(c.core.fixedLinkLocal).toBe('fe80::1')
    expect(c.core.links).toEqual({ wlan0: { shared: true }, ppp0: {} })
    expect(c.core.profiles[0]).toMatchObject({ mnId: 'mn1@example.com', mode: 'host', macs: ['00:11:22:33:44:55'] })
    expect(c.core.unknownMn).toEqual({ profile: { lma: '2001:db8:ffff::2', macNaiRealm: 'example.com' } })
    expect(c.drivers.mock).toEqual({ att: 4 })
  })

  test('every bad field is named, all at once', () => {
    const p = problems({
      mag: { address: 'fe80::1', lifetime: 'long', fixedLinkLocal: '2001:db8::1', bogus: 1 },
      profiles: [{ mnId: 'a', lma: 'not-an-address', homePrefixes: ['2001:db8::/129'] }, { lma: '2001:db8::2' }],
      links: { wlan0: { mtu: 100 } },
      drivers: { nosuch: {} },
      ra: { minIntervalMs: 60_000, maxIntervalMs: 60_000 },
    })
    expect(p).toEqual(
      expect.arrayContaining([
        'mag.bogus: unknown field (known: address, controlSocket, controlSocketMode, logLevel, shutdown, shutdownTimeoutMs, realtimePriority, timestampBased, lifetime, refreshFraction, maxRetransmissions, fixedLinkLocal, fixedLinkLayer, seed, tunnelMtu, accessMtu, lmaMtu, teardownOnReject, initialSequence, maxPbusInFlight, heartbeatInterval, heartbeatMissingThreshold, transportInterfaces)',
        'mag.address: must be a global address (the Proxy-CoA), not link-local',
        'mag.lifetime: must be an integer',
        'mag.fixedLinkLocal: must be a link-local address (fe80::/10)',
        'profiles[0].lma: not an IPv6 address: not-an-address',
        'profiles[0].homePrefixes[0]: not an IPv6 prefix (like 2001:db8:1::/64): 2001:db8::/129',
        'profiles[1].mnId: is required',
        'links.wlan0.mtu: must be between 1280 and 65535',
        'drivers.nosuch: unknown driver (known: mock, hostapd, ppp)',
        'ra.minIntervalMs: must be at most 0.75 x ra.maxIntervalMs (RFC 4861 §6.2.1)',
      ]),
    )
  })

  test('RFC 5847 §5 heartbeat: mag.heartbeatInterval (s, 0 = off) and mag.heartbeatMissingThreshold reach the core; bad values are named', () => {
    expect(validateConfig(good).core.heartbeatIntervalS).toBeUndefined() // the core's default applies
    const c = validateConfig({ ...good, mag: { ...good.mag, heartbeatInterval: 1, heartbeatMissingThreshold: 3 } })
    expect(c.core).toMatchObject({ heartbeatIntervalS: 1, heartbeatMissingThreshold: 3 })
    expect(validateConfig({ ...good, mag: { ...good.mag, heartbeatInterval: 0 } }).core.heartbeatIntervalS).toBe(0)
    expect(problems({ ...good, mag: { ...good.mag, heartbeatInterval: -5, heartbeatMissingThreshold: 0 } })).toEqual([
      'mag.heartbeatInterval: must be between 0 and 3600',
      'mag.heartbeatMissingThreshold: must be between 1 and 255',
    ])
    expect(problems({ ...good, mag: { ...good.mag, heartbeatInterval: '30s' } })).toEqual(['mag.heartbeatInterval: must be an integer'])
  })

  test('mag.realtimePriority (issue 23): absent means an ordinary task; 1-99 is kept; anything else is named', () => {
    expect(validateConfig(good).realtimePriority).toBeUndefined()
    expect(validateConfig({ ...good, mag: { ...good.mag, realtimePriority: 10 } }).realtimePriority).toBe(10)
    expect(problems({ ...good, mag: { ...good.mag, realtimePriority: 0 } })).toEqual(['mag.realtimePriority: must be between 1 and 99'])
    expect(problems({ ...good, mag: { ...good.mag, realtimePriority: 100 } })).toEqual(['mag.realtimePriority: must be between 1 and 99'])
    expect(problems({ ...good, mag: { ...good.mag, realtimePriority: 'rr' } })).toEqual(['mag.realtimePriority: must be an integer'])
  })

  test('dataplane: absent means signalling only; an empty mapping gives the defaults; bad fields are named', () => {
    expect(validateConfig(good).dataplane).toBeUndefined()
    expect(validateConfig({ ...good, dataplane: {} }).dataplane).toEqual({ backend: 'auto', table: 100, rulePriority: 1000, maxTunnels: 64, uplinkSelect: 'rule', localRouting: false, enableForwarding: true, ipv4: false, greTable: 10000, maxGre: 1024 })
    expect(validateConfig({ ...good, dataplane: { backend: 'seg6', uplinkSelect: 'subtree', localRouting: true, pathMtu: 9000 } }).dataplane).toMatchObject({ backend: 'seg6', uplinkSelect: 'subtree', localRouting: true, pathMtu: 9000 })
    expect(problems({ ...good, dataplane: { backend: 'gre', table: 250, bogus: 1, pathMtu: 1000 } })).toEqual(
      expect.arrayContaining([
        'dataplane.bogus: unknown field (known: backend, table, rulePriority, maxTunnels, uplinkSelect, localRouting, pathMtu, enableForwarding, ipv4, greTable, maxGre)',
        'dataplane.backend: must be one of auto, ip6tnl, seg6',
        'dataplane.table: table 250 leaves no room for maxTunnels 64 + 3 tables below 253 (the kernel\'s own tables)',
        'dataplane.pathMtu: must be between 1320 and 65535',
      ]),
    )
    // RFC 5845 bindings' tables lie above the kernel's own; their number is bounded.
    expect(validateConfig({ ...good, dataplane: { greTable: 2000, maxGre: 8 } }).dataplane).toMatchObject({ greTable: 2000, maxGre: 8 })
    expect(problems({ ...good, dataplane: { greTable: 255, maxGre: 0 } })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^dataplane\.greTable: must be between 256 and /), 'dataplane.maxGre: must be between 1 and 65536']),
    )
  })

  test('a missing mag section and duplicate MN identifiers are errors', () => {
    expect(problems({})).toContain('mag: is required')
    const dup = problems({ mag: { address: '2001:db8::1' }, profiles: [good.profiles[0], good.profiles[0]] })
    expect(dup).toContain('profiles[1].mnId: duplicate MN identifier mn1@example.com')
  })

  test('files: YAML and JSON load; unreadable or unparsable files name the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mag-cfg-'))
    try {
      writeFileSync(join(dir, 'a.yaml'), 'mag:\n  address: 2001:db8:ffff::1\n')
      expect(loadConfig(join(dir, 'a.yaml')).address).toBe('2001:db8:ffff::1')
      writeFileSync(join(dir, 'b.json'), JSON.stringify(good))
      expect(loadConfig(join(dir, 'b.json')).core.profiles).toHaveLength(1)
      writeFileSync(join(dir, 'c.yaml'), 'mag: [unclosed\n')
      expect(() => loadConfig(join(dir, 'c.yaml'))).toThrow(/c\.yaml: not valid YAML/)
      expect(() => loadConfig(join(dir, 'none.yaml'))).toThrow(/none\.yaml: cannot read: ENOENT/)
      expect(() => loadConfig(join(dir, 'a.yaml'), { logLevel: 'loud' })).toThrow(/--log-level: must be one of error, warn, info, debug/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
