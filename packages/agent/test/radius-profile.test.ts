// Access-Accept attributes -> profile (RFC 6572): what is mandatory, what is malformed, and
// that the deny reason names the attribute.
import { octets, text, u32, type RadiusAttribute } from '../src/radius/codec'
import { profileFromAccept, hasAttribute } from '../src/radius/profile'

const hex = (s: string): Buffer => Buffer.from(s, 'hex')
const LMA = octets(147, hex('20010db8ffff00000000000000000002'))
const HNP = octets(151, hex('004020010db801000077'))
const opts = { addressConfig: 'stateless' as const }

test('a full Accept: LMA, prefix, interface id, IPv4 HoA, DHCP servers, Session-Timeout, Class', () => {
  const attrs: RadiusAttribute[] = [LMA, HNP, octets(153, hex('0000000000000001')), octets(155, hex('0020c0000207')), octets(159, hex('20010db8000a00000000000000000053')), octets(157, hex('c0000201')), u32(27, 600), octets(25, Buffer.from('c1'))]
  const r = profileFromAccept(attrs, 'mn1@example.org', opts)
  expect(r).toEqual({
    ok: true,
    value: {
      mnId: 'mn1@example.org',
      profile: { mnId: 'mn1@example.org', lma: '2001:db8:ffff::2', homePrefixes: ['2001:db8:100:77::/64'], addressConfig: 'both', mode: 'network' },
      interfaceId: '0000:0000:0000:0001',
      ipv4HomeAddress: '192.0.2.7/32',
      dhcp6Servers: ['2001:db8:a::53'],
      dhcp4Servers: ['192.0.2.1'],
      sessionTimeoutS: 600,
      classes: [Buffer.from('c1')],
    },
  })
})

test('with an IPv4 data plane an IPv4 HoA makes the MN dual-stack asking for it; 0.0.0.0 lets the LMA choose; a Scenario B host stays IPv6-only', () => {
  const v4 = { ...opts, ipv4: true }
  const given = profileFromAccept([LMA, octets(155, hex('0020c0000207'))], 'mn', v4)
  expect(given.ok && given.value.profile).toEqual({ mnId: 'mn', lma: '2001:db8:ffff::2', addressConfig: 'stateless', mode: 'network', stack: 'dual', ipv4HomeAddress: '192.0.2.7' })
  const any = profileFromAccept([LMA, octets(155, hex('001800000000'))], 'mn', v4)
  expect(any.ok && any.value.profile).toEqual({ mnId: 'mn', lma: '2001:db8:ffff::2', addressConfig: 'stateless', mode: 'network', stack: 'dual' })
  const host = profileFromAccept([LMA, octets(155, hex('0020c0000207')), text(11, 'scenario-b')], 'mn', { ...v4, hostMode: { type: 11, value: 'scenario-b' } })
  expect(host.ok && host.value.profile.stack).toBeUndefined()
})

test('Mobile-Node-Identifier, else User-Name, names the MN (RFC 6572 §3.1, RFC 2865 §5.1)', () => {
  const a = profileFromAccept([LMA, text(1, 'alias@x'), octets(145, Buffer.from('real@example.org'))], '00-11-22-33-44-55', opts)
  expect(a.ok && a.value.mnId).toBe('real@example.org')
  const b = profileFromAccept([LMA, text(1, 'alias@x')], '00-11-22-33-44-55', opts)
  expect(b.ok && b.value.mnId).toBe('alias@x')
})

test('no prefix: the LMA assigns one; a visited LMA when there is no home one', () => {
  const r = profileFromAccept([octets(148, hex('20010db8ffff00000000000000000009'))], 'mn', opts)
  expect(r.ok && r.value.profile).toEqual({ mnId: 'mn', lma: '2001:db8:ffff::9', addressConfig: 'stateless', mode: 'network' })
})

test.each([
  ['no LMA', [HNP], 'PMIP6-Home-LMA-IPv6-Address', /missing/],
  ['an LMA of 4 octets', [octets(147, hex('c0000201'))], 'PMIP6-Home-LMA-IPv6-Address', /16 octets/],
  ['a link-local LMA', [octets(147, hex('fe800000000000000000000000000001'))], 'PMIP6-Home-LMA-IPv6-Address', /global unicast/],
  ['two LMAs', [LMA, LMA], 'PMIP6-Home-LMA-IPv6-Address', /2 times/],
  ['a prefix longer than 128', [LMA, octets(151, hex('0081'))], 'PMIP6-Home-HN-Prefix', /above 128/],
  ['the zero prefix', [LMA, octets(151, hex('0000'))], 'PMIP6-Home-HN-Prefix', /zero prefix/],
  ['an interface id of 4 octets', [LMA, octets(153, hex('00000001'))], 'PMIP6-Home-Interface-ID', /8 octets/],
  ['an IPv4 HoA of 5 octets', [LMA, octets(155, hex('0020c00002'))], 'PMIP6-Home-IPv4-HoA', /6 octets/],
  ['a Session-Timeout of 2 octets', [LMA, octets(27, hex('0001'))], 'Session-Timeout', /4 octets/],
  ['a Mobile-Node-Identifier not UTF-8', [LMA, octets(145, hex('ff'))], 'Mobile-Node-Identifier', /UTF-8/],
])('%s: denied, the attribute named', (_w, attrs, attribute, why) => {
  const r = profileFromAccept(attrs, 'mn', opts)
  expect(r.ok).toBe(false)
  if (!r.ok) {
    expect(r.attribute).toBe(attribute)
    expect(r.why).toMatch(why)
  }
})

test('host mode (RFC 6612 Scenario B) from a configured attribute: no LMA needed', () => {
  const hostMode = { type: 11, value: 'scenario-b' }
  const r = profileFromAccept([text(11, 'scenario-b')], 'mn', { ...opts, hostMode })
  expect(r.ok && r.value.profile.mode).toBe('host')
  expect(profileFromAccept([text(11, 'other')], 'mn', { ...opts, hostMode }).ok).toBe(false)
  // A vendor's attribute with an integer value.
  const vsa = octets(26, hex('0000706e010600000001'))
  expect(hasAttribute([vsa], { type: 26, vendor: 28782, vendorType: 1, value: 1 })).toBe(true)
  expect(hasAttribute([vsa], { type: 26, vendor: 28782, vendorType: 1, value: 2 })).toBe(false)
  expect(hasAttribute([vsa], { type: 26, vendor: 9, vendorType: 1, value: 1 })).toBe(false)
})
