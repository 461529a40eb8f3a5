// `mag trace` and the capture files behind it: pcapng/pcap reading and writing, the dissector
// on frames our own codecs built (and on garbage), and the ladder of a lab demo capture.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { mh, nd, parseIp6, parseMac, PBU_FLAGS, PBA_FLAGS, type MhMessage, type NdMessage } from '@pmip6/wire'
import { CaptureError, CaptureReader, LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapngWriter, mergeCaptures, readCapture } from '../src/pcap/pcapng'
import { dissect } from '../src/pcap/dissect'
import { buildLadder, renderSvg, renderText, type TracePacket } from '../src/trace/ladder'
import { tracePackets, traceFile } from '../src/trace-commands'

const FIXTURES = join(__dirname, 'fixtures')

function ipv6(src: string, dst: string, nh: number, payload: Buffer, hopLimit = 64): Buffer {
  const h = Buffer.alloc(40)
  h.writeUInt32BE(0x60000000, 0)
  h.writeUInt16BE(payload.length, 4)
  h[6] = nh
  h[7] = hopLimit
  parseIp6(src).copy(h, 8)
  parseIp6(dst).copy(h, 24)
  return Buffer.concat([h, payload])
}

function eth(src: string, dst: string, ip: Buffer): Buffer {
  return Buffer.concat([parseMac(dst), parseMac(src), Buffer.from([0x86, 0xdd]), ip])
}

const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const MN_MAC = '02:00:00:00:01:01'
const RTR_MAC = '02:00:00:00:00:fe'
const hnp = { type: 'hnp' as const, prefixLength: 64, prefix: parseIp6('2001:db8:100::') }
const pbu: MhMessage = {
  kind: 'binding-update',
  sequence: 7,
  flags: PBU_FLAGS,
  lifetime: 3600,
  options: [{ type: 'mn-id', subtype: 1, id: Buffer.from('mn1@example.com') }, { type: 'handoff-indicator', value: 1 }, hnp],
}
const pba: MhMessage = { kind: 'binding-ack', status: 0, flags: PBA_FLAGS, sequence: 7, lifetime: 3600, options: [hnp] }
const rs: NdMessage = { kind: 'router-solicitation', options: [{ type: 'source-ll-addr', address: parseMac(MN_MAC) }] }
const ra: NdMessage = {
  kind: 'router-advertisement',
  curHopLimit: 64,
  flags: { managed: false, other: false, homeAgent: false, preference: 'medium', proxy: false },
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  options: [{ type: 'prefix-info', prefixLength: 64, onLink: true, autonomous: true, routerAddress: false, validLifetime: 3600, preferredLifetime: 3600, prefix: parseIp6('2001:db8:100::') }],
}

