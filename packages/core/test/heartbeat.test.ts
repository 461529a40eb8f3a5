// RFC 5847 heartbeat in the sans-IO core, on the fake clock: requests every HEARTBEAT_INTERVAL
// to each LMA with a binding, MISSING_HEARTBEATS_ALLOWED misses before the LMA is reported
// unreachable, recovery, Restart Counter changes re-registering exactly that LMA's bindings,
// answers to the LMA's own requests, and no timer once the last binding is gone.
import type { Heartbeat } from '@pmip6/wire'
import type { MagCommand, MagCoreConfig } from '../src'
import { Harness, LMA, LMA2, MAC, MAC2, NAI, config, lastPbu, ofType, pbaFor, pbus, states } from './harness'

const MN2 = 'mn2@example.com'
const MN3 = 'mn3@example.com'
const MAC3 = Buffer.from('00aabbccdd03', 'hex')
const S = 1000

function hbConfig(over: Partial<MagCoreConfig> = {}): MagCoreConfig {
  return config({
    profiles: [
      { mnId: NAI, lma: LMA },
      { mnId: MN2, lma: LMA, macs: ['00:aa:bb:cc:dd:ee'] },
      { mnId: MN3, lma: LMA2, macs: ['00:aa:bb:cc:dd:03'] },
    ],
    heartbeatIntervalS: 30,
    heartbeatMissingThreshold: 3,
    ...over,
  })
}

const requests = (cmds: readonly MagCommand[], to?: string) => ofType(cmds, 'send-heartbeat').filter((c) => !c.heartbeat.flags.r && (to === undefined || c.to === to))
const lmaStates = (cmds: readonly MagCommand[]) => ofType(cmds, 'lma-state')
const response = (seq: number, rc?: number, u = false): Heartbeat => ({ kind: 'heartbeat', flags: { u, r: true }, sequence: seq, options: rc === undefined ? [] : [{ type: 'restart-counter', value: rc }] })

/** Attach `mnId` on its own link and have the LMA accept it. */
function bind(h: Harness, mnId: string, link: string, mac: Buffer, from = LMA, prefix = '2001:db8:1:1::/64'): void {
  const pbu = lastPbu(h.attach({ mnId, link, llId: mac }))
  h.pba(pbaFor(pbu, 0, { prefixes: [prefix] }), from)
}

function hb(h: Harness, from: string, heartbeat: Heartbeat): MagCommand[] {
  return h.step({ type: 'heartbeat', at: h.now, from, heartbeat })
}

/** Advance one interval and answer the request it brings (with `rc`); returns the request's commands. */
function beat(h: Harness, rc?: number, lma = LMA): { sent: MagCommand[]; answered: MagCommand[] } {
  const sent = h.advanceBy(30 * S)
  const req = requests(sent, lma)
  expect(req).toHaveLength(1)
  return { sent, answered: hb(h, lma, response(req[0]!.heartbeat.sequence, rc)) }
}

