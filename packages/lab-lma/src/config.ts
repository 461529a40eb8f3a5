/**
 * Configuration of the lab LMA: a YAML or JSON file (JSON is YAML 1.2), validated at load. Every
 * error names the field path and the reason, e.g. `config.pool: not an IPv6 prefix`.
 *
 * The knobs map to RFC 5213 §9.1 variables (TimestampValidityWindow, MinDelayBeforeBCEDelete),
 * §5.5 (TimestampBasedApproachInUse: `timestampMode`, 'auto' by default: per PBU), §5.2 (per-MN prefixes: `pool`, `mns`) and
 * §5.3.1 policy checks (`mns`, `mags`, `acceptUnknown`, `unknownMnStatus`); RFC 5844 §3.1 IPv4
 * home addresses (`ipv4Pool`, `ipv4Router`, `ipv4DhcpMode`, `mns.<nai>.ipv4Address`) and RFC 5845
 * GRE keys (`greKeys`).
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { MAX_LIFETIME_SECONDS, LIFETIME_UNIT_SECONDS, canonicalIp6, formatPrefix, ip4ToNumber, isIp4, isIp6, parseIp4, parsePrefix } from '@pmip6/wire'
import { Ipv4AddressPool } from './ipv4-pool'
import {
  DEFAULT_LIFETIME_MAX_S,
  GRE_KEY_MODES,
  type GreKeyMode,
  DEFAULT_POOL_PREFIX_LENGTH,
  MIN_DELAY_BEFORE_BCE_DELETE_MS,
  TIMESTAMP_MODES,
  TIMESTAMP_VALIDITY_WINDOW_MS,
  type LmaCoreOptions,
  type MnPolicy,
  type TimestampMode,
} from './lma-core'

/** Linux sun_path is 108 bytes including the terminating NUL (unix(7)). */
const MAX_UNIX_PATH_BYTES = 107

export interface LmaConfig extends LmaCoreOptions {
  readonly address: string
  readonly pool?: string
  readonly poolPrefixLength: number
  readonly mns?: Readonly<Record<string, MnPolicy>>
  readonly acceptUnknown: boolean
  readonly unknownMnStatus?: number
  readonly mags?: readonly string[]
  readonly lifetimeMax: number
  readonly timestampWindowMs: number
  readonly minDelayBeforeBceDeleteMs: number
  readonly timestampMode: TimestampMode
  readonly restartCounter: number
  /** UNIX stream socket for the control protocol (mode 0600); absent: none. */
  readonly controlSocket?: string
  /** SO_BINDTODEVICE for the MH socket; absent: every interface. */
  readonly interface?: string
  /** The LMA end of the tunnels and routes (RFC 5213 §5.6); absent: signalling only. */
  readonly dataplane?: LmaDataplaneConfig
  /** SCHED_RR priority (1-99) for the event-loop thread (as the MAG's mag.realtimePriority); absent: an ordinary task. */
  readonly realtimePriority?: number
}

export interface LmaDataplaneConfig {
  readonly backend: 'auto' | 'ip6tnl' | 'seg6'
  readonly table: number
  readonly rulePriority: number
  readonly maxTunnels: number
  readonly pathMtu?: number
}

const DATAPLANE_FIELDS = ['backend', 'table', 'rulePriority', 'maxTunnels', 'pathMtu'] as const

