// Agent side of RFC 5844 §3.4: the `dhcp4:` and `dataplane.ipv4` settings (bad values named), and
// the lease the DHCPv4 server gets for the core's `ipv4-lease` command.
import { validateConfig } from '../src/config'
import { leaseFor } from '../src/dhcp4'
import { problems } from './config-problems'

const good = {
  mag: { address: '2001:db8:ffff::1', fixedLinkLocal: 'fe80::1', fixedLinkLayer: '02:00:00:00:00:fe', lifetime: 600 },
  links: { wlan0: { shared: true } },
  drivers: { mock: { att: 4 } },
  profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2', homePrefixes: ['2001:db8:1:1::/64'], macs: ['00:11:22:33:44:55'] }],
}

describe('IPv4 settings of the agent (RFC 5844)', () => {
  test('dhcp4: an empty mapping turns it on with defaults; dataplane.ipv4 defaults to false', () => {
    const c = validateConfig({ ...good, dhcp4: {}, dataplane: { ipv4: true } })
    expect(c.dhcp4).toEqual({ enabled: true, maxLeaseSeconds: 3600, dns: [] })
    expect(c.dataplane?.ipv4).toBe(true)
    expect(validateConfig({ ...good, dataplane: {} }).dataplane?.ipv4).toBe(false)
    expect(validateConfig(good).dhcp4).toBeUndefined()
  })

  test('bad values name their field', () => {
    expect(problems({ ...good, dhcp4: { dns: ['2001:db8::53'] } })).toEqual(['dhcp4.dns[0]: not an IPv4 address'])
    expect(problems({ ...good, dhcp4: { maxLeaseSeconds: 5 } })[0]).toMatch(/^dhcp4\.maxLeaseSeconds/)
    expect(problems({ ...good, dhcp4: { bogus: 1 } })[0]).toMatch(/^dhcp4\.bogus/)
    expect(problems({ ...good, dataplane: { ipv4: 'yes' } })[0]).toMatch(/^dataplane\.ipv4/)
  })

  test('leaseFor: the binding lifetime caps the lease; no lease without a MAC or after the binding', () => {
    const cfg = { enabled: true, maxLeaseSeconds: 600, dns: ['192.0.2.53'] }
    const c = { type: 'ipv4-lease' as const, mnId: 'mn1', link: 'wlan0', llId: '00:11:22:33:44:AA', lease: { address: '192.0.2.2', prefixLength: 24, router: '192.0.2.1', lifetime: 3600 } }
    expect(leaseFor(c, cfg)).toEqual({ mnId: 'mn1', link: 'wlan0', mac: '00:11:22:33:44:aa', address: '192.0.2.2', prefixLength: 24, router: '192.0.2.1', leaseSeconds: 600, dns: ['192.0.2.53'] })
    expect(leaseFor({ ...c, lease: { ...c.lease, lifetime: 120 } }, cfg)?.leaseSeconds).toBe(120)
    expect(leaseFor({ ...c, llId: null }, cfg)).toBeNull()
    expect(leaseFor({ ...c, lease: null }, cfg)).toBeNull()
  })
})
