// Address text <-> bytes. The scanner in addr.ts replaced a split/regex parser (issue 23: a
// tenth of a registration's CPU); that parser is kept below as the oracle: both must accept
// exactly the same texts with the same bytes, and print the same RFC 5952 text.
import fc from 'fast-check'
import { canonicalIp6, formatIp6, isIp6, parseIp6, parseMac, WireError } from '../src'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 20_000)

/** The former parser, verbatim in behaviour: throws on a bad text. */
function oracleParse(text: string): Buffer {
  const bad = (): Error => new Error('bad')
  const pct = text.indexOf('%')
  let s = pct >= 0 ? text.slice(0, pct) : text
  const groups: number[] = []
  const lastColon = s.lastIndexOf(':')
  if (lastColon >= 0 && s.indexOf('.', lastColon) > 0) {
    const v4 = s.slice(lastColon + 1).split('.')
    if (v4.length !== 4) throw bad()
    const b = v4.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : 256))
    if (b.some((x) => x > 255)) throw bad()
    s = `${s.slice(0, lastColon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`
  }
  const dbl = s.indexOf('::')
  if (dbl !== s.lastIndexOf('::')) throw bad()
  const parseGroups = (part: string): number[] => {
    if (part === '') return []
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad()
      return parseInt(g, 16)
    })
  }
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl))
    const tail = parseGroups(s.slice(dbl + 2))
    if (head.length + tail.length > 7) throw bad()
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail)
  } else {
    groups.push(...parseGroups(s))
    if (groups.length !== 8) throw bad()
  }
  const out = Buffer.alloc(16)
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]!, 2 * i)
  return out
}

/** The former printer. */
function oracleFormat(buf: Uint8Array): string {
  const g = new Array<number>(8)
  for (let i = 0; i < 8; i++) g[i] = (buf[2 * i]! << 8) | buf[2 * i + 1]!
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return `::ffff:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':')
  return `${g.slice(0, bestStart).map((x) => x.toString(16)).join(':')}::${g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':')}`
}

const outcome = (f: () => Buffer): string => {
  try {
    return f().toString('hex')
  } catch (e) {
    if (e instanceof WireError) return 'WireError'
    if (e instanceof Error && e.message === 'bad') return 'WireError'
    throw e
  }
}

/** Address bytes with runs of zero groups, IPv4-mapped ones, and any. */
const addrBytes = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8, 0x2001), { minLength: 8, maxLength: 8 }).map((g) => Buffer.from(g.flatMap((x) => [x >> 8, x & 255]))),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
)
/** Texts near the grammar: valid ones cut, doubled, with odd characters and tails. */
const near = fc.oneof(
  fc.stringMatching(/^[0-9a-fA-F:.%x]{0,45}$/),
  fc.tuple(addrBytes, fc.nat(), fc.nat(), fc.constantFrom(':', '::', '.', '0', '1.2.3.4', '%eth0', 'g', '00000', '')).map(([b, cut, at, ins]) => {
    const t = oracleFormat(b)
    const c = t.slice(0, cut % (t.length + 1)) + t.slice(cut % (t.length + 1))
    const i = at % (c.length + 1)
    return c.slice(0, i) + ins + c.slice(i)
  }),
  addrBytes.map((b) => oracleFormat(b).toUpperCase()),
  addrBytes.map((b) => Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16).padStart(4, '0')).join(':')),
)

describe('IPv6 address text', () => {
  test.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['2001:DB8::ffff:1%eth0', '20010db80000000000000000ffff0001'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
  ])('parses %s', (text, hex) => {
    expect(parseIp6(text).toString('hex')).toBe(hex)
    expect(isIp6(text)).toBe(true)
  })

  test.each(['', ':', ':::', '1:::2', '1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:', '1:2:3:4:5:6:7:8::', '12345::', 'g::', '1.2.3.4', '::1.2.3', '::1.2.3.256', '::a.2.3.4', '1.2::3', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4:5'])('refuses %j with a WireError', (text) => {
    expect(() => parseIp6(text)).toThrow(WireError)
    expect(isIp6(text)).toBe(false)
  })

  test('accepts and refuses exactly what the former parser did, with the same bytes', () => {
    fc.assert(
      fc.property(near, (text) => {
        expect(outcome(() => parseIp6(text))).toBe(outcome(() => oracleParse(text)))
      }),
      { numRuns: RUNS },
    )
  })

  test('prints what the former printer did (RFC 5952), and reads it back', () => {
    fc.assert(
      fc.property(addrBytes, (b) => {
        const t = formatIp6(b)
        expect(t).toBe(oracleFormat(b))
        expect(parseIp6(t).equals(Buffer.from(b))).toBe(true)
        expect(canonicalIp6(t.toUpperCase())).toBe(t)
      }),
      { numRuns: RUNS },
    )
  })

  test('formatIp6 reads at an offset', () => {
    const b = Buffer.concat([Buffer.from([9, 9, 9]), parseIp6('2001:db8::5')])
    expect(formatIp6(b, 3)).toBe('2001:db8::5')
  })
})

describe('link-layer address text', () => {
  test('octets apart by ":" or "-"', () => {
    expect(parseMac('02:00:5E-10:00:0a').toString('hex')).toBe('02005e10000a')
    expect(parseMac('ff').toString('hex')).toBe('ff')
  })
  test.each(['', '0', '02:00:5e:10:00:0', '02:00:5e:10:00:0a:', '02::00', '0g:00', '02.00', '002:00'])('refuses %j', (text) => {
    expect(() => parseMac(text)).toThrow(WireError)
  })
  test('agrees with the former split/regex parser', () => {
    const oracle = (text: string): string => {
      const parts = text.split(/[:-]/)
      if (parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) return 'WireError'
      return Buffer.from(parts.map((p) => parseInt(p, 16))).toString('hex')
    }
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-fA-F:\-.]{0,20}$/), (text) => {
        expect(outcome(() => parseMac(text))).toBe(oracle(text))
      }),
      { numRuns: RUNS },
    )
  })
})
