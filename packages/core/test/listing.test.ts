// The Binding Update List at size (issue 23): listed in pages through a cursor, counted in O(1).
import { Harness, config, LMA } from './harness'

const id = (i: number): string => `pg${i}@example.com`
const mac = (i: number): Buffer => Buffer.from([0x0a, 0, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255])

function attach(h: Harness, i: number): void {
  h.attach({ mnId: id(i), llId: mac(i), link: `ppp${i}` })
}

describe('bindingsPage / bindingCount', () => {
  test('pages of 7 list every entry that exists for the whole walk exactly once, while others come and go between pages; the last page says next: null', () => {
    const h = new Harness(config({ unknownMn: { profile: { lma: LMA } } }))
    for (let i = 0; i < 60; i++) attach(h, i)
    const stayers = new Set(Array.from({ length: 60 }, (_, i) => id(i)))
    const seen: string[] = []
    let after = 0
    let pages = 0
    let joiner = 1000
    for (;;) {
      const page = h.core.bindingsPage(after, 7)
      pages++
      expect(page.bindings.length).toBeLessThanOrEqual(7)
      seen.push(...page.bindings.map((b) => b.mnId))
      if (page.next === null) break
      after = page.next
      // Between pages: one MN leaves (its entry goes), two new ones arrive (possibly into freed slots).
      const leaver = id(pages * 3)
      h.step({ type: 'detached', at: h.now, link: `ppp${pages * 3}`, mnId: leaver, cause: 'left' })
      // Gone, or still de-registering: listed or not, either is right for an MN that left mid-walk.
      stayers.delete(leaver)
      attach(h, joiner++)
      attach(h, joiner++)
      expect(pages).toBeLessThan(100)
    }
    for (const s of stayers) expect(seen.filter((x) => x === s)).toEqual([s])
    expect(new Set(seen).size).toBe(seen.length)
    expect(h.core.bindingCount()).toBe(h.core.bindings().length)
  })

  test('an empty list is one empty page; a page never starts before the first entry; limit 1 walks one entry per page', () => {
    const h = new Harness(config({ unknownMn: { profile: { lma: LMA } } }))
    expect(h.core.bindingsPage(0, 10)).toEqual({ bindings: [], next: null })
    expect(h.core.bindingCount()).toBe(0)
    for (let i = 0; i < 5; i++) attach(h, i)
    const got: string[] = []
    let after = 0
    for (let n = 0; n < 10; n++) {
      const p = h.core.bindingsPage(after, 1)
      got.push(...p.bindings.map((b) => b.mnId))
      if (p.next === null) break
      after = p.next
    }
    expect(got.sort()).toEqual([0, 1, 2, 3, 4].map(id).sort())
    expect(h.core.bindingCount()).toBe(5)
    // The views are the same as the full list's.
    expect(h.core.bindingsPage(0, 100).bindings).toEqual(h.core.bindings())
  })

  test('maxSlots bounds the slots a page looks at: after most entries left, pages come back short or empty with a next, and the walk still lists every entry once', () => {
    const h = new Harness(config({ unknownMn: { profile: { lma: LMA } } }))
    for (let i = 0; i < 50; i++) attach(h, i)
    // Entries go at once (detached while registering), leaving their slots free.
    for (let i = 0; i < 50; i++) if (i % 10 !== 0) h.step({ type: 'detached', at: h.now, link: `ppp${i}`, mnId: id(i), cause: 'left' })
    // Their de-registrations go unanswered until the core gives up on them.
    h.advanceBy(120_000)
    const left = h.core.bindings().map((b) => b.mnId).sort()
    expect(left.length).toBeGreaterThan(0)
    const got: string[] = []
    let after = 0
    let empty = 0
    for (let n = 0; ; n++) {
      const p = h.core.bindingsPage(after, 100, undefined, 4)
      got.push(...p.bindings.map((b) => b.mnId))
      if (p.bindings.length === 0 && p.next !== null) empty++
      if (p.next === null) break
      expect(p.next - after).toBeLessThanOrEqual(4)
      after = p.next
      expect(n).toBeLessThan(100)
    }
    expect(got.sort()).toEqual(left)
    expect(empty).toBeGreaterThan(0)
  })
})
