// The pure LMA core: every PBA status of RFC 5213 §5.3.1/§5.5 (and RFC 6275 §9.5.1 for 135),
// registration, handoff, de-registration, expiry, heartbeats and the fault knobs.
import { BaStatus, HandoffIndicator, mh, parseIp6, setMhChecksum, timestampFromMs, timestampToMs, type MhMessage } from '@pmip6/wire'
import { LmaCore, MIN_DELAY_BEFORE_BCE_DELETE_MS, TIMESTAMP_VALIDITY_WINDOW_MS, sequenceIsNewer, type LmaCoreOptions } from '@pmip6/lab-lma'
import { LMA, MAC, MAG1, MAG2, NAI, T0, hnpsOf, ofType, pbaOf, pbuBytes, sendPbu, sends, statusOf } from './helpers/pbu'

const POOL = '2001:db8:100::/48'
const P1 = '2001:db8:100::/64'
const P2 = '2001:db8:100:1::/64'

function core(opts: Partial<LmaCoreOptions> = {}): LmaCore {
  return new LmaCore({ address: LMA, pool: POOL, ...opts })
}

/** protocol-reference.md §10.2 */
const PBA_10_2 = Buffer.from(
  '3b0a0600add600201234038408100' +
    '16d6e31406578616d706c652e636f6d0104' +
    '00000000161200402001 0db8 0001 0001'.replace(/ /g, '') +
    '0000000000000000170200011802000401001b080000659200808000190800000011223344550100',
  'hex',
)

describe('RFC 5213 §5.3.2 initial registration and §5.3.6 PBA construction', () => {
  test('reproduces the worked PBA of protocol-reference §10.2 byte for byte (checksum filled as the kernel would)', () => {
    const c = new LmaCore({ address: LMA, mns: { [NAI]: { prefixes: ['2001:db8:1:1::/64'] } } })
    const cmds = sendPbu(c, T0, { seq: 0x1234, lifetime: 3600, ts: T0 })
    const [s] = sends(cmds)
    expect(s!.to).toBe(MAG1)
    expect(s!.from).toBe(LMA)
    const bytes = Buffer.from(s!.bytes)
    setMhChecksum(bytes, parseIp6(LMA), parseIp6(MAG1))
    expect(bytes.toString('hex')).toBe(PBA_10_2.toString('hex'))
  })

  test('assigns a /64 from the pool, echoes the sequence number and options in order, sets P, grants the lifetime', () => {
    const c = core()
    const cmds = sendPbu(c, T0, { seq: 77, lifetime: 7200, lla: 'fe80::1' })
    const pba = pbaOf(cmds)
    expect(pba.status).toBe(BaStatus.ACCEPTED)
    expect(pba.sequence).toBe(77)
    expect(pba.flags.p).toBe(true)
    expect(pba.lifetime).toBe(7200)
    expect(pba.options.map((o) => o.type)).toEqual(['mn-id', 'hnp', 'handoff-indicator', 'access-tech-type', 'timestamp', 'mn-ll-id', 'link-local-address'])
    expect(hnpsOf(pba)).toEqual([P1])
    const created = ofType(cmds, 'binding-created')
    expect(created).toHaveLength(1)
    expect(created[0]).toMatchObject({ mnId: NAI, mag: MAG1, prefixes: [P1] })
    expect(ofType(cmds, 'arm-timer')).toEqual([{ type: 'arm-timer', key: `expire:${NAI}`, at: T0 + 7200_000 }])
    expect(c.binding(NAI)).toMatchObject({ mag: MAG1, prefixes: [P1], att: 4, hi: 1, mnLlId: MAC, linkLocal: 'fe80::1', state: 'active' })
  })

  test('echoes options in the PBU order, whatever it is, and drops the ones it does not process (GRE key, unknown)', () => {
    const c = core()
    const ts = timestampFromMs(T0)
    const cmds = c.step({
      type: 'mh',
      at: T0,
      from: MAG1,
      data: mh.encode({
        kind: 'binding-update',
        sequence: 5,
        flags: { a: true, h: false, l: false, k: false, m: false, r: false, p: true, f: false, t: false, b: false },
        lifetime: 400,
        options: [
          { type: 'timestamp', ...ts },
          { type: 'gre-key', key: 7 },
          { type: 'access-tech-type', value: 3 },
          { type: 'handoff-indicator', value: 1 },
          { type: 'unknown', code: 200, data: Buffer.from([1, 2]) },
          { type: 'hnp', prefixLength: 0, prefix: Buffer.alloc(16) },
          { type: 'mn-id', subtype: 1, id: Buffer.from(NAI) },
        ],
      }),
    })
    const pba = pbaOf(cmds)
    expect(pba.status).toBe(0)
    expect(pba.options.map((o) => o.type)).toEqual(['timestamp', 'access-tech-type', 'handoff-indicator', 'hnp', 'mn-id'])
    expect(pba.options[0]).toEqual({ type: 'timestamp', ...ts })
  })

  test('caps the granted lifetime at lifetimeMax (RFC 5213 §5.3.2)', () => {
    const c = core({ lifetimeMax: 600 })
    const pba = pbaOf(sendPbu(c, T0, { lifetime: 3600 }))
    expect(pba.lifetime).toBe(600)
    expect(c.binding(NAI)?.expiresAt).toBe(T0 + 600_000)
  })

  test('static prefixes from the MN table, several of them, in one PBA', () => {
    const c = core({ mns: { [NAI]: { prefixes: ['2001:db8:1:1::/64', '2001:db8:1:2::/64'] } } })
    const pba = pbaOf(sendPbu(c, T0))
    expect(hnpsOf(pba)).toEqual(['2001:db8:1:1::/64', '2001:db8:1:2::/64'])
  })

  test('no acknowledgement for an accepted PBU without the A flag (RFC 6275 §10.3.1), but the binding exists', () => {
    const c = core()
    const cmds = sendPbu(c, T0, { a: false })
    expect(sends(cmds)).toHaveLength(0)
    expect(c.binding(NAI)?.prefixes).toEqual([P1])
  })

  test('RFC 6275 §9.2: an unknown MH type gets a Binding Error with status 2', () => {
    const c = core()
    const cmds = c.step({ type: 'mh', at: T0, from: MAG1, data: mh.encode({ kind: 'other', mhType: 42, body: Buffer.alloc(2) }) })
    const m = mh.decode(sends(cmds)[0]!.bytes)
    expect(m).toMatchObject({ kind: 'binding-error', status: 2 })
  })

  test('malformed messages are dropped, not answered', () => {
    const c = core()
    const cmds = c.step({ type: 'mh', at: T0, from: MAG1, data: Buffer.from([59, 9, 5, 0]) })
    expect(cmds).toEqual([expect.objectContaining({ type: 'dropped', reason: 'malformed' })])
    expect(c.status().counters.dropped).toEqual({ malformed: 1 })
  })
})

