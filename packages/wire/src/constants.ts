/**
 * Protocol numbers and code points, each named once with the section that defines it.
 * Timers and variables that drive behaviour live in @pmip6/core; these are wire values.
 */

/** RFC 6275 §6.1.1: Payload Proto of a Mobility Header is always IPPROTO_NONE. */
export const MH_PAYLOAD_PROTO = 59

/** MH Type (RFC 6275 §6.1.2, RFC 5847 §3 for Heartbeat). */
export const MhType = {
  BINDING_REFRESH_REQUEST: 0,
  HOME_TEST_INIT: 1,
  CARE_OF_TEST_INIT: 2,
  HOME_TEST: 3,
  CARE_OF_TEST: 4,
  BINDING_UPDATE: 5,
  BINDING_ACK: 6,
  BINDING_ERROR: 7,
  HEARTBEAT: 13,
} as const

/**
 * Mobility option types (RFC 6275 §6.2, RFC 4283, RFC 5213 §8.3-8.8, RFC 5847, RFC 5845,
 * RFC 5844 §3.3). Numbers as in the IANA Mobility Options registry (Wireshark packet-mip6.c agrees).
 */
export const OptType = {
  PAD1: 0,
  PADN: 1,
  MN_ID: 8, // RFC 4283 §3
  HNP: 22, // RFC 5213 §8.3
  HANDOFF_INDICATOR: 23, // RFC 5213 §8.4
  ACCESS_TECH_TYPE: 24, // RFC 5213 §8.5
  MN_LL_ID: 25, // RFC 5213 §8.6
  LINK_LOCAL_ADDR: 26, // RFC 5213 §8.7
  TIMESTAMP: 27, // RFC 5213 §8.8
  RESTART_COUNTER: 28, // RFC 5847 §3.2
  GRE_KEY: 33, // RFC 5845 §3.1
  IPV4_HOA_REQUEST: 36, // RFC 5844 §3.3.1
  IPV4_HOA_REPLY: 37, // RFC 5844 §3.3.2
  IPV4_DEFAULT_ROUTER: 38, // RFC 5844 §3.3.3
  IPV4_DHCP_SUPPORT_MODE: 39, // RFC 5844 §3.3.4
} as const

export const OPT_NAMES: Readonly<Record<number, string>> = {
  0: 'pad1',
  1: 'padn',
  8: 'mn-id',
  22: 'home-network-prefix',
  23: 'handoff-indicator',
  24: 'access-technology-type',
  25: 'mn-link-layer-id',
  26: 'link-local-address',
  27: 'timestamp',
  28: 'restart-counter',
  33: 'gre-key',
  36: 'ipv4-home-address-request',
  37: 'ipv4-home-address-reply',
  38: 'ipv4-default-router-address',
  39: 'ipv4-dhcp-support-mode',
}

/** RFC 5844 §3.3.1-3.3.2: the IPv4 prefix length is a 6-bit field; values above 32 are invalid. */
export const IPV4_MAX_PREFIX_LENGTH = 32
/** Bytes of an IPv4 address. */
export const IPV4_ADDR_LEN = 4

/** IPv4 Home Address Reply option status (RFC 5844 §3.3.2). Below 128: success. */
export const Ipv4HoaReplyStatus = {
  SUCCESS: 0,
  FAILURE_UNSPECIFIED: 128,
  ADMINISTRATIVELY_PROHIBITED: 129,
  INCORRECT_IPV4_HOME_ADDRESS: 130,
  INVALID_IPV4_ADDRESS: 131,
  DYNAMIC_ASSIGNMENT_NOT_AVAILABLE: 132,
} as const

export const IPV4_HOA_REPLY_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'Success',
  128: 'Failure, reason unspecified',
  129: 'Administratively prohibited',
  130: 'Incorrect IPv4 home address',
  131: 'Invalid IPv4 address',
  132: 'Dynamic IPv4 home address assignment not available',
}

/** IPv4 DHCP Support Mode S flag (RFC 5844 §3.3.4): set, the MAG is a DHCP server; clear, a relay. */
export const IPV4_DSM_FLAG_S = 0x0001

/** RFC 4283 §3: MN Identifier subtype 1 is the Network Access Identifier (RFC 4282). */
export const MN_ID_SUBTYPE_NAI = 1

/** Handoff Indicator values (RFC 5213 §8.4). */
export const HandoffIndicator = {
  RESERVED: 0,
  NEW_INTERFACE: 1,
  INTERFACE_SWITCH: 2,
  MAG_SWITCH_SAME_INTERFACE: 3,
  UNKNOWN: 4,
  NOT_CHANGED: 5,
} as const
export type HandoffIndicatorValue = (typeof HandoffIndicator)[keyof typeof HandoffIndicator]

