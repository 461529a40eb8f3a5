// RFC 5844 §3.2 (IPv4 home addresses at the MAG) and RFC 5845 §3 (GRE keys at the MAG), on the
// fake clock with a scripted LMA (issue 21 items 2 and 6).
import fc from 'fast-check'
import { BaStatus, formatIp4, Ipv4HoaReplyStatus, parseIp4, type MobilityOption, type ProxyBindingAck, type ProxyBindingUpdate } from '@pmip6/wire'
import { ProfileError, ProfileStore, type MagCoreConfig, type PolicyProfile } from '../src'
import { config, Harness, hnpsOf, lastPbu, LMA, NAI, ofType, opt, pbaFor, pbus, profile, ras, states } from './harness'

const P1 = '2001:db8:1:1::/64'
const HOA = '192.0.2.2'
const ROUTER = '192.0.2.1'

function cfg(p: Partial<PolicyProfile>, over: Partial<MagCoreConfig> = {}): MagCoreConfig {
  return config({ profiles: [profile(p), { mnId: 'mn2@example.com', lma: LMA, macs: ['00:aa:bb:cc:dd:ee'], ...p }], ...over })
}

interface V4 {
  prefixes?: readonly string[]
  /** Reply status (default 0), address, prefix length; null: no Reply option. */
  reply?: { status?: number; address?: string; len?: number } | null
  router?: string | null
  dhcp?: 'server' | 'relay'
  gre?: number | null
  lifetime?: number
}

/** A PBA as the lab LMA builds it (RFC 5844 §3.3.2-3.3.4, RFC 5845 §3.1): the IPv4 answer replaces the request. */
function v4Pba(pbu: ProxyBindingUpdate, status: number, o: V4 = {}): ProxyBindingAck {
  const base = pbaFor(pbu, status, { ...(o.prefixes !== undefined ? { prefixes: o.prefixes } : {}), ...(o.lifetime !== undefined ? { lifetime: o.lifetime } : {}) })
  const options: MobilityOption[] = base.options.filter((x) => x.type !== 'ipv4-hoa-request' && x.type !== 'gre-key')
  if (o.reply !== null) {
    const r = o.reply ?? {}
    options.push({ type: 'ipv4-hoa-reply', status: r.status ?? 0, prefixLength: r.len ?? 24, address: parseIp4(r.address ?? HOA) })
    if (o.router !== null && (r.status ?? 0) < 128) options.push({ type: 'ipv4-default-router', address: parseIp4(o.router ?? ROUTER) })
    options.push({ type: 'ipv4-dhcp-support-mode', server: (o.dhcp ?? 'server') === 'server' })
  }
  if (o.gre !== undefined && o.gre !== null) options.push({ type: 'gre-key', key: o.gre })
  return { ...base, options }
}

const v4Req = (pbu: ProxyBindingUpdate): string | undefined => {
  const r = opt(pbu, 'ipv4-hoa-request')
  return r === undefined ? undefined : `${formatIp4(r.address)}/${r.prefixLength}`
}

describe('RFC 5844 §3.2.2: profiles', () => {
  test('stack, ipv4HomeAddress, ipv4Allowed and greKey are checked and the bad field named', () => {
    const bad = (p: Partial<PolicyProfile>): string => {
      try {
        new ProfileStore([profile(p)])
      } catch (e) {
        expect(e).toBeInstanceOf(ProfileError)
        return (e as ProfileError).field
      }
      return 'accepted'
    }
    expect(bad({ stack: 'ipv5' as never })).toBe('stack')
    expect(bad({ stack: 'ipv4', homePrefixes: [P1] })).toBe('homePrefixes')
    expect(bad({ ipv4HomeAddress: HOA })).toBe('ipv4HomeAddress')
    expect(bad({ stack: 'dual', ipv4HomeAddress: '224.0.0.5' })).toBe('ipv4HomeAddress')
    expect(bad({ stack: 'dual', ipv4HomeAddress: '192.0.2.300' })).toBe('ipv4HomeAddress')
    expect(bad({ stack: 'dual', ipv4Allowed: ['192.0.2.1/24'] })).toBe('ipv4Allowed')
    expect(bad({ stack: 'ipv4', greKey: 'yes' as never })).toBe('greKey')
    expect(bad({ stack: 'dual', ipv4HomeAddress: HOA, ipv4Allowed: ['192.0.2.0/24'], greKey: true })).toBe('accepted')
  })
})

describe('RFC 5844 §3.2.3.1: the PBU', () => {
  test('an IPv6-only MN asks for no IPv4; a dual-stack MN asks for 0.0.0.0 beside the ALL_ZERO HNP; an IPv4-only MN sends no HNP option', () => {
    const v6 = lastPbu(new Harness().attach())
    expect(opt(v6, 'ipv4-hoa-request')).toBeUndefined()
    expect(hnpsOf(v6)).toEqual(['::/0'])
    const dual = lastPbu(new Harness(cfg({ stack: 'dual' })).attach())
    expect(v4Req(dual)).toBe('0.0.0.0/0')
    expect(hnpsOf(dual)).toEqual(['::/0'])
    const v4 = lastPbu(new Harness(cfg({ stack: 'ipv4' })).attach())
    expect(v4Req(v4)).toBe('0.0.0.0/0')
    expect(hnpsOf(v4)).toEqual([])
    // The other RFC 5213 options are all there.
    expect(v4.options.map((o) => o.type)).toEqual(['mn-id', 'handoff-indicator', 'access-tech-type', 'timestamp', 'mn-ll-id', 'ipv4-hoa-request'])
  })

  test('§3.3.1 the address the profile names is requested', () => {
    const p = lastPbu(new Harness(cfg({ stack: 'ipv4', ipv4HomeAddress: '192.0.2.77' })).attach())
    expect(v4Req(p)).toBe('192.0.2.77/32')
  })
})