function dataplaneConfig(v: unknown, path: string): LmaDataplaneConfig {
  if (v === null || v === true) v = {}
  if (!isObj(v)) throw new ConfigError(path, 'not a mapping (or true for the defaults)')
  noUnknown(v, DATAPLANE_FIELDS, path)
  const backend = v.backend ?? 'auto'
  if (backend !== 'auto' && backend !== 'ip6tnl' && backend !== 'seg6') throw new ConfigError(`${path}.backend`, "must be 'auto', 'ip6tnl' or 'seg6'")
  const table = v.table === undefined ? 100 : int(v.table, `${path}.table`, 1, 252)
  const maxTunnels = v.maxTunnels === undefined ? 64 : int(v.maxTunnels, `${path}.maxTunnels`, 1, 250)
  if (table + maxTunnels + 3 > 253) throw new ConfigError(`${path}.table`, `leaves no room for maxTunnels ${maxTunnels} + 3 tables below 253`)
  return {
    backend,
    table,
    rulePriority: v.rulePriority === undefined ? 1000 : int(v.rulePriority, `${path}.rulePriority`, 1, 32760),
    maxTunnels,
    ...(v.pathMtu !== undefined ? { pathMtu: int(v.pathMtu, `${path}.pathMtu`, 1320, 65535) } : {}),
  }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`)
  }
}

const FIELDS = [
  'address',
  'pool',
  'poolPrefixLength',
  'mns',
  'acceptUnknown',
  'unknownMnStatus',
  'mags',
  'lifetimeMax',
  'timestampWindowMs',
  'minDelayBeforeBceDeleteMs',
  'timestampMode',
  'restartCounter',
  'controlSocket',
  'interface',
  'dataplane',
  'ipv4Pool',
  'ipv4Router',
  'ipv4DhcpMode',
  'greKeys',
  'realtimePriority',
] as const
const MN_FIELDS = ['prefixes', 'mags', 'proxyEnabled', 'ipv4Address'] as const

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function noUnknown(o: Obj, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new ConfigError(`${path}.${k}`, `unknown field (known: ${allowed.join(', ')})`)
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(path, 'not an integer')
  if (v < min || v > max) throw new ConfigError(path, `must be between ${min} and ${max}`)
  return v
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(path, 'not true or false')
  return v
}

function address(v: unknown, path: string): string {
  if (typeof v !== 'string' || !isIp6(v) || v.includes('/')) throw new ConfigError(path, 'not an IPv6 address')
  const a = canonicalIp6(v)
  if (a === '::') throw new ConfigError(path, 'the unspecified address is not usable here')
  return a
}

function prefix(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ConfigError(path, 'not an IPv6 prefix')
  let p: { prefix: Buffer; length: number }
  try {
    p = parsePrefix(v)
  } catch {
    throw new ConfigError(path, 'not an IPv6 prefix')
  }
  const canon = formatPrefix(p.prefix, p.length)
  const slash = v.indexOf('/')
  if (canonicalIp6(v.slice(0, slash)) !== canon.slice(0, canon.indexOf('/'))) throw new ConfigError(path, `has bits set past its length (did you mean ${canon}?)`)
  return canon
}

function list<T>(v: unknown, path: string, each: (x: unknown, p: string) => T): T[] {
  if (!Array.isArray(v)) throw new ConfigError(path, 'not a list')
  return v.map((x, i) => each(x, `${path}[${i}]`))
}

function mnPolicy(v: unknown, path: string): MnPolicy {
  if (v === null) return {}
  if (Array.isArray(v)) return { prefixes: list(v, path, prefix) }
  if (!isObj(v)) throw new ConfigError(path, 'not a mapping, a list of prefixes or null')
  noUnknown(v, MN_FIELDS, path)
  return {
    ...(v.prefixes !== undefined ? { prefixes: list(v.prefixes, `${path}.prefixes`, prefix) } : {}),
    ...(v.mags !== undefined ? { mags: list(v.mags, `${path}.mags`, address) } : {}),
    ...(v.proxyEnabled !== undefined ? { proxyEnabled: bool(v.proxyEnabled, `${path}.proxyEnabled`) } : {}),
    ...(v.ipv4Address !== undefined ? { ipv4Address: ip4(v.ipv4Address, `${path}.ipv4Address`) } : {}),
  }
}

function ip4(v: unknown, path: string): string {
  if (typeof v !== 'string' || !isIp4(v)) throw new ConfigError(path, 'not an IPv4 address')
  return v
}

/** RFC 5844 §3.1 settings: the IPv4 home address pool, its router, the DHCP mode; RFC 5845 keys. */
function ipv4Config(raw: Obj, at: (f: string) => string, mns: Readonly<Record<string, MnPolicy>> | undefined): Partial<LmaCoreOptions> {
  let pool: Ipv4AddressPool | undefined
  if (raw.ipv4Pool !== undefined) {
    try {
      pool = new Ipv4AddressPool(String(raw.ipv4Pool), raw.ipv4Router === undefined ? undefined : ip4(raw.ipv4Router, at('ipv4Router')))
    } catch (e) {
      if (e instanceof ConfigError) throw e
      throw new ConfigError(at('ipv4Pool'), e instanceof Error ? e.message : String(e))
    }
  } else if (raw.ipv4Router !== undefined) throw new ConfigError(at('ipv4Router'), 'needs ipv4Pool')
  for (const [nai, p] of Object.entries(mns ?? {})) {
    if (p.ipv4Address === undefined) continue
    const path = `${at('mns')}.${nai}.ipv4Address`
    if (pool === undefined) throw new ConfigError(path, 'needs ipv4Pool')
    if (!pool.contains(ip4ToNumber(parseIp4(p.ipv4Address)))) throw new ConfigError(path, `outside ipv4Pool ${String(raw.ipv4Pool)}`)
  }
  const mode = raw.ipv4DhcpMode ?? 'server'
  if (mode !== 'server' && mode !== 'relay') throw new ConfigError(at('ipv4DhcpMode'), "must be 'server' or 'relay'")
  const gre = raw.greKeys ?? 'off'
  if (!GRE_KEY_MODES.includes(gre as GreKeyMode)) throw new ConfigError(at('greKeys'), "must be 'off', 'on' or 'required'")
  return {
    ...(raw.ipv4Pool !== undefined ? { ipv4Pool: String(raw.ipv4Pool) } : {}),
    ...(raw.ipv4Router !== undefined ? { ipv4Router: String(raw.ipv4Router) } : {}),
    // Defaults stay with the core ('server', 'off'): only what the file says is returned.
    ...(raw.ipv4DhcpMode !== undefined ? { ipv4DhcpMode: mode } : {}),
    ...(raw.greKeys !== undefined ? { greKeys: gre as GreKeyMode } : {}),
  }
}

/** Checks a parsed document and fills in the defaults. */
export function validateConfig(raw: unknown, root = 'config'): LmaConfig {
  if (!isObj(raw)) throw new ConfigError(root, 'not a mapping')
  noUnknown(raw, FIELDS, root)
  const at = (k: string): string => `${root}.${k}`
  if (raw.address === undefined) throw new ConfigError(at('address'), 'required (the LMA address)')
  const lmaAddress = address(raw.address, at('address'))
  const pool = raw.pool === undefined ? undefined : prefix(raw.pool, at('pool'))
  const poolLen = pool === undefined ? 0 : parsePrefix(pool).length
  const poolPrefixLength = raw.poolPrefixLength === undefined ? DEFAULT_POOL_PREFIX_LENGTH : int(raw.poolPrefixLength, at('poolPrefixLength'), 1, 128)
  if (pool !== undefined && poolPrefixLength < poolLen) throw new ConfigError(at('poolPrefixLength'), `shorter than the pool's /${poolLen}`)

  let mns: Record<string, MnPolicy> | undefined
  if (raw.mns !== undefined && raw.mns !== null) {
    if (!isObj(raw.mns)) throw new ConfigError(at('mns'), 'not a mapping of MN identifier (NAI) to policy')
    mns = {}
    const owner = new Map<string, string>()
    for (const [nai, v] of Object.entries(raw.mns)) {
      const path = `${at('mns')}.${nai}`
      if (nai.trim() === '') throw new ConfigError(path, 'empty MN identifier')
      if (Buffer.byteLength(nai, 'utf8') > 254) throw new ConfigError(path, 'MN identifier longer than 254 bytes (RFC 4283 §3: one-byte option length)')
      const pol = mnPolicy(v, path)
      for (const [i, p] of (pol.prefixes ?? []).entries()) {
        const other = owner.get(p)
        if (other !== undefined) throw new ConfigError(`${path}.prefixes[${i}]`, `${p} is already configured for ${other}`)
        owner.set(p, nai)
      }
      if ((pol.prefixes === undefined || pol.prefixes.length === 0) && pool === undefined) {
        throw new ConfigError(`${path}.prefixes`, 'required when no pool is configured')
      }
      mns[nai] = pol
    }
  }
  const acceptUnknown = raw.acceptUnknown === undefined ? mns === undefined : bool(raw.acceptUnknown, at('acceptUnknown'))
  if (acceptUnknown && pool === undefined) throw new ConfigError(at('pool'), 'required to serve MNs not in the mns table (acceptUnknown, or no mns table)')

  const mode = raw.timestampMode ?? 'auto'
  if (!TIMESTAMP_MODES.includes(mode as TimestampMode)) throw new ConfigError(at('timestampMode'), "must be 'auto', 'timestamps' or 'sequence'")
  let controlSocket: string | undefined
  if (raw.controlSocket !== undefined) {
    if (typeof raw.controlSocket !== 'string' || raw.controlSocket === '') throw new ConfigError(at('controlSocket'), 'not a path')
    if (Buffer.byteLength(raw.controlSocket) > MAX_UNIX_PATH_BYTES) throw new ConfigError(at('controlSocket'), `longer than ${MAX_UNIX_PATH_BYTES} bytes (sun_path)`)
    controlSocket = raw.controlSocket
  }
  if (raw.interface !== undefined && (typeof raw.interface !== 'string' || raw.interface === '' || raw.interface.length > 15)) {
    throw new ConfigError(at('interface'), 'not an interface name')
  }
  return {
    address: lmaAddress,
    ...(pool !== undefined ? { pool } : {}),
    poolPrefixLength,
    ...(mns !== undefined ? { mns } : {}),
    acceptUnknown,
    ...(raw.unknownMnStatus !== undefined ? { unknownMnStatus: int(raw.unknownMnStatus, at('unknownMnStatus'), 128, 255) } : {}),
    ...(raw.mags !== undefined ? { mags: list(raw.mags, at('mags'), address) } : {}),
    lifetimeMax: raw.lifetimeMax === undefined ? DEFAULT_LIFETIME_MAX_S : int(raw.lifetimeMax, at('lifetimeMax'), LIFETIME_UNIT_SECONDS, MAX_LIFETIME_SECONDS),
    timestampWindowMs: raw.timestampWindowMs === undefined ? TIMESTAMP_VALIDITY_WINDOW_MS : int(raw.timestampWindowMs, at('timestampWindowMs'), 0, 2 ** 31 - 1),
    minDelayBeforeBceDeleteMs:
      raw.minDelayBeforeBceDeleteMs === undefined ? MIN_DELAY_BEFORE_BCE_DELETE_MS : int(raw.minDelayBeforeBceDeleteMs, at('minDelayBeforeBceDeleteMs'), 0, 2 ** 31 - 1),
    timestampMode: mode as TimestampMode,
    restartCounter: raw.restartCounter === undefined ? 0 : int(raw.restartCounter, at('restartCounter'), 0, 0xffffffff),
    ...(controlSocket !== undefined ? { controlSocket } : {}),
    ...(typeof raw.interface === 'string' ? { interface: raw.interface } : {}),
    ...(raw.dataplane !== undefined && raw.dataplane !== false ? { dataplane: dataplaneConfig(raw.dataplane, at('dataplane')) } : {}),
    ...ipv4Config(raw, at, mns),
    ...(raw.realtimePriority !== undefined ? { realtimePriority: int(raw.realtimePriority, at('realtimePriority'), 1, 99) } : {}),
  }
}

/** Parses YAML or JSON text and validates it. */
export function parseConfig(text: string, source = 'config'): LmaConfig {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    throw new ConfigError(source, `not valid YAML or JSON: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`)
  }
  return validateConfig(doc)
}

export function loadConfigFile(path: string): LmaConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  return parseConfig(text, path)
}
