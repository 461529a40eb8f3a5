// Golden bytes, typed errors and round trips of the DHCPv6 relay codec.
import fc from 'fast-check'
import { Dhcp6Error, dhcp6, decodeChain, duidLinkLayer, clientLinkLayerOption, msgTypeOf, MsgType, OptionCode, HOP_COUNT_LIMIT, type Dhcp6Message, type RelayMessage } from '../src'
import { ADVERTISE, RELAY_FORWARD, RELAY_REPLY, SOLICIT, hex } from './vectors'
import { dhcp6Message } from './arbitraries'

const relayForward: RelayMessage = {
  kind: 'relay-forward',
  hopCount: 0,
  linkAddress: '2001:db8:1:1::1',
  peerAddress: 'fe80::211:22ff:fe33:4455',
  interfaceId: Buffer.from('wlan0'),
  options: [],
  relayMessage: SOLICIT,
}

function reason(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof Dhcp6Error) return `${e.reason}@${e.offset}`
    throw e
  }
  return 'no error'
}

describe('golden bytes (RFC 8415 §8, §9, §21)', () => {
  test('the Solicit decodes into type, transaction id and raw options', () => {
    const m = dhcp6.decode(SOLICIT)
    expect(m).toEqual({
      kind: 'client-server',
      msgType: MsgType.SOLICIT,
      transactionId: 0x123456,
      options: [
        { code: OptionCode.CLIENTID, data: hex('0003 0001 001122334455') },
        { code: OptionCode.ELAPSED_TIME, data: hex('0000') },
      ],
    })
    expect(dhcp6.encode(m)).toEqual(SOLICIT)
  })

  test('the Relay-forward of protocol-reference §6.2 encodes byte for byte', () => {
    const bytes = dhcp6.encode(relayForward)
    expect(bytes).toEqual(Buffer.concat([RELAY_FORWARD, SOLICIT]))
    expect(dhcp6.encodingLength(relayForward)).toBe(34 + 9 + 4 + 24)
    expect(dhcp6.decode(bytes)).toEqual(relayForward)
  })

  test('a Relay-reply gives link, peer, Interface-Id and the inner Advertise', () => {
    const m = dhcp6.decode(Buffer.concat([RELAY_REPLY, ADVERTISE]))
    expect(m).toMatchObject({ kind: 'relay-reply', hopCount: 0, linkAddress: '2001:db8:1:1::1', peerAddress: 'fe80::211:22ff:fe33:4455' })
    if (m.kind !== 'relay-reply') throw new Error('kind')
    expect(m.interfaceId?.toString()).toBe('wlan0')
    expect(m.relayMessage).toEqual(ADVERTISE)
    expect(msgTypeOf(dhcp6.decode(m.relayMessage))).toBe(MsgType.ADVERTISE)
  })

  test('other options of a relay message are kept raw and in order; option 9 and 18 may come in any order', () => {
    const bytes = hex(`0c 03 ${'00'.repeat(16)} fe800000000000000000000000000001
      0009 0004 0b000001
      004f 0008 0001 020000000101
      abcd 0000
      0012 0002 6d31`)
    const m = dhcp6.decode(bytes)
    expect(m).toEqual({
      kind: 'relay-forward',
      hopCount: 3,
      linkAddress: '::',
      peerAddress: 'fe80::1',
      relayMessage: hex('0b000001'),
      interfaceId: Buffer.from('m1'),
      options: [
        { code: OptionCode.CLIENT_LINKLAYER_ADDR, data: hex('0001 020000000101') },
        { code: 0xabcd, data: Buffer.alloc(0) },
      ],
    })
  })

  test('nested relays unwrap down to the client message', () => {
    const inner = dhcp6.encode(relayForward)
    const outer = dhcp6.encode({ ...relayForward, hopCount: 1, linkAddress: '::', peerAddress: '2001:db8::9', interfaceId: null, relayMessage: inner })
    const chain = decodeChain(outer)
    expect(chain.relays.map((r) => r.hopCount)).toEqual([1, 0])
    expect(chain.message.transactionId).toBe(0x123456)
  })

  test('RFC 6939 client link-layer address and DUID MACs', () => {
    expect(clientLinkLayerOption(hex('020000000101'))).toEqual({ code: 79, data: hex('0001 020000000101') })
    const m = dhcp6.decode(SOLICIT)
    if (m.kind !== 'client-server') throw new Error('kind')
    expect(duidLinkLayer(m)).toEqual(hex('001122334455'))
    // DUID-LLT: type 1, hw 1, time, MAC
    expect(duidLinkLayer({ ...m, options: [{ code: 1, data: hex('0001 0001 2a2b2c2d 0a0b0c0d0e0f') }] })).toEqual(hex('0a0b0c0d0e0f'))
    // DUID-EN has no MAC
    expect(duidLinkLayer({ ...m, options: [{ code: 1, data: hex('0002 00000009 0102') }] })).toBeNull()
  })
})

