// The lab LMA's RFC 5844 §3.1 IPv4 home addresses and RFC 5845 GRE keys: allocation for 0.0.0.0,
// a requested address honoured when free, the same address on handoff, statuses on refusal
// (170, 171 with Reply 130/131, 130 with Reply 132), the PBA's IPv4 options, keys kept per BCE.
import { BaStatus, Ipv4HoaReplyStatus, formatIp4, parseIp4, findOption, type MobilityOption } from '@pmip6/wire'
import { LmaCore, Ipv4AddressPool, validateConfig, ConfigError, type LmaCoreOptions } from '@pmip6/lab-lma'
import { LMA, MAG1, MAG2, NAI, T0, ofType, pbaOf, sendPbu } from './helpers/pbu'

const req = (a = '0.0.0.0', len = 32): MobilityOption => ({ type: 'ipv4-hoa-request', prefixLength: len, address: parseIp4(a) })

function core(opts: Partial<LmaCoreOptions> = {}): LmaCore {
  return new LmaCore({ address: LMA, pool: '2001:db8:100::/48', ipv4Pool: '192.0.2.0/24', ...opts })
}

function reply(pba: { options: readonly MobilityOption[] }): { status: number; address: string; prefixLength: number } | undefined {
  const r = findOption(pba.options, 'ipv4-hoa-reply')
  return r === undefined ? undefined : { status: r.status, address: formatIp4(r.address), prefixLength: r.prefixLength }
}

