/**
 * RADIUS numbers, each named once: packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5176 §3.7),
 * attribute types (RFC 2865 §5, RFC 2866 §5, RFC 3162, RFC 3579 §3.2, RFC 5176 §3.5,
 * RFC 6572 §3) and the values of the enumerated ones we send or read.
 */

export const RadiusCode = {
  ACCESS_REQUEST: 1,
  ACCESS_ACCEPT: 2,
  ACCESS_REJECT: 3,
  ACCOUNTING_REQUEST: 4,
  ACCOUNTING_RESPONSE: 5,
  ACCESS_CHALLENGE: 11,
  DISCONNECT_REQUEST: 40,
  DISCONNECT_ACK: 41,
  DISCONNECT_NAK: 42,
  COA_REQUEST: 43,
  COA_ACK: 44,
  COA_NAK: 45,
} as const

export const CODE_NAMES: Readonly<Record<number, string>> = {
  1: 'access-request',
  2: 'access-accept',
  3: 'access-reject',
  4: 'accounting-request',
  5: 'accounting-response',
  11: 'access-challenge',
  40: 'disconnect-request',
  41: 'disconnect-ack',
  42: 'disconnect-nak',
  43: 'coa-request',
  44: 'coa-ack',
  45: 'coa-nak',
}

export const Attr = {
  USER_NAME: 1,
  USER_PASSWORD: 2,
  NAS_IP_ADDRESS: 4,
  SERVICE_TYPE: 6,
  REPLY_MESSAGE: 18,
  STATE: 24,
  CLASS: 25,
  VENDOR_SPECIFIC: 26,
  SESSION_TIMEOUT: 27,
  CALLED_STATION_ID: 30,
  CALLING_STATION_ID: 31,
  NAS_IDENTIFIER: 32,
  ACCT_STATUS_TYPE: 40,
  ACCT_DELAY_TIME: 41,
  ACCT_SESSION_ID: 44,
  ACCT_SESSION_TIME: 46,
  ACCT_TERMINATE_CAUSE: 49,
  EVENT_TIMESTAMP: 55,
  NAS_PORT_TYPE: 61,
  MESSAGE_AUTHENTICATOR: 80,
  ACCT_INTERIM_INTERVAL: 85,
  NAS_IPV6_ADDRESS: 95,
  FRAMED_IPV6_PREFIX: 97,
  ERROR_CAUSE: 101,
  // RFC 6572 §3
  MOBILE_NODE_IDENTIFIER: 145,
  SERVICE_SELECTION: 146,
  PMIP6_HOME_LMA_IPV6_ADDRESS: 147,
  PMIP6_VISITED_LMA_IPV6_ADDRESS: 148,
  PMIP6_HOME_LMA_IPV4_ADDRESS: 149,
  PMIP6_HOME_HN_PREFIX: 151,
  PMIP6_VISITED_HN_PREFIX: 152,
  PMIP6_HOME_INTERFACE_ID: 153,
  PMIP6_VISITED_INTERFACE_ID: 154,
  PMIP6_HOME_IPV4_HOA: 155,
  PMIP6_HOME_DHCP4_SERVER_ADDRESS: 157,
  PMIP6_HOME_DHCP6_SERVER_ADDRESS: 159,
} as const

/** Names used in deny reasons and logs: the dictionary names FreeRADIUS uses. */
export const ATTR_NAMES: Readonly<Record<number, string>> = {
  1: 'User-Name',
  18: 'Reply-Message',
  25: 'Class',
  27: 'Session-Timeout',
  44: 'Acct-Session-Id',
  80: 'Message-Authenticator',
  85: 'Acct-Interim-Interval',
  95: 'NAS-IPv6-Address',
  145: 'Mobile-Node-Identifier',
  147: 'PMIP6-Home-LMA-IPv6-Address',
  148: 'PMIP6-Visited-LMA-IPv6-Address',
  151: 'PMIP6-Home-HN-Prefix',
  152: 'PMIP6-Visited-HN-Prefix',
  153: 'PMIP6-Home-Interface-ID',
  154: 'PMIP6-Visited-Interface-ID',
  155: 'PMIP6-Home-IPv4-HoA',
  157: 'PMIP6-Home-DHCP4-Server-Address',
  159: 'PMIP6-Home-DHCP6-Server-Address',
}

export const attrName = (t: number): string => ATTR_NAMES[t] ?? `Attr-${t}`

/** RFC 2865 §5.6 Service-Type: Call-Check, an authorisation without a password. */
export const SERVICE_TYPE_CALL_CHECK = 10
/** RFC 2865 §5.41 NAS-Port-Type values. */
export const NasPortType = { VIRTUAL: 5, ETHERNET: 15, WIRELESS_802_11: 19, WIRELESS_OTHER: 18 } as const
/** RFC 2866 §5.1 Acct-Status-Type. */
export const AcctStatus = { START: 1, STOP: 2, INTERIM_UPDATE: 3 } as const
/** RFC 2866 §5.10 Acct-Terminate-Cause. */
export const AcctTerminate = { USER_REQUEST: 1, LOST_CARRIER: 2, ADMIN_RESET: 6, NAS_REQUEST: 10 } as const
/** RFC 5176 §3.5 Error-Cause. */
export const ErrorCause = {
  UNSUPPORTED_ATTRIBUTE: 401,
  MISSING_ATTRIBUTE: 402,
  NAS_IDENTIFICATION_MISMATCH: 403,
  INVALID_REQUEST: 404,
  SESSION_CONTEXT_NOT_FOUND: 503,
} as const

/** RFC 2865 §3: 20-octet header, 4096 octets at most. */
export const HEADER_LENGTH = 20
export const MAX_PACKET_LENGTH = 4096
export const AUTHENTICATOR_LENGTH = 16
/** RFC 3579 §3.2: HMAC-MD5, 16 octets. */
export const MESSAGE_AUTHENTICATOR_LENGTH = 16
/** RFC 2865 §3 and §1.x ports; RFC 5176 §3.7: 3799 for Disconnect and CoA. */
export const AUTH_PORT = 1812
export const ACCT_PORT = 1813
export const DAS_PORT = 3799