describe('RFC 5844 §3.2: an IPv4-only MN', () => {
  test('accepted: the IPv4 home address is routed through the tunnel and handed to the access link (§3.4), no RA, the view shows it', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), 0, { lifetime: 3600 }))
    expect(ofType(cmds, 'forwarding-up')).toEqual([{ type: 'forwarding-up', mnId: NAI, link: 'ppp0', prefixes: [], mode: 'tunnel', lma: LMA, ipv4: [HOA] }])
    expect(ofType(cmds, 'ipv4-lease')).toEqual([
      { type: 'ipv4-lease', mnId: NAI, link: 'ppp0', llId: '00:11:22:33:44:55', lease: { address: HOA, prefixLength: 24, router: ROUTER, lifetime: 3600 } },
    ])
    // The DHCP server offers only once the routes exist.
    const types = cmds.map((c) => c.type)
    expect(types.indexOf('forwarding-up')).toBeLessThan(types.indexOf('ipv4-lease'))
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'link-address-up')).toEqual([])
    expect(h.view()).toMatchObject({ state: 'registered', stack: 'ipv4', prefixes: [], ipv4Address: '192.0.2.2/24', ipv4Router: ROUTER, ipv4Reason: '', greKeys: null })
    // RAs stay silent for it (no home prefix to advertise), also on an RS.
    expect(ras(h.rs())).toEqual([])
    expect(ras(h.advanceBy(60_000))).toEqual([])
  })

  test('§6.9.1.3 refresh asks for the held address (no HNP, HI 5); the same answer changes nothing', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0, { lifetime: 100 }))
    const ref = lastPbu(h.advanceBy(80_000))
    expect(v4Req(ref)).toBe('192.0.2.2/24')
    expect(hnpsOf(ref)).toEqual([])
    expect(opt(ref, 'handoff-indicator')?.value).toBe(5)
    const cmds = h.pba(v4Pba(ref, 0, { lifetime: 100 }))
    expect(cmds.filter((c) => c.type.startsWith('forwarding') || c.type === 'ipv4-lease')).toEqual([])
    expect(h.view()).toMatchObject({ state: 'registered', ipv4Address: '192.0.2.2/24' })
  })

  test('§6.9.1.4 detach: a de-registration naming the address (no HNP); routes and the lease go', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0))
    const cmds = h.detach()
    const d = lastPbu(cmds)
    expect(d.lifetime).toBe(0)
    expect(v4Req(d)).toBe('192.0.2.2/24')
    expect(hnpsOf(d)).toEqual([])
    expect(ofType(cmds, 'ipv4-lease')).toEqual([{ type: 'ipv4-lease', mnId: NAI, link: 'ppp0', llId: '00:11:22:33:44:55', lease: null }])
    expect(ofType(cmds, 'forwarding-down')).toEqual([{ type: 'forwarding-down', mnId: NAI, link: 'ppp0', prefixes: [], mode: 'tunnel', lma: LMA, ipv4: [HOA] }])
    h.pba(v4Pba(d, 0, { reply: null }))
    expect(h.view()).toBeUndefined()
  })

  test('§3.3.2 an accepted PBA whose Reply refuses the address serves nothing: de-registered, then denied with the Reply status', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), 0, { reply: { status: Ipv4HoaReplyStatus.DYNAMIC_ASSIGNMENT_NOT_AVAILABLE, address: '0.0.0.0' } }))
    const d = lastPbu(cmds)
    expect(d.lifetime).toBe(0)
    expect(ofType(cmds, 'forwarding-up')).toEqual([])
    expect(ofType(cmds, 'ipv4-lease')).toEqual([])
    h.pba(v4Pba(d, 0, { reply: null }))
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'ipv4-reply:132', ipv4Reason: 'ipv4-reply:132', ipv4Address: null })
  })

  test('an accepted PBA without any IPv4 Home Address Reply is no IPv4 service either', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    const d = lastPbu(h.pba(v4Pba(lastPbu(h.attach()), 0, { reply: null })))
    h.pba(v4Pba(d, 0, { reply: null }))
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'ipv4-no-reply' })
  })

  test('§3.3.3 an accepted PBA without a default router gives no IPv4 service (the MN would have no way out)', () => {
    const h = new Harness(cfg({ stack: 'dual' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1], router: null }))
    expect(h.view()).toMatchObject({ state: 'registered', prefixes: [P1], ipv4Address: null, ipv4Reason: 'ipv4-no-default-router' })
  })

  test('an HNP the LMA names for an IPv4-only MN is neither routed nor advertised', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1] }))
    expect(ofType(cmds, 'forwarding-up').map((c) => c.prefixes)).toEqual([[]])
    expect(ras(cmds)).toEqual([])
    expect(h.core.counters()['pba-hnp-ignored:ipv4-only']).toBe(1)
  })

  test('§3.3.5 170 (not authorised for IPv4) denies an IPv4-only MN', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE, { reply: { status: 129, address: '0.0.0.0' } }))
    expect(pbus(cmds)).toEqual([])
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'pba-rejected:170' })
  })

  test('§3.3.5 171 for the address the profile names: ask again with 0.0.0.0, then take what the LMA gives', () => {
    const h = new Harness(cfg({ stack: 'ipv4', ipv4HomeAddress: '192.0.2.77' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS, { reply: { status: 130, address: '192.0.2.77' } }))
    const again = lastPbu(cmds)
    expect(v4Req(again)).toBe('0.0.0.0/0')
    h.pba(v4Pba(again, 0))
    expect(h.view()).toMatchObject({ state: 'registered', ipv4Address: '192.0.2.2/24' })
    // A second 171 (nothing named any more) is an ordinary refusal.
    const h2 = new Harness(cfg({ stack: 'ipv4' }))
    h2.pba(v4Pba(lastPbu(h2.attach()), BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS, { reply: { status: 130 } }))
    expect(h2.view()).toMatchObject({ state: 'denied', reason: 'pba-rejected:171' })
  })

  test('a renumbered IPv4 home address on a refresh: the old one is taken down, the new one up', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0, { lifetime: 100 }))
    const ref = lastPbu(h.advanceBy(80_000))
    const cmds = h.pba(v4Pba(ref, 0, { lifetime: 100, reply: { address: '192.0.2.9' } }))
    expect(ofType(cmds, 'ipv4-lease').map((c) => c.lease?.address ?? null)).toEqual([null, '192.0.2.9'])
    expect(ofType(cmds, 'forwarding-down').map((c) => c.ipv4)).toEqual([[HOA]])
    expect(ofType(cmds, 'forwarding-up').map((c) => c.ipv4)).toEqual([['192.0.2.9']])
    expect(h.view()?.ipv4Address).toBe('192.0.2.9/24')
  })

  test('§6.10 forwarding-failed for the IPv4 home address ends the binding', () => {
    const h = new Harness(cfg({ stack: 'ipv4' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0))
    const cmds = h.step({ type: 'forwarding-failed', at: h.now, mnId: NAI, prefixes: [], ipv4: [HOA], reason: 'EEXIST' })
    expect(lastPbu(cmds).lifetime).toBe(0)
    expect(ofType(cmds, 'ipv4-lease').map((c) => c.lease)).toEqual([null])
  })
})

