// What the MAG does with answers it cannot simply accept or reject (issue 17, items 10 and 11).
import { BaStatus } from '@pmip6/wire'
import type { MagCommand, SendPbuCommand } from '../src'
import { Harness, lastPbu, pbaFor, pbus, ras, states, ofType, NAI } from './harness'

/** Fires timers until one brings a PBU (bounded: fails when nothing is armed or after 50 timers). */
function untilPbu(h: Harness, first: readonly MagCommand[] = []): SendPbuCommand[] {
  let out = pbus(first)
  for (let i = 0; out.length === 0; i++) {
    if (h.timers.size === 0 || i > 50) throw new Error('no PBU comes')
    out = pbus(h.advance(Math.min(...h.timers.values())))
  }
  return out
}

const P1 = '2001:db8:1:1::/64'

describe('RFC 5213 §6.9.1.2: accepted but unusable, 157, 156', () => {
  test('§6.9.1.2 item 11 / §6.9.1.4: an accepted PBA without a usable prefix is de-registered (lifetime 0), then the MN is denied with the reason', () => {
    const h = new Harness()
    const pbu = lastPbu(h.attach())
    const cmds = h.pba(pbaFor(pbu, 0, { prefixes: [] }))
    const dereg = lastPbu(cmds)
    expect(dereg.lifetime).toBe(0)
    expect(states(cmds)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'registering', to: 'deregistering', reason: 'pba-accepted-without-prefix' }])
    expect(ras(cmds)).toEqual([])
    expect(ofType(cmds, 'forwarding-up')).toEqual([])
    const done = h.pba(pbaFor(dereg, 0))
    expect(states(done)).toEqual([{ type: 'state-changed', mnId: NAI, from: 'deregistering', to: 'denied', reason: 'pba-accepted-without-prefix' }])
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'pba-accepted-without-prefix', pending: null })
    // Nothing more goes to the LMA for it, and a new attach tries again.
    expect(pbus(h.advanceBy(120_000))).toEqual([])
    expect(lastPbu(h.attach({ link: 'ppp1' })).lifetime).toBeGreaterThan(0)
  })

  test('§6.9.1.4 the unusable binding is also cleaned when the de-registration goes unanswered; a detach meanwhile removes the entry', () => {
    const h = new Harness()
    h.pba(pbaFor(lastPbu(h.attach()), 0, { prefixes: [] }))
    h.advanceBy(1000)
    expect(h.view()).toMatchObject({ state: 'denied', reason: 'pba-accepted-without-prefix' })
    const h2 = new Harness()
    h2.pba(pbaFor(lastPbu(h2.attach()), 0, { prefixes: [] }))
    h2.detach()
    h2.advanceBy(1000)
    expect(h2.view()).toBeUndefined()
  })

  test('§6.9.1.2 item 8 / §6.9.4: an LMA that always answers 157 gets PBUs 1, 2, 4 ... 32 s apart, not three a second', () => {
    const h = new Harness()
    let p = lastPbu(h.attach())
    const t0 = h.now
    const at: number[] = [0]
    while (h.now - t0 < 200_000) {
      const cmds = h.pba(pbaFor(p, BaStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED))
      expect(pbus(cmds)).toEqual([])
      const out = untilPbu(h, cmds)
      p = out[0]!.pbu
      at.push(h.now - t0)
    }
    const gaps = at.slice(1).map((t, i) => t - at[i]!)
    expect(gaps.slice(0, 7)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 32_000])
    expect(h.view()!.state).toBe('registering')
  })

  test('§6.9.1.2 item 8: a 157 to a refresh keeps the binding and its RAs; the refresh goes again after the backoff', () => {
    const h = new Harness()
    h.register([P1])
    const refresh = lastPbu(h.advance(h.timers.get(`refresh/${NAI}`)!))
    const cmds = h.pba(pbaFor(refresh, 157))
    expect(pbus(cmds)).toEqual([])
    expect(h.view()).toMatchObject({ state: 'refreshing', prefixes: [P1] })
    const again = lastPbu(h.advanceBy(1000))
    expect(again.sequence).not.toBe(refresh.sequence)
    expect(states(h.pba(pbaFor(again, 0, { prefixes: [P1] })))[0]!.to).toBe('registered')
  })
})
