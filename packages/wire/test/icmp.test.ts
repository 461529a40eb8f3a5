// ICMPv6 Parameter Problem (RFC 4443 §3.4) as the MAG sends it for a bad Mobility Header
// (RFC 6275 §9.2): golden bytes written out by hand from the RFC's layout, round trips, the
// 1280-octet cap of RFC 4443 §2.4 (c), and a fuzz run of the decoder.
import fc from 'fast-check'
import { parameterProblem, invokingPacket, MAX_INVOKING_LENGTH, ParamProbCode, parseIp6, setIcmp6Checksum, verifyChecksum, WireError, IPPROTO_ICMPV6 } from '../src'

const LMA = parseIp6('2001:db8:ffff::2')
const MAG = parseIp6('2001:db8:ffff::1')
// A Binding Acknowledgement whose Payload Proto is 6 (TCP) instead of 59: 16 octets.
const BAD_MH = Buffer.from('0601060000000000' + '0020000100010000', 'hex')

describe('RFC 4443 §3.4 Parameter Problem', () => {
  test('RFC 6275 §9.2 golden bytes: code 0, Pointer at the Payload Proto field (octet 40), invoking packet rebuilt', () => {
    const invoking = invokingPacket({ src: LMA, dst: MAG, hopLimit: 64, nextHeader: 135, payload: BAD_MH })
    // IPv6 header: version 6, TC/flow 0, payload length 16, next header 135, hop limit 64.
    expect(invoking.subarray(0, 8).toString('hex')).toBe('6000000000108740')
    expect(invoking.subarray(8, 24).equals(LMA)).toBe(true)
    expect(invoking.subarray(24, 40).equals(MAG)).toBe(true)
    const b = parameterProblem.encode({ kind: 'parameter-problem', code: ParamProbCode.ERRONEOUS_HEADER_FIELD, pointer: 40, invoking })
    expect(b.toString('hex')).toBe(
      '04000000' + '00000028' + '6000000000108740' + '20010db8ffff00000000000000000002' + '20010db8ffff00000000000000000001' + '0601060000000000' + '0020000100010000',
    )
    // As the MAG sends it to the LMA (the kernel fills the checksum in): it verifies.
    const wire = Buffer.from(b)
    setIcmp6Checksum(wire, MAG, LMA)
    expect(verifyChecksum(MAG, LMA, IPPROTO_ICMPV6, wire)).toBe(true)
    expect(parameterProblem.decode(b)).toEqual({ kind: 'parameter-problem', code: 0, pointer: 40, invoking })
  })

  test('RFC 4443 §2.4 (c): the error never exceeds the minimum MTU of 1280 octets; the header keeps the original length', () => {
    const big = Buffer.alloc(2000, 0xab)
    const invoking = invokingPacket({ src: LMA, dst: MAG, hopLimit: 255, nextHeader: 135, payload: big })
    expect(invoking.length).toBe(MAX_INVOKING_LENGTH)
    expect(invoking.readUInt16BE(4)).toBe(2000)
    const b = parameterProblem.encode({ kind: 'parameter-problem', code: 0, pointer: 41, invoking: Buffer.concat([invoking, Buffer.alloc(100)]) })
    expect(b.length + 40).toBe(1280)
  })

  test('round trips at any offset, any code and pointer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.nat(), fc.uint8Array({ maxLength: 1300 }), fc.integer({ min: 0, max: 32 }), (code, pointer, inv, at) => {
        const m = { kind: 'parameter-problem' as const, code, pointer, invoking: Buffer.from(inv) }
        const buf = Buffer.alloc(at + parameterProblem.encodingLength(m) + 5, 0xee)
        const out = parameterProblem.encode(m, buf, at)
        expect(buf[at - 1] === undefined || buf[at - 1] === 0xee).toBe(true)
        expect(buf[at + out.length]).toBe(0xee)
        const back = parameterProblem.decode(out)
        expect(back.code).toBe(code)
        expect(back.pointer).toBe(pointer)
        expect(back.invoking.equals(Buffer.from(inv).subarray(0, MAX_INVOKING_LENGTH))).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  test('encoder refuses values that do not fit; decoder: only WireError on any input', () => {
    expect(() => parameterProblem.encode({ kind: 'parameter-problem', code: 256, pointer: 0, invoking: Buffer.alloc(0) })).toThrow(WireError)
    expect(() => parameterProblem.encode({ kind: 'parameter-problem', code: 0, pointer: -1, invoking: Buffer.alloc(0) })).toThrow(WireError)
    expect(() => invokingPacket({ src: LMA, dst: MAG.subarray(0, 4), hopLimit: 1, nextHeader: 135, payload: BAD_MH })).toThrow(WireError)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (u) => {
        try {
          parameterProblem.decode(Buffer.from(u))
        } catch (e) {
          expect(e).toBeInstanceOf(WireError)
        }
      }),
      { numRuns: 5000 },
    )
  })
})