describe('RFC 5844 §3.2: a dual-stack MN', () => {
  test('accepted: one forwarding-up carries the prefix and the IPv4 home address; the prefix is advertised', () => {
    const h = new Harness(cfg({ stack: 'dual' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1] }))
    expect(ofType(cmds, 'forwarding-up')).toEqual([{ type: 'forwarding-up', mnId: NAI, link: 'ppp0', prefixes: [P1], mode: 'tunnel', lma: LMA, ipv4: [HOA] }])
    expect(ofType(cmds, 'ipv4-lease')).toHaveLength(1)
    expect(ras(cmds).length).toBeGreaterThan(0)
    expect(h.view()).toMatchObject({ stack: 'dual', prefixes: [P1], ipv4Address: '192.0.2.2/24' })
    // Detach: both go in one forwarding-down.
    expect(ofType(h.detach(), 'forwarding-down')).toEqual([{ type: 'forwarding-down', mnId: NAI, link: 'ppp0', prefixes: [P1], mode: 'tunnel', lma: LMA, ipv4: [HOA] }])
  })

  test('§3.3.2 a Reply refusing the IPv4 part keeps the IPv6 binding, with the reason in the view', () => {
    const h = new Harness(cfg({ stack: 'dual' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1], reply: { status: 132, address: '0.0.0.0' } }))
    expect(ofType(cmds, 'forwarding-up')).toEqual([{ type: 'forwarding-up', mnId: NAI, link: 'ppp0', prefixes: [P1], mode: 'tunnel', lma: LMA }])
    expect(ofType(cmds, 'ipv4-lease')).toEqual([])
    expect(h.view()).toMatchObject({ state: 'registered', prefixes: [P1], ipv4Address: null, ipv4Reason: 'ipv4-reply:132' })
  })

  test.each([
    [BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE, 129],
    [BaStatus.MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED, 128],
    [BaStatus.INSUFFICIENT_RESOURCES, 132],
  ])('§3.3.5 a PBA refused with %d (Reply %d): the MN registers IPv6-only and keeps that service', (status, reply) => {
    const h = new Harness(cfg({ stack: 'dual' }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), status, { reply: { status: reply, address: '0.0.0.0' } }))
    const again = lastPbu(cmds)
    expect(opt(again, 'ipv4-hoa-request')).toBeUndefined()
    expect(hnpsOf(again)).toEqual(['::/0'])
    h.pba(v4Pba(again, 0, { prefixes: [P1], reply: null }))
    expect(h.view()).toMatchObject({ state: 'registered', stack: 'ipv6', prefixes: [P1], ipv4Address: null, ipv4Reason: `ipv4-refused:${status}/${reply}` })
    // Refreshes stay IPv6-only; a new attach asks for IPv4 again.
    expect(opt(lastPbu(h.advanceBy(3_000_000)), 'ipv4-hoa-request')).toBeUndefined()
    h.detach()
    expect(v4Req(lastPbu(h.attach({ link: 'ppp1' })))).toBe('0.0.0.0/0')
  })

  test('§3.3.5 172 (not authorised for IPv6): the MN registers IPv4-only', () => {
    const h = new Harness(cfg({ stack: 'dual' }))
    const again = lastPbu(h.pba(v4Pba(lastPbu(h.attach()), BaStatus.NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE, { reply: null })))
    expect(hnpsOf(again)).toEqual([])
    expect(v4Req(again)).toBe('0.0.0.0/0')
    h.pba(v4Pba(again, 0))
    expect(h.view()).toMatchObject({ state: 'registered', stack: 'ipv4', ipv4Address: '192.0.2.2/24' })
    // For an IPv6-only MN 172 is an ordinary refusal.
    const h6 = new Harness()
    h6.pba(pbaFor(lastPbu(h6.attach()), BaStatus.NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE))
    expect(h6.view()).toMatchObject({ state: 'denied', reason: 'pba-rejected:172' })
  })

  test('a refresh refused for IPv4 (170) re-registers IPv6-only for the same prefix', () => {
    const h = new Harness(cfg({ stack: 'dual' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1], lifetime: 100 }))
    const ref = lastPbu(h.advanceBy(80_000))
    const again = lastPbu(h.pba(v4Pba(ref, BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE, { reply: { status: 129 } })))
    expect(hnpsOf(again)).toEqual([P1])
    expect(opt(again, 'ipv4-hoa-request')).toBeUndefined()
  })
})

