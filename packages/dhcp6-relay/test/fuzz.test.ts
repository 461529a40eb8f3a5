// Fuzz the decoders: arbitrary bytes, and valid messages with bytes flipped or cut, either
// decode or throw Dhcp6Error; never a RangeError from Buffer or anything else. The relay logic
// fed the same bytes from either side only ever returns actions.
import fc from 'fast-check'
import { Dhcp6Error, RelayLogic, dhcp6, decodeChain } from '../src'
import { dhcp6Message } from './arbitraries'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 50_000)

function onlyDhcp6Error(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    if (!(e instanceof Dhcp6Error)) throw new Error(`decoder threw ${(e as Error)?.name}: ${(e as Error)?.message}`)
    expect(Number.isInteger(e.offset)).toBe(true)
  }
}

const mutated = (valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> =>
  fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat()).map(([b, flips, cut]) => {
    const c = Buffer.from(b)
    for (const [i, v] of flips) if (c.length > 0) c[i % c.length] = v
    return c.subarray(0, c.length === 0 ? 0 : cut % (c.length + 1))
  })

const raw = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u))
const relayish = raw.map((b) => Buffer.concat([Buffer.from([12 + (b[0] ?? 0) % 2]), b]))
const bytes = fc.oneof(raw, relayish, mutated(dhcp6Message.map((m) => dhcp6.encode(m))))

describe(`DHCPv6 decoders under fuzzing (${RUNS} cases each)`, () => {
  test('decode throws only Dhcp6Error', () => {
    fc.assert(fc.property(bytes, (b) => onlyDhcp6Error(() => dhcp6.decode(b))), { numRuns: RUNS })
  })

  test('decodeChain throws only Dhcp6Error', () => {
    fc.assert(fc.property(bytes, (b) => onlyDhcp6Error(() => decodeChain(b))), { numRuns: RUNS })
  })

  test('the relay logic never throws on any input from either side', () => {
    const logic = new RelayLogic({ servers: ['2001:db8:ffff::2'] })
    logic.setBindings([
      { mnId: 'mn1', link: 'mn1', mac: '02:00:00:00:01:01', mode: 'network', state: 'registered', prefixes: ['2001:db8:100:1::/64'], stateful: true, routerAddress: 'fe80::1' },
    ])
    fc.assert(
      fc.property(bytes, (b) => {
        expect(Array.isArray(logic.fromClient({ data: b, src: 'fe80::2', link: 'mn1' }))).toBe(true)
        expect(Array.isArray(logic.fromServer({ data: b, src: '2001:db8:ffff::2' }))).toBe(true)
      }),
      { numRuns: Math.min(RUNS, 20_000) },
    )
  })
})
