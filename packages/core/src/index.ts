/**
 * @pmip6/core: the sans-IO Mobile Access Gateway of RFC 5213 §6 with the Scenario B policy
 * switch of RFC 6612 §3.3. `createMagCore(cfg)` returns a state machine: `step(event)` gives
 * the commands to execute; nothing here does I/O, reads a clock or sets a timer.
 */
export { createMagCore } from './core'
export { timerKey } from './entry'
export * from './types'
export * from './constants'
export { ProfileStore, ProfileError, macKey, macText, canonicalPrefix, type CompiledProfile, type Resolved } from './profiles'
export { buildPbu, handoffIndicatorFor, ALL_ZERO_HNP, type PbuParts } from './pbu'
export { buildRa, addressFlags, type RaSpec, type PioSpec } from './ra'
export { PrefixPool } from './pool'
export { parseIpv4Prefix, parseIpv4Unicast, unroutableWhy, type Ipv4Net } from './ipv4'
export { Prng } from './prng'
export { assertNever } from './assert'
export { bindingViewJson } from './view-json'
