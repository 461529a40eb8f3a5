/**
 * The core's settings, checked and defaulted once from MagCoreConfig: the protocol constants of
 * RFC 5213 §9 / RFC 6275 §13 and RFC 4861 §6.2.1 that an operator may change.
 */
import { canonicalIp6, formatIp6, isAllZero, parseIp6, parseMac } from '@pmip6/wire'
import { DEFAULT_ACCESS_MTU, DEFAULT_BINDING_LIFETIME_S, DEFAULT_CUR_HOP_LIMIT, DEFAULT_HEARTBEAT_INTERVAL_S, DEFAULT_LOCAL_PREFIX_LIFETIME_S, DEFAULT_MAX_RTR_ADV_INTERVAL_MS, DEFAULT_MIN_RTR_ADV_INTERVAL_MS, DEFAULT_MISSING_HEARTBEATS_ALLOWED, DEFAULT_REFRESH_FRACTION, DEFAULT_ROUTER_LIFETIME_S, DEFAULT_TUNNEL_MTU, MAX_ROUTER_LIFETIME_S, MIN_DELAY_BETWEEN_RAS_MS } from './constants'
import { canonicalPrefix } from './profiles'
import type { LinkConfig, MagCoreConfig } from './types'

/** MagCoreConfig.maxPbusInFlight when unset (inflight.ts). */
const DEFAULT_MAX_PBUS_IN_FLIGHT = 256

export interface Settings {
  readonly timestampBased: boolean
  readonly initialSequence: number
  readonly lifetimeS: number
  readonly refreshFraction: number
  readonly maxRetransmissions: number
  readonly maxPbusInFlight: number
  /** Canonical fixed link-local address, or null. */
  readonly fixedLinkLocal: string | null
  readonly fixedLinkLayer: Buffer | null
  readonly maxRaMs: number
  readonly minRaMs: number
  readonly routerLifetimeS: number
  readonly minDelayBetweenRasMs: number
  readonly curHopLimit: number
  readonly accessMtu: number
  readonly tunnelMtu: number
  readonly localPrefixLifetimeS: number
  readonly teardownOnReject: boolean
  readonly links: Readonly<Record<string, LinkConfig>>
  readonly heartbeatIntervalMs: number
  readonly heartbeatMissingThreshold: number
  readonly restartCounter: number | null
  /** Heartbeat settings per canonical LMA address. */
  readonly lmaHeartbeat: ReadonlyMap<string, { readonly intervalMs?: number; readonly missingAllowed?: number }>
}

function positiveInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`MagCoreConfig.${name} must be a non-negative integer, got ${v}`)
  return v
}

export function settingsOf(cfg: MagCoreConfig): Settings {
  const ra = cfg.ra ?? {}
  const maxRaMs = positiveInt(ra.maxIntervalMs, DEFAULT_MAX_RTR_ADV_INTERVAL_MS, 'ra.maxIntervalMs')
  const minRaMs = positiveInt(ra.minIntervalMs, Math.min(DEFAULT_MIN_RTR_ADV_INTERVAL_MS, Math.floor(maxRaMs * 0.33)), 'ra.minIntervalMs')
  if (maxRaMs < 1 || minRaMs > maxRaMs) throw new RangeError('MagCoreConfig.ra: need 0 <= minIntervalMs <= maxIntervalMs and maxIntervalMs >= 1')
  const refreshFraction = cfg.refreshFraction ?? DEFAULT_REFRESH_FRACTION
  if (!(refreshFraction > 0 && refreshFraction < 1)) throw new RangeError('MagCoreConfig.refreshFraction must be in (0, 1)')
  const fixedLL = cfg.fixedLinkLocal === undefined ? null : parseIp6(cfg.fixedLinkLocal)
  const links: Record<string, LinkConfig> = {}
  for (const [name, l] of Object.entries(cfg.links ?? {})) {
    links[name] = { ...l, ...(l.localPrefix !== undefined ? { localPrefix: canonicalPrefix(l.localPrefix) } : {}), ...(l.linkLocal !== undefined ? { linkLocal: canonicalIp6(l.linkLocal) } : {}) }
  }
  return {
    timestampBased: cfg.timestampBased ?? true,
    initialSequence: positiveInt(cfg.initialSequence, 0, 'initialSequence') & 0xffff,
    lifetimeS: positiveInt(cfg.lifetimeS, DEFAULT_BINDING_LIFETIME_S, 'lifetimeS'),
    refreshFraction,
    maxRetransmissions: cfg.maxRetransmissions === undefined ? Infinity : positiveInt(cfg.maxRetransmissions, 0, 'maxRetransmissions'),
    maxPbusInFlight: Math.max(1, positiveInt(cfg.maxPbusInFlight, DEFAULT_MAX_PBUS_IN_FLIGHT, 'maxPbusInFlight')),
    // RFC 5213 §6.9.1.1 item 9: ALL_ZERO means "not fixed".
    fixedLinkLocal: fixedLL === null || isAllZero(fixedLL) ? null : formatIp6(fixedLL),
    fixedLinkLayer: cfg.fixedLinkLayer === undefined ? null : isAllZero(parseMac(cfg.fixedLinkLayer)) ? null : parseMac(cfg.fixedLinkLayer),
    maxRaMs,
    minRaMs,
    routerLifetimeS: Math.min(MAX_ROUTER_LIFETIME_S, positiveInt(ra.routerLifetimeS, DEFAULT_ROUTER_LIFETIME_S, 'ra.routerLifetimeS')),
    minDelayBetweenRasMs: positiveInt(ra.minDelayBetweenRasMs, MIN_DELAY_BETWEEN_RAS_MS, 'ra.minDelayBetweenRasMs'),
    curHopLimit: positiveInt(ra.curHopLimit, DEFAULT_CUR_HOP_LIMIT, 'ra.curHopLimit'),
    accessMtu: positiveInt(cfg.accessMtu, DEFAULT_ACCESS_MTU, 'accessMtu'),
    tunnelMtu: positiveInt(cfg.tunnelMtu, DEFAULT_TUNNEL_MTU, 'tunnelMtu'),
    localPrefixLifetimeS: positiveInt(cfg.localPrefixLifetimeS, DEFAULT_LOCAL_PREFIX_LIFETIME_S, 'localPrefixLifetimeS'),
    teardownOnReject: cfg.teardownOnReject ?? false,
    links,
    heartbeatIntervalMs: positiveInt(cfg.heartbeatIntervalS, DEFAULT_HEARTBEAT_INTERVAL_S, 'heartbeatIntervalS') * 1000,
    heartbeatMissingThreshold: Math.max(1, positiveInt(cfg.heartbeatMissingThreshold, DEFAULT_MISSING_HEARTBEATS_ALLOWED, 'heartbeatMissingThreshold')),
    restartCounter: cfg.restartCounter === undefined ? null : positiveInt(cfg.restartCounter, 0, 'restartCounter') >>> 0,
    lmaHeartbeat: new Map(
      Object.entries(cfg.lmas ?? {}).map(([lma, l]) => [
        canonicalIp6(lma),
        {
          ...(l.heartbeatIntervalS !== undefined ? { intervalMs: positiveInt(l.heartbeatIntervalS, 0, `lmas.${lma}.heartbeatIntervalS`) * 1000 } : {}),
          ...(l.heartbeatMissingThreshold !== undefined ? { missingAllowed: Math.max(1, positiveInt(l.heartbeatMissingThreshold, 1, `lmas.${lma}.heartbeatMissingThreshold`)) } : {}),
        },
      ]),
    ),
  }
}