describe('RFC 5213 §5.3.1 PBU validation statuses', () => {
  test('152 PROXY_REG_NOT_ENABLED: a Binding Update with the P flag clear', () => {
    const pba = pbaOf(sendPbu(core(), T0, { p: false }))
    expect(pba.status).toBe(BaStatus.PROXY_REG_NOT_ENABLED)
    expect(pba.flags.p).toBe(false)
  })

  test('152 PROXY_REG_NOT_ENABLED: proxy registration disabled for this MN in the table', () => {
    expect(statusOf(sendPbu(core({ mns: { [NAI]: { proxyEnabled: false } } }), T0))).toBe(152)
  })

  test('153 NOT_LMA_FOR_THIS_MOBILE_NODE: an MN missing from a restrictive MN table', () => {
    const c = core({ mns: { 'other@example.com': {} } })
    expect(statusOf(sendPbu(c, T0))).toBe(BaStatus.NOT_LMA_FOR_THIS_MOBILE_NODE)
    expect(c.bindings()).toEqual([])
  })

  test('153 is configurable (unknownMnStatus), and acceptUnknown serves the MN from the pool', () => {
    expect(statusOf(sendPbu(core({ mns: {}, unknownMnStatus: 129 }), T0))).toBe(129)
    expect(statusOf(sendPbu(core({ mns: {}, acceptUnknown: true }), T0))).toBe(0)
  })

  test('154 MAG_NOT_AUTHORIZED_FOR_PROXY_REG: a MAG not in the allowed list (global and per MN)', () => {
    expect(statusOf(sendPbu(core({ mags: [MAG2] }), T0, {}, MAG1))).toBe(BaStatus.MAG_NOT_AUTHORIZED_FOR_PROXY_REG)
    expect(statusOf(sendPbu(core({ mags: [MAG1] }), T0, {}, MAG1))).toBe(0)
    expect(statusOf(sendPbu(core({ mns: { [NAI]: { mags: [MAG2] } } }), T0, {}, MAG1))).toBe(154)
  })

  test("155 NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX: a non-zero HNP that is not the MN's", () => {
    const c = core({ mns: { [NAI]: { prefixes: ['2001:db8:1:1::/64'] }, 'b@x': { prefixes: ['2001:db8:1:2::/64'] } } })
    expect(statusOf(sendPbu(c, T0, { hnp: '2001:db8:1:2::/64' }))).toBe(BaStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)
    expect(statusOf(sendPbu(c, T0, { hnp: '2001:db8:1:1::/64' }))).toBe(0)
    // a pool MN naming a pool prefix it never had
    expect(statusOf(sendPbu(core(), T0, { hnp: P2 }))).toBe(155)
  })

  test('158 MISSING_HOME_NETWORK_PREFIX_OPTION', () => {
    expect(statusOf(sendPbu(core(), T0, { hnp: null }))).toBe(BaStatus.MISSING_HOME_NETWORK_PREFIX_OPTION)
  })

  test('160 MISSING_MN_IDENTIFIER_OPTION', () => {
    expect(statusOf(sendPbu(core(), T0, { mnId: null }))).toBe(BaStatus.MISSING_MN_IDENTIFIER_OPTION)
  })

  test('161 MISSING_HANDOFF_INDICATOR_OPTION', () => {
    expect(statusOf(sendPbu(core(), T0, { hi: null }))).toBe(BaStatus.MISSING_HANDOFF_INDICATOR_OPTION)
  })

  test('162 MISSING_ACCESS_TECH_TYPE_OPTION', () => {
    expect(statusOf(sendPbu(core(), T0, { att: null }))).toBe(BaStatus.MISSING_ACCESS_TECH_TYPE_OPTION)
  })

  test('§8.5 Access Technology Type 0 (reserved) names no technology: 162, like a PBU without the option (§5.3.1); nothing is bound', () => {
    const c = core()
    const cmds = sendPbu(c, T0, { att: 0 })
    expect(statusOf(cmds)).toBe(BaStatus.MISSING_ACCESS_TECH_TYPE_OPTION)
    expect(sends(cmds)[0]).toMatchObject({ reason: 'reserved-access-tech-type' })
    expect(c.bindings()).toEqual([])
    for (const att of [1, 2, 3, 4, 5, 12, 255]) expect(statusOf(sendPbu(core(), T0, { att }))).toBe(0)
  })

  test('159 BCE_PBU_PREFIX_SET_DO_NOT_MATCH: a refresh naming only part of the BCE prefix set (§5.3.3)', () => {
    const c = core({ mns: { [NAI]: { prefixes: ['2001:db8:1:1::/64', '2001:db8:1:2::/64'] } } })
    expect(statusOf(sendPbu(c, T0))).toBe(0)
    expect(statusOf(sendPbu(c, T0 + 100, { hi: 5, hnp: '2001:db8:1:1::/64' }))).toBe(BaStatus.BCE_PBU_PREFIX_SET_DO_NOT_MATCH)
    expect(statusOf(sendPbu(c, T0 + 200, { hi: 5, hnp: ['2001:db8:1:2::/64', '2001:db8:1:1::/64'] }))).toBe(0)
  })

  test('130 INSUFFICIENT_RESOURCES when the pool is exhausted', () => {
    const c = core({ pool: '2001:db8:100::/63' }) // two /64s
    expect(statusOf(sendPbu(c, T0, { mnId: 'a@x' }))).toBe(0)
    expect(statusOf(sendPbu(c, T0, { mnId: 'b@x' }))).toBe(0)
    expect(statusOf(sendPbu(c, T0, { mnId: 'c@x' }))).toBe(BaStatus.INSUFFICIENT_RESOURCES)
  })

  test('a rejection leaves the binding cache alone and echoes the requested HNP unchanged', () => {
    const c = core()
    const cmds = sendPbu(c, T0, { att: null })
    expect(hnpsOf(pbaOf(cmds))).toEqual(['::/0'])
    expect(pbaOf(cmds).lifetime).toBe(0)
    expect(ofType(cmds, 'binding-created')).toEqual([])
    expect(c.bindings()).toEqual([])
  })
})

