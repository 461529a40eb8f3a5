// Malformed input names its reason and offset (one typed error class).
import { mh, nd, WireError, decodeAny } from '../src'
import { PBU_10_1, RA_10_3 } from './vectors'

function reasonOf(fn: () => unknown): { reason: string; offset: number } {
  try {
    fn()
  } catch (e) {
    if (e instanceof WireError) return { reason: e.reason, offset: e.offset }
    throw e
  }
  throw new Error('did not throw')
}

describe('typed errors', () => {
  test('empty and short input is truncated at offset 0', () => {
    expect(reasonOf(() => mh.decode(Buffer.alloc(0)))).toEqual({ reason: 'truncated', offset: 0 })
    expect(reasonOf(() => mh.decode(Buffer.from([59, 0, 5])))).toEqual({ reason: 'truncated', offset: 0 })
  })
  test('payload proto other than 59 (RFC 6275 §6.1.1)', () => {
    const b = Buffer.from(PBU_10_1)
    b[0] = 58
    expect(reasonOf(() => mh.decode(b))).toEqual({ reason: 'bad-payload-proto', offset: 0 })
  })
  test('Header Len longer than the packet', () => {
    expect(reasonOf(() => mh.decode(PBU_10_1.subarray(0, 80)))).toEqual({ reason: 'bad-header-length', offset: 1 })
  })
  test('an option running past the end names its offset and type', () => {
    const b = Buffer.from(PBU_10_1)
    b[13] = 200 // MN-ID length
    const e = reasonOf(() => mh.decode(b))
    expect(e).toEqual({ reason: 'option-overflow', offset: 12 })
  })
  test('an HNP option with a short length', () => {
    const b = Buffer.from(PBU_10_1)
    b[37] = 10
    expect(reasonOf(() => mh.decode(b))).toEqual({ reason: 'option-too-short', offset: 36 })
  })
  test('ND option with length 0 is invalid (RFC 4861 §4.6)', () => {
    const b = Buffer.from(RA_10_3)
    b[17] = 0
    expect(reasonOf(() => nd.decode(b))).toEqual({ reason: 'bad-option-length', offset: 16 })
  })
  test('RA code must be 0 (RFC 4861 §6.1.2)', () => {
    const b = Buffer.from(RA_10_3)
    b[1] = 1
    expect(reasonOf(() => nd.decode(b))).toEqual({ reason: 'bad-icmp-code', offset: 1 })
  })
  test('WireError serialises to JSON with reason and offset', () => {
    try {
      decodeAny(Buffer.from([59]))
    } catch (e) {
      expect(JSON.parse(JSON.stringify(e))).toMatchObject({ error: 'WireError', reason: 'truncated', offset: 0 })
    }
    expect.assertions(1)
  })
  test('encoder refuses values that do not fit', () => {
    expect(() => mh.encode({ kind: 'binding-ack', status: 300, flags: { k: false, r: false, p: true, t: false, b: false }, sequence: 1, lifetime: 0, options: [] })).toThrow(WireError)
    expect(() => mh.encode({ kind: 'binding-update', sequence: 70000, flags: { a: true, h: false, l: false, k: false, m: false, r: false, p: true, f: false, t: false, b: false }, lifetime: 0, options: [] })).toThrow(WireError)
  })
})
