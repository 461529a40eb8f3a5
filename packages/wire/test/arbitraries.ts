// fast-check generators for every message and option the wire package encodes.
import fc from 'fast-check'
import type { MobilityOption, BindingUpdate, BindingAck, BindingError, Heartbeat, NdOption, RouterAdvertisement, RouterSolicitation } from '../src'

const bytes = (min: number, max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: min, maxLength: max }).map((u) => Buffer.from(u))
const addr = bytes(16, 16)
const u8 = fc.integer({ min: 0, max: 255 })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const knownOptionCodes = new Set([0, 1, 8, 22, 23, 24, 25, 26, 27, 28, 33, 36, 37, 38, 39])
const ip4 = bytes(4, 4)
const ip4Len = fc.integer({ min: 0, max: 32 })

export const mobilityOption: fc.Arbitrary<MobilityOption> = fc.oneof(
  fc.record({ type: fc.constant('mn-id' as const), subtype: u8, id: bytes(1, 60) }),
  fc.record({ type: fc.constant('hnp' as const), prefixLength: fc.integer({ min: 0, max: 128 }), prefix: addr }),
  fc.record({ type: fc.constant('handoff-indicator' as const), value: u8 }),
  fc.record({ type: fc.constant('access-tech-type' as const), value: u8 }),
  fc.record({ type: fc.constant('mn-ll-id' as const), id: bytes(1, 20) }),
  fc.record({ type: fc.constant('link-local-address' as const), address: addr }),
  fc.record({ type: fc.constant('timestamp' as const), seconds: fc.integer({ min: 0, max: 0xffffffffffff }), fraction: u16 }),
  fc.record({ type: fc.constant('restart-counter' as const), value: u32 }),
  fc.record({ type: fc.constant('gre-key' as const), key: fc.option(u32, { nil: null }) }),
  fc.record({ type: fc.constant('ipv4-hoa-request' as const), prefixLength: ip4Len, address: ip4 }),
  fc.record({ type: fc.constant('ipv4-hoa-reply' as const), status: u8, prefixLength: ip4Len, address: ip4 }),
  fc.record({ type: fc.constant('ipv4-default-router' as const), address: ip4 }),
  fc.record({ type: fc.constant('ipv4-dhcp-support-mode' as const), server: fc.boolean() }),
  fc.record({ type: fc.constant('unknown' as const), code: u8.filter((c) => !knownOptionCodes.has(c)), data: bytes(0, 30) }),
)

const options = fc.array(mobilityOption, { maxLength: 8 })
const buFlags = fc.record({ a: fc.boolean(), h: fc.boolean(), l: fc.boolean(), k: fc.boolean(), m: fc.boolean(), r: fc.boolean(), p: fc.boolean(), f: fc.boolean(), t: fc.boolean(), b: fc.boolean() })
const baFlags = fc.record({ k: fc.boolean(), r: fc.boolean(), p: fc.boolean(), t: fc.boolean(), b: fc.boolean() })
const lifetime = u16.map((u) => u * 4)

export const bindingUpdate: fc.Arbitrary<BindingUpdate> = fc.record({ kind: fc.constant('binding-update' as const), sequence: u16, flags: buFlags, lifetime, options })
export const bindingAck: fc.Arbitrary<BindingAck> = fc.record({ kind: fc.constant('binding-ack' as const), status: u8, flags: baFlags, sequence: u16, lifetime, options })
export const bindingError: fc.Arbitrary<BindingError> = fc.record({ kind: fc.constant('binding-error' as const), status: u8, homeAddress: addr, options })
export const heartbeat: fc.Arbitrary<Heartbeat> = fc.record({ kind: fc.constant('heartbeat' as const), flags: fc.record({ u: fc.boolean(), r: fc.boolean() }), sequence: u32, options })

export const ndOption: fc.Arbitrary<NdOption> = fc.oneof(
  fc.record({ type: fc.constant('source-ll-addr' as const), address: bytes(6, 6) }),
  fc.record({ type: fc.constant('target-ll-addr' as const), address: bytes(6, 6) }),
  fc.record({
    type: fc.constant('prefix-info' as const),
    prefixLength: fc.integer({ min: 0, max: 128 }),
    onLink: fc.boolean(),
    autonomous: fc.boolean(),
    routerAddress: fc.boolean(),
    validLifetime: u32,
    preferredLifetime: u32,
    prefix: addr,
  }),
  fc.record({ type: fc.constant('mtu' as const), mtu: u32 }),
  fc.record({ type: fc.constant('adv-interval' as const), intervalMs: u32 }),
  fc.record({ type: fc.constant('home-agent-info' as const), preference: u16, lifetime: u16 }),
  // Unknown ND options keep data whose length fills whole 8-octet units.
  fc.record({ type: fc.constant('unknown' as const), code: u8.filter((c) => ![1, 2, 3, 5, 7, 8].includes(c)), data: fc.integer({ min: 0, max: 4 }).chain((n) => bytes(6 + 8 * n, 6 + 8 * n)) }),
)

export const routerAdvertisement: fc.Arbitrary<RouterAdvertisement> = fc.record({
  kind: fc.constant('router-advertisement' as const),
  curHopLimit: u8,
  flags: fc.record({ managed: fc.boolean(), other: fc.boolean(), homeAgent: fc.boolean(), preference: fc.constantFrom('medium' as const, 'high' as const, 'low' as const, 'reserved' as const), proxy: fc.boolean() }),
  routerLifetime: u16,
  reachableTime: u32,
  retransTimer: u32,
  options: fc.array(ndOption, { maxLength: 6 }),
})
export const routerSolicitation: fc.Arbitrary<RouterSolicitation> = fc.record({
  kind: fc.constant('router-solicitation' as const),
  options: fc.array(ndOption.filter((o) => o.type !== 'prefix-info'), { maxLength: 3 }),
})