describe('RFC 5213 §5.5 timestamps', () => {
  test(`156 TIMESTAMP_MISMATCH: a timestamp more than TimestampValidityWindow (${TIMESTAMP_VALIDITY_WINDOW_MS} ms) away, either side, with the LMA's time in the PBA`, () => {
    const c = core()
    for (const off of [-301, 301, 60_000]) {
      const pba = pbaOf(sendPbu(c, T0, { ts: T0 + off }))
      expect(pba.status).toBe(BaStatus.TIMESTAMP_MISMATCH)
      const ts = pba.options.find((o) => o.type === 'timestamp')
      expect(ts !== undefined && ts.type === 'timestamp' ? Math.round(timestampToMs(ts)) : NaN).toBe(T0)
    }
    expect(statusOf(sendPbu(c, T0, { ts: T0 - 300 }))).toBe(0)
    expect(statusOf(sendPbu(c, T0, { ts: T0 + 300, hi: 5 }))).toBe(0)
  })

  test("156 for a PBU without a Timestamp option when timestamps are required (timestampMode: 'timestamps'); the window is configurable", () => {
    expect(statusOf(sendPbu(core({ timestampMode: 'timestamps' }), T0, { ts: null }))).toBe(156)
    expect(statusOf(sendPbu(core({ timestampWindowMs: 5_000 }), T0, { ts: T0 - 4_000 }))).toBe(0)
  })

  test('157 TIMESTAMP_LOWER_THAN_PREV_ACCEPTED: older than the last accepted one for this BCE', () => {
    const c = core()
    expect(statusOf(sendPbu(c, T0, { ts: T0 + 200 }))).toBe(0)
    expect(statusOf(sendPbu(c, T0 + 100, { ts: T0 + 150, hi: 5 }))).toBe(BaStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED)
    expect(statusOf(sendPbu(c, T0 + 100, { ts: T0 + 200, hi: 5 }))).toBe(0) // equal is not lower
  })

  test('sequence numbers are not used for ordering in timestamp mode', () => {
    const c = core()
    expect(statusOf(sendPbu(c, T0, { seq: 100 }))).toBe(0)
    expect(statusOf(sendPbu(c, T0 + 10, { seq: 3, hi: 5 }))).toBe(0)
  })
})

