// The relay's decisions (RFC 8415 §19, RFC 5213 §6.11), driven without sockets.
import { RelayLogic, dhcp6, linkAddressFor, HOP_COUNT_LIMIT, ALL_DHCP_SERVERS, type RelayBinding, type RelayAction, type RelayMessage } from '../src'
import { ADVERTISE, SOLICIT, hex } from './vectors'

const SERVER = '2001:db8:ffff::2'
const CLIENT = 'fe80::211:22ff:fe33:4455'
const mn1: RelayBinding = { mnId: 'mn1@example.com', link: 'mn1', mac: '00:11:22:33:44:55', mode: 'network', state: 'registered', prefixes: ['2001:db8:100:1::/64'], stateful: true, routerAddress: 'fe80::1' }

function logic(bindings: readonly RelayBinding[] = [mn1], servers: readonly string[] = [SERVER]): RelayLogic {
  const l = new RelayLogic({ servers })
  l.setBindings(bindings)
  return l
}

function forwarded(actions: readonly RelayAction[]): RelayMessage {
  const a = actions[0]
  if (a?.type !== 'to-server') throw new Error(`expected to-server, got ${JSON.stringify(a)}`)
  const m = dhcp6.decode(a.bytes)
  if (m.kind !== 'relay-forward') throw new Error('not a relay-forward')
  return m
}

const dropReason = (actions: readonly RelayAction[]): string | undefined => (actions[0]?.type === 'drop' ? actions[0].reason : undefined)