describe('RFC 5844 §3.1 IPv4 home address assignment', () => {
  test('0.0.0.0 gets the first free host (after the router), with router and DHCP mode in the PBA', () => {
    const c = core()
    const cmds = sendPbu(c, T0, { extra: [req()] })
    const pba = pbaOf(cmds)
    expect(pba.status).toBe(BaStatus.ACCEPTED)
    expect(reply(pba)).toEqual({ status: Ipv4HoaReplyStatus.SUCCESS, address: '192.0.2.2', prefixLength: 24 })
    expect(findOption(pba.options, 'ipv4-default-router')?.address).toEqual(parseIp4('192.0.2.1'))
    expect(findOption(pba.options, 'ipv4-dhcp-support-mode')).toEqual({ type: 'ipv4-dhcp-support-mode', server: true })
    expect(findOption(pba.options, 'hnp')).toBeDefined() // dual stack: the IPv6 prefix too
    expect(ofType(cmds, 'binding-created')[0]!.binding).toMatchObject({ ipv4Address: '192.0.2.2/24', ipv4Router: '192.0.2.1' })
    expect(c.status().ipv4Pool).toEqual({ pool: '192.0.2.0/24', router: '192.0.2.1', size: 253, allocated: 1 })
  })

  test('an IPv4-only MN (no HNP option) registers with only an IPv4 address', () => {
    const c = core()
    const pba = pbaOf(sendPbu(c, T0, { hnp: null, extra: [req()] }))
    expect(pba.status).toBe(BaStatus.ACCEPTED)
    expect(findOption(pba.options, 'hnp')).toBeUndefined()
    expect(c.binding(NAI)).toMatchObject({ prefixes: [], ipv4Address: '192.0.2.2/24' })
    // Without either, still 158.
    expect(pbaOf(sendPbu(core(), T0, { hnp: null })).status).toBe(BaStatus.MISSING_HOME_NETWORK_PREFIX_OPTION)
  })

  test('a requested free address is honoured; one held by another MN is 171 / Reply 130', () => {
    const c = core()
    expect(reply(pbaOf(sendPbu(c, T0, { extra: [req('192.0.2.77', 24)] })))).toMatchObject({ status: 0, address: '192.0.2.77' })
    const other = pbaOf(sendPbu(c, T0, { mnId: 'mn2@example.com', extra: [req('192.0.2.77', 24)] }))
    expect(other.status).toBe(BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS)
    expect(reply(other)).toMatchObject({ status: Ipv4HoaReplyStatus.INCORRECT_IPV4_HOME_ADDRESS, address: '192.0.2.77' })
    expect(c.binding('mn2@example.com')).toBeUndefined()
  })

  test('an address outside the pool, the router or the broadcast address is 171 / Reply 131', () => {
    for (const a of ['198.51.100.9', '192.0.2.1', '192.0.2.255', '192.0.2.0']) {
      const pba = pbaOf(sendPbu(core(), T0, { extra: [req(a)] }))
      expect([a, pba.status, reply(pba)?.status]).toEqual([a, 171, Ipv4HoaReplyStatus.INVALID_IPV4_ADDRESS])
    }
  })

  test('handoff keeps the address; asking a different one on the binding is 171', () => {
    const c = core()
    sendPbu(c, T0, { extra: [req()] })
    const moved = sendPbu(c, T0 + 1000, { seq: 2, hi: 3, extra: [req('192.0.2.2', 24)] }, MAG2)
    expect(pbaOf(moved).status).toBe(0)
    expect(reply(pbaOf(moved))?.address).toBe('192.0.2.2')
    expect(ofType(moved, 'binding-moved')[0]!.binding.ipv4Address).toBe('192.0.2.2/24')
    // 0.0.0.0 on a refresh gets the held one too.
    expect(reply(pbaOf(sendPbu(c, T0 + 2000, { seq: 3, hi: 5, extra: [req()] }, MAG2)))?.address).toBe('192.0.2.2')
    const wrong = pbaOf(sendPbu(c, T0 + 3000, { seq: 4, hi: 5, extra: [req('192.0.2.9', 24)] }, MAG2))
    expect([wrong.status, reply(wrong)?.status]).toEqual([171, 130])
    expect(c.binding(NAI)?.ipv4Address).toBe('192.0.2.2/24')
  })

  test('the address goes back to the pool when the binding is deleted, and to the same MN first', () => {
    const c = core({ minDelayBeforeBceDeleteMs: 0 })
    sendPbu(c, T0, { extra: [req()] })
    sendPbu(c, T0 + 1000, { seq: 2, lifetime: 0, hi: 4, extra: [req('192.0.2.2', 24)] })
    expect(c.binding(NAI)).toBeUndefined()
    expect(c.status().ipv4Pool?.allocated).toBe(0)
    sendPbu(c, T0 + 2000, { mnId: 'mn2@example.com', extra: [req()] })
    expect(c.binding('mn2@example.com')?.ipv4Address).toBe('192.0.2.3/24') // .2 is kept back for mn1
    expect(reply(pbaOf(sendPbu(c, T0 + 3000, { seq: 3, extra: [req()] })))?.address).toBe('192.0.2.2')
  })

  test('an exhausted pool is 130 with Reply 132; an LMA without a pool is 170', () => {
    const c = core({ ipv4Pool: '192.0.2.0/30' }) // hosts .1 (router) and .2
    expect(reply(pbaOf(sendPbu(c, T0, { extra: [req()] })))?.address).toBe('192.0.2.2')
    const full = pbaOf(sendPbu(c, T0, { mnId: 'mn2@example.com', extra: [req()] }))
    expect([full.status, reply(full)?.status]).toEqual([BaStatus.INSUFFICIENT_RESOURCES, Ipv4HoaReplyStatus.DYNAMIC_ASSIGNMENT_NOT_AVAILABLE])
    expect(c.binding('mn2@example.com')).toBeUndefined()
    const none = new LmaCore({ address: LMA, pool: '2001:db8:100::/48' })
    const p = pbaOf(sendPbu(none, T0, { extra: [req()] }))
    expect([p.status, reply(p)?.status]).toEqual([BaStatus.NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE, Ipv4HoaReplyStatus.ADMINISTRATIVELY_PROHIBITED])
  })

  test('a static address is the MN\'s only; the pool never hands it to another', () => {
    const c = core({ mns: { [NAI]: { ipv4Address: '192.0.2.2' } }, acceptUnknown: true, ipv4Router: '192.0.2.254' })
    expect(reply(pbaOf(sendPbu(c, T0, { mnId: 'mn2@example.com', extra: [req()] })))?.address).toBe('192.0.2.1')
    expect(reply(pbaOf(sendPbu(c, T0, { extra: [req()] })))?.address).toBe('192.0.2.2')
    expect(findOption(pbaOf(sendPbu(c, T0, { mnId: 'mn3@example.com', extra: [req()] })).options, 'ipv4-default-router')?.address).toEqual(parseIp4('192.0.2.254'))
  })

  test('an IPv6-only PBU gets no IPv4 options', () => {
    const pba = pbaOf(sendPbu(core(), T0))
    expect(pba.options.filter((o) => o.type.startsWith('ipv4'))).toEqual([])
  })

  test('relay mode is announced with S clear', () => {
    const pba = pbaOf(sendPbu(core({ ipv4DhcpMode: 'relay' }), T0, { extra: [req()] }))
    expect(findOption(pba.options, 'ipv4-dhcp-support-mode')?.server).toBe(false)
  })
})