describe("RFC 5213 §5.5 both approaches per PBU (timestampMode: 'auto', the default)", () => {
  test('§5.5 a PBU without a Timestamp option (a sequence-number MAG such as OPMIP\'s) is accepted and ordered by its sequence number (135)', () => {
    const c = core()
    expect(c.timestampMode).toBe('auto')
    const pba = pbaOf(sendPbu(c, T0, { seq: 10, ts: null }))
    expect(pba.status).toBe(0)
    expect(pba.options.some((o) => o.type === 'timestamp')).toBe(false)
    const stale = pbaOf(sendPbu(c, T0 + 1, { seq: 9, ts: null, hi: 5 }))
    expect(stale.status).toBe(BaStatus.SEQUENCE_OUT_OF_WINDOW)
    expect(stale.sequence).toBe(10)
    expect(statusOf(sendPbu(c, T0 + 2, { seq: 11, ts: null, hi: 5 }))).toBe(0)
  })

  test('§5.5 a PBU with a Timestamp option is ordered by it: 156 outside the window, 157 older, sequence numbers ignored', () => {
    const c = core()
    expect(statusOf(sendPbu(c, T0, { seq: 100, ts: T0 + 301 }))).toBe(156)
    expect(statusOf(sendPbu(c, T0, { seq: 100, ts: T0 + 200 }))).toBe(0)
    expect(statusOf(sendPbu(c, T0 + 100, { seq: 101, ts: T0 + 150, hi: 5 }))).toBe(157)
    expect(statusOf(sendPbu(c, T0 + 100, { seq: 3, ts: T0 + 250, hi: 5 }))).toBe(0)
  })

  test('two MAGs of different kinds serve MNs side by side', () => {
    const c = core()
    expect(statusOf(sendPbu(c, T0, { mnId: 'a@x', seq: 1, ts: null }))).toBe(0)
    expect(statusOf(sendPbu(c, T0, { mnId: 'b@x', seq: 1 }, MAG2))).toBe(0)
    expect(c.bindings().map((b) => [b.mnId, b.mag, b.lastTimestamp !== undefined])).toEqual([
      ['a@x', MAG1, false],
      ['b@x', MAG2, true],
    ])
  })
})