describe('link-address from the home network prefix (RFC 5213 §6.11)', () => {
  test('the prefix with the router link-local interface identifier', () => {
    expect(linkAddressFor('2001:db8:100:1::/64', 'fe80::1')).toBe('2001:db8:100:1::1')
    expect(linkAddressFor('2001:db8:100:1::/64', 'fe80::200:ff:fe00:fe')).toBe('2001:db8:100:1:200:ff:fe00:fe')
    // not link-local, or unusable: ::1 of the prefix
    expect(linkAddressFor('2001:db8:100:1::/64', '::')).toBe('2001:db8:100:1::1')
    // a /56 takes the identifier's bits past bit 56; an all-zero host part is avoided
    expect(linkAddressFor('2001:db8:100:100::/56', 'fe80::1')).toBe('2001:db8:100:100::1')
    expect(linkAddressFor('2001:db8:100:1::/128', 'fe80::1')).toBe('2001:db8:100:1::')
  })

  test('the same MN gets the same link-address on any MAG (fixed router link-local)', () => {
    const a = forwarded(logic().fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' }))
    const b = forwarded(logic([{ ...mn1, link: 'wlan7' }]).fromClient({ data: SOLICIT, src: CLIENT, link: 'wlan7' }))
    expect(a.linkAddress).toBe('2001:db8:100:1::1')
    expect(b.linkAddress).toBe(a.linkAddress)
  })
})

describe('client messages from the access link', () => {
  test('a Solicit is relayed with hop-count 0, peer-address, Interface-Id and the client MAC', () => {
    const l = logic()
    const actions = l.fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' })
    expect(actions).toHaveLength(1)
    expect(actions[0]).toMatchObject({ type: 'to-server', to: SERVER, mnId: mn1.mnId, msgType: 1 })
    const m = forwarded(actions)
    expect(m).toMatchObject({ hopCount: 0, linkAddress: '2001:db8:100:1::1', peerAddress: CLIENT })
    expect(m.interfaceId?.toString()).toBe('mn1')
    expect(m.relayMessage).toEqual(SOLICIT)
    expect(m.options).toEqual([{ code: 79, data: hex('0001 001122334455') }])
    expect(l.counters()).toMatchObject({ 'rx.client': 1, 'tx.relay-forward': 1, 'relay-forward.client': 1 })
  })

  test('one Relay-forward per configured server, All_DHCP_Servers included', () => {
    const actions = logic([mn1], [SERVER, ALL_DHCP_SERVERS]).fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' })
    expect(actions.map((a) => (a.type === 'to-server' ? a.to : a.type))).toEqual([SERVER, ALL_DHCP_SERVERS])
  })

  test('a host-mode (Scenario B) MN: link-address from its local prefix', () => {
    const host: RelayBinding = { ...mn1, mode: 'host', state: 'local', prefixes: ['2001:db8:a1:5::/64'] }
    expect(forwarded(logic([host]).fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' })).linkAddress).toBe('2001:db8:a1:5::1')
  })

  test('refreshing still counts as an accepted binding', () => {
    expect(logic([{ ...mn1, state: 'refreshing' }]).fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' })[0]?.type).toBe('to-server')
  })

  test.each([
    ['no-binding', [mn1], 'mn2', SOLICIT],
    ['not-accepted', [{ ...mn1, state: 'registering', prefixes: [] }], 'mn1', SOLICIT],
    ['not-accepted', [{ ...mn1, state: 'denied', prefixes: [] }], 'mn1', SOLICIT],
    ['not-stateful', [{ ...mn1, stateful: false }], 'mn1', SOLICIT],
    ['server-message', [mn1], 'mn1', ADVERTISE],
    ['malformed', [mn1], 'mn1', hex('01 12')],
  ] as const)('drop %s', (reason, bindings, link, data) => {
    const l = logic(bindings)
    expect(dropReason(l.fromClient({ data, src: CLIENT, link }))).toBe(reason)
    expect(l.counters()[`drop.${reason}`]).toBe(1)
    expect(l.counters()['tx.relay-forward']).toBeUndefined()
  })

  test('no servers configured: dropped as no-servers', () => {
    expect(dropReason(logic([mn1], []).fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' }))).toBe('no-servers')
  })

  test('malformed drops are counted by codec reason', () => {
    const l = logic()
    l.fromClient({ data: hex('01 123456 0008 0003 0000'), src: CLIENT, link: 'mn1' })
    expect(l.counters()['drop.malformed.option-overflow']).toBe(1)
  })

  test('a shared link: the MN is told apart by the DUID MAC or the EUI-64 source, else dropped', () => {
    const other: RelayBinding = { ...mn1, mnId: 'mn9@example.com', mac: '02:00:00:00:09:09', prefixes: ['2001:db8:100:9::/64'] }
    const l = logic([other, mn1])
    expect(forwarded(l.fromClient({ data: SOLICIT, src: 'fe80::1234', link: 'mn1' })).linkAddress).toBe('2001:db8:100:1::1')
    const noDuid = hex('01 123456 0008 0002 0000')
    expect(forwarded(l.fromClient({ data: noDuid, src: 'fe80::ff:fe00:909', link: 'mn1' })).linkAddress).toBe('2001:db8:100:9::1')
    expect(dropReason(l.fromClient({ data: noDuid, src: 'fe80::1234', link: 'mn1' }))).toBe('ambiguous-mn')
  })
})

describe('Relay-forward from another relay on the access link (RFC 8415 §19.1.2)', () => {
  const inner = (hopCount: number): Buffer => dhcp6.encode({ kind: 'relay-forward', hopCount, linkAddress: '::', peerAddress: CLIENT, interfaceId: null, options: [], relayMessage: SOLICIT })

  test('nested with hop-count + 1; link-address ours for a link-local source, :: for a global one', () => {
    const l = logic()
    const a = forwarded(l.fromClient({ data: inner(2), src: 'fe80::99', link: 'mn1' }))
    expect(a).toMatchObject({ hopCount: 3, linkAddress: '2001:db8:100:1::1', peerAddress: 'fe80::99' })
    expect(a.options).toEqual([]) // RFC 6939: only the first-hop relay adds the client MAC
    expect(dhcp6.decode(a.relayMessage)).toMatchObject({ kind: 'relay-forward', hopCount: 2 })
    const b = forwarded(l.fromClient({ data: inner(0), src: '2001:db8:100:1::99', link: 'mn1' }))
    expect(b.linkAddress).toBe('::')
    expect(l.counters()['relay-forward.nested']).toBe(2)
  })

  test(`dropped at hop-count ${HOP_COUNT_LIMIT}, relayed just below it`, () => {
    const l = logic()
    expect(dropReason(l.fromClient({ data: inner(HOP_COUNT_LIMIT), src: 'fe80::99', link: 'mn1' }))).toBe('hop-limit')
    expect(forwarded(l.fromClient({ data: inner(HOP_COUNT_LIMIT - 1), src: 'fe80::99', link: 'mn1' })).hopCount).toBe(HOP_COUNT_LIMIT)
  })
})

describe('Relay-reply from a server (RFC 8415 §19.2)', () => {
  const reply = (over: Partial<RelayMessage> = {}): Buffer =>
    dhcp6.encode({ kind: 'relay-reply', hopCount: 0, linkAddress: '2001:db8:100:1::1', peerAddress: CLIENT, interfaceId: Buffer.from('mn1'), options: [], relayMessage: ADVERTISE, ...over })

  test('the inner message goes to peer-address:546 on the Interface-Id link, from the router link-local', () => {
    const l = logic()
    expect(l.fromServer({ data: reply(), src: SERVER })).toEqual([{ type: 'to-client', link: 'mn1', to: CLIENT, port: 546, src: 'fe80::1', bytes: ADVERTISE, msgType: 2 }])
    expect(l.counters()['tx.to-client']).toBe(1)
  })

  test('a Relay-reply for an inner relay goes to port 547', () => {
    const innerReply = dhcp6.encode({ kind: 'relay-reply', hopCount: 0, linkAddress: '::', peerAddress: CLIENT, interfaceId: null, options: [], relayMessage: ADVERTISE })
    expect(logic().fromServer({ data: reply({ peerAddress: 'fe80::99', relayMessage: innerReply }), src: SERVER })[0]).toMatchObject({ type: 'to-client', to: 'fe80::99', port: 547 })
  })

  test('without Interface-Id the link-address finds the link', () => {
    expect(logic().fromServer({ data: reply({ interfaceId: null }), src: SERVER })[0]).toMatchObject({ type: 'to-client', link: 'mn1' })
  })

  test('link-mac Interface-Id format maps back to the link', () => {
    const l = new RelayLogic({ servers: [SERVER], interfaceIdFormat: 'link-mac' })
    l.setBindings([mn1])
    const f = forwarded(l.fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' }))
    expect(f.interfaceId?.toString()).toBe('mn1/00:11:22:33:44:55')
    expect(l.fromServer({ data: reply({ interfaceId: f.interfaceId }), src: SERVER })[0]).toMatchObject({ type: 'to-client', link: 'mn1' })
  })

  test.each([
    ['unknown-interface-id', reply({ interfaceId: Buffer.from('eth9') })],
    ['unknown-interface-id', reply({ interfaceId: null, linkAddress: '2001:db8:999::1' })],
    ['unexpected-type', SOLICIT],
    ['unexpected-type', dhcp6.encode({ kind: 'relay-forward', hopCount: 0, linkAddress: '::', peerAddress: CLIENT, interfaceId: null, options: [], relayMessage: SOLICIT })],
    ['malformed', reply({ relayMessage: hex('0d00') })],
    ['malformed', hex('0d 00 0000')],
  ] as const)('drop %s', (reason, data) => {
    const l = logic()
    expect(dropReason(l.fromServer({ data, src: SERVER }))).toBe(reason)
    expect(l.counters()[`drop.${reason}`]).toBe(1)
  })

  test('per-MN updates decide as a whole list would: upserts replace, removals forget, a link without MNs is unknown', () => {
    const mn9: RelayBinding = { ...mn1, mnId: 'mn9@example.com', mac: '02:00:00:00:09:09', prefixes: ['2001:db8:100:9::/64'] }
    const noDuid = hex('01 123456 0008 0002 0000')
    const l = logic([])
    l.upsertBinding(mn1)
    l.upsertBinding(mn9)
    // Shared link: mn9 by its EUI-64; the link-address of each finds the link.
    expect(forwarded(l.fromClient({ data: noDuid, src: 'fe80::ff:fe00:909', link: 'mn1' })).linkAddress).toBe('2001:db8:100:9::1')
    expect(l.fromServer({ data: reply({ interfaceId: null, linkAddress: '2001:db8:100:9::1' }), src: SERVER })[0]).toMatchObject({ type: 'to-client', link: 'mn1' })
    // mn9 renumbered: the old link-address is forgotten, the new one known.
    l.upsertBinding({ ...mn9, prefixes: ['2001:db8:100:a::/64'] })
    expect(dropReason(l.fromServer({ data: reply({ interfaceId: null, linkAddress: '2001:db8:100:9::1' }), src: SERVER }))).toBe('unknown-interface-id')
    expect(forwarded(l.fromClient({ data: noDuid, src: 'fe80::ff:fe00:909', link: 'mn1' })).linkAddress).toBe('2001:db8:100:a::1')
    // A state change only (in place): mn9 in de-registration is refused, then served again.
    l.upsertBinding({ ...mn9, prefixes: ['2001:db8:100:a::/64'], state: 'deregistering' })
    expect(dropReason(l.fromClient({ data: noDuid, src: 'fe80::ff:fe00:909', link: 'mn1' }))).toBe('not-accepted')
    l.upsertBinding({ ...mn9, prefixes: ['2001:db8:100:a::/64'], state: 'refreshing' })
    expect(forwarded(l.fromClient({ data: noDuid, src: 'fe80::ff:fe00:909', link: 'mn1' })).linkAddress).toBe('2001:db8:100:a::1')
    // mn9 leaves: mn1 is alone on the link and answers without being told apart.
    l.removeBinding('mn9@example.com')
    l.removeBinding('nobody@example.com')
    expect(forwarded(l.fromClient({ data: noDuid, src: 'fe80::1234', link: 'mn1' })).linkAddress).toBe('2001:db8:100:1::1')
    l.removeBinding('mn1@example.com')
    expect(dropReason(l.fromServer({ data: reply(), src: SERVER }))).toBe('unknown-interface-id')
    expect(dropReason(l.fromClient({ data: SOLICIT, src: CLIENT, link: 'mn1' }))).toBe('no-binding')
  })

  test('after the MN left (bindings replaced), its replies are unknown', () => {
    const l = logic()
    l.setBindings([])
    expect(dropReason(l.fromServer({ data: reply(), src: SERVER }))).toBe('unknown-interface-id')
  })
})
