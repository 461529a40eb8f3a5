// Property tests (fast-check): random event sequences against a scripted LMA.
//  1. RFC 5213 §6.7 / §6.9.2 / §6.9.1.2 item 11: an RA never carries a home prefix with a non-zero
//     lifetime unless the LMA accepted a binding for that MN with that prefix, the binding has
//     not been de-registered, rejected or expired, and the advertised lifetime is no longer than
//     the granted binding lifetime; and while the core holds a live binding, the MN (modelled as
//     RFC 4862 §5.5.3 keeps a prefix: each RA extends it) never sees one of its prefixes expire.
//  2. Timer hygiene: once an MN's entry is removed, none of its timers remain armed; after
//     every MN detached and time has passed, no entry and no timer remain: the RFC 5847
//     heartbeat timer of the LMA included, and its heartbeat state says no binding is left.
//  3. RFC 5847: the heartbeat timer of the LMA is armed exactly while some entry may hold a
//     binding there, whatever the heartbeat answers (late, missing, restart counter changes).
import fc from 'fast-check'
import type { ProxyBindingUpdate } from '@pmip6/wire'
import type { MagCommand } from '../src'
import { Harness, config, pbaFor, piosOf, pioText, LMA, LMA2 } from './harness'

const MNS = ['mn0@example.com', 'mn1@example.com', 'mn2@example.com']
const MACS = [Buffer.from('020000000001', 'hex'), Buffer.from('020000000002', 'hex'), Buffer.from('020000000003', 'hex')]
const LINKS = ['ppp0', 'ppp1', 'wlan0']
const POOL = '2001:db8:aa00::/48'
const inPool = (p: string): boolean => p.startsWith('2001:db8:aa00:')

type Action =
  | { k: 'attach'; mn: number; link: number; hint: 'new' | 'same-interface' | 'other-interface' | 'unknown' }
  | { k: 'detach'; mn: number; cause: 'left' | 'lost' | 'admin' }
  | { k: 'pba'; mn: number; status: number; variant: 'ok' | 'wrong-seq' | 'wrong-src' | 'bad-hi' | 'renumber' | 'short' | 'short-life' }
  | { k: 'rs'; mn: number; hop: number }
  | { k: 'advance'; ms: number }
  | { k: 'presence'; mn: number; v: boolean | null }
  | { k: 'policy'; mn: number; mode: 'network' | 'host' }
  | { k: 'admin' }
  | { k: 'clock' }
  | { k: 'mtu'; mtu: number }
  | { k: 'hb'; what: 'answer' | 'stale' | 'request' | 'unsolicited'; rc: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('attach' as const), mn: fc.nat(2), link: fc.nat(2), hint: fc.constantFrom('new' as const, 'same-interface' as const, 'other-interface' as const, 'unknown' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('detach' as const), mn: fc.nat(2), cause: fc.constantFrom('left' as const, 'lost' as const, 'admin' as const) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('pba' as const),
      mn: fc.nat(2),
      status: fc.constantFrom(0, 0, 0, 0, 1, 128, 129, 135, 152, 155, 156, 157),
      variant: fc.constantFrom('ok' as const, 'ok' as const, 'ok' as const, 'wrong-seq' as const, 'wrong-src' as const, 'bad-hi' as const, 'renumber' as const, 'short' as const, 'short-life' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('rs' as const), mn: fc.nat(2), hop: fc.constantFrom(255, 255, 64) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 0, max: 4_000_000 })) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('presence' as const), mn: fc.nat(2), v: fc.constantFrom<boolean | null>(true, false, null) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('policy' as const), mn: fc.nat(2), mode: fc.constantFrom('network' as const, 'host' as const) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'admin' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'clock' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('mtu' as const), mtu: fc.integer({ min: 1280, max: 1500 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('hb' as const), what: fc.constantFrom('answer' as const, 'answer' as const, 'stale' as const, 'request' as const, 'unsolicited' as const), rc: fc.nat(2) }) },
)

/** CORE_PROP_SEED and CORE_PROP_PATH (as a failure prints them) replay one counterexample. */
function replay<T extends object>(params: T): T & { seed?: number; path?: string } {
  const seed = process.env.CORE_PROP_SEED
  const path = process.env.CORE_PROP_PATH
  return { ...params, ...(seed !== undefined ? { seed: Number(seed) } : {}), ...(path !== undefined ? { path } : {}) }
}

interface Oracle {
  validUntil: number
  granted: number
  prefixes: string[]
}

class World {
  readonly h: Harness
  readonly latest = new Map<string, { pbu: ProxyBindingUpdate; at: number; answered: boolean }>()
  readonly oracle = new Map<string, Oracle>()
  readonly failures: string[] = []
  /** Sequence number of the last Heartbeat request the MAG sent. */
  lastHb: number | null = null
  /** The MN's view: until when each of its home prefixes is valid, `mnId prefix` -> ms. */
  readonly mnValid = new Map<string, number>()

