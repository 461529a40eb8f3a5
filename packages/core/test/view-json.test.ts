// bindingViewJson is JSON.stringify of a binding view, byte for byte (issue 23: the listing
// writes it instead), for any field values and for the views the core itself builds.
import fc from 'fast-check'
import { bindingViewJson, type BindingView } from '../src'
import { Harness, config, LMA, pbaFor, lastPbu } from './harness'

// Any text: escapes, controls, lone surrogates, astral characters.
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', '"', '\\', '\u0000', '\u001f', '\ud800', '\udc00x', '😀', 'mn1@example.com'))
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 4294967295))
const orNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null })

// Fields in the order MagCore.view builds them: the order JSON.stringify follows.
const view: fc.Arbitrary<BindingView> = fc
  .tuple(
    fc.tuple(text, text, text, text, text, orNull(text), fc.array(text, { maxLength: 4 }), fc.array(text, { maxLength: 4 })),
    fc.tuple(number, number, orNull(number), number, orNull(text), number, orNull(text), number, text, text),
    fc.tuple(orNull(text), orNull(text), text, orNull(fc.record({ address: text, outcome: text })), orNull(fc.record({ uplink: number, downlink: number }))),
  )
  .map(([[mnId, link, state, reason, mode, lma, prefixes, homePrefixes], [lifetimeLeft, grantedLifetime, lastStatus, retransmissions, pending, att, mac, hi, routerAddress, stack], [ipv4Address, ipv4Router, ipv4Reason, ipv4Requested, greKeys]]) => ({ mnId, link, state, reason, mode, lma, prefixes, homePrefixes, lifetimeLeft, grantedLifetime, lastStatus, retransmissions, pending, att, mac, hi, routerAddress, stack, ipv4Address, ipv4Router, ipv4Reason, ipv4Requested, greKeys }) as unknown as BindingView)

describe('bindingViewJson', () => {
  test('equals JSON.stringify of the view for any field values', () => {
    fc.assert(
      fc.property(view, (v) => bindingViewJson(v) === JSON.stringify(v)),
      { numRuns: 3000 },
    )
  })

  test('equals JSON.stringify of the views the core builds (registering, registered with GRE keys-less prefixes, host mode)', () => {
    const h = new Harness(config({ unknownMn: { profile: { lma: LMA } } }))
    const a = h.attach({ mnId: 'mn1@example.com', link: 'ppp0' })
    h.pba(pbaFor(lastPbu(a), 0, { prefixes: ['2001:db8:1:1::/64'] }))
    h.attach({ mnId: 'we"ird\\mn@example.com', link: 'ppp1' })
    const views = h.core.bindings()
    expect(views.length).toBe(2)
    expect(views.some((v) => v.state === 'registered')).toBe(true)
    for (const v of views) expect(bindingViewJson(v)).toBe(JSON.stringify(v))
  })
})