describe('RFC 6275 §9.5.1 sequence numbers (timestampMode: sequence)', () => {
  test('135 SEQUENCE_OUT_OF_WINDOW for a number not newer than the last accepted; the PBA carries the last accepted one', () => {
    const c = core({ timestampMode: 'sequence' })
    expect(statusOf(sendPbu(c, T0, { seq: 10, ts: null }))).toBe(0)
    for (const seq of [10, 9, 10 + 0x8000]) {
      const pba = pbaOf(sendPbu(c, T0 + 1, { seq, ts: null, hi: 5 }))
      expect(pba.status).toBe(BaStatus.SEQUENCE_OUT_OF_WINDOW)
      expect(pba.sequence).toBe(10)
    }
    expect(statusOf(sendPbu(c, T0 + 2, { seq: 11, ts: null, hi: 5 }))).toBe(0)
  })

  test('a handoff is not held to the previous MAG\'s numbering', () => {
    const c = core({ timestampMode: 'sequence' })
    expect(statusOf(sendPbu(c, T0, { seq: 5000, ts: null }))).toBe(0)
    expect(statusOf(sendPbu(c, T0 + 1, { seq: 3, ts: null, hi: 3 }, MAG2))).toBe(0)
    expect(statusOf(sendPbu(c, T0 + 2, { seq: 3, ts: null, hi: 5 }, MAG2))).toBe(135)
  })

  test('wraps modulo 2^16 and ignores timestamps', () => {
    const c = core({ timestampMode: 'sequence' })
    expect(statusOf(sendPbu(c, T0, { seq: 0xffff, ts: T0 - 999_999 }))).toBe(0)
    expect(statusOf(sendPbu(c, T0, { seq: 0, hi: 5 }))).toBe(0)
    expect(sequenceIsNewer(0, 0xffff)).toBe(true)
    expect(sequenceIsNewer(0x8000, 0)).toBe(false)
    expect(sequenceIsNewer(0x7fff, 0)).toBe(true)
  })
})

describe('RFC 5213 §5.3.3/§5.3.4 refresh and handoff', () => {
  test('a refresh from the owning MAG extends the lifetime and reports binding-updated', () => {
    const c = core()
    sendPbu(c, T0)
    const cmds = sendPbu(c, T0 + 1000, { hi: HandoffIndicator.NOT_CHANGED, hnp: P1, seq: 2 })
    expect(statusOf(cmds)).toBe(0)
    expect(ofType(cmds, 'binding-updated')).toEqual([expect.objectContaining({ reason: 'refreshed', mnId: NAI, mag: MAG1 })])
    expect(ofType(cmds, 'arm-timer')).toEqual([{ type: 'arm-timer', key: `expire:${NAI}`, at: T0 + 1000 + 3600_000 }])
  })

  test.each([
    ['HI 3 (MAG switch, same interface)', HandoffIndicator.MAG_SWITCH_SAME_INTERFACE, 'zero'],
    ['HI 2 (interface switch) with the matching prefix', HandoffIndicator.INTERFACE_SWITCH, P1],
    ['HI 4 (unknown) with the matching prefix', HandoffIndicator.UNKNOWN, P1],
  ] as const)('%s from another MAG moves the binding and keeps its prefixes', (_name, hi, hnp) => {
    const c = core()
    sendPbu(c, T0)
    const cmds = sendPbu(c, T0 + 2000, { hi, hnp, seq: 9 }, MAG2)
    const pba = pbaOf(cmds)
    expect(pba.status).toBe(0)
    expect(sends(cmds)[0]!.to).toBe(MAG2)
    expect(hnpsOf(pba)).toEqual([P1])
    expect(ofType(cmds, 'binding-moved')).toEqual([expect.objectContaining({ mnId: NAI, mag: MAG2, fromMag: MAG1, prefixes: [P1], hi })])
    expect(c.binding(NAI)?.mag).toBe(MAG2)
    expect(c.status().counters.handoffs).toBe(1)
  })

  test('RFC 5213 §6.8: the first MAG\'s link-local address is returned to a MAG that asks with ALL_ZERO', () => {
    const c = core()
    sendPbu(c, T0, { lla: 'fe80::1' })
    const pba = pbaOf(sendPbu(c, T0 + 10, { hi: 3, lla: '::' }, MAG2))
    const lla = pba.options.find((o) => o.type === 'link-local-address')
    expect(lla !== undefined && lla.type === 'link-local-address' ? lla.address : undefined).toEqual(parseIp6('fe80::1'))
  })
})

