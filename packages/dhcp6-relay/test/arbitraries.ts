// fast-check generators of DHCPv6 messages for round trips and fuzzing.
import fc from 'fast-check'
import { formatIp6 } from '@pmip6/wire'
import { dhcp6, type ClientServerMessage, type Dhcp6Message, type Dhcp6Option, type RelayMessage } from '../src'

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u))
const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => formatIp6(u))
// Codes 9 and 18 are typed fields of relay messages, never in `options` there.
const option = (relay: boolean): fc.Arbitrary<Dhcp6Option> =>
  fc.record({ code: fc.integer({ min: 0, max: 0xffff }).filter((c) => !relay || (c !== 9 && c !== 18)), data: bytes(40) })

export const clientServer: fc.Arbitrary<ClientServerMessage> = fc.record({
  kind: fc.constant('client-server' as const),
  msgType: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 12 && t !== 13),
  transactionId: fc.integer({ min: 0, max: 0xffffff }),
  options: fc.array(option(false), { maxLength: 5 }),
})

const relayOf = (inner: fc.Arbitrary<Buffer>): fc.Arbitrary<RelayMessage> =>
  fc.record({
    kind: fc.constantFrom('relay-forward' as const, 'relay-reply' as const),
    hopCount: fc.integer({ min: 0, max: 255 }),
    linkAddress: addr,
    peerAddress: addr,
    relayMessage: inner,
    interfaceId: fc.option(bytes(20), { nil: null }),
    options: fc.array(option(true), { maxLength: 3 }),
  })

export const relay: fc.Arbitrary<RelayMessage> = relayOf(fc.oneof(clientServer.map((m) => dhcp6.encode(m)), bytes(30)))
/** Up to three relay layers around a client message. */
export const nested: fc.Arbitrary<RelayMessage> = relayOf(relayOf(clientServer.map((m) => dhcp6.encode(m))).map((m) => dhcp6.encode(m)))

export const dhcp6Message: fc.Arbitrary<Dhcp6Message> = fc.oneof(clientServer, relay, nested)
