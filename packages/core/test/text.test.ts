// The per-event text helpers must agree exactly with @pmip6/wire (RFC 5952 text, MAC keys).
import fc from 'fast-check'
import { formatIp6, parseMac } from '@pmip6/wire'
import { fastFormatIp6, bytesEqualText, isMasked, prefixText, prefixTextIs } from '../src/text'
import { macKey } from '../src'

describe('text helpers', () => {
  test('RFC 5952: fastFormatIp6 gives the same text as wire formatIp6 for any address', () => {
    const groups = fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8, 0x2001)
    const addr = fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.array(groups, { minLength: 8, maxLength: 8 }).map((g) => {
        const b = Buffer.alloc(16)
        g.forEach((v, i) => b.writeUInt16BE(v, 2 * i))
        return new Uint8Array(b)
      }),
    )
    fc.assert(fc.property(addr, (a) => fastFormatIp6(a) === formatIp6(a)), { numRuns: 5000 })
  })

  test('bytesEqualText and isMasked', () => {
    expect(bytesEqualText(Buffer.from('mn1@example.com'), 'mn1@example.com')).toBe(true)
    expect(bytesEqualText(Buffer.from('mn1@example.con'), 'mn1@example.com')).toBe(false)
    expect(bytesEqualText(Buffer.from('né@x'), 'né@x')).toBe(true)
    expect(isMasked(Buffer.from('20010db8000100010000000000000000', 'hex'), 64)).toBe(true)
    expect(isMasked(Buffer.from('20010db8000100010000000000000001', 'hex'), 64)).toBe(false)
    expect(isMasked(Buffer.from('20010db8000100010000000000000000', 'hex'), 63)).toBe(false)
  })

  test('prefixTextIs agrees with comparing prefixText of masked bytes, for any prefix and length', () => {
    const prefix = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 1, max: 128 }))
    fc.assert(
      fc.property(prefix, prefix, ([a, la], [b, lb]) => {
        const mask = (p: Uint8Array, l: number) => {
          const m = Buffer.from(p)
          for (let i = 0; i < 16; i++) m[i]! &= (0xff << Math.max(0, Math.min(8, 8 - (l - 8 * i)))) & 0xff
          return m
        }
        const ma = mask(a, la)
        const mb = mask(b, lb)
        const text = prefixText(ma, la)
        expect(prefixTextIs(text, ma, la)).toBe(true)
        expect(prefixTextIs(text, mb, lb)).toBe(prefixText(mb, lb) === text)
        // Unmasked bytes never match: the caller masks and formats them the slow way.
        if (!isMasked(a, la)) expect(prefixTextIs(text, a, la)).toBe(false)
      }),
      { numRuns: 3000 },
    )
    expect(prefixTextIs('2001:db8:1:1::/64', Buffer.from('20010db8000100010000000000000000', 'hex'), 64)).toBe(true)
    expect(prefixTextIs('2001:db8:1:1::/64', Buffer.from('20010db8000100010000000000000000', 'hex'), 48)).toBe(false)
    expect(prefixTextIs('2001:db8:1:1::', Buffer.from('20010db8000100010000000000000000', 'hex'), 64)).toBe(false)
    // Texts that are not a prefix: no '/' near the end, nothing after it, nothing before it, a length too long.
    const z = Buffer.alloc(16)
    for (const bad of ['::/', '/0', '::/0x', '::/1280', '::/12/8', '', '/']) expect(prefixTextIs(bad, z, 0)).toBe(false)
    expect(prefixTextIs('::/0', z, 0)).toBe(true)
    expect(prefixTextIs('::/128', z, 128)).toBe(true)
  })

  test('macKey of bytes equals macKey of text', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 8 }), (b) => macKey(b) === Buffer.from(b).toString('hex')))
    expect(macKey(parseMac('00:11:22:33:44:55'))).toBe('001122334455')
  })
})