  constructor(seed: number) {
    this.h = new Harness(
      config({
        profiles: MNS.map((mnId, i) => ({ mnId, lma: LMA, macs: [MACS[i]!.toString('hex').replace(/(..)(?!$)/g, '$1:')], ...(i === 2 ? { homePrefixes: ['2001:db8:2:9::/64'] } : {}) })),
        links: { wlan0: { shared: true } },
        localPool: POOL,
        seed,
        maxRetransmissions: 6,
        heartbeatIntervalS: 30,
        heartbeatMissingThreshold: 2,
      }),
    )
  }

  /** Checks one step's commands against the oracle, then updates the oracle from them. */
  observe(cmds: readonly MagCommand[]): void {
    const now = this.h.now
    const removed: string[] = []
    for (const c of cmds) {
      if (c.type === 'send-pbu') {
        this.latest.set(c.mnId, { pbu: c.pbu, at: now, answered: false })
        if (c.pbu.lifetime === 0) this.oracle.delete(c.mnId)
      } else if (c.type === 'send-ra') {
        for (const p of piosOf(c.ra)) {
          const text = pioText(p)
          if (p.validLifetime === 0 || inPool(text)) continue
          const o = this.oracle.get(c.mnId)
          if (!o || now >= o.validUntil || !o.prefixes.includes(text)) this.failures.push(`${c.mnId}: HNP ${text} advertised without an accepted binding at ${now}`)
          else if (p.validLifetime > o.granted) this.failures.push(`${c.mnId}: ${text} lifetime ${p.validLifetime}s longer than the binding's ${o.granted}s`)
          if (p.preferredLifetime > p.validLifetime) this.failures.push(`${c.mnId}: preferred > valid`)
          const k = `${c.mnId} ${text}`
          this.mnValid.set(k, Math.max(this.mnValid.get(k) ?? 0, now + p.validLifetime * 1000))
        }
      } else if (c.type === 'send-heartbeat') {
        if (!c.heartbeat.flags.r) this.lastHb = c.heartbeat.sequence
      } else if (c.type === 'state-changed') {
        if (c.to === 'removed') removed.push(c.mnId)
        else {
          const i = removed.indexOf(c.mnId)
          if (i >= 0) removed.splice(i, 1)
        }
      }
    }
    // The MN's prefix never runs out while the core serves a live binding for it.
    for (const b of this.h.core.bindings(now)) {
      if (b.state !== 'registered' && b.state !== 'refreshing') continue
      for (const pf of b.prefixes) {
        const until = this.mnValid.get(`${b.mnId} ${pf}`) ?? 0
        if (until < now) this.failures.push(`${b.mnId}: ${pf} expired at the MN at ${until} while its binding lives (now ${now})`)
      }
    }
    for (const mn of removed) {
      const left = this.h.keysOf(mn)
      if (left.length > 0) this.failures.push(`${mn}: timers left after removal: ${left.join(',')}`)
    }
    const lma = this.h.core.lmas().find((l) => l.lma === LMA)
    const armed = this.h.timers.has(`hb/${LMA}`)
    if (armed !== (lma !== undefined && lma.bindings > 0)) this.failures.push(`heartbeat timer ${armed ? 'armed' : 'not armed'} with ${lma?.bindings ?? 0} bindings at ${now}`)
  }