describe('capture files', () => {
  test('pcapng written here reads back: interfaces named, timestamps in their resolution, packets intact', () => {
    const w = new PcapngWriter({ application: 'test' })
    const a = w.addInterface({ linkType: LINKTYPE_RAW, name: 'mag1:up0', description: 'uplink', tsresol: 9 })
    const b = w.addInterface({ linkType: LINKTYPE_ETHERNET, name: 'mag1:mn1' })
    w.addPacket(a, 1_700_000_000_123_456_789n, Buffer.from('abc'))
    w.addPacket(b, 1_700_000_000_123_457n, Buffer.from('defgh'), 99)
    const r = readCapture(w.bytes())
    expect(r.application).toBe('test')
    expect(r.interfaces.map((i) => [i.name, i.linkType, i.description])).toEqual([
      ['mag1:up0', LINKTYPE_RAW, 'uplink'],
      ['mag1:mn1', LINKTYPE_ETHERNET, ''],
    ])
    expect(r.packets.map((p) => [p.iface.name, p.data.toString(), p.us, p.originalLength])).toEqual([
      ['mag1:up0', 'abc', 1_700_000_000_123_456, 3],
      ['mag1:mn1', 'defgh', 1_700_000_000_123_457, 99],
    ])
  })

  test('the reader takes a capture in pieces of any size, as from a live dumpcap pipe', () => {
    const w = new PcapngWriter()
    const id = w.addInterface({ linkType: LINKTYPE_RAW, name: 'x' })
    for (let i = 0; i < 20; i++) w.addPacket(id, BigInt(i), Buffer.alloc(i, i))
    const bytes = w.bytes()
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 97 }), (step) => {
        const r = new CaptureReader()
        const got = []
        for (let o = 0; o < bytes.length; o += step) got.push(...r.push(bytes.subarray(o, o + step)))
        r.end()
        return got.length === 20 && got.every((p, i) => p.data.length === i && p.ts === BigInt(i))
      }),
    )
  })

  test('classic pcap, both byte orders and nanosecond magic', () => {
    const rec = (le: boolean, magic: number): Buffer => {
      const h = Buffer.alloc(24)
      const r = Buffer.alloc(16)
      const u32 = (b: Buffer, v: number, o: number): number => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o))
      u32(h, magic, 0)
      u32(h, LINKTYPE_RAW, 20)
      u32(r, 10, 0)
      u32(r, 500, 4)
      u32(r, 2, 8)
      u32(r, 2, 12)
      return Buffer.concat([h, r, Buffer.from('hi')])
    }
    expect(readCapture(rec(true, 0xa1b2c3d4)).packets[0]!.us).toBe(10_000_500)
    expect(readCapture(rec(false, 0xa1b2c3d4)).packets[0]!.us).toBe(10_000_500)
    expect(readCapture(rec(true, 0xa1b23c4d)).packets[0]!.us).toBe(10_000_000)
  })

  test('a big-endian pcapng section reads like a little-endian one', () => {
    const be = (words: number[]): Buffer => Buffer.concat(words.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])))
    const shb = Buffer.concat([be([0x0a0d0d0a, 28, 0x1a2b3c4d, 0x00010000, 0xffffffff, 0xffffffff, 28])])
    const idb = be([1, 20, (LINKTYPE_RAW << 16) >>> 0, 65535, 20])
    const epb = Buffer.concat([be([6, 36, 0, 0, 42, 4, 4]), Buffer.from('ping'), be([36])])
    const r = readCapture(Buffer.concat([shb, idb, epb]))
    expect(r.packets).toHaveLength(1)
    expect(r.packets[0]!.data.toString()).toBe('ping')
    expect(r.packets[0]!.ts).toBe(42n)
  })

  test('a cut-off or foreign file is a CaptureError, never a crash', () => {
    const w = new PcapngWriter()
    w.addPacket(w.addInterface({ linkType: 1, name: 'a' }), 1n, Buffer.alloc(60))
    const bytes = w.bytes()
    expect(() => readCapture(bytes.subarray(0, bytes.length - 3))).toThrow(CaptureError)
    expect(() => readCapture(Buffer.from('GIF89a not a capture'))).toThrow(/not a pcap or pcapng file/)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(bytes.length), (junk, cut) => {
        for (const input of [Buffer.from(junk), Buffer.concat([bytes.subarray(0, cut), Buffer.from(junk)])]) {
          try {
            readCapture(input)
          } catch (e) {
            if (!(e instanceof CaptureError)) throw e
          }
        }
      }),
    )
  })

  test('merging renames every interface and puts packets in time order', () => {
    const one = (name: string, ts: bigint[]): Buffer => {
      const w = new PcapngWriter()
      const id = w.addInterface({ linkType: LINKTYPE_RAW, name })
      for (const t of ts) w.addPacket(id, t, Buffer.from(`${name}${t}`))
      return w.bytes()
    }
    const m = mergeCaptures([
      { bytes: one('up0', [1n, 5n]), rename: (n) => `mag1:${n}` },
      { bytes: one('eth0', [3n]), rename: (n) => `cn:${n}` },
    ])
    const r = readCapture(m.bytes)
    expect(m.interfaces).toEqual(['mag1:up0', 'cn:eth0'])
    expect(r.packets.map((p) => `${p.iface.name}=${p.data.toString()}`)).toEqual(['mag1:up0=up01', 'cn:eth0=eth03', 'mag1:up0=up05'])
  })
})