describe('RFC 5845 GRE keys', () => {
  const gre = (key: number | null): MobilityOption => ({ type: 'gre-key', key })

  test("'on': each binding gets its own uplink key, kept across handoff; the MAG's key is the downlink key", () => {
    const c = core({ greKeys: 'on' })
    const a = pbaOf(sendPbu(c, T0, { extra: [gre(1000)] }))
    const b = pbaOf(sendPbu(c, T0, { mnId: 'mn2@example.com', extra: [gre(null)] }))
    const ka = findOption(a.options, 'gre-key')?.key
    const kb = findOption(b.options, 'gre-key')?.key
    expect(ka).toEqual(expect.any(Number))
    expect(kb).not.toBe(ka)
    expect(c.binding(NAI)).toMatchObject({ greUplinkKey: ka, greDownlinkKey: 1000 })
    const moved = pbaOf(sendPbu(c, T0 + 1000, { seq: 2, hi: 3, extra: [gre(2000)] }, MAG2))
    expect(findOption(moved.options, 'gre-key')?.key).toBe(ka)
    expect(c.binding(NAI)).toMatchObject({ greUplinkKey: ka, greDownlinkKey: 2000, mag: MAG2 })
  })

  test("'required' refuses a PBU without the option with 163; 'off' ignores it", () => {
    expect(pbaOf(sendPbu(core({ greKeys: 'required' }), T0)).status).toBe(BaStatus.GRE_KEY_OPTION_REQUIRED)
    const off = pbaOf(sendPbu(core(), T0, { extra: [gre(5)] }))
    expect(off.status).toBe(0)
    expect(findOption(off.options, 'gre-key')).toBeUndefined()
  })
})

describe('IPv4 pool and configuration', () => {
  test('pool rules', () => {
    const p = new Ipv4AddressPool('10.1.0.0/29')
    expect(p.stats()).toEqual({ pool: '10.1.0.0/29', router: '10.1.0.1', size: 5, allocated: 0 })
    expect(p.claim(0x0a010005, 'a')).toBe('ok')
    expect(p.claim(0x0a010005, 'b')).toBe('in-use')
    expect(p.claim(0x0a010007, 'b')).toBe('reserved')
    expect(() => new Ipv4AddressPool('10.1.0.0/31')).toThrow(RangeError)
    expect(() => new Ipv4AddressPool('10.1.0.0/24', '10.2.0.1')).toThrow(/not a host/)
  })

  test('bad IPv4 settings name the field', () => {
    const bad = (extra: Record<string, unknown>): string => {
      try {
        validateConfig({ address: LMA, pool: '2001:db8:100::/48', ...extra })
      } catch (e) {
        if (e instanceof ConfigError) return e.message
        throw e
      }
      return 'accepted'
    }
    expect(bad({ ipv4Pool: '192.0.2.0/33' })).toMatch(/config\.ipv4Pool/)
    expect(bad({ ipv4Router: '192.0.2.1' })).toMatch(/config\.ipv4Router: needs ipv4Pool/)
    expect(bad({ ipv4Pool: '192.0.2.0/24', ipv4DhcpMode: 'proxy' })).toMatch(/config\.ipv4DhcpMode/)
    expect(bad({ greKeys: 'yes' })).toMatch(/config\.greKeys/)
    expect(bad({ ipv4Pool: '192.0.2.0/24', mns: { [NAI]: { ipv4Address: '10.0.0.1' } } })).toMatch(/ipv4Address: outside ipv4Pool/)
    expect(bad({ ipv4Pool: '192.0.2.0/24', ipv4Router: '192.0.2.254', greKeys: 'on', mns: { [NAI]: { ipv4Address: '192.0.2.9' } } })).toBe('accepted')
    expect(MAG1).toBeDefined()
  })
})
