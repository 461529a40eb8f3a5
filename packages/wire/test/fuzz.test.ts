// Fuzz every decoder: arbitrary bytes, and valid messages with bytes flipped or cut, must
// either decode or throw WireError. Never a RangeError, TypeError or anything else.
// Runs FUZZ_RUNS cases per decoder (100,000 by default, more with FUZZ_RUNS=...).
import fc from 'fast-check'
import { mh, nd, WireError, decodeAny } from '../src'
import { bindingUpdate, bindingAck, heartbeat, routerAdvertisement } from './arbitraries'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100_000)

function onlyWireError(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    if (!(e instanceof WireError)) throw new Error(`decoder threw ${(e as Error)?.name}: ${(e as Error)?.message}`)
    expect(typeof e.reason).toBe('string')
    expect(Number.isInteger(e.offset)).toBe(true)
  }
}

// Mutations of valid encodings reach deep into the decoders; pure random bytes mostly stop early.
const mutated = (valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> =>
  fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat()).map(([b, flips, cut]) => {
    const c = Buffer.from(b)
    for (const [i, v] of flips) c[i % c.length] = v
    return c.subarray(0, c.length === 0 ? 0 : cut % (c.length + 1))
  })

const raw = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u))
const mhBytes = fc.oneof(
  raw.map((b) => (b.length > 0 ? Buffer.concat([Buffer.from([59]), b]) : b)),
  mutated(fc.oneof(bindingUpdate, bindingAck, heartbeat).map((m) => mh.encode(m))),
)
const ndBytes = fc.oneof(
  raw.map((b) => (b.length > 1 ? Buffer.concat([Buffer.from([134, 0]), b]) : b)),
  mutated(routerAdvertisement.map((m) => nd.encode(m))),
)

describe(`decoders under fuzzing (${RUNS} cases each)`, () => {
  test('mh.decode throws only WireError', () => {
    fc.assert(fc.property(mhBytes, (b) => onlyWireError(() => mh.decode(b))), { numRuns: RUNS })
  })
  test('nd.decode throws only WireError', () => {
    fc.assert(fc.property(ndBytes, (b) => onlyWireError(() => nd.decode(b))), { numRuns: RUNS })
  })
  test('decodeAny (mag decode) throws only WireError', () => {
    fc.assert(fc.property(fc.oneof(mhBytes, ndBytes, raw), (b) => onlyWireError(() => decodeAny(b))), { numRuns: RUNS })
  })
})
