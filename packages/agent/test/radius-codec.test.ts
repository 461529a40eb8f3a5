// The RADIUS codec: golden bytes computed independently (Python hashlib/hmac from the RFC
// 2865 §3, RFC 3579 §3.2, RFC 5176 §3 formulas), and fuzzing: decode never throws anything but
// a RadiusError, and a forged or bit-flipped answer never verifies.
import fc from 'fast-check'
import {
  decode,
  encode,
  encodeAccessRequest,
  encodeResponse,
  encodeSignedRequest,
  hidePassword,
  ip6PrefixValue,
  octets,
  RadiusError,
  readIp4Prefix,
  readIp6Prefix,
  text,
  u32,
  verifyAccessRequest,
  verifyResponse,
  verifySignedRequest,
  vendorAttributes,
  AttributeValueError,
} from '../src/radius/codec'

const SECRET = Buffer.from('testing123')
const AUTH = Buffer.from([...Array(16).keys()])
const hex = (s: string): Buffer => Buffer.from(s, 'hex')

describe('golden bytes', () => {
  test('Access-Request with Message-Authenticator (RFC 3579 §3.2)', () => {
    const b = encodeAccessRequest(42, [text(1, 'mn1@example.org'), u32(6, 10), u32(61, 19), octets(95, hex('20010db8ffff00000000000000000001'))], SECRET, AUTH)
    expect(b.toString('hex')).toBe('012a0055000102030405060708090a0b0c0d0e0f01116d6e31406578616d706c652e6f726706060000000a3d06000000135f1220010db8ffff000000000000000000015012dfaf41c18adf69af7138a06d50c8cac9')
    expect(verifyAccessRequest(b, SECRET)).toBe('ok')
    expect(verifyAccessRequest(b, Buffer.from('wrong'))).toBe('bad-message-authenticator')
  })

  test('Access-Accept: Response Authenticator and Message-Authenticator over the request authenticator', () => {
    const want = '022a004ca9e190a45e5b7e32fe905b6bf63fe47c931220010db8ffff000000000000000000029714004020010db801000077000000000000000050125e3c4c829b197b74e4086727a5cd0fce'
    const b = encodeResponse(2, 42, AUTH, [octets(147, hex('20010db8ffff00000000000000000002')), octets(151, hex('004020010db8010000770000000000000000'))], SECRET)
    expect(b.toString('hex')).toBe(want)
    expect(verifyResponse(b, AUTH, SECRET, true)).toBe('ok')
    expect(verifyResponse(b, AUTH, Buffer.from('wrong'), true)).toBe('bad-authenticator')
    expect(verifyResponse(b, Buffer.alloc(16), SECRET, true)).toBe('bad-authenticator')
  })

  test('Disconnect-Request (RFC 5176 §3) and Accounting-Request with Message-Authenticator (RFC 2866 §3)', () => {
    const d = encodeSignedRequest(40, 9, [text(1, 'mn1@example.org')], SECRET)
    expect(d.toString('hex')).toBe('28090025a0792b9fb875eb16706101b0f447984401116d6e31406578616d706c652e6f7267')
    expect(verifySignedRequest(d, SECRET)).toBe('ok')
    expect(verifySignedRequest(d, Buffer.from('other'))).toBe('bad-authenticator')
    const a = encodeSignedRequest(4, 5, [u32(40, 1), text(44, 'abc')], SECRET, true)
    expect(a.toString('hex')).toBe('0405003169f84f3a749403d647cc0ffd8ea1a5bb2806000000012c056162635012dfed0207812c11eb2568963e751ca61b')
    expect(verifySignedRequest(a, SECRET, true)).toBe('ok')
    expect(verifySignedRequest(d, SECRET, true)).toBe('missing-message-authenticator')
  })

  test('User-Password hiding (RFC 2865 §5.2)', () => {
    expect(hidePassword(Buffer.from('mn1@example.org'), SECRET, AUTH).toString('hex')).toBe('fb80388a11851b77602a620a6f66e58b')
    expect(hidePassword(Buffer.alloc(17), SECRET, AUTH)).toHaveLength(32)
  })

  test('decode reads back what encode wrote; padding past Length is ignored (RFC 2865 §3)', () => {
    const b = encode({ code: 2, identifier: 7, authenticator: AUTH, attributes: [text(18, 'hi'), u32(27, 600)] })
    const p = decode(Buffer.concat([b, Buffer.from([1, 2, 3])]))
    expect(p).toEqual({ code: 2, identifier: 7, authenticator: AUTH, attributes: [{ type: 18, value: Buffer.from('hi') }, { type: 27, value: hex('00000258') }] })
  })
})

