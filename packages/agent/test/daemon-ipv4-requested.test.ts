// The daemon's side of RFC 5844 §3.3.1 / §3.4.1: an address the MN's DHCPv4 client asks for
// (what the DHCPv4 service hands to `ipv4Requested`) reaches the core as an ipv4-requested event;
// the next PBU on the MH link names it, the lease the DHCPv4 server gets is it, and the counters,
// the metrics family and the binding view say so. A MAC that is no MAC goes no further.
import { BaStatus, mh, parseIp4, PBA_FLAGS, type BindingUpdate } from '@pmip6/wire'
import type { AccessDriver } from '@pmip6/driver-api'
import type { Ipv4LeaseCommand } from '@pmip6/core'
import { formatMetrics } from '../src/metrics'
import { LMA, MAG, world } from './helpers/world'

const MN = 'mn1@example.com'
const MAC = '02:00:00:00:01:01'
const WANT = '192.0.2.77'
const settle = () => new Promise((r) => setImmediate(r))
const present: AccessDriver = { name: 'here', start: async () => undefined, stop: async () => undefined, onEvent: () => () => undefined, present: () => true, attached: async () => [] }

const v4Req = (p: BindingUpdate): string | undefined => {
  const o = p.options.find((x) => x.type === 'ipv4-hoa-request')
  return o?.type === 'ipv4-hoa-request' ? `${[...o.address].join('.')}/${o.prefixLength}` : undefined
}

function setup() {
  const w = world({
    drivers: new Map([['here', present]]),
    mag: { heartbeatInterval: 0 },
    profiles: [{ mnId: MN, lma: LMA, stack: 'ipv4', ipv4Allowed: ['192.0.2.0/24'], macs: [MAC] }],
  })
  const leases: Ipv4LeaseCommand[] = []
  w.d.onIpv4Lease((c) => leases.push(c))
  /** The LMA grants what the PBU names (RFC 5844 §3.3.2-3.3.4), or refuses it with 171. */
  const answer = (pbu: BindingUpdate, status = 0) => {
    const asked = pbu.options.find((o) => o.type === 'ipv4-hoa-request')
    const addr = asked?.type === 'ipv4-hoa-request' && asked.address.some((b) => b !== 0) ? asked.address : parseIp4('192.0.2.2')
    w.deliver({
      data: mh.encode({
        kind: 'binding-ack',
        status,
        flags: PBA_FLAGS,
        sequence: pbu.sequence,
        lifetime: pbu.lifetime,
        options: [
          ...pbu.options.filter((o) => o.type !== 'ipv4-hoa-request'),
          { type: 'ipv4-hoa-reply', status: status === 0 ? 0 : 130, prefixLength: 24, address: addr },
          ...(status === 0 ? [{ type: 'ipv4-default-router' as const, address: parseIp4('192.0.2.1') }, { type: 'ipv4-dhcp-support-mode' as const, server: true }] : []),
        ],
      }),
      src: LMA,
      dst: MAG,
      link: 'up0',
      hopLimit: 64,
    })
  }
  return { w, leases, answer }
}

describe('daemon: the IPv4 address the MN asks for (RFC 5844 §3.3.1, §3.4.1)', () => {
  test('asked for before the PBA: the retransmitted PBU names it, the LMA grants it, the DHCPv4 lease is it; counters, metrics and view', async () => {
    const { w, leases, answer } = setup()
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, llId: Buffer.from(MAC.replace(/:/g, ''), 'hex'), att: 4 })
    expect(w.pbus().map(v4Req)).toEqual(['0.0.0.0/0'])
    // What the DHCPv4 service hands on: a MAC that is no MAC is dropped before the core.
    w.d.ipv4Requested({ mac: 'not-a-mac', address: WANT, via: 'option-50' })
    w.d.ipv4Requested({ mac: MAC, address: WANT, via: 'option-50' })
    await settle()
    expect(w.d.bindings()[0]!.ipv4Requested).toEqual({ address: WANT, outcome: 'pending' })
    w.tick(1_000) // the first PBU went unanswered: the retransmission
    await settle()
    const re = w.pbus()[1]!
    expect(v4Req(re)).toBe(`${WANT}/32`)
    answer(re)
    await settle()
    expect(leases.map((c) => c.lease?.address)).toEqual([WANT])
    expect(w.d.bindings()[0]).toMatchObject({ state: 'registered', ipv4Address: `${WANT}/24`, ipv4Requested: { address: WANT, outcome: 'used' } })
    const s = w.d.status()
    expect(s.counters).toMatchObject({ 'core.ipv4-requested': 1, 'core.ipv4-requested-used': 1 })
    const text = formatMetrics(s)
    expect(text).toContain('mag_ipv4_requested_total{outcome="requested"} 1')
    expect(text).toContain('mag_ipv4_requested_total{outcome="used"} 1')
    expect(text).toContain('mag_ipv4_requested_total{outcome="refused"} 0')
    await w.d.stop(false)
  })

  test('refused by the LMA (171): the next PBU asks with 0.0.0.0 and the lease is the LMA\'s address; an address from outside ipv4Allowed is ignored', async () => {
    const { w, leases, answer } = setup()
    await w.d.start()
    w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: MN, llId: Buffer.from(MAC.replace(/:/g, ''), 'hex'), att: 4 })
    w.d.ipv4Requested({ mac: MAC, address: '198.51.100.9', via: 'option-50' })
    w.d.ipv4Requested({ mac: MAC, address: WANT, via: 'ciaddr' })
    w.tick(1_000)
    await settle()
    const named = w.pbus()[1]!
    expect(v4Req(named)).toBe(`${WANT}/32`)
    answer(named, BaStatus.NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS)
    await settle()
    const again = w.pbus()[2]!
    expect(v4Req(again)).toBe('0.0.0.0/0')
    answer(again)
    await settle()
    expect(leases.map((c) => c.lease?.address)).toEqual(['192.0.2.2'])
    expect(w.d.bindings()[0]).toMatchObject({ state: 'registered', ipv4Requested: { address: WANT, outcome: 'refused:171/130' } })
    expect(w.d.status().counters).toMatchObject({ 'core.ipv4-request-ignored:outside-ipv4Allowed': 1, 'core.ipv4-requested-refused': 1 })
    await w.d.stop(false)
  })
})
