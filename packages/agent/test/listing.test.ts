// The binding listing in slices (issue 23): the same text JSON.stringify would give, in the
// list's order, every entry once through the cursor, at most PAGE_SLOTS_MAX slots a page, and
// the event loop handed back between slices. A real MagCore holds the entries.
import { createMagCore, type BindingView, type MagCore } from '@pmip6/core'
import { JsonStream, PAGE_SLOTS_MAX, SLICE_ROWS, Turns, listJson, pageJson, rowJson, writeRows, type ListingRow, type ListingSource } from '../src/listing'

const T0 = 1_700_000_000_000
const LMA = '2001:db8:ffff::2'
const id = (i: number): string => `ls${i}@example.com`

function coreWith(n: number): MagCore {
  const core = createMagCore({ profiles: [], unknownMn: { profile: { lma: LMA } }, fixedLinkLocal: 'fe80::1', fixedLinkLayer: '02:00:00:00:00:fe', seed: 7, heartbeatIntervalS: 0, maxPbusInFlight: 1_000_000 })
  for (let i = 0; i < n; i++) core.step({ type: 'attached', at: T0, link: `ppp${i}`, mnId: id(i), llId: Buffer.from([0x0a, 0, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255]), att: 4, hint: 'new' })
  return core
}

function sourceOf(core: MagCore, held: ListingRow[] = []): ListingSource & { calls: { after: number; maxRows: number; maxSlots: number }[] } {
  const calls: { after: number; maxRows: number; maxSlots: number }[] = []
  return {
    calls,
    bindingsPage(after, maxRows, maxSlots) {
      calls.push({ after, maxRows, maxSlots })
      return core.bindingsPage(after, maxRows, T0, maxSlots)
    },
    heldRows: () => held,
  }
}

const heldRow = (mnId: string): ListingRow => ({ mnId, link: 'wlan0', state: 'held', reason: 'aaa-pending', mode: 'network', lma: null, prefixes: [], homePrefixes: [], lifetimeLeft: 0, grantedLifetime: 0, lastStatus: null, retransmissions: 0, pending: null, att: 4, mac: null, hi: 0, routerAddress: '', stack: 'ipv6', ipv4Address: null, ipv4Router: null, ipv4Reason: '', ipv4Requested: null, greKeys: null }) as ListingRow

/**
 * Detaches MNs 0..n-1 but one in `keepEvery`, then runs the core's timers for two minutes: the
 * LMA never answers, so their de-registrations give up and their slots are freed.
 */
function thin(core: MagCore, n: number, keepEvery: number): void {
  const timers = new Map<string, { at: number; ev: { kind: string; id: string; ref?: number } }>()
  const run = (cmds: ReturnType<MagCore['step']>): void => {
    for (const c of cmds) {
      if (c.type === 'arm-timer') timers.set(c.key, { at: c.at, ev: { kind: c.kind, id: c.id, ...(c.ref !== undefined ? { ref: c.ref } : {}) } })
      else if (c.type === 'cancel-timer') timers.delete(c.key)
    }
  }
  for (let i = 0; i < n; i++) if (i % keepEvery !== 0) run(core.step({ type: 'detached', at: T0, link: `ppp${i}`, mnId: id(i), cause: 'left' }))
  for (;;) {
    let next: [string, { at: number; ev: { kind: string; id: string; ref?: number } }] | null = null
    for (const t of timers) if (t[1].ev.kind !== 'refresh' && (next === null || t[1].at < next[1].at)) next = t
    if (next === null || next[1].at > T0 + 120_000) break
    timers.delete(next[0])
    run(core.step({ type: 'timer', at: next[1].at, key: next[0], ...next[1].ev } as Parameters<MagCore['step']>[0]))
  }
}

