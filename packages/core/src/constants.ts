/**
 * Protocol constants a MAG needs, each named once with the section that defines it, and the
 * defaults this implementation picks for the configuration variables of RFC 5213 §9 and the
 * router variables of RFC 4861 §6.2.1. Wire code points live in @pmip6/wire.
 */

// --- RFC 6275 §12 (RFC 3775 §12) protocol constants, used by RFC 5213 §6.9.4 ---
export const INITIAL_BINDACK_TIMEOUT_MS = 1_000 // RFC 6275 §12, RFC 5213 §6.9.4 item 1, §6.9.1.4
export const MAX_BINDACK_TIMEOUT_MS = 32_000 // RFC 6275 §12, RFC 5213 §6.9.4 item 3
export const MAX_UPDATE_RATE = 3 // RFC 6275 §12 (Binding Updates per second to one peer), RFC 5213 §6.9.4
export const UPDATE_RATE_WINDOW_MS = 1_000 // "per second" of MAX_UPDATE_RATE

// --- RFC 6275 §9.5.1, §11.7.3: sequence numbers ---
/** 16-bit sequence numbers compare modulo 2^16: "newer" means less than half the space ahead (RFC 6275 §9.5.1). */
export const SEQUENCE_MODULO = 0x1_0000
/**
 * Status 135 that gives back our own number tells nothing of the LMA's: go a quarter of the
 * space ahead. "Newer" spans half the space, so three such jumps pass any number the LMA can
 * hold that is not newer than ours (RFC 6275 §11.7.3 asks only for a higher number).
 */
export const SEQUENCE_RESYNC_JUMP = 0x4000
/**
 * Resynchronisations on status 135 sent at once, per PBU (RFC 6275 §11.7.3). More than the three
 * jumps need; after them a 135 still moves the number up, but the PBU waits for its
 * retransmission time (§6.9.4 backoff), so an LMA that always says 135 gets no loop.
 */
export const MAX_SEQUENCE_RESYNCS = 4

// --- RFC 4861 §10 router constants, used by RFC 5213 §6.9.2 (home-link emulation) ---
export const MAX_INITIAL_RTR_ADVERT_INTERVAL_MS = 16_000 // RFC 4861 §10
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3 // RFC 4861 §10
export const MAX_RA_DELAY_TIME_MS = 500 // RFC 4861 §10
export const MIN_DELAY_BETWEEN_RAS_MS = 3_000 // RFC 4861 §10 (RFC 6275 §7.5 allows down to 30 ms)
/** RFC 4861 §6.1.1: an RS whose IP Hop Limit is not 255 did not come from the link. */
export const ND_HOP_LIMIT = 255
/** RFC 4861 §4.2: the largest Router Lifetime. */
export const MAX_ROUTER_LIFETIME_S = 9_000

// --- Addresses ---
/** RFC 4291 §2.7.1: all-nodes multicast, the destination of unsolicited RAs (RFC 4861 §6.2.4). */
export const ALL_NODES = 'ff02::1'
/** RFC 4861 §6.2.6: an RS from the unspecified address is answered to all-nodes. */
export const UNSPECIFIED = '::'

// --- Defaults chosen here (documented in the README of the core) ---
/** Lifetime requested in every registration PBU, seconds (RFC 5213 §6.9.1.1; the LMA may grant less). */
export const DEFAULT_BINDING_LIFETIME_S = 3_600
/** Re-register when this fraction of the granted lifetime has gone (RFC 5213 §6.9.1.3). */
export const DEFAULT_REFRESH_FRACTION = 0.8
/**
 * MaxRtrAdvInterval for home-link emulation. RFC 4861 defaults to 600 s; a PMIPv6 access link
 * is point-to-point and the RA carries prefix lifetimes tied to the binding lifetime, so a
 * shorter period keeps the MN's view close to the binding at a negligible cost (one RA per MN per
 * minute at most).
 */
export const DEFAULT_MAX_RTR_ADV_INTERVAL_MS = 60_000
/** MinRtrAdvInterval: RFC 4861 §6.2.1 default of 0.33 x MaxRtrAdvInterval. */
export const DEFAULT_MIN_RTR_ADV_INTERVAL_MS = 20_000
/** AdvDefaultLifetime: 1800 s, as in protocol-reference §10.3 (RFC 4861 §6.2.1 allows up to 9000). */
export const DEFAULT_ROUTER_LIFETIME_S = 1_800
/** AdvCurHopLimit (RFC 4861 §6.2.1; the value of protocol-reference §10.3). */
export const DEFAULT_CUR_HOP_LIMIT = 64
/** Tunnel MTU when nothing better is known: 1500 minus the 40-byte outer IPv6 header (RFC 2473 §6.7). */
export const DEFAULT_TUNNEL_MTU = 1_460
/** Access link MTU when not configured (Ethernet, RFC 2464). */
export const DEFAULT_ACCESS_MTU = 1_500
/**
 * RAs come at least this many times per advertised prefix lifetime (RFC 5213 §6.7 lifetimes,
 * RFC 4861 §6.2.4 intervals): the MN's prefix outlives two lost RAs in a row. Only short
 * lifetimes are affected (a 20 s binding: an RA every 6.6 s at most); RFC 6275 §7.5 allows
 * intervals down to 70 ms on a home link.
 */
export const RAS_PER_PREFIX_LIFETIME = 3
/** Valid and preferred lifetime of a local (Scenario B) prefix, seconds. */
export const DEFAULT_LOCAL_PREFIX_LIFETIME_S = 3_600
/** Length of the per-MN local prefixes carved from a local pool (RFC 4862 §5.5.3 SLAAC needs /64). */
export const DEFAULT_LOCAL_PREFIX_LENGTH = 64

// --- RFC 5847 configuration variables (its §5) ---
/**
 * HEARTBEAT_INTERVAL default of this implementation, seconds. RFC 5847 §5 gives 60 s as the
 * default and 30 s as the lowest value it recommends (protocol-reference §1.7 marks both
 * unverified); the project chose the lower bound, so a dead LMA is noticed in 90 s.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_S = 30
/** MISSING_HEARTBEATS_ALLOWED default (RFC 5847 §5). */
export const DEFAULT_MISSING_HEARTBEATS_ALLOWED = 3
/** Heartbeat sequence numbers are 32 bits (RFC 5847 §3.1 message format). */
export const HEARTBEAT_SEQUENCE_MODULO = 0x1_0000_0000