describe('issue 21 item 6: an IPv4 home address the MAG cannot route', () => {
  test.each([
    ['0.0.0.0', 24, null, 'ipv4-unroutable:0.0.0.0/24:unspecified'],
    ['0.1.2.3', 24, null, 'ipv4-unroutable:0.1.2.3/24:this-network'],
    ['127.0.0.1', 8, null, 'ipv4-unroutable:127.0.0.1/8:loopback'],
    ['224.0.0.5', 24, null, 'ipv4-unroutable:224.0.0.5/24:multicast'],
    ['255.255.255.255', 32, null, 'ipv4-unroutable:255.255.255.255/32:broadcast'],
    ['240.0.0.1', 24, null, 'ipv4-unroutable:240.0.0.1/24:reserved'],
    ['169.254.3.4', 16, null, 'ipv4-unroutable:169.254.3.4/16:link-local'],
    ['192.0.2.0', 24, null, 'ipv4-unroutable:192.0.2.0/24:subnet-address'],
    ['192.0.2.255', 24, null, 'ipv4-unroutable:192.0.2.255/24:subnet-broadcast'],
    ['192.0.2.2', 0, null, 'ipv4-unroutable:192.0.2.2/0:prefix-length-0'],
    ['203.0.113.5', 24, null, 'ipv4-unroutable:203.0.113.5/24:outside-ipv4Allowed'],
    [HOA, 24, '198.51.100.1', 'ipv4-bad-router:198.51.100.1:outside-192.0.2.2/24'],
    [HOA, 24, HOA, 'ipv4-bad-router:192.0.2.2:the-home-address'],
    [HOA, 24, '224.0.0.1', 'ipv4-bad-router:224.0.0.1:multicast'],
  ])('%s/%d (router %s): de-registered, denied with %s; nothing installed', (address, len, router, reason) => {
    for (const stack of ['ipv4', 'dual'] as const) {
      const h = new Harness(cfg({ stack, ...(address === '203.0.113.5' ? { ipv4Allowed: ['192.0.2.0/24'] } : {}) }))
      const cmds = h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1], reply: { address, len }, ...(router !== null ? { router } : {}) }))
      expect(lastPbu(cmds).lifetime).toBe(0)
      expect(ofType(cmds, 'forwarding-up')).toEqual([])
      expect(ofType(cmds, 'ipv4-lease')).toEqual([])
      expect(ras(cmds)).toEqual([])
      h.pba(v4Pba(lastPbu(cmds), 0, { reply: null }))
      expect(h.view()).toMatchObject({ state: 'denied', reason, ipv4Reason: reason, ipv4Address: null })
      expect(h.core.counters()['ipv4-unroutable']).toBe(1)
    }
  })
})

describe('RFC 5844 §3.2: handoff', () => {
  test('moving to another link of this MAG asks for the same IPv4 home address', () => {
    const h = new Harness(cfg({ stack: 'dual' }))
    h.pba(v4Pba(lastPbu(h.attach()), 0, { prefixes: [P1] }))
    const p = lastPbu(h.attach({ link: 'ppp1', hint: 'other-interface' }))
    expect(v4Req(p)).toBe('192.0.2.2/24')
    expect(hnpsOf(p)).toEqual([P1])
  })

  test('a new MAG (HI 3) asks for 0.0.0.0 and gets the address the LMA keeps for the MN; the old MAG de-registers it', () => {
    const mag1 = new Harness(cfg({ stack: 'ipv4' }))
    mag1.pba(v4Pba(lastPbu(mag1.attach()), 0))
    const mag2 = new Harness(cfg({ stack: 'ipv4' }))
    const p = lastPbu(mag2.attach({ hint: 'same-interface' }))
    expect(opt(p, 'handoff-indicator')?.value).toBe(3)
    expect(v4Req(p)).toBe('0.0.0.0/0')
    const up = ofType(mag2.pba(v4Pba(p, 0)), 'ipv4-lease')
    expect(up.map((c) => c.lease?.address)).toEqual([HOA])
    const d = mag1.detach()
    expect(v4Req(lastPbu(d))).toBe('192.0.2.2/24')
    expect(ofType(d, 'ipv4-lease').map((c) => c.lease)).toEqual([null])
  })
})