describe('listing in slices', () => {
  test('the whole list: byte for byte JSON.stringify of the views, then the held rows; built SLICE_ROWS rows at a time', async () => {
    const core = coreWith(300)
    const held = [heldRow('held1@example.com'), { ...heldRow('held2@example.com'), aaa: { server: '192.0.2.1:1812', cacheExpiresInS: 5, interfaceId: undefined } }]
    const src = sourceOf(core, held)
    const out = listJson(src)
    expect(out).toBeInstanceOf(JsonStream)
    // Written a slice at a time.
    const pieces: string[] = []
    await out.writeTo((j) => void pieces.push(j), new Turns())
    const want: unknown[] = [...core.bindings(T0), ...held]
    expect(pieces.join('')).toBe(JSON.stringify(want))
    expect(pieces.length).toBeGreaterThanOrEqual(2 + Math.ceil(300 / SLICE_ROWS))
    expect(src.calls.every((c) => c.maxRows <= SLICE_ROWS)).toBe(true)
    expect(src.calls.length).toBeGreaterThanOrEqual(Math.ceil(300 / SLICE_ROWS))
    expect(await listJson(sourceOf(coreWith(0))).text()).toBe('[]')
    expect(await listJson(sourceOf(coreWith(0), held)).text()).toBe(JSON.stringify(held))
  })

  test('rowJson: a row with the RADIUS facts is JSON.stringify of it too', () => {
    const v = coreWith(1).bindings(T0)[0] as BindingView
    const r: ListingRow = { ...v, aaa: { server: '[2001:db8::5]:1812', cacheExpiresInS: 30, interfaceId: '::1', ipv4HomeAddress: undefined, dhcp6Servers: ['2001:db8::53'], dhcp4Servers: [] } }
    expect(rowJson(r)).toBe(JSON.stringify(r))
    expect(rowJson(v)).toBe(JSON.stringify(v))
  })

  test('pages: each is JSON.stringify of the core page it stands for; the walk lists every entry once in slot order, held rows on the last page only', async () => {
    const core = coreWith(130)
    const held = [heldRow('held@example.com')]
    const src = sourceOf(core, held)
    const seen: string[] = []
    let after = 0
    for (let n = 0; ; n++) {
      const text = await pageJson(src, after, 50).text()
      const page = JSON.parse(text) as { bindings: { mnId: string }[]; next: number | null }
      const core50 = core.bindingsPage(after, 50, T0)
      if (page.next !== null) expect(text).toBe(JSON.stringify(core50))
      else expect(page.bindings).toEqual(JSON.parse(JSON.stringify([...core50.bindings, ...held])))
      seen.push(...page.bindings.map((b) => b.mnId))
      if (page.next === null) break
      after = page.next
      expect(n).toBeLessThan(10)
    }
    expect(seen).toEqual([...Array.from({ length: 130 }, (_, i) => id(i)), 'held@example.com'])
  })

  test('the cap: a page looks at no more than maxSlots slots, so it may be short or empty with a next; the walk still ends with next null and misses nothing', async () => {
    const core = coreWith(600)
    thin(core, 600, 200)
    const total = core.bindingCount()
    expect(total).toBe(3)
    const src = sourceOf(core)
    const seen: string[] = []
    let after = 0
    let short = 0
    for (let n = 0; ; n++) {
      const chunks: string[] = []
      const r = await writeRows(src, after, 1000, new Turns(), (j) => void chunks.push(j), 64)
      const page = JSON.parse(`[${chunks.join('')}]`) as { mnId: string }[]
      expect(page.length).toBe(r.rows)
      seen.push(...page.map((b) => b.mnId))
      if (r.next === null) break
      if (r.rows === 0) short++
      expect(r.next - after).toBeLessThanOrEqual(64)
      after = r.next
      expect(n).toBeLessThan(1000)
    }
    expect(short).toBeGreaterThan(0)
    expect(seen.length).toBe(total)
    expect(new Set(seen).size).toBe(total)
    expect(PAGE_SLOTS_MAX).toBe(4096)
  })

  test('yields between slices: other work on the event loop runs while a long list is built', async () => {
    const core = coreWith(2000)
    const src = sourceOf(core)
    let ticks = 0
    let stop = false
    const tick = (): void => {
      ticks++
      if (!stop) setImmediate(tick)
    }
    setImmediate(tick)
    // turnMs 0: a yield after every slice.
    const turns = new Turns(0)
    const out = await listJson(src).text(turns)
    stop = true
    expect(JSON.parse(out)).toHaveLength(2000)
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(2000 / SLICE_ROWS) - 1)
    turns.done()
    expect(turns.longestMs).toBeGreaterThan(0)
  })

  test('without a yield the whole list is one turn: nothing else runs meanwhile (the control the test above needs)', async () => {
    const core = coreWith(500)
    let ticks = 0
    setImmediate(() => ticks++)
    const out = await listJson(sourceOf(core)).text(new Turns(Infinity))
    expect(ticks).toBe(0)
    expect(JSON.parse(out)).toHaveLength(500)
  })

  test('a wait for the reader is not counted as a turn held: only the work before and after it', async () => {
    // Its own clock: on a loaded machine wall time between two statements is the scheduler's.
    let t = 0
    const turns = new Turns(1000, () => t)
    t += 3 // work before the wait
    await turns.wait(
      new Promise<void>((r) =>
        setImmediate(() => {
          t += 300 // the reader takes its time
          r()
        }),
      ),
    )
    t += 5 // work after it
    turns.done()
    expect(turns.longestMs).toBe(5)
  })
})