describe('typed errors with offsets', () => {
  test('short and overflowing input', () => {
    expect(reason(() => dhcp6.decode(Buffer.alloc(0)))).toBe('truncated@0')
    expect(reason(() => dhcp6.decode(hex('01 1234')))).toBe('truncated@0')
    expect(reason(() => dhcp6.decode(RELAY_FORWARD.subarray(0, 33)))).toBe('truncated@0')
    // Solicit whose Elapsed Time claims 3 bytes but has 2
    expect(reason(() => dhcp6.decode(hex('01 123456 0008 0003 0000')))).toBe('option-overflow@4')
    // an option header cut short
    expect(reason(() => dhcp6.decode(hex('01 123456 0008 00')))).toBe('option-overflow@4')
    // the Relay Message runs past the end (the inner message is missing)
    expect(reason(() => dhcp6.decode(RELAY_FORWARD))).toBe('option-overflow@43')
  })

  test('relay messages need exactly one Relay Message option and at most one Interface-Id', () => {
    const head = RELAY_FORWARD.subarray(0, 34)
    expect(reason(() => dhcp6.decode(Buffer.concat([head, hex('0012 0001 61')])))).toBe('missing-relay-message@34')
    expect(reason(() => dhcp6.decode(Buffer.concat([head, hex('0009 0000 0009 0000')])))).toBe('duplicate-option@34')
    expect(reason(() => dhcp6.decode(Buffer.concat([head, hex('0012 0000 0012 0000 0009 0000')])))).toBe('duplicate-option@34')
  })

  test('nesting deeper than HOP_COUNT_LIMIT + 1 is too deep', () => {
    let b: Buffer = SOLICIT
    for (let i = 0; i <= HOP_COUNT_LIMIT + 1; i++) b = dhcp6.encode({ ...relayForward, hopCount: i, relayMessage: b })
    expect(reason(() => decodeChain(b))).toBe('too-deep@0')
  })

  test('encoders refuse values that do not fit, with a Dhcp6Error', () => {
    expect(reason(() => dhcp6.encode({ kind: 'client-server', msgType: 1, transactionId: 1 << 24, options: [] }))).toBe('value-out-of-range@1')
    expect(reason(() => dhcp6.encode({ kind: 'client-server', msgType: 12, transactionId: 0, options: [] }))).toBe('value-out-of-range@0')
    expect(reason(() => dhcp6.encode({ ...relayForward, hopCount: 256 }))).toBe('value-out-of-range@1')
    expect(reason(() => dhcp6.encode({ ...relayForward, linkAddress: 'not-an-address' }))).toBe('value-out-of-range@2')
    expect(reason(() => dhcp6.encode({ ...relayForward, options: [{ code: 70000, data: Buffer.alloc(0) }] }))).toMatch(/^value-out-of-range@/)
    expect(reason(() => dhcp6.encode({ ...relayForward, relayMessage: Buffer.alloc(65536) }))).toMatch(/^value-out-of-range@/)
    expect(reason(() => dhcp6.encode(relayForward, Buffer.alloc(10)))).toBe('value-out-of-range@0')
  })

  test('Dhcp6Error serialises with reason and offset', () => {
    const e = new Dhcp6Error('truncated', { offset: 3, need: 4 })
    expect(JSON.parse(JSON.stringify(e))).toEqual({ error: 'Dhcp6Error', reason: 'truncated', offset: 3, details: { offset: 3, need: 4 } })
    expect(e.message).toBe('truncated at offset 3 (need=4)')
  })
})

describe('round trips', () => {
  test('decode(encode(m)) = m for every message, at any buffer offset', () => {
    fc.assert(
      fc.property(dhcp6Message, fc.nat({ max: 7 }), (m: Dhcp6Message, pad) => {
        const bytes = dhcp6.encode(m)
        expect(bytes.length).toBe(dhcp6.encodingLength(m))
        expect(dhcp6.decode(bytes)).toEqual(m)
        const buf = Buffer.alloc(pad + bytes.length + 3, 0xee)
        dhcp6.encode(m, buf, pad)
        expect(dhcp6.decode(buf, pad, pad + bytes.length)).toEqual(m)
      }),
      { numRuns: 2000 },
    )
  })

  test('encode(decode(b)) = b for bytes in canonical option order', () => {
    fc.assert(
      fc.property(dhcp6Message, (m: Dhcp6Message) => {
        const b = dhcp6.encode(m)
        expect(dhcp6.encode(dhcp6.decode(b))).toEqual(b)
      }),
      { numRuns: 2000 },
    )
  })
})