describe('RFC 5845 §3: GRE keys', () => {
  test('the PBU carries a downlink key unique on this MAG; the PBA uplink key goes with the forwarding; the view shows both', () => {
    const h = new Harness(cfg({ stack: 'dual', greKey: true }))
    const p1 = lastPbu(h.attach())
    const p2 = lastPbu(h.attach({ link: 'ppp1', mnId: 'mn2@example.com', llId: Buffer.from('00aabbccddee', 'hex') }))
    const k1 = opt(p1, 'gre-key')?.key
    const k2 = opt(p2, 'gre-key')?.key
    expect(typeof k1).toBe('number')
    expect(k1).not.toBe(k2)
    const cmds = h.pba(v4Pba(p1, 0, { prefixes: [P1], gre: 77 }))
    expect(ofType(cmds, 'forwarding-up')[0]?.greKeys).toEqual({ uplink: 77, downlink: k1 })
    expect(h.view()?.greKeys).toEqual({ uplink: 77, downlink: k1 })
    // The same key in every PBU of the binding (refresh, de-registration).
    expect(opt(lastPbu(h.advanceBy(3_000_000)), 'gre-key')?.key).toBe(k1)
    expect(opt(lastPbu(h.detach()), 'gre-key')?.key).toBe(k1)
  })

  test('a refresh PBA with another uplink key (or none) hands the data plane the binding again with the new keys; the same key changes nothing', () => {
    // Refreshes every 50 s, each answered at once (before any retransmission).
    const h = new Harness(cfg({ stack: 'dual', greKey: true }, { lifetimeS: 100, refreshFraction: 0.5 }))
    const refresh = (): ProxyBindingUpdate => lastPbu(h.advanceBy(50_200))
    const p1 = lastPbu(h.attach())
    const k1 = opt(p1, 'gre-key')!.key
    h.pba(v4Pba(p1, 0, { prefixes: [P1], gre: 77 }))
    const same = h.pba(v4Pba(refresh(), 0, { prefixes: [P1], gre: 77 }))
    expect(ofType(same, 'forwarding-up')).toEqual([])
    const changed = h.pba(v4Pba(refresh(), 0, { prefixes: [P1], gre: 78 }))
    // The whole set (a failure names what the binding forwards), with the new keys.
    expect(ofType(changed, 'forwarding-up')).toEqual([expect.objectContaining({ prefixes: [P1], ipv4: [HOA], greKeys: { uplink: 78, downlink: k1 } })])
    expect(ofType(changed, 'forwarding-down')).toEqual([])
    expect(h.view()?.greKeys).toEqual({ uplink: 78, downlink: k1 })
    // Status 2 on a refresh: keys off, the binding goes back to the plain tunnel.
    const off = h.pba(v4Pba(refresh(), BaStatus.GRE_KEY_OPTION_NOT_REQUIRED, { prefixes: [P1] }))
    const up = ofType(off, 'forwarding-up')
    expect(up).toHaveLength(1)
    expect(up[0]!.greKeys).toBeUndefined()
    expect(h.core.counters()['gre-keys-forwarded']).toBe(2)
  })

  test('LMA-wide keys (lmas.<addr>.greKey) for an IPv6-only MN; a key is reused only after its binding is gone', () => {
    const h = new Harness(config({ lmas: { [LMA]: { greKey: true } } }))
    const k = opt(lastPbu(h.attach()), 'gre-key')?.key
    expect(k).toBeDefined()
    h.detach()
    h.advanceBy(2_000)
    expect(h.view()).toBeUndefined()
    expect(opt(lastPbu(h.attach()), 'gre-key')?.key).toBeDefined()
  })

  test('status 2 (GRE_KEY_OPTION_NOT_REQUIRED) accepts without keys; an LMA ignoring the option gives a plain tunnel', () => {
    const h = new Harness(cfg({ stack: 'ipv4', greKey: true }))
    const cmds = h.pba(v4Pba(lastPbu(h.attach()), BaStatus.GRE_KEY_OPTION_NOT_REQUIRED, {}))
    expect(ofType(cmds, 'forwarding-up')[0]?.greKeys).toBeUndefined()
    expect(h.view()).toMatchObject({ state: 'registered', greKeys: null })
    expect(opt(lastPbu(h.advanceBy(3_000_000)), 'gre-key')).toBeUndefined()
    const h2 = new Harness(cfg({ stack: 'ipv4', greKey: true }))
    h2.pba(v4Pba(lastPbu(h2.attach()), 0, {}))
    expect(h2.view()).toMatchObject({ state: 'registered', greKeys: null })
    expect(h2.core.counters()['gre-key-not-granted']).toBe(1)
  })

  test('163 (GRE_KEY_OPTION_REQUIRED) makes the MAG send a key, once; a second 163 denies', () => {
    const h = new Harness()
    const first = lastPbu(h.attach())
    expect(opt(first, 'gre-key')).toBeUndefined()
    const again = lastPbu(h.pba(pbaFor(first, BaStatus.GRE_KEY_OPTION_REQUIRED)))
    expect(opt(again, 'gre-key')?.key).toBeDefined()
    const cmds = h.pba(pbaFor(again, BaStatus.GRE_KEY_OPTION_REQUIRED))
    expect(pbus(cmds)).toEqual([])
    expect(states(cmds).at(-1)).toMatchObject({ to: 'denied', reason: 'pba-rejected:163' })
  })
})