describe('RFC 5213 §5.3.5 de-registration', () => {
  test(`from the owning MAG: PBA lifetime 0, BCE kept MinDelayBeforeBCEDelete (${MIN_DELAY_BEFORE_BCE_DELETE_MS} ms), then deleted and the prefix released`, () => {
    const c = core()
    sendPbu(c, T0)
    const at = T0 + 5000
    const cmds = sendPbu(c, at, { lifetime: 0, hi: 5, hnp: P1, seq: 2 })
    const pba = pbaOf(cmds)
    expect(pba).toMatchObject({ status: 0, lifetime: 0, sequence: 2 })
    expect(ofType(cmds, 'cancel-timer')).toEqual([{ type: 'cancel-timer', key: `expire:${NAI}` }])
    expect(ofType(cmds, 'arm-timer')).toEqual([{ type: 'arm-timer', key: `delete:${NAI}`, at: at + MIN_DELAY_BEFORE_BCE_DELETE_MS }])
    expect(ofType(cmds, 'binding-updated')).toEqual([expect.objectContaining({ reason: 'deregistered' })])
    expect(c.binding(NAI)?.state).toBe('deregistering')
    // too early: nothing happens
    expect(c.step({ type: 'timer', at: at + 1000, key: `delete:${NAI}` })).toEqual([])
    const del = c.step({ type: 'timer', at: at + MIN_DELAY_BEFORE_BCE_DELETE_MS, key: `delete:${NAI}` })
    expect(del).toEqual([expect.objectContaining({ type: 'binding-deleted', mnId: NAI, mag: MAG1, prefixes: [P1], reason: 'deregistered' })])
    expect(c.bindings()).toEqual([])
    expect(c.status().pool?.allocated).toBe(0)
  })

  test('the delay is configurable; 0 deletes at once', () => {
    const c = core({ minDelayBeforeBceDeleteMs: 0 })
    sendPbu(c, T0)
    const cmds = sendPbu(c, T0 + 10, { lifetime: 0, hi: 5 })
    expect(ofType(cmds, 'binding-deleted')).toHaveLength(1)
    const c2 = core({ minDelayBeforeBceDeleteMs: 2500 })
    sendPbu(c2, T0)
    expect(ofType(sendPbu(c2, T0 + 10, { lifetime: 0, hi: 5 }), 'arm-timer')[0]?.at).toBe(T0 + 10 + 2500)
  })

  test('from a MAG that no longer owns the binding: acknowledged, binding untouched', () => {
    const c = core()
    sendPbu(c, T0)
    sendPbu(c, T0 + 100, { hi: 3 }, MAG2)
    const cmds = sendPbu(c, T0 + 200, { lifetime: 0, hi: 5, ts: T0 + 200 }, MAG1)
    expect(pbaOf(cmds)).toMatchObject({ status: 0, lifetime: 0 })
    expect(cmds.filter((x) => x.type !== 'send')).toEqual([])
    expect(c.binding(NAI)).toMatchObject({ mag: MAG2, state: 'active' })
  })

  test('a handoff inside the MinDelayBeforeBCEDelete window keeps the BCE (and its prefix) and moves it', () => {
    const c = core()
    sendPbu(c, T0)
    sendPbu(c, T0 + 100, { lifetime: 0, hi: 5 })
    const cmds = sendPbu(c, T0 + 300, { hi: 3 }, MAG2)
    expect(hnpsOf(pbaOf(cmds))).toEqual([P1])
    expect(ofType(cmds, 'cancel-timer')).toEqual([{ type: 'cancel-timer', key: `delete:${NAI}` }])
    expect(ofType(cmds, 'binding-moved')).toHaveLength(1)
    // the stale delete timer, if the runner fires it anyway, does nothing
    expect(c.step({ type: 'timer', at: T0 + 100 + MIN_DELAY_BEFORE_BCE_DELETE_MS, key: `delete:${NAI}` })).toEqual([])
    expect(c.binding(NAI)).toMatchObject({ state: 'active', mag: MAG2 })
  })

  test('for an MN without a binding: acknowledged (a retransmitted de-registration still completes)', () => {
    expect(pbaOf(sendPbu(core(), T0, { lifetime: 0, hi: 5 }))).toMatchObject({ status: 0, lifetime: 0 })
  })
})

