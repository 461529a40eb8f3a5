// Round trips for every message and option, at offset 0 and inside a larger buffer, and the
// alignment rules of RFC 6275 §6.2.1 / RFC 5213 §8.3, §8.7, §8.8 checked on the encoded bytes.
import fc from 'fast-check'
import { mh, nd, type MhMessage, type MobilityOption, NO_BU_FLAGS, parseIp6, decodeOptions } from '../src'
import { bindingUpdate, bindingAck, bindingError, heartbeat, routerAdvertisement, routerSolicitation, mobilityOption } from './arbitraries'

const anyMh: fc.Arbitrary<MhMessage> = fc.oneof(bindingUpdate, bindingAck, bindingError, heartbeat)

describe('Mobility Header round trips', () => {
  test('every message kind survives encode -> decode unchanged', () => {
    fc.assert(
      fc.property(anyMh, (m) => {
        const out = mh.encode(m)
        expect(out.length % 8).toBe(0) // RFC 6275 §6.1.1: Header Len counts 8-octet units
        expect(out[1]).toBe(out.length / 8 - 1)
        expect(mh.encode(mh.decode(out)).equals(out)).toBe(true)
        expect(mh.decode(out)).toEqual(m)
      }),
      { numRuns: 2000 },
    )
  })

  test('encoding at any offset of a larger buffer leaves the rest untouched', () => {
    fc.assert(
      fc.property(anyMh, fc.integer({ min: 0, max: 64 }), (m, at) => {
        const len = mh.encodingLength(m)
        const big = Buffer.alloc(at + len + 16, 0xa5)
        mh.encode(m, big, at)
        expect(big.subarray(0, at).every((b) => b === 0xa5)).toBe(true)
        expect(big.subarray(at + len).every((b) => b === 0xa5)).toBe(true)
        expect(mh.decode(big, at)).toEqual(m)
      }),
      { numRuns: 500 },
    )
  })

  test('each option on its own round-trips and honours its alignment', () => {
    fc.assert(
      fc.property(fc.array(mobilityOption, { minLength: 1, maxLength: 6 }), (opts) => {
        const m: MhMessage = { kind: 'binding-update', sequence: 1, flags: NO_BU_FLAGS, lifetime: 0, options: opts }
        const out = mh.encode(m)
        // Walk the encoded options and check each type byte's alignment.
        let p = 12
        while (p < out.length) {
          const t = out[p]!
          if (t === 0) {
            p += 1
            continue
          }
          if (t === 22) expect(p % 8).toBe(4) // HNP 8n+4
          if (t === 26) expect(p % 8).toBe(6) // Link-local 8n+6
          if (t === 27) expect(p % 8).toBe(2) // Timestamp 8n+2
          if (t === 28) expect(p % 4).toBe(2) // Restart Counter 4n+2
          if (t === 33) expect(p % 4).toBe(0) // GRE Key 4n
          if (t >= 36 && t <= 38) expect(p % 4).toBe(0) // RFC 5844 §3.3.1-3.3.3: 4n
          if (t === 25) expect(p % 2).toBe(0) // MN LL-ID 2n
          p += 2 + out[p + 1]!
        }
        expect(decodeOptions(out, 0, 12, out.length)).toEqual(opts)
      }),
      { numRuns: 2000 },
    )
  })

  test('the decoder accepts options in any order and any padding between them', () => {
    const hnp: MobilityOption = { type: 'hnp', prefixLength: 64, prefix: parseIp6('2001:db8:1:1::') }
    // Pad1, PadN(3), HI, Pad1, HNP at an unaligned offset: still decodes.
    const body = Buffer.from([0x00, 0x01, 0x01, 0x00, 0x17, 0x02, 0x00, 0x05, 0x00, 0x16, 0x12, 0x00, 0x40, ...parseIp6('2001:db8:1:1::'), 0, 0, 0, 0, 0, 0, 0])
    const msg = Buffer.concat([Buffer.from([59, 0, 5, 0, 0, 0, 0, 1, 0x82, 0, 0, 10]), body])
    msg[1] = msg.length / 8 - 1
    expect(msg.length % 8).toBe(0)
    const d = mh.decode(msg)
    expect(d.kind === 'binding-update' && d.options).toEqual([{ type: 'handoff-indicator', value: 5 }, hnp])
  })

  test('unknown options are kept as raw bytes and re-encoded', () => {
    const msg = mh.encode({ kind: 'binding-update', sequence: 9, flags: NO_BU_FLAGS, lifetime: 40, options: [{ type: 'unknown', code: 99, data: Buffer.from('abc') }] })
    const d = mh.decode(msg)
    expect(d.kind === 'binding-update' && d.options).toEqual([{ type: 'unknown', code: 99, data: Buffer.from('abc') }])
  })

  test('unknown MH types decode as other with their body', () => {
    const raw = Buffer.from([59, 0, 16, 0, 0, 0, 1, 2])
    expect(mh.decode(raw)).toEqual({ kind: 'other', mhType: 16, body: Buffer.from([1, 2]) })
  })

  test('lifetime is carried in 4-second units and rounds down', () => {
    const out = mh.encode({ kind: 'binding-update', sequence: 0, flags: NO_BU_FLAGS, lifetime: 3603, options: [] })
    expect(out.readUInt16BE(10)).toBe(900)
  })
})

describe('Neighbor Discovery round trips', () => {
  test('RA and RS survive encode -> decode unchanged', () => {
    fc.assert(
      fc.property(fc.oneof(routerAdvertisement, routerSolicitation), fc.integer({ min: 0, max: 32 }), (m, at) => {
        const len = nd.encodingLength(m)
        const big = Buffer.alloc(at + len + 8, 0x5a)
        nd.encode(m, big, at)
        expect(big.subarray(at + len).every((b) => b === 0x5a)).toBe(true)
        expect(nd.decode(big, at, at + len)).toEqual(m)
      }),
      { numRuns: 2000 },
    )
  })
})