describe('dissector', () => {
  test('PBU and PBA in IPv6, RS and RA in Ethernet: decoded by our codecs', () => {
    const f1 = dissect(LINKTYPE_RAW, ipv6(MAG, LMA, 135, mh.encode(pbu)))
    expect(f1.ip).toMatchObject({ src: MAG, dst: LMA, upper: { kind: 'mh', msg: { kind: 'binding-update', sequence: 7 } } })
    const f2 = dissect(LINKTYPE_ETHERNET, eth(MN_MAC, '33:33:00:00:00:02', ipv6('fe80::200:ff:fe00:101', 'ff02::2', 58, nd.encode(rs), 255)))
    expect(f2).toMatchObject({ srcMac: MN_MAC, ip: { upper: { kind: 'nd', msg: { kind: 'router-solicitation' } } } })
  })

  test('extension headers are walked to the Mobility Header; a tunnelled packet is dissected inside', () => {
    const dstOpts = Buffer.from([135, 0, 1, 4, 0, 0, 0, 0]) // next header MH, PadN
    const f = dissect(LINKTYPE_RAW, ipv6(LMA, MAG, 60, Buffer.concat([dstOpts, mh.encode(pba)])))
    expect(f.ip?.upper).toMatchObject({ kind: 'mh', msg: { kind: 'binding-ack', status: 0 } })
    const echo = Buffer.from([128, 0, 0, 0, 0, 1, 0, 9])
    const inner = ipv6('2001:db8:100::1', '2001:db8:cccc::2', 58, echo)
    const t = dissect(LINKTYPE_RAW, ipv6(MAG, LMA, 41, inner))
    expect(t.ip?.upper).toMatchObject({ kind: 'tunnel', inner: { src: '2001:db8:100::1', upper: { kind: 'echo', reply: false, seq: 9 } } })
  })

  test('a Mobility Header our codec rejects is kept as undecodable, with the reason', () => {
    const bad = mh.encode(pbu)
    bad[0] = 17 // Payload Proto must be 59 (RFC 6275 §6.1.1)
    expect(dissect(LINKTYPE_RAW, ipv6(MAG, LMA, 135, bad)).ip?.upper).toMatchObject({ kind: 'undecodable', what: 'mobility header', reason: expect.stringMatching(/payload-proto/) })
  })

  test('fuzz: any bytes on any link type are dissected without throwing', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 101, 113, 229, 276, 0), fc.uint8Array({ maxLength: 200 }), fc.boolean(), (lt, bytes, asIp) => {
        const b = Buffer.from(bytes)
        if (asIp && b.length > 0) b[0] = 0x60 | (b[0]! & 0x0f)
        dissect(lt, b)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('ladder', () => {
  const at = (ms: number, iface: string, frame: ReturnType<typeof dissect>): TracePacket => ({ us: 1e12 + ms * 1000, iface, frame })
  const exchange = (): TracePacket[] => [
    at(0, 'mag1:mn1', dissect(LINKTYPE_ETHERNET, eth(MN_MAC, '33:33:00:00:00:02', ipv6('fe80::200:ff:fe00:101', 'ff02::2', 58, nd.encode(rs), 255)))),
    at(1, 'mag1:up0', dissect(LINKTYPE_RAW, ipv6(MAG, LMA, 135, mh.encode(pbu)))),
    at(3, 'mag1:up0', dissect(LINKTYPE_RAW, ipv6(LMA, MAG, 135, mh.encode(pba)))),
    at(4, 'mag1:mn1', dissect(LINKTYPE_ETHERNET, eth(RTR_MAC, '33:33:00:00:00:01', ipv6('fe80::1', 'ff02::1', 58, nd.encode(ra), 255)))),
  ]

  test('columns MN | MAG | LMA; RS, PBU, PBA, RA in order with their key fields', () => {
    const l = buildLadder(exchange())
    expect(l.columns).toEqual(['mn1', 'mag1', 'LMA'])
    const arrows = l.rows.filter((r) => r.kind === 'arrow')
    expect(arrows.map((r) => (r.kind === 'arrow' ? [r.from, r.to, r.label.split(' ')[0]] : null))).toEqual([
      [0, 1, 'RS'],
      [1, 2, 'PBU'],
      [2, 1, 'PBA'],
      [1, 0, 'RA'],
    ])
    const text = renderText(l)
    expect(text).toContain('PBU mn1@example.com seq=7 HI=1(new) lt=3600 HNP=2001:db8:100::/64')
    expect(text).toContain('PBA seq=7 status=0(accepted) lt=3600')
    expect(text).toContain('+2.0ms')
    expect(renderSvg(l)).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*PBU mn1@example.com[\s\S]*<\/svg>\n$/)
  })

  test('a host that solicits routers on a link no MAG serves (the lab CN) is not an MN', () => {
    const cnRs = at(-5, 'cn:eth0', dissect(LINKTYPE_ETHERNET, eth('0a:00:00:00:00:99', '33:33:00:00:00:02', ipv6('fe80::899', 'ff02::2', 58, nd.encode(rs), 255))))
    const l = buildLadder([cnRs, ...exchange()])
    expect(l.columns).toEqual(['mn1', 'mag1', 'LMA'])
    expect(l.rows.filter((r) => r.kind === 'arrow')).toHaveLength(4)
  })

  test('MN columns stand in name order whichever MN spoke first (mn2 before mn10)', () => {
    const rsOn = (ms: number, link: string, mac: string): TracePacket => at(ms, `mag1:${link}`, dissect(LINKTYPE_ETHERNET, eth(mac, '33:33:00:00:00:02', ipv6('fe80::200:ff:fe00:909', 'ff02::2', 58, nd.encode(rs), 255))))
    const l = buildLadder([rsOn(-9, 'mn10', '02:00:00:00:10:10'), rsOn(-8, 'mn2', '02:00:00:00:02:02'), ...exchange()])
    expect(l.columns).toEqual(['mn1', 'mn2', 'mn10', 'mag1', 'LMA'])
  })

  test('the same message captured at two points of its path is one arrow', () => {
    const e = exchange()
    const dup = { ...e[1]!, us: e[1]!.us + 200, iface: 'lma:br0' }
    const l = buildLadder([e[0]!, e[1]!, dup, e[2]!, e[3]!])
    expect(l.rows.filter((r) => r.kind === 'arrow' && r.label.startsWith('PBU'))).toHaveLength(1)
  })

  test('golden: the ladder of a lab demo capture (registration, handoff, Scenario B)', () => {
    const ladder = traceFile(join(FIXTURES, 'demo.pcapng'))
    expect(renderText(ladder)).toBe(readFileSync(join(FIXTURES, 'demo.ladder.txt'), 'utf8'))
    // The story, in order, and nothing our codecs could not read.
    const labels = ladder.rows.filter((r) => r.kind === 'arrow').map((r) => (r.kind === 'arrow' ? `${ladder.columns[r.from]}>${ladder.columns[r.to]} ${r.label}` : ''))
    const find = (re: RegExp, after = -1): number => {
      const i = labels.findIndex((s, k) => k > after && re.test(s))
      if (i < 0) throw new Error(`no ${re} after row ${after} in:\n${labels.join('\n')}`)
      return i
    }
    const reg = find(/^mag1>LMA PBU mn1@example.com .*HI=1/)
    const acc = find(/^LMA>mag1 PBA .*status=0/, reg)
    const ra1 = find(/^mag1>mn1 RA rtr-lt=1800 .*PIO=2001:db8:100::\/64/, acc)
    const dereg = find(/^mag1>LMA PBU mn1@example.com .*lt=0/, ra1)
    const ho = find(/^mag2>LMA PBU mn1@example.com .*HI=3/, dereg)
    const ra2 = find(/^mag2>mn1 RA .*PIO=2001:db8:100::\/64/, find(/^LMA>mag2 PBA .*status=0/, ho))
    find(/^mag1>mn2 RA .*PIO=2001:db8:a1::\/64/, ra2)
    expect(labels.filter((s) => /PBU mn2/.test(s))).toEqual([]) // Scenario B: no PBU for mn2
    expect(labels.filter((s) => /UNDECODABLE/.test(s))).toEqual([])
    expect(ladder.rows.some((r) => r.kind === 'note' && /ICMPv6 echo mn1 -> cn: .*tunnelled via mag2/.test(r.text))).toBe(true)
  })

  test('the CLI prints the same ladder and writes the SVG', () => {
    const bin = join(__dirname, '..', 'bin', 'mag.js')
    const r = spawnSync(process.execPath, [bin, 'trace', join(FIXTURES, 'demo.pcapng')], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(readFileSync(join(FIXTURES, 'demo.ladder.txt'), 'utf8'))
    const bad = spawnSync(process.execPath, [bin, 'trace', join(FIXTURES, 'demo.ladder.txt')], { encoding: 'utf8' })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/not a pcap or pcapng file/)
  })

  test('a lab capture names every interface <node>:<link>, and the packets carry those names', () => {
    const bytes = readFileSync(join(FIXTURES, 'demo.pcapng'))
    expect(readCapture(bytes).interfaces.map((i) => i.name)).toEqual(['mag1:up0', 'mag1:mn1', 'mag1:mn2', 'mag2:up0', 'mag2:mn1', 'mag2:mn2', 'cn:eth0'])
    const { packets, lab } = tracePackets(bytes)
    expect(lab).toBe(true)
    // mn2 never moves to mag2, so mag2:mn2 stays silent.
    expect(new Set(packets.map((p) => p.iface))).toEqual(new Set(['mag1:up0', 'mag1:mn1', 'mag1:mn2', 'mag2:up0', 'mag2:mn1', 'cn:eth0']))
  })
})