describe('binding expiry and prefix allocation', () => {
  test('the BCE is deleted when its lifetime runs out; an expiry timer made stale by a refresh is ignored', () => {
    const c = core({ lifetimeMax: 40 })
    sendPbu(c, T0)
    sendPbu(c, T0 + 20_000, { hi: 5 })
    expect(c.step({ type: 'timer', at: T0 + 40_000, key: `expire:${NAI}` })).toEqual([])
    const cmds = c.step({ type: 'timer', at: T0 + 60_000, key: `expire:${NAI}` })
    expect(cmds).toEqual([expect.objectContaining({ type: 'binding-deleted', reason: 'expired', prefixes: [P1] })])
    expect(c.status().counters.expired).toBe(1)
  })

  test('distinct prefixes per MN; a released prefix is reused only after fresh ones; a returning MN gets its old prefix', () => {
    const c = core({ minDelayBeforeBceDeleteMs: 0 })
    expect(hnpsOf(pbaOf(sendPbu(c, T0, { mnId: 'a@x' })))).toEqual([P1])
    expect(hnpsOf(pbaOf(sendPbu(c, T0, { mnId: 'b@x' })))).toEqual([P2])
    sendPbu(c, T0 + 10, { mnId: 'a@x', lifetime: 0, hi: 5 })
    expect(c.status().pool).toMatchObject({ allocated: 1, size: 65536 })
    expect(hnpsOf(pbaOf(sendPbu(c, T0 + 20, { mnId: 'c@x' })))).toEqual(['2001:db8:100:2::/64'])
    // a comes back: gets its previous prefix, and may name it
    expect(hnpsOf(pbaOf(sendPbu(c, T0 + 30, { mnId: 'a@x', hnp: P1 })))).toEqual([P1])
  })

  test('static prefixes inside the pool are never handed to another MN', () => {
    const c = core({ mns: { [NAI]: { prefixes: [P1] } }, acceptUnknown: true })
    expect(hnpsOf(pbaOf(sendPbu(c, T0, { mnId: 'other@x' })))).toEqual([P2])
  })
})

describe('RFC 5847 heartbeat', () => {
  const hb = (seq: number, r = false): Buffer => mh.encode({ kind: 'heartbeat', flags: { u: false, r }, sequence: seq, options: [] })

  test('a request gets a response with the same sequence number and the Restart Counter', () => {
    const c = core({ restartCounter: 7 })
    const cmds = c.step({ type: 'mh', at: T0, from: MAG1, to: LMA, data: hb(0xdeadbeef) })
    const m: MhMessage = mh.decode(sends(cmds)[0]!.bytes)
    expect(m).toEqual({ kind: 'heartbeat', flags: { u: false, r: true }, sequence: 0xdeadbeef, options: [{ type: 'restart-counter', value: 7 }] })
    expect(sends(cmds)[0]!.to).toBe(MAG1)
  })

  test('a response is not answered; a reset bumps the Restart Counter', () => {
    const c = core()
    expect(c.step({ type: 'mh', at: T0, from: MAG1, data: hb(1, true) })).toEqual([expect.objectContaining({ type: 'dropped' })])
    c.step({ type: 'fault', at: T0, fault: { reset: true } })
    const m = mh.decode(sends(c.step({ type: 'mh', at: T0, from: MAG1, data: hb(2) }))[0]!.bytes)
    expect(m.kind === 'heartbeat' ? m.options : []).toEqual([{ type: 'restart-counter', value: 1 }])
  })
})