describe('RFC 5847 heartbeat', () => {
  test('§3.1 schedule: no request before a binding; then one request per HEARTBEAT_INTERVAL, each with a new sequence number', () => {
    const h = new Harness(hbConfig())
    expect(h.timers.has(`hb/${LMA}`)).toBe(false)
    const a = h.attach()
    // The heartbeat starts with the first PBU to the LMA, one interval later.
    expect(ofType(a, 'arm-timer').find((c) => c.key === `hb/${LMA}`)).toEqual({ type: 'arm-timer', key: `hb/${LMA}`, kind: 'hb', id: LMA, at: h.now + 30 * S })
    h.pba(pbaFor(lastPbu(a), 0, { prefixes: ['2001:db8:1:1::/64'] }))
    const t0 = h.now
    const seqs: number[] = []
    const times: number[] = []
    for (let i = 0; i < 4; i++) {
      const { sent } = beat(h, 5)
      const r = requests(sent)[0]!
      expect(r).toMatchObject({ to: LMA, heartbeat: { kind: 'heartbeat', flags: { u: false, r: false }, options: [] } })
      seqs.push(r.heartbeat.sequence)
      times.push(h.now - t0)
    }
    expect(times).toEqual([30 * S, 60 * S, 90 * S, 120 * S])
    expect(new Set(seqs).size).toBe(4)
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1]! + 1) >>> 0)
    expect(h.core.lmas()).toEqual([expect.objectContaining({ lma: LMA, state: 'reachable', bindings: 1, requestsSent: 4, responses: 4, misses: 0, restartCounter: 5 })])
  })

  test('§3.1: the first response reports the LMA reachable; MISSING_HEARTBEATS_ALLOWED misses in a row report it unreachable, once', () => {
    const h = new Harness(hbConfig())
    h.register()
    const { answered } = beat(h, 1)
    expect(lmaStates(answered)).toEqual([{ type: 'lma-state', lma: LMA, state: 'reachable', reason: 'first-response', restartCounter: null }])
    const seen: MagCommand[] = []
    // Three unanswered requests: the third interval's timer finds the third one missing.
    for (let i = 0; i < 3; i++) seen.push(...h.advanceBy(30 * S))
    expect(lmaStates(seen)).toEqual([])
    const third = h.advanceBy(30 * S)
    expect(lmaStates(third)).toEqual([{ type: 'lma-state', lma: LMA, state: 'unreachable', reason: 'missing-heartbeats:3', restartCounter: 1 }])
    // Requests go on, and no further report while it stays silent.
    const later = h.advanceBy(90 * S)
    expect(requests(later)).toHaveLength(3)
    expect(lmaStates(later)).toEqual([])
    expect(h.core.lmas()[0]).toMatchObject({ state: 'unreachable', consecutiveMisses: 6, misses: 6 })
  })

  test('§3.1 recovery: a later response reports the LMA reachable again; two misses then a response never report it unreachable', () => {
    const h = new Harness(hbConfig())
    h.register()
    beat(h, 1)
    h.advanceBy(30 * S)
    h.advanceBy(30 * S) // 2 misses
    const { answered } = beat(h, 1) // counted as the 2nd miss's successor: answered in time
    expect(lmaStates(answered)).toEqual([])
    expect(h.core.lmas()[0]).toMatchObject({ state: 'reachable', consecutiveMisses: 0, misses: 2 })
    for (let i = 0; i < 4; i++) h.advanceBy(30 * S)
    expect(h.core.lmas()[0]!.state).toBe('unreachable')
    const back = beat(h, 1).answered
    expect(lmaStates(back)).toEqual([{ type: 'lma-state', lma: LMA, state: 'reachable', reason: 'heartbeat-response', restartCounter: 1 }])
  })

  test('a response matches by sequence number and source address only; anything else is dropped and counted', () => {
    const h = new Harness(hbConfig())
    h.register()
    const seq = requests(h.advanceBy(30 * S))[0]!.heartbeat.sequence
    expect(hb(h, LMA, response((seq + 1) >>> 0))).toEqual([])
    expect(hb(h, LMA2, response(seq))).toEqual([])
    expect(hb(h, '2001:db8:ffff::99', response(seq))).toEqual([])
    expect(hb(h, 'not-an-address', response(seq))).toEqual([])
    const c = h.core.counters()
    expect(c['heartbeat-dropped']).toBe(4)
    expect(c['heartbeat-dropped:no-match']).toBe(1)
    expect(c['heartbeat-dropped:unknown-peer']).toBe(2)
    expect(c['heartbeat-dropped:bad-source']).toBe(1)
    // The right one still matches (in any textual form of the address), once.
    expect(lmaStates(hb(h, '2001:DB8:FFFF:0:0:0:0:2', response(seq)))).toHaveLength(1)
    hb(h, LMA, response(seq))
    expect(h.core.counters()['heartbeat-dropped:no-match']).toBe(2)
    expect(h.core.lmas()[0]).toMatchObject({ responses: 1 })
  })

  test('§3.1: a request from the LMA is answered, echoing its sequence number, with our Restart Counter when we have one', () => {
    const h = new Harness(hbConfig({ restartCounter: 9 }))
    h.register()
    const out = hb(h, LMA, { kind: 'heartbeat', flags: { u: false, r: false }, sequence: 0xfffffffe, options: [] })
    expect(out).toEqual([{ type: 'send-heartbeat', to: LMA, heartbeat: { kind: 'heartbeat', flags: { u: false, r: true }, sequence: 0xfffffffe, options: [{ type: 'restart-counter', value: 9 }] } }])
    const h2 = new Harness(hbConfig({ heartbeatIntervalS: 0 }))
    h2.register()
    expect(ofType(hb(h2, LMA, { kind: 'heartbeat', flags: { u: false, r: false }, sequence: 3, options: [] }), 'send-heartbeat')[0]!.heartbeat.options).toEqual([])
    // Not an LMA we have a binding with: no answer (no reflection towards strangers).
    expect(hb(h2, '2001:db8:ffff::99', { kind: 'heartbeat', flags: { u: false, r: false }, sequence: 3, options: [] })).toEqual([])
  })

  test('§3.2: a changed Restart Counter re-registers exactly the bindings of that LMA (a fresh refresh PBU each), not those of another LMA', () => {
    const h = new Harness(hbConfig())
    bind(h, NAI, 'ppp0', MAC, LMA, '2001:db8:1:1::/64')
    bind(h, MN2, 'ppp1', MAC2, LMA, '2001:db8:1:2::/64')
    bind(h, MN3, 'ppp2', MAC3, LMA2, '2001:db8:2:1::/64')
    expect(h.core.bindings().every((b) => b.state === 'registered')).toBe(true)
    const first = h.advanceBy(30 * S)
    const seq1 = requests(first, LMA)[0]!.heartbeat.sequence
    const seq2 = requests(first, LMA2)[0]!.heartbeat.sequence
    expect(pbus(hb(h, LMA, response(seq1, 4)))).toEqual([]) // the first value is only remembered
    hb(h, LMA2, response(seq2, 4))
    const { answered } = beat(h, 5)
    const sent = pbus(answered)
    expect(sent.map((p) => p.mnId).sort()).toEqual([NAI, MN2])
    for (const p of sent) {
      expect(p.to).toBe(LMA)
      expect(p.pbu.lifetime).toBeGreaterThan(0)
      // §6.9.1.3: every assigned prefix, HI 5.
      expect(p.pbu.options.find((o) => o.type === 'handoff-indicator')).toEqual({ type: 'handoff-indicator', value: 5 })
    }
    expect(states(answered).map((s) => [s.mnId, s.to, s.reason])).toEqual([
      [expect.any(String), 'refreshing', 'lma-restarted'],
      [expect.any(String), 'refreshing', 'lma-restarted'],
    ])
    expect(lmaStates(answered)).toEqual([{ type: 'lma-state', lma: LMA, state: 'reachable', reason: 'lma-restarted:4->5', restartCounter: 5 }])
    expect(h.view(MN3)!.state).toBe('registered')
    // The LMA accepts them again: registered, same prefixes, service never withdrawn.
    for (const p of sent) {
      const out = h.pba(pbaFor(p.pbu, 0, { prefixes: [p.mnId === NAI ? '2001:db8:1:1::/64' : '2001:db8:1:2::/64'] }))
      expect(ofType(out, 'forwarding-down')).toEqual([])
    }
    expect(h.core.bindings().every((b) => b.state === 'registered')).toBe(true)
    expect(h.core.lmas().find((l) => l.lma === LMA)).toMatchObject({ restarts: 1, restartCounter: 5 })
    expect(h.core.lmas().find((l) => l.lma === LMA2)).toMatchObject({ restarts: 0, restartCounter: 4 })
  })

  test('§3.2 while a PBU is in backoff: the LMA back (or restarted) sends it at once with a new sequence number', () => {
    const h = new Harness(hbConfig())
    h.register()
    beat(h, 1)
    // The LMA goes silent: a refresh goes unanswered and backs off; heartbeats miss.
    h.presence.set(NAI, true)
    for (let i = 0; i < 4; i++) h.advanceBy(30 * S)
    expect(h.core.lmas()[0]!.state).toBe('unreachable')
    const before = h.view()!
    // Still bound (3600 s), nothing pending yet: nothing to resend.
    expect(before.state).toBe('registered')
    // Force a registration in flight: the binding expires after a refresh that got no answer.
    const until = h.now + 3600 * S
    while (h.now < until && h.view()!.state !== 'registering') h.advanceBy(30 * S)
    expect(h.view()!.state).toBe('registering')
    const { answered } = beat(h, 1)
    expect(lmaStates(answered)[0]).toMatchObject({ state: 'reachable', reason: 'heartbeat-response' })
    const again = pbus(answered)
    expect(again).toHaveLength(1)
    expect(again[0]!.mnId).toBe(NAI)
    expect(h.core.counters()['reregister-after-lma-reachable']).toBe(1)
  })

  test('two LMAs are independent: one silent and unreachable, the other reachable', () => {
    const h = new Harness(hbConfig())
    bind(h, NAI, 'ppp0', MAC, LMA)
    bind(h, MN3, 'ppp2', MAC3, LMA2, '2001:db8:2:1::/64')
    const reports: MagCommand[] = []
    for (let i = 0; i < 5; i++) {
      const out = h.advanceBy(30 * S)
      reports.push(...out)
      const r2 = requests(out, LMA2)[0]!
      reports.push(...hb(h, LMA2, response(r2.heartbeat.sequence, 1)))
    }
    expect(lmaStates(reports).map((s) => [s.lma, s.state])).toEqual([
      [LMA2, 'reachable'],
      [LMA, 'unreachable'],
    ])
    const v = Object.fromEntries(h.core.lmas().map((l) => [l.lma, l]))
    expect(v[LMA]).toMatchObject({ state: 'unreachable', responses: 0, requestsSent: 5, misses: 4 })
    expect(v[LMA2]).toMatchObject({ state: 'reachable', responses: 5, misses: 0 })
  })

  test('interval 0 disables the requests: no heartbeat timer, no request, whatever the bindings', () => {
    const h = new Harness(hbConfig({ heartbeatIntervalS: 0 }))
    const all = [...h.register()]
    all.push(...h.advanceBy(3 * 3600 * S))
    expect(requests(all)).toEqual([])
    expect(h.log.some((c) => (c.type === 'arm-timer' || c.type === 'cancel-timer') && c.key.startsWith('hb/'))).toBe(false)
    expect(h.core.lmas()[0]).toMatchObject({ state: 'idle', bindings: 1, requestsSent: 0 })
  })

  test('the heartbeat stops with the last binding to the LMA: timer cancelled once the de-registration is answered, not before', () => {
    const h = new Harness(hbConfig())
    bind(h, NAI, 'ppp0', MAC)
    bind(h, MN2, 'ppp1', MAC2, LMA, '2001:db8:1:2::/64')
    h.detach()
    h.detach({ mnId: MN2, link: 'ppp1' })
    expect(h.timers.has(`hb/${LMA}`)).toBe(true) // de-registrations outstanding: the LMA may still hold them
    for (const p of pbus(h.log.slice(-40)).filter((p) => p.pbu.lifetime === 0)) h.pba(pbaFor(p.pbu, 0, { prefixes: [] }))
    expect(h.core.bindings()).toEqual([])
    expect(h.timers.has(`hb/${LMA}`)).toBe(false)
    expect(h.log.filter((c) => c.type === 'cancel-timer' && c.key === `hb/${LMA}`)).toHaveLength(1)
    expect(h.core.lmas()[0]).toMatchObject({ state: 'idle', bindings: 0 })
    // A new binding starts it again from 'unknown'.
    h.attach()
    expect(h.timers.has(`hb/${LMA}`)).toBe(true)
    expect(h.core.lmas()[0]).toMatchObject({ state: 'unknown', bindings: 1 })
  })

  test('a rejected registration leaves no heartbeat behind; a stale hb timer is counted, not acted on', () => {
    const h = new Harness(hbConfig())
    const a = h.attach()
    h.pba(pbaFor(lastPbu(a), 129, { prefixes: [] }))
    expect(h.view()!.state).toBe('denied')
    expect(h.timers.has(`hb/${LMA}`)).toBe(false)
    expect(h.step({ type: 'timer', at: h.now, key: `hb/${LMA}` })).toEqual([])
    expect(h.step({ type: 'timer', at: h.now, key: 'hb/2001:db8::77' })).toEqual([])
    expect(h.core.counters()['timer-stale']).toBe(2)
  })

  test('config: a negative or fractional interval or threshold is refused with the field named', () => {
    expect(() => new Harness(hbConfig({ heartbeatIntervalS: -1 }))).toThrow(/heartbeatIntervalS/)
    expect(() => new Harness(hbConfig({ heartbeatMissingThreshold: 1.5 }))).toThrow(/heartbeatMissingThreshold/)
  })
})