describe('malformed packets: typed errors', () => {
  const reason = (b: Buffer): string => {
    try {
      decode(b)
      return 'ok'
    } catch (e) {
      if (e instanceof RadiusError) return e.reason
      throw e
    }
  }
  const hdr = (len: number, rest: number[] = []): Buffer => Buffer.from([2, 1, len >> 8, len & 255, ...Array(16).fill(0), ...rest])
  test.each([
    ['shorter than a header', Buffer.alloc(19), 'truncated'],
    ['Length below 20', hdr(19), 'bad-length'],
    ['Length past the datagram', hdr(30), 'bad-length'],
    ['attribute length 1', hdr(22, [1, 1]), 'bad-attribute-length'],
    ['attribute past Length', hdr(23, [1, 5, 0]), 'attribute-overflow'],
    ['half an attribute header', hdr(21, [1]), 'attribute-overflow'],
    ['Message-Authenticator not 16 octets', hdr(24, [80, 4, 0, 0]), 'bad-message-authenticator-length'],
  ])('%s', (_w, b, want) => expect(reason(b)).toBe(want))

  test('two Message-Authenticators', () => {
    const ma = [80, 18, ...Array(16).fill(0)]
    expect(reason(hdr(56, [...ma, ...ma]))).toBe('duplicate-message-authenticator')
  })
})

describe('attribute values', () => {
  test('ipv6prefix (RFC 3162 §2.3): short and full forms, bits past the length refused', () => {
    expect(readIp6Prefix(hex('004020010db80100007700'.slice(0, 20)))).toMatchObject({ length: 64 })
    expect(readIp6Prefix(hex('004020010db8010000770000000000000000')).length).toBe(64)
    expect(() => readIp6Prefix(hex('0040200100'))).toThrow(AttributeValueError)
    expect(() => readIp6Prefix(hex('00812001'))).toThrow(/above 128/)
    expect(() => readIp6Prefix(hex('002020010db80001'))).toThrow(/beyond/)
    expect(ip6PrefixValue(hex('20010db8010000770000000000000000'), 64).toString('hex')).toBe('004020010db801000077')
  })
  test('ipv4prefix (RFC 6572 §3.8)', () => {
    expect(readIp4Prefix(hex('0020c0000207'))).toEqual({ address: hex('c0000207'), length: 32 })
    expect(() => readIp4Prefix(hex('0020c00002'))).toThrow(AttributeValueError)
  })
  test('Vendor-Specific (RFC 2865 §5.26)', () => {
    expect(vendorAttributes(hex('0000706e0106000000010203'))).toBeNull()
    expect(vendorAttributes(hex('0000706e010600000001'))).toEqual({ vendor: 28782, attributes: [{ type: 1, value: hex('00000001') }] })
  })
})

describe('fuzz', () => {
  test('decode throws only RadiusError, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (a) => {
        try {
          decode(Buffer.from(a))
        } catch (e) {
          if (!(e instanceof RadiusError)) throw e
        }
      }),
      { numRuns: 3000 },
    )
  })

  test('a well-formed header with random attributes round-trips or throws RadiusError', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ type: fc.integer({ min: 1, max: 255 }).filter((t) => t !== 80), value: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 20 }), (attrs) => {
        const attributes = attrs.map((a) => ({ type: a.type, value: Buffer.from(a.value) }))
        const b = encode({ code: 2, identifier: 1, authenticator: AUTH, attributes })
        expect(decode(b).attributes).toEqual(attributes)
      }),
    )
  })

  test('no flipped bit of a signed answer verifies', () => {
    const b = encodeResponse(2, 42, AUTH, [text(18, 'ok'), u32(27, 60)], SECRET)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: b.length * 8 - 1 }), (bit) => {
        const c = Buffer.from(b)
        c[bit >> 3]! ^= 0x80 >> (bit & 7)
        let ok = false
        try {
          decode(c)
          ok = verifyResponse(c, AUTH, SECRET, true) === 'ok'
        } catch (e) {
          if (!(e instanceof RadiusError)) throw e
        }
        // Flipping a bit of Length only shortens or lengthens past the datagram: never a valid answer either.
        expect(ok).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })
})
