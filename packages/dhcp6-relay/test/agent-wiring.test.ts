// The agent side of the relay: the `dhcp6Relay` config section (field-named errors) and the
// daemon's binding hook that feeds the relay (profile addressConfig -> stateful).
import { validateConfig } from '../../agent/src/config'
import { MagDaemon } from '../../agent/src/daemon'
import { relayBindings } from '../../agent/src/dhcp6'
import type { MagIo } from '../../agent/src/io'
import { problems } from '../../agent/test/config-problems'

const base = {
  mag: { address: '2001:db8:ffff::1', fixedLinkLocal: 'fe80::1' },
  links: { mn1: null },
  localPool: '2001:db8:a1::/48',
  profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2', mode: 'host', addressConfig: 'stateful' }],
}

describe('dhcp6Relay config', () => {
  test('absent: no relay; present: defaults filled in', () => {
    expect(validateConfig(base).dhcp6Relay).toBeUndefined()
    expect(validateConfig({ ...base, dhcp6Relay: { servers: ['2001:db8:ffff::2'] } }).dhcp6Relay).toEqual({
      enabled: true,
      servers: ['2001:db8:ffff::2'],
      allServersMulticast: false,
      interfaceIdFormat: 'link',
    })
  })

  test('allServersMulticast adds ff05::1:3 to the destinations', () => {
    const c = validateConfig({ ...base, dhcp6Relay: { enabled: true, allServersMulticast: true, interfaceIdFormat: 'link-mac', multicastInterface: 'up0' } })
    expect(c.dhcp6Relay).toEqual({ enabled: true, servers: ['ff05::1:3'], allServersMulticast: true, interfaceIdFormat: 'link-mac', multicastInterface: 'up0' })
  })

  test('every bad field is named', () => {
    expect(problems({ ...base, dhcp6Relay: { enabled: 'yes', servers: ['x', 'fe80::9'], interfaceIdFormat: 'ifindex', bogus: 1 } })).toEqual([
      'dhcp6Relay.bogus: unknown field (known: enabled, servers, allServersMulticast, interfaceIdFormat, multicastInterface)',
      'dhcp6Relay.enabled: must be true or false',
      'dhcp6Relay.servers[0]: not an IPv6 address: x',
      'dhcp6Relay.servers[1]: must be a global or multicast address, not link-local',
      'dhcp6Relay.interfaceIdFormat: must be one of link, link-mac',
    ])
    expect(problems({ ...base, dhcp6Relay: { enabled: true } })).toEqual(['dhcp6Relay.servers: needs at least one server address, or allServersMulticast: true'])
    expect(problems({ ...base, dhcp6Relay: { enabled: false } })).toEqual([])
    expect(problems({ ...base, dhcp6Relay: [] })).toEqual(['dhcp6Relay: must be a mapping'])
  })
})

describe('daemon hook', () => {
  const io: MagIo = { sendMh() {}, sendNd() {}, sendIcmp() {}, onMh() {}, onNd() {}, addLink() {}, removeLink() {}, close() {} }
  const log = { debug() {}, info() {}, warn() {}, error() {} }
  let now = 1_700_000_000_000
  const timers = new Set<() => void>()
  const clock = { now: () => now, setTimeout: (fn: () => void) => (timers.add(fn), fn), clearTimeout: (h: unknown) => void timers.delete(h as () => void) }

  test('bindings reach the relay with the profile stateful flag, and change with the profiles', async () => {
    const cfg = validateConfig(base)
    const d = new MagDaemon(cfg, { log, clock, io, drivers: new Map() })
    await d.start()
    const seen: (string[] | 'all')[] = []
    const off = d.onBindingsChanged((changed) => seen.push(changed === 'all' ? 'all' : [...changed]))
    d.enqueue({ type: 'attached', at: now, link: 'mn1', mnId: 'mn1@example.com', att: 4 })
    // Only the MN that changed is named: the relay re-reads it alone.
    expect(seen).toEqual([['mn1@example.com']])
    expect(d.binding('mn1@example.com')).toMatchObject({ mnId: 'mn1@example.com', state: 'local' })
    expect(d.binding('nobody@example.com')).toBeUndefined()
    const [b] = relayBindings(d)
    expect(b).toMatchObject({ mnId: 'mn1@example.com', link: 'mn1', mode: 'host', state: 'local', stateful: true, routerAddress: 'fe80::1' })
    expect(b!.prefixes[0]).toMatch(/^2001:db8:a1:/)
    expect(d.addressConfigOf('mn1@example.com')).toBe('stateful')
    expect(d.addressConfigOf('nobody@example.com')).toBe('stateless')

    now += 1000
    d.enqueue({ type: 'profiles', at: now, profiles: [{ ...cfg.core.profiles[0]!, addressConfig: 'stateless' }] })
    expect(seen.at(-1)).toBe('all')
    expect(relayBindings(d)[0]!.stateful).toBe(false)

    d.addCounters('dhcp6.', () => ({ 'tx.relay-forward': 7 }))
    expect(d.status().counters['dhcp6.tx.relay-forward']).toBe(7)
    off()
    await d.stop(false)
  })
})
