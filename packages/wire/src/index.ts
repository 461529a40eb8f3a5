/**
 * @pmip6/wire: pure codecs for the messages a PMIPv6 MAG sends and receives.
 * Buffer in, typed values out; every decoder throws only WireError.
 */
export * from './errors'
export * from './constants'
export * from './addr'
export * from './checksum'
export * from './options'
export {
  mh,
  NO_BU_FLAGS,
  PBU_FLAGS,
  PBA_FLAGS,
  type BuFlags,
  type BaFlags,
  type BindingUpdate,
  type BindingAck,
  type BindingError,
  type Heartbeat,
  type OtherMh,
  type MhMessage,
  type ProxyBindingUpdate,
  type ProxyBindingAck,
} from './mh'
export { nd, type NdOption, type NdMessage, type RouterSolicitation, type RouterAdvertisement, type RouterPreference } from './nd'
export * from './describe'
export { parameterProblem, invokingPacket, MAX_INVOKING_LENGTH, type ParameterProblem, type InvokingPacket } from './icmp'
