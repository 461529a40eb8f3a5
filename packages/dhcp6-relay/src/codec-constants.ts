/**
 * DHCPv6 protocol constants the relay needs, each named once (RFC 8415 §7; RFC 6939 for the
 * client link-layer address option). Pure: no I/O.
 */

/** RFC 8415 §7.1 */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2'
/** RFC 8415 §7.1 (site-local scope) */
export const ALL_DHCP_SERVERS = 'ff05::1:3'

/** RFC 8415 §7.2 */
export const DHCP6_CLIENT_PORT = 546
/** RFC 8415 §7.2: servers and relay agents */
export const DHCP6_SERVER_PORT = 547

/** RFC 8415 §7.6: a relay discards a Relay-forward whose hop-count is at this limit. */
export const HOP_COUNT_LIMIT = 8

/** RFC 8415 §7.3 message types. */
export const MsgType = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const

/** Messages only a server sends: a relay never forwards them from the client side (RFC 8415 §19). */
export const SERVER_ONLY_TYPES: ReadonlySet<number> = new Set([MsgType.ADVERTISE, MsgType.REPLY, MsgType.RECONFIGURE, MsgType.RELAY_REPL])

/** Option codes (RFC 8415 §21, RFC 6939 §4). */
export const OptionCode = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  ORO: 6,
  ELAPSED_TIME: 8,
  RELAY_MSG: 9,
  INTERFACE_ID: 18,
  CLIENT_LINKLAYER_ADDR: 79,
} as const

/** RFC 8415 §8: msg-type (1) + transaction-id (3). */
export const CLIENT_SERVER_HEADER_LEN = 4
/** RFC 8415 §9: msg-type, hop-count, link-address, peer-address. */
export const RELAY_HEADER_LEN = 34
/** RFC 8415 §21.1: option-code (2) + option-len (2). */
export const OPTION_HEADER_LEN = 4
/** RFC 6939 §4 / IANA ARP hardware type: Ethernet. */
export const HWTYPE_ETHERNET = 1
