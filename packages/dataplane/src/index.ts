export * from './model'
export * from './encode'
export { NetlinkRtnl, NetlinkError, FaultyRtnl, type Rtnl, type RuleInfo, type RouteInfo, type LinkInfo } from './rtnl'
export { DataPlane, ForwardingError, cleanup, type DataPlaneOptions, type DataPlaneSnapshot, type ForwardingRequest, type Role, type LogFn } from './dataplane'