export const HI_NAMES: Readonly<Record<number, string>> = {
  0: 'reserved',
  1: 'attachment over a new interface',
  2: 'handoff between two different interfaces of the mobile node',
  3: 'handoff between mobile access gateways for the same interface',
  4: 'handoff state unknown',
  5: 'handoff state not changed (re-registration)',
}

/** Access Technology Type values (RFC 5213 §8.5; 6-12 from the IANA registry). */
export const AccessTechType = {
  RESERVED: 0,
  VIRTUAL: 1,
  PPP: 2,
  ETHERNET: 3,
  WLAN: 4,
  WIMAX: 5,
  GERAN: 6,
  UTRAN: 7,
  EUTRAN: 8,
  EHRPD: 9,
  HRPD: 10,
  ONE_X_RTT: 11,
  UMB: 12,
} as const

export const ATT_NAMES: Readonly<Record<number, string>> = {
  0: 'reserved',
  1: 'virtual',
  2: 'ppp',
  3: 'ieee 802.3',
  4: 'ieee 802.11a/b/g',
  5: 'ieee 802.16e',
  6: '3gpp geran',
  7: '3gpp utran',
  8: '3gpp e-utran',
  9: '3gpp2 ehrpd',
  10: '3gpp2 hrpd',
  11: '3gpp2 1xrtt',
  12: '3gpp2 umb',
}

/** Binding Acknowledgement status (RFC 6275 §6.1.8, RFC 5213 §8.9). Below 128: accepted. */
export const BaStatus = {
  ACCEPTED: 0,
  ACCEPTED_PREFIX_DISCOVERY: 1,
  GRE_KEY_OPTION_NOT_REQUIRED: 2, // RFC 5845
  GRE_TUNNELING_BUT_TLV_HEADER_NOT_SUPPORTED: 3, // RFC 5845
  REASON_UNSPECIFIED: 128,
  ADMINISTRATIVELY_PROHIBITED: 129,
  INSUFFICIENT_RESOURCES: 130,
  HOME_REGISTRATION_NOT_SUPPORTED: 131,
  NOT_HOME_SUBNET: 132,
  NOT_HA_FOR_THIS_MN: 133,
  DAD_FAILED: 134,
  SEQUENCE_OUT_OF_WINDOW: 135,
  PROXY_REG_NOT_ENABLED: 152,
  NOT_LMA_FOR_THIS_MOBILE_NODE: 153,
  MAG_NOT_AUTHORIZED_FOR_PROXY_REG: 154,
  NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX: 155,
  TIMESTAMP_MISMATCH: 156,
  TIMESTAMP_LOWER_THAN_PREV_ACCEPTED: 157,
  MISSING_HOME_NETWORK_PREFIX_OPTION: 158,
  BCE_PBU_PREFIX_SET_DO_NOT_MATCH: 159,
  MISSING_MN_IDENTIFIER_OPTION: 160,
  MISSING_HANDOFF_INDICATOR_OPTION: 161,
  MISSING_ACCESS_TECH_TYPE_OPTION: 162,
  GRE_KEY_OPTION_REQUIRED: 163, // RFC 5845
  // RFC 5844 §3.3.5: the IPv4 refusals of a PBA.
  NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE: 170,
  NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS: 171,
  NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE: 172,
  MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED: 173,
} as const

export const BA_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'Binding Update accepted',
  1: 'Accepted but prefix discovery necessary',
  2: 'GRE_KEY_OPTION_NOT_REQUIRED',
  3: 'GRE_TUNNELING_BUT_TLV_HEADER_NOT_SUPPORTED',
  128: 'Reason unspecified',
  129: 'Administratively prohibited',
  130: 'Insufficient resources',
  131: 'Home registration not supported',
  132: 'Not home subnet',
  133: 'Not home agent for this mobile node',
  134: 'Duplicate Address Detection failed',
  135: 'Sequence number out of window',
  136: 'Expired home nonce index',
  137: 'Expired care-of nonce index',
  138: 'Expired nonces',
  139: 'Registration type change disallowed',
  140: 'Mobile Router Operation not permitted',
  141: 'Invalid Prefix',
  142: 'Not Authorized for Prefix',
  149: 'Permanent home keygen token exists',
  150: 'Non-null home nonce index expected',
  151: 'SERVICE_AUTHORIZATION_FAILED',
  152: 'PROXY_REG_NOT_ENABLED',
  153: 'NOT_LMA_FOR_THIS_MOBILE_NODE',
  154: 'MAG_NOT_AUTHORIZED_FOR_PROXY_REG',
  155: 'NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX',
  156: 'TIMESTAMP_MISMATCH',
  157: 'TIMESTAMP_LOWER_THAN_PREV_ACCEPTED',
  158: 'MISSING_HOME_NETWORK_PREFIX_OPTION',
  159: 'BCE_PBU_PREFIX_SET_DO_NOT_MATCH',
  160: 'MISSING_MN_IDENTIFIER_OPTION',
  161: 'MISSING_HANDOFF_INDICATOR_OPTION',
  162: 'MISSING_ACCESS_TECH_TYPE_OPTION',
  163: 'GRE_KEY_OPTION_REQUIRED',
  170: 'NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE',
  171: 'NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS',
  172: 'NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE',
  173: 'MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED',
  174: 'Invalid Care-of Address',
}