  run(a: Action): void {
    const h = this.h
    const mnId = MNS[(a as { mn?: number }).mn ?? 0]!
    let cmds: MagCommand[] = []
    switch (a.k) {
      case 'attach':
        cmds = h.step({ type: 'attached', at: h.now, link: LINKS[a.link]!, mnId, llId: MACS[MNS.indexOf(mnId)]!, att: 4, hint: a.hint })
        break
      case 'detach': {
        const v = h.view(mnId)
        cmds = h.step({ type: 'detached', at: h.now, link: v?.link ?? 'ppp0', mnId, cause: a.cause })
        break
      }
      case 'pba': {
        const l = this.latest.get(mnId)
        if (!l) return
        const i = MNS.indexOf(mnId)
        const prefixes = a.variant === 'renumber' ? [`2001:db8:${i}:2::/64`] : a.variant === 'short' ? [] : [`2001:db8:${i}:1::/64`]
        const lifetime = a.variant === 'short-life' ? 20 : l.pbu.lifetime
        const pba = pbaFor(l.pbu, a.status, {
          prefixes,
          lifetime,
          ...(a.variant === 'wrong-seq' ? { sequence: (l.pbu.sequence + 1) & 0xffff } : {}),
          ...(a.variant === 'bad-hi' ? { hi: 0 } : {}),
          ...(a.status === 135 ? { sequence: 7 } : {}),
        })
        const wellFormed = a.variant !== 'wrong-seq' && a.variant !== 'wrong-src' && a.variant !== 'bad-hi' && a.status !== 135
        // Only the first well-formed answer to a PBU counts: the core drops any later one.
        if (wellFormed && !l.answered && l.pbu.lifetime > 0) {
          if (a.status < 128 && prefixes.length > 0) this.oracle.set(mnId, { prefixes, granted: lifetime, validUntil: l.at + lifetime * 1000 })
          else this.oracle.delete(mnId)
        }
        if (wellFormed) l.answered = true
        cmds = h.pba(pba, a.variant === 'wrong-src' ? LMA2 : LMA)
        break
      }
      case 'rs': {
        const v = h.view(mnId)
        cmds = h.step({ type: 'rs', at: h.now, link: v?.link ?? 'ppp0', from: 'fe80::1:2', hopLimit: a.hop, llId: MACS[MNS.indexOf(mnId)]! })
        break
      }
      case 'advance': {
        // Fire timers one by one so each step is observed on its own.
        const until = h.now + a.ms
        for (;;) {
          let next = Infinity
          for (const v of h.timers.values()) next = Math.min(next, v)
          if (next > until) break
          this.observe(h.advance(next))
        }
        h.advance(until)
        return
      }
      case 'presence':
        h.presence.set(mnId, a.v)
        return
      case 'policy':
        cmds = h.step({ type: 'policy', at: h.now, mnId, mode: a.mode })
        break
      case 'admin':
        cmds = h.step({ type: 'admin-clear', at: h.now })
        break
      case 'clock':
        cmds = h.step({ type: 'clock-synced', at: h.now })
        break
      case 'mtu':
        cmds = h.step({ type: 'mtu', at: h.now, lma: LMA, mtu: a.mtu })
        break
      case 'hb': {
        const seq = a.what === 'stale' ? ((this.lastHb ?? 0) + 7) >>> 0 : (this.lastHb ?? 0)
        const r = a.what !== 'request'
        cmds = h.step({ type: 'heartbeat', at: h.now, from: LMA, heartbeat: { kind: 'heartbeat', flags: { u: a.what === 'unsolicited', r }, sequence: seq, options: [{ type: 'restart-counter', value: a.rc }] } })
        break
      }
    }
    this.observe(cmds)
  }

  /** Everyone leaves; after the de-registration timeouts nothing is left. */
  drain(): void {
    const h = this.h
    for (const v of h.core.bindings()) {
      this.observe(h.step({ type: 'detached', at: h.now, link: v.link, mnId: v.mnId, cause: 'left' }))
    }
    this.run({ k: 'advance', ms: 5_000 })
    if (h.core.bindings().length > 0) this.failures.push(`entries left: ${h.core.bindings().map((b) => `${b.mnId}:${b.state}`).join(',')}`)
    if (h.timers.size > 0) this.failures.push(`timers left: ${[...h.timers.keys()].join(',')}`)
    for (const l of h.core.lmas()) if (l.bindings !== 0 || l.state !== 'idle') this.failures.push(`heartbeat state left: ${JSON.stringify(l)}`)
  }
}

describe('properties', () => {
  test('§6.7/§6.9.2/§6.9.1.2: no random event sequence advertises a home prefix without an accepted, live binding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.array(action, { minLength: 1, maxLength: 80 }), (seed, actions) => {
        const w = new World(seed)
        for (const a of actions) {
          w.run(a)
          // The counts kept as entries change (status polls, O(1)) agree with the full views,
          // after every step; and the pages of 2 list exactly the entries of the full list.
          const views = w.h.core.bindings()
          const counted: Record<string, number> = {}
          for (const v of views) counted[v.state] = (counted[v.state] ?? 0) + 1
          expect(w.h.core.stateCounts()).toEqual(counted)
          expect(w.h.core.bindingCount()).toBe(views.length)
          const paged: string[] = []
          for (let after: number | null = 0; after !== null; ) {
            const p = w.h.core.bindingsPage(after, 2)
            paged.push(...p.bindings.map((b) => b.mnId))
            after = p.next
          }
          expect(paged.sort()).toEqual(views.map((v) => v.mnId).sort())
        }
        expect(w.failures).toEqual([])
      }),
      replay({ numRuns: Number(process.env.CORE_PROP_RUNS ?? 1000) }),
    )
  })

  test('timer hygiene: no timer of a removed MN stays armed; after everyone leaves, no entry and no timer remain', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.array(action, { minLength: 1, maxLength: 80 }), (seed, actions) => {
        const w = new World(seed)
        for (const a of actions) w.run(a)
        w.h.presence.clear()
        w.drain()
        expect(w.failures).toEqual([])
      }),
      replay({ numRuns: Number(process.env.CORE_PROP_RUNS ?? 1000) }),
    )
  })
})