describe('fault knobs', () => {
  test('drop all PBUs, then stop dropping', () => {
    const c = core()
    c.step({ type: 'fault', at: T0, fault: { drop: 'all' } })
    expect(sendPbu(c, T0)).toEqual([expect.objectContaining({ type: 'dropped', reason: 'fault-drop' })])
    expect(sendPbu(c, T0)).toEqual([expect.objectContaining({ type: 'dropped', reason: 'fault-drop' })])
    c.step({ type: 'fault', at: T0, fault: { drop: 'none' } })
    expect(statusOf(sendPbu(c, T0))).toBe(0)
  })

  test('drop the next N PBUs (a MAG retransmission test)', () => {
    const c = core()
    c.step({ type: 'fault', at: T0, fault: { drop: 2 } })
    expect(sends(sendPbu(c, T0, { seq: 1 }))).toHaveLength(0)
    expect(sends(sendPbu(c, T0 + 1000, { seq: 2 }))).toHaveLength(0)
    expect(c.faults().dropNext).toBe(0)
    expect(pbaOf(sendPbu(c, T0 + 3000, { seq: 3 })).sequence).toBe(3)
  })

  test('answer late: the PBA is held behind a timer', () => {
    const c = core()
    c.step({ type: 'fault', at: T0, fault: { delayMs: 1500 } })
    const cmds = sendPbu(c, T0)
    expect(sends(cmds)).toHaveLength(0)
    const arm = ofType(cmds, 'arm-timer').find((a) => a.key.startsWith('reply:'))
    expect(arm?.at).toBe(T0 + 1500)
    expect(statusOf(c.step({ type: 'timer', at: T0 + 1500, key: arm!.key }))).toBe(0)
    expect(c.step({ type: 'timer', at: T0 + 1600, key: arm!.key })).toEqual([]) // once only
  })

  test('a forced status for one MN, once: rejects without touching the cache, then normal service', () => {
    const c = core()
    c.step({ type: 'fault', at: T0, fault: { status: { status: 155, mnId: NAI, once: true } } })
    expect(statusOf(sendPbu(c, T0, { mnId: 'other@x' }))).toBe(0)
    expect(statusOf(sendPbu(c, T0))).toBe(155)
    expect(c.binding(NAI)).toBeUndefined()
    expect(statusOf(sendPbu(c, T0 + 10))).toBe(0)
  })

  test('a forced status for every MN, always, until cleared; a status below 128 is sent on an accepted PBU', () => {
    const c = core()
    c.step({ type: 'fault', at: T0, fault: { status: { status: 129 } } })
    expect(statusOf(sendPbu(c, T0, { mnId: 'a@x' }))).toBe(129)
    expect(statusOf(sendPbu(c, T0, { mnId: 'b@x' }))).toBe(129)
    c.step({ type: 'fault', at: T0, fault: { status: null } })
    c.step({ type: 'fault', at: T0, fault: { status: { status: 1, count: 1 } } })
    expect(statusOf(sendPbu(c, T0, { mnId: 'a@x' }))).toBe(1)
    expect(c.binding('a@x')).toBeDefined()
    expect(statusOf(sendPbu(c, T0, { mnId: 'b@x' }))).toBe(0)
  })

  test('silent: nothing is answered, heartbeats included', () => {
    const c = core()
    c.step({ type: 'fault', at: T0, fault: { silent: true } })
    expect(sends(sendPbu(c, T0))).toHaveLength(0)
    const hb = mh.encode({ kind: 'heartbeat', flags: { u: false, r: false }, sequence: 1, options: [] })
    expect(sends(c.step({ type: 'mh', at: T0, from: MAG1, data: hb }))).toHaveLength(0)
    c.step({ type: 'fault', at: T0, fault: { clear: true } })
    expect(statusOf(sendPbu(c, T0))).toBe(0)
  })

  test('reset forgets bindings and allocations, cancels timers and held answers, bumps the Restart Counter', () => {
    const c = core()
    sendPbu(c, T0)
    c.step({ type: 'fault', at: T0, fault: { delayMs: 100 } })
    sendPbu(c, T0, { mnId: 'b@x' })
    const cmds = c.step({ type: 'fault', at: T0 + 1, fault: { reset: true, delayMs: 0 } })
    expect(ofType(cmds, 'binding-deleted').map((d) => [d.mnId, d.reason])).toEqual([
      [NAI, 'reset'],
      ['b@x', 'reset'],
    ])
    expect(ofType(cmds, 'cancel-timer').map((t) => t.key)).toEqual(expect.arrayContaining([`expire:${NAI}`, `delete:${NAI}`, 'reply:1']))
    expect(c.bindings()).toEqual([])
    expect(c.restartCounter).toBe(1)
    expect(c.status().pool?.allocated).toBe(0)
    expect(c.step({ type: 'timer', at: T0 + 100, key: 'reply:1' })).toEqual([])
    // after a reset a MAG naming its old prefix is refused (the LMA forgot it): 155
    expect(statusOf(sendPbu(c, T0 + 2, { hnp: P1, hi: 5 }))).toBe(155)
  })
})

test('PBU bytes from the helpers are what a MAG sends (protocol-reference §10.1 layout)', () => {
  const b = pbuBytes({ seq: 0x1234, ts: T0 }, T0)
  expect(b.length).toBe(88)
})
