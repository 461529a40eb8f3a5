/**
 * @pmip6/dhcp6-relay: the MAG's DHCPv6 relay agent (RFC 8415 §19, RFC 5213 §6.11).
 * codec*.ts and relay-logic.ts are pure (lint enforces it); relay-io.ts binds them to UDP.
 */
export * from './codec-constants'
export * from './codec-errors'
export * from './codec'
export * from './relay-logic'
export * from './relay-io'