describe('RFC 5844 §3.2: properties', () => {
  // Whatever the LMA answers (accept with a good, refused, unroutable or renumbered address; the
  // IPv4 statuses; silence) and whatever the MN does (attach, move, detach), at every step the
  // IPv4 routes the MAG asked for and the lease it gave the access link are exactly the address
  // `mag bindings` shows, and nothing is left once the MN is gone.
  type Answer = 'ok' | 'ok-other' | 'reply-132' | 'unroutable' | 'no-router' | 's170' | 's171' | 's172' | 'none'
  type Act = { kind: 'answer'; a: Answer } | { kind: 'time'; ms: number } | { kind: 'detach' } | { kind: 'attach'; link: string }
  const act: fc.Arbitrary<Act> = fc.oneof(
    fc.constantFrom<Answer>('ok', 'ok', 'ok-other', 'reply-132', 'unroutable', 'no-router', 's170', 's171', 's172', 'none').map((a) => ({ kind: 'answer' as const, a })),
    fc.integer({ min: 100, max: 200_000 }).map((ms) => ({ kind: 'time' as const, ms })),
    fc.constant({ kind: 'detach' as const }),
    fc.constantFrom('ppp0', 'ppp1').map((link) => ({ kind: 'attach' as const, link })),
  )

  test('installed IPv4 routes and the access link lease always match the binding view', () => {
    fc.assert(
      fc.property(fc.constantFrom<'ipv4' | 'dual'>('ipv4', 'dual'), fc.array(act, { minLength: 1, maxLength: 40 }), (stack, acts) => {
        const h = new Harness(cfg({ stack }))
        const routes = new Set<string>()
        let lease: string | null = null
        const apply = (cmds: readonly { type: string }[]): void => {
          for (const c of cmds as Parameters<typeof ofType>[0]) {
            if (c.type === 'forwarding-up') for (const a of c.ipv4 ?? []) routes.add(a)
            else if (c.type === 'forwarding-down') for (const a of c.ipv4 ?? []) routes.delete(a)
            else if (c.type === 'ipv4-lease') lease = c.lease === null ? null : c.lease.address
          }
        }
        let pending: ProxyBindingUpdate | null = null
        const track = (cmds: ReturnType<Harness['step']>): void => {
          apply(cmds)
          const p = pbus(cmds)
          if (p.length > 0) pending = p[p.length - 1]!.pbu
        }
        track(h.attach())
        for (const x of acts) {
          if (x.kind === 'time') track(h.advanceBy(x.ms))
          else if (x.kind === 'detach') track(h.detach({ link: h.view()?.link ?? 'ppp0' }))
          else if (x.kind === 'attach') track(h.attach({ link: x.link }))
          else if (pending !== null && x.a !== 'none') {
            const p: ProxyBindingUpdate = pending
            pending = null
            const status = x.a === 's170' ? 170 : x.a === 's171' ? 171 : x.a === 's172' ? 172 : 0
            const reply =
              x.a === 'ok-other' ? { address: '192.0.2.9' } : x.a === 'reply-132' ? { status: 132, address: '0.0.0.0' } : x.a === 'unroutable' ? { address: '224.0.0.9' } : status !== 0 ? { status: 129 } : {}
            track(h.pba(v4Pba(p, status, { prefixes: [P1], reply, ...(x.a === 'no-router' ? { router: null } : {}) })))
          }
          const v = h.view()
          const shown = v?.ipv4Address?.split('/')[0] ?? null
          expect([...routes]).toEqual(shown === null ? [] : [shown])
          expect(lease).toBe(shown)
        }
        // Gone for good: detach and let every timer run out.
        track(h.detach({ link: h.view()?.link ?? 'ppp0' }))
        track(h.advanceBy(40_000))
        if (h.view()?.state === 'deregistering') track(h.advanceBy(5_000))
        if (h.view() === undefined) {
          expect([...routes]).toEqual([])
          expect(lease).toBeNull()
        }
      }),
      { numRuns: 150 },
    )
  })
})

