// Hand-built byte vectors from the RFC 8415 layouts (§8 client/server, §9 relay, §21 options)
// and the worked example of protocol-reference.md §6.2.
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/** Solicit (1), transaction-id 0x123456, Client Identifier DUID-LL 00:11:22:33:44:55, Elapsed Time 0. */
export const SOLICIT = hex(`
  01 123456
  0001 000a 0003 0001 001122334455
  0008 0002 0000`)

/**
 * Relay-forward from the MAG for that Solicit: hop-count 0, link-address 2001:db8:1:1::1,
 * peer-address fe80::211:22ff:fe33:4455, Interface-Id "wlan0", Relay Message (24 bytes).
 */
export const RELAY_FORWARD = hex(`
  0c 00
  20010db8000100010000000000000001
  fe80000000000000021122fffe334455
  0012 0005 776c616e30
  0009 0018`)

/** Advertise (2) for the same transaction, with a Server Identifier DUID-LL 02:00:00:00:00:02. */
export const ADVERTISE = hex(`
  02 123456
  0002 000a 0003 0001 020000000002
  0001 000a 0003 0001 001122334455`)

/** The server's Relay-reply carrying the Advertise back, Interface-Id echoed (RFC 8415 §18.3.10). */
export const RELAY_REPLY = hex(`
  0d 00
  20010db8000100010000000000000001
  fe80000000000000021122fffe334455
  0012 0005 776c616e30
  0009 0020`)
