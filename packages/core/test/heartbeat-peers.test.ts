// RFC 5847 per LMA (issue 17, item 9): HEARTBEAT_INTERVAL set per LMA (0: none to it), and an
// LMA that answers a Heartbeat with a Binding Error, status 2 (it has no heartbeat: RFC 5847 §3,
// RFC 6275 §9.2) gets no more of them, its bindings untouched.
import type { BindingError } from '@pmip6/wire'
import type { MagCommand, MagCoreConfig } from '../src'
import { Harness, LMA, LMA2, NAI, config, lastPbu, ofType, pbaFor, pbus } from './harness'

const MN3 = 'mn3@example.com'
const S = 1000

function hbConfig(over: Partial<MagCoreConfig> = {}): MagCoreConfig {
  return config({
    profiles: [
      { mnId: NAI, lma: LMA },
      { mnId: MN3, lma: LMA2, macs: ['00:aa:bb:cc:dd:03'] },
    ],
    heartbeatIntervalS: 30,
    ...over,
  })
}

const requests = (cmds: readonly MagCommand[], to?: string) => ofType(cmds, 'send-heartbeat').filter((c) => !c.heartbeat.flags.r && (to === undefined || c.to === to))
const be = (status: number): BindingError => ({ kind: 'binding-error', status, homeAddress: Buffer.alloc(16), options: [] })

function bindBoth(h: Harness): void {
  h.pba(pbaFor(lastPbu(h.attach()), 0, { prefixes: ['2001:db8:1:1::/64'] }))
  h.pba(pbaFor(lastPbu(h.attach({ mnId: MN3, link: 'ppp3', llId: Buffer.from('00aabbccdd03', 'hex') })), 0, { prefixes: ['2001:db8:3:1::/64'] }), LMA2)
}

describe('RFC 5847 per LMA', () => {
  test('§5 HEARTBEAT_INTERVAL per LMA: 0 sends none to that LMA, another interval to another, the default to the rest', () => {
    const h = new Harness(hbConfig({ lmas: { [LMA]: { heartbeatIntervalS: 0 }, '2001:db8:ffff:0::3': { heartbeatIntervalS: 10 } } }))
    bindBoth(h)
    const out = h.advanceBy(61 * S)
    expect(requests(out, LMA)).toEqual([])
    expect(requests(out, LMA2)).toHaveLength(6)
    const views = Object.fromEntries(h.core.lmas().map((l) => [l.lma, l]))
    expect(views[LMA]).toMatchObject({ state: 'idle', intervalS: 0, requestsSent: 0 })
    expect(views[LMA2]).toMatchObject({ intervalS: 10, requestsSent: 6 })
    const dflt = new Harness(hbConfig({ lmas: { [LMA2]: { heartbeatMissingThreshold: 1 } } }))
    bindBoth(dflt)
    expect(requests(dflt.advanceBy(30 * S), LMA)).toHaveLength(1)
  })

  test('§3 a Binding Error status 2 answering our Heartbeat: no more requests to that LMA, reported (lma-state unsupported), bindings and PBUs untouched', () => {
    const h = new Harness(hbConfig())
    bindBoth(h)
    expect(requests(h.advanceBy(30 * S), LMA)).toHaveLength(1)
    const cmds = h.step({ type: 'binding-error', at: h.now, from: LMA, error: be(2) })
    expect(ofType(cmds, 'lma-state')).toEqual([{ type: 'lma-state', lma: LMA, state: 'unsupported', reason: 'binding-error:2', restartCounter: null }])
    expect(ofType(cmds, 'cancel-timer')).toEqual([{ type: 'cancel-timer', key: `hb/${LMA}`, kind: 'hb', id: LMA }])
    const later = h.advanceBy(3600 * S)
    expect(requests(later, LMA)).toEqual([])
    expect(requests(later, LMA2).length).toBeGreaterThan(100)
    // The binding lives on: its refreshes go out and are accepted.
    expect(pbus(later).filter((c) => c.to === LMA).length).toBeGreaterThan(0)
    expect(h.view()!.state).not.toBe('failed')
    expect(h.core.lmas().find((l) => l.lma === LMA)).toMatchObject({ state: 'unsupported', reason: 'binding-error:2' })
    expect(h.core.counters()['heartbeat-unsupported']).toBe(1)
    // Still unsupported once its last binding went and a new one came.
    h.detach()
    h.advanceBy(2 * S)
    h.pba(pbaFor(lastPbu(h.attach()), 0, { prefixes: ['2001:db8:1:1::/64'] }))
    expect(requests(h.advanceBy(120 * S), LMA)).toEqual([])
  })

  test('§3 other Binding Errors, or one from an LMA we never sent a Heartbeat, change nothing and are counted', () => {
    const h = new Harness(hbConfig())
    bindBoth(h)
    expect(h.step({ type: 'binding-error', at: h.now, from: LMA, error: be(2) })).toEqual([])
    h.advanceBy(30 * S)
    expect(h.step({ type: 'binding-error', at: h.now, from: LMA, error: be(1) })).toEqual([])
    expect(h.step({ type: 'binding-error', at: h.now, from: '2001:db8:ffff::99', error: be(2) })).toEqual([])
    expect(h.step({ type: 'binding-error', at: h.now, from: 'not an address', error: be(2) })).toEqual([])
    expect(requests(h.advanceBy(30 * S), LMA)).toHaveLength(1)
    expect(h.core.counters()).toMatchObject({ 'heartbeat-dropped:binding-error-status-2': 1, 'heartbeat-dropped:binding-error-status-1': 1, 'heartbeat-dropped:binding-error-unknown-peer': 1 })
  })
})