describe('RFC 5844 §3.3.1, §3.4.1: the address the MN\'s own DHCPv4 client asks for', () => {
  const WANT = '192.0.2.77'
  const ALLOWED = { stack: 'ipv4' as const, ipv4Allowed: ['192.0.2.0/24'] }
  type Ask = Partial<Extract<Parameters<Harness['step']>[0], { type: 'ipv4-requested' }>>
  const ask = (h: Harness, o: Ask = {}) => h.step({ type: 'ipv4-requested', at: h.now, llId: MAC_BYTES, link: 'ppp0', address: WANT, via: 'option-50', ...o })
  const MAC_BYTES = Buffer.from('001122334455', 'hex')
  const counters = (h: Harness) => h.core.counters()

  test('asked for while the registration is unanswered: the next PBU (the retransmission) names it, the LMA grants it, the DHCP lease is it', () => {
    const h = new Harness(cfg(ALLOWED))
    expect(v4Req(lastPbu(h.attach()))).toBe('0.0.0.0/0')
    expect(ask(h)).toEqual([]) // no PBU of its own: the address waits for the next one
    const re = lastPbu(h.advanceBy(1_000))
    expect(v4Req(re)).toBe(`${WANT}/32`)
    expect(h.view()?.ipv4Requested).toEqual({ address: WANT, outcome: 'pending' })
    const cmds = h.pba(v4Pba(re, 0, { reply: { address: WANT } }))
    expect(ofType(cmds, 'ipv4-lease').map((c) => c.lease?.address)).toEqual([WANT])
    expect(h.view()).toMatchObject({ state: 'registered', ipv4Address: `${WANT}/24`, ipv4Requested: { address: WANT, outcome: 'used' } })
    expect(counters(h)).toMatchObject({ 'ipv4-requested': 1, 'ipv4-requested-used': 1 })
    expect(counters(h)['ipv4-requested-refused']).toBeUndefined()
    // Refreshes name the binding's address, as before.
    expect(v4Req(lastPbu(h.advanceBy(3_000_000)))).toBe(`${WANT}/24`)
  })

  test('without the arrival link, the MAC names the MN through its profile; a renewing ciaddr counts like option 50; the same wish counts once', () => {
    const h = new Harness(config({ profiles: [profile({ ...ALLOWED, macs: ['00:11:22:33:44:55'] })] }))
    h.attach()
    ask(h, { link: undefined, via: 'ciaddr' })
    ask(h, { link: undefined })
    expect(counters(h)['ipv4-requested']).toBe(1)
    expect(v4Req(lastPbu(h.advanceBy(1_000)))).toBe(`${WANT}/32`)
    // A later, different wish replaces a pending one.
    ask(h, { address: '192.0.2.78' })
    expect(counters(h)['ipv4-requested']).toBe(2)
    expect(v4Req(lastPbu(h.advanceBy(2_000)))).toBe('192.0.2.78/32')
  })

  test.each<[string, Partial<PolicyProfile>, (h: Harness) => void, Ask, string]>([
    ['an MN that is not attached', ALLOWED, () => undefined, {}, 'not-attached'],
    ['an MN attached on another link', ALLOWED, (h) => void h.attach(), { link: 'ppp1' }, 'not-attached'],
    ['another MAC on the MN\'s link', ALLOWED, (h) => void h.attach(), { llId: Buffer.from('0011223344aa', 'hex') }, 'not-attached'],
    ['an unknown MAC without a link', ALLOWED, (h) => void h.attach(), { link: undefined }, 'not-attached'],
    ['an MN being de-registered', ALLOWED, (h) => void (h.attach(), h.detach()), {}, 'state'],
    ['§3.2.2 an IPv6-only MN', {}, (h) => void h.attach(), {}, 'ipv4-not-enabled'],
    ['§3.2.2 a profile that fixes the address', { ...ALLOWED, ipv4HomeAddress: '192.0.2.50' }, (h) => void h.attach(), {}, 'profile-address'],
    ['a multicast address', ALLOWED, (h) => void h.attach(), { address: '224.0.0.1' }, 'not-unicast'],
    ['the broadcast address', ALLOWED, (h) => void h.attach(), { address: '255.255.255.255' }, 'not-unicast'],
    ['0.0.0.0', ALLOWED, (h) => void h.attach(), { address: '0.0.0.0' }, 'not-unicast'],
    ['an address outside ipv4Allowed', ALLOWED, (h) => void h.attach(), { address: '198.51.100.7' }, 'outside-ipv4Allowed'],
    ['a profile without ipv4Allowed', { stack: 'ipv4' }, (h) => void h.attach(), {}, 'no-ipv4Allowed'],
    ['no address at all', ALLOWED, (h) => void h.attach(), { address: '192.0.2.300' }, 'malformed'],
  ])('ignored: %s', (_what, p, setup, o, why) => {
    const h = new Harness(cfg(p))
    setup(h)
    expect(pbus(ask(h, o))).toEqual([])
    expect(counters(h)).toMatchObject({ 'ipv4-request-ignored': 1, [`ipv4-request-ignored:${why}`]: 1 })
    expect(counters(h)['ipv4-requested']).toBeUndefined()
    const next = pbus(h.advanceBy(1_000)).map((c) => c.pbu).filter((x) => x.lifetime > 0)
    for (const pbu of next) expect(v4Req(pbu)).not.toBe(`${o.address ?? WANT}/32`)
    expect(h.view()?.ipv4Requested ?? null).toBeNull()
  })

  test('§3.2.1 an address the LMA already assigned stands: the request is ignored and the refresh names the assigned one', () => {
    const h = new Harness(cfg(ALLOWED))
    h.pba(v4Pba(lastPbu(h.attach()), 0, { lifetime: 100 }))
    ask(h)
    expect(counters(h)['ipv4-request-ignored:assigned']).toBe(1)
    expect(v4Req(lastPbu(h.advanceBy(80_000)))).toBe(`${HOA}/24`)
  })

  test('§3.3.2 the LMA assigns another address than the one asked for: that one stands (lease), the wish is recorded as refused', () => {
    const h = new Harness(cfg(ALLOWED))
    h.attach()
    ask(h)
    const cmds = h.pba(v4Pba(lastPbu(h.advanceBy(1_000)), 0))
    expect(ofType(cmds, 'ipv4-lease').map((c) => c.lease?.address)).toEqual([HOA])
    expect(h.view()).toMatchObject({ ipv4Address: `${HOA}/24`, ipv4Requested: { address: WANT, outcome: `assigned-other:${HOA}` } })
    expect(counters(h)['ipv4-requested-refused']).toBe(1)
  })

  test('§3.3.5 171 for the address asked for: the PBU asks again with 0.0.0.0 and the LMA\'s address is taken; that address is never named again in the session', () => {
    const h = new Harness(cfg(ALLOWED))
    h.attach()
    ask(h)
    const named = lastPbu(h.advanceBy(1_000))
    expect(v4Req(named)).toBe(`${WANT}/32`)
    const again = lastPbu(h.pba(v4Pba(named, BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS, { reply: { status: Ipv4HoaReplyStatus.INCORRECT_IPV4_HOME_ADDRESS, address: WANT } })))
    expect(v4Req(again)).toBe('0.0.0.0/0')
    expect(h.view()).toMatchObject({ state: 'registering', ipv4Requested: { address: WANT, outcome: 'refused:171/130' } })
    ask(h)
    expect(counters(h)['ipv4-request-ignored:refused-by-lma']).toBe(1)
    h.pba(v4Pba(again, 0))
    expect(h.view()).toMatchObject({ state: 'registered', ipv4Address: `${HOA}/24`, ipv4Reason: '' })
    expect(counters(h)).toMatchObject({ 'ipv4-requested': 1, 'ipv4-requested-refused': 1 })
  })

  test('a dual-stack MN whose asked-for address is refused with 170 registers IPv6-only (the RFC 5844 fallback), the reason recorded', () => {
    const h = new Harness(cfg({ stack: 'dual', ipv4Allowed: ['192.0.2.0/24'] }))
    h.attach()
    ask(h)
    const named = lastPbu(h.advanceBy(1_000))
    const again = lastPbu(h.pba(v4Pba(named, BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE, { reply: { status: 129, address: WANT } })))
    expect(opt(again, 'ipv4-hoa-request')).toBeUndefined()
    expect(h.view()).toMatchObject({ stack: 'ipv6', ipv4Requested: { address: WANT, outcome: 'refused:170/129' } })
  })

  test('handoff: between links of this MAG the assigned address stays (the request is ignored); at a new MAG the old address asked for again is named and granted', () => {
    const h = new Harness(cfg(ALLOWED))
    h.pba(v4Pba(lastPbu(h.attach()), 0))
    const moved = lastPbu(h.attach({ link: 'ppp1', hint: 'other-interface' }))
    expect(v4Req(moved)).toBe(`${HOA}/24`)
    ask(h, { link: 'ppp1', address: '192.0.2.99' })
    expect(counters(h)['ipv4-request-ignored:assigned']).toBe(1)
    expect(v4Req(lastPbu(h.advanceBy(1_000)))).toBe(`${HOA}/24`)
    // A second MAG: the MN's client asks for the address it had (init-reboot, option 50) before
    // the PBA; the LMA's binding holds it, so it comes back and the lease is the same.
    const h2 = new Harness(cfg(ALLOWED))
    h2.attach({ hint: 'other-interface' })
    ask(h2, { address: HOA })
    const re = lastPbu(h2.advanceBy(1_000))
    expect(v4Req(re)).toBe(`${HOA}/32`)
    h2.pba(v4Pba(re, 0))
    expect(h2.view()).toMatchObject({ ipv4Address: `${HOA}/24`, ipv4Requested: { address: HOA, outcome: 'used' } })
  })

  test('an IPv4-only MN whose asked-for address the Reply refuses in an accepted PBA is denied (as with 0.0.0.0), the outcome recorded', () => {
    const h = new Harness(cfg(ALLOWED))
    h.attach()
    ask(h)
    const d = lastPbu(h.pba(v4Pba(lastPbu(h.advanceBy(1_000)), 0, { reply: { status: Ipv4HoaReplyStatus.INVALID_IPV4_ADDRESS, address: WANT } })))
    expect(d.lifetime).toBe(0)
    h.pba(v4Pba(d, 0, { reply: null }))
    expect(h.view()).toMatchObject({ state: 'denied', ipv4Requested: { address: WANT, outcome: 'refused:ipv4-reply:131' } })
    expect(counters(h)['ipv4-requested-refused']).toBe(1)
  })

  test('a new session forgets the wish and the refusal', () => {
    const h = new Harness(cfg(ALLOWED))
    h.attach()
    ask(h)
    h.pba(v4Pba(lastPbu(h.advanceBy(1_000)), BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS, { reply: { status: 130, address: WANT } }))
    h.detach()
    h.attach({ link: 'ppp1' })
    expect(h.view()?.ipv4Requested).toBeNull()
    ask(h, { link: 'ppp1' })
    expect(counters(h)['ipv4-requested']).toBe(2)
  })
})