/** Binding Error status (RFC 6275 §6.1.9). */
export const BeStatus = {
  UNKNOWN_BINDING_FOR_HOA: 1,
  UNRECOGNIZED_MH_TYPE: 2,
} as const

/** Binding Update flag masks in the 16-bit word at MH offset 8 (RFC 6275 §6.1.7 and successors). */
export const BU_FLAG_A = 0x8000
export const BU_FLAG_H = 0x4000
export const BU_FLAG_L = 0x2000
export const BU_FLAG_K = 0x1000
export const BU_FLAG_M = 0x0800 // RFC 4140
export const BU_FLAG_R = 0x0400 // RFC 3963
export const BU_FLAG_P = 0x0200 // RFC 5213 §8.1
export const BU_FLAG_F = 0x0100 // RFC 5555
export const BU_FLAG_T = 0x0080 // RFC 5845
export const BU_FLAG_B = 0x0040 // RFC 6602

/** Binding Acknowledgement flag masks in the byte at MH offset 7. */
export const BA_FLAG_K = 0x80
export const BA_FLAG_R = 0x40 // RFC 3963
export const BA_FLAG_P = 0x20 // RFC 5213 §8.2
export const BA_FLAG_T = 0x10 // RFC 5845
export const BA_FLAG_B = 0x08 // RFC 6602

/** Heartbeat flags (RFC 5847 §3.1). */
export const HB_FLAG_U = 0x02
export const HB_FLAG_R = 0x01

/** Lifetime fields of BU/BA count units of 4 seconds (RFC 6275 §6.1.7). */
export const LIFETIME_UNIT_SECONDS = 4
export const MAX_LIFETIME_SECONDS = 0xffff * LIFETIME_UNIT_SECONDS

/** ICMPv6 types and ND option types (RFC 4861 §4, RFC 6275 §7). */
export const ICMP6_ROUTER_SOLICIT = 133
export const ICMP6_ROUTER_ADVERT = 134
export const NdOpt = {
  SOURCE_LL_ADDR: 1,
  TARGET_LL_ADDR: 2,
  PREFIX_INFO: 3,
  MTU: 5,
  ADV_INTERVAL: 7, // RFC 6275 §7.3
  HOME_AGENT_INFO: 8, // RFC 6275 §7.4
} as const

/** RA flag bits (RFC 4861 §4.2, RFC 6275 §7.1, RFC 4191 §2.2, RFC 4389). */
export const RA_FLAG_M = 0x80
export const RA_FLAG_O = 0x40
export const RA_FLAG_H = 0x20
export const RA_PRF_MASK = 0x18
export const RA_FLAG_PROXY = 0x04

/** Prefix Information flags (RFC 4861 §4.6.2, RFC 6275 §7.2). */
export const PIO_FLAG_L = 0x80
export const PIO_FLAG_A = 0x40
export const PIO_FLAG_R = 0x20

export const INFINITE_LIFETIME = 0xffffffff

/** ICMPv6 Parameter Problem (RFC 4443 §3.4) and its codes. */
export const ICMP6_PARAM_PROB = 4
export const ParamProbCode = {
  ERRONEOUS_HEADER_FIELD: 0,
  UNRECOGNIZED_NEXT_HEADER: 1,
  UNRECOGNIZED_IPV6_OPTION: 2,
} as const
/** RFC 8200 §5: every link carries 1280 octets; an ICMPv6 error must fit in it (RFC 4443 §2.4 (c)). */
export const IPV6_MIN_MTU = 1280
/** The fixed IPv6 header (RFC 8200 §3). */
export const IPV6_HEADER_LENGTH = 40
