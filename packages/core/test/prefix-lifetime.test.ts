// RFC 5213 §6.7 home-link prefix lifetimes (issue 17, item 3): an MN with a live binding never
// sees its prefix expire. The MN is modelled as RFC 4862 §5.5.3 (e) keeps an address: each RA
// with a larger remaining lifetime extends it; a smaller one (under two hours) is ignored.
import type { MagCommand } from '../src'
import { Harness, config, profile, lastPbu, pbaFor, piosOf, pioText, ras, NAI } from './harness'

const P1 = '2001:db8:1:1::/64'

/** Until when the MN's address from P1 stays valid, after the RAs in `cmds` (ms; -1: never had one). */
class MnView {
  until = -1
  see(h: Harness, cmds: readonly MagCommand[]): void {
    for (const r of ras(cmds)) {
      for (const p of piosOf(r.ra)) {
        if (pioText(p) !== P1 || p.validLifetime === 0) continue
        const t = h.now + p.validLifetime * 1000
        if (t > this.until) this.until = t
      }
    }
  }
}

/** Runs a binding of `lifetime` s for `durationMs`, the LMA accepting every PBU; checks the MN at every event. */
function run(lifetime: number, durationMs: number, over: Parameters<typeof config>[0] = {}): { gaps: string[]; ras: number } {
  const h = new Harness(config({ lifetimeS: lifetime, ...over }))
  const mn = new MnView()
  const gaps: string[] = []
  let count = 0
  const check = (cmds: readonly MagCommand[]): void => {
    mn.see(h, cmds)
    count += ras(cmds).length
    const v = h.view()
    if ((v?.state === 'registered' || v?.state === 'refreshing') && mn.until < h.now) gaps.push(`no prefix at +${h.now - t0} ms (state ${v.state})`)
    for (const c of cmds) if (c.type === 'send-pbu') check(h.pba(pbaFor(c.pbu, 0, { prefixes: [P1], lifetime })))
  }
  const t0 = h.now
  check(h.attach())
  while (h.now - t0 < durationMs) {
    const next = Math.min(...h.timers.values())
    check(h.advance(next))
  }
  return { gaps, ras: count }
}

describe('RFC 5213 §6.7 prefix lifetimes while the binding lives', () => {
  test('§6.7 a 20 s binding, refreshed for 10 minutes: the MN never sees its prefix expire', () => {
    const r = run(20, 600_000)
    expect(r.gaps).toEqual([])
  })

  test('§6.7 with RAs lost: RAs come at least three times per prefix lifetime, so any two lost in a row still leave the prefix valid', () => {
    const h = new Harness(config({ lifetimeS: 20 }))
    h.register([P1], {})
    // The register helper's PBA grants the PBU's 20 s.
    const t: number[] = []
    const t0 = h.now
    while (h.now - t0 < 300_000) {
      const cmds = h.advance(Math.min(...h.timers.values()))
      for (const c of cmds) if (c.type === 'send-pbu') h.pba(pbaFor(c.pbu, 0, { prefixes: [P1] }))
      if (ras(cmds).length > 0) t.push(h.now)
    }
    const gaps = t.slice(1).map((x, i) => x - t[i]!)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(Math.floor(20_000 / 3))
  })

  test('§6.7 every RA carries the granted lifetime (not what is left of the binding), the profile prefix lifetime capping it', () => {
    const h = new Harness(config({ lifetimeS: 20 }))
    const acc = h.register([P1])
    expect(piosOf(ras(acc)[0]!.ra)[0]).toMatchObject({ validLifetime: 20, preferredLifetime: 20 })
    // A periodic RA later in the binding's life still carries 20 s.
    let late: MagCommand[] = []
    for (let i = 0; ras(late).length === 0 && i < 20 && h.timers.size > 0; i++) late = h.advance(Math.min(...h.timers.values()))
    expect(h.view()!.lifetimeLeft).toBeLessThan(20)
    expect(piosOf(ras(late)[0]!.ra)[0]!.validLifetime).toBe(20)
    const capped = new Harness(config({ profiles: [profile({ prefixLifetime: 10 })], lifetimeS: 20 }))
    expect(piosOf(ras(capped.register([P1]))[0]!.ra)[0]).toMatchObject({ validLifetime: 10, preferredLifetime: 10 })
  })

  test('§6.7 long bindings keep the RFC 4861 §6.2.4 schedule: a 3600 s binding gets no extra RAs', () => {
    const r = run(3600, 3_600_000)
    expect(r.gaps).toEqual([])
    // MaxRtrAdvInterval 60 s: at least 60 RAs an hour, and not many more than 3 initial + 3600/20.
    expect(r.ras).toBeGreaterThanOrEqual(60)
    expect(r.ras).toBeLessThanOrEqual(3 + 180)
  })

  test('§6.7 a refresh that grants less brings the next RA forward to fit the shorter lifetime', () => {
    const h = new Harness(config({ lifetimeS: 600 }))
    const pbu = lastPbu(h.attach())
    h.pba(pbaFor(pbu, 0, { prefixes: [P1], lifetime: 600 }))
    const refresh = lastPbu(h.advance(h.timers.get(`refresh/${NAI}`)!))
    h.pba(pbaFor(refresh, 0, { prefixes: [P1], lifetime: 12 }))
    expect(h.timers.get(`ra/${NAI}`)! - h.now).toBeLessThanOrEqual(4000)
  })
})
