// RFC 5213 §6.10: a binding whose forwarding cannot be installed serves nothing. The data plane
// reports the failure as an event; the core withdraws, de-registers and keeps the MN 'failed'.
import { Harness, lastPbu, pbaFor, ras, states, deadPrefixes, ofType, NAI } from './harness'

const P1 = '2001:db8:1:1::/64'
const failed = (h: Harness, prefixes = [P1], reason = 'add route: ENOBUFS') => h.step({ type: 'forwarding-failed', at: h.now, mnId: NAI, prefixes, reason })

describe('forwarding-failed', () => {
  test('a registered MN: prefixes withdrawn, the LMA binding de-registered, the entry ends failed with the reason', () => {
    const h = new Harness()
    h.register([P1])
    const cmds = failed(h)
    const dereg = lastPbu(cmds)
    expect(dereg.lifetime).toBe(0)
    expect(deadPrefixes(ras(cmds).at(-1)!.ra)).toEqual([P1])
    expect(ofType(cmds, 'forwarding-down')).toHaveLength(1)
    expect(states(cmds).map((s) => s.to)).toEqual(['deregistering'])
    const end = h.pba(pbaFor(dereg, 0))
    expect(states(end).map((s) => [s.to, s.reason])).toEqual([['failed', 'forwarding-failed: add route: ENOBUFS']])
    expect(h.view()).toMatchObject({ state: 'failed', reason: 'forwarding-failed: add route: ENOBUFS' })
    // No RA, no refresh afterwards: nothing armed for the MN but nothing either that would serve it.
    expect(ras(h.advanceBy(3_600_000))).toEqual([])
  })

  test('an admin-clear or a new attach registers the failed MN again', () => {
    const h = new Harness()
    h.register([P1])
    h.pba(pbaFor(lastPbu(failed(h)), 0))
    const again = h.step({ type: 'admin-clear', at: h.now, mnId: NAI })
    expect(lastPbu(again).lifetime).toBeGreaterThan(0)
    const up = h.pba(pbaFor(lastPbu(again), 0, { prefixes: [P1] }))
    expect(ofType(up, 'forwarding-up')).toHaveLength(1)
    expect(h.view()!.state).toBe('registered')
  })

  test('a stale failure (prefixes the MN no longer has) changes nothing', () => {
    const h = new Harness()
    h.register([P1])
    expect(failed(h, ['2001:db8:9:9::/64'])).toEqual([])
    expect(h.view()!.state).toBe('registered')
    expect(h.core.counters()['forwarding-failed-stale']).toBe(1)
  })

  test('the MN leaving during that de-registration removes the entry', () => {
    const h = new Harness()
    h.register([P1])
    const dereg = lastPbu(failed(h))
    h.detach()
    h.pba(pbaFor(dereg, 0))
    expect(h.view()).toBeUndefined()
  })
})
