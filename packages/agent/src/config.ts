/**
 * The daemon's configuration file (YAML or JSON), validated at load. Every invalid field is
 * reported with its path and the reason, all at once, before anything touches the system.
 * The result is a `AgentConfig`; the core gets only the `MagCoreConfig` part it needs.
 */
import { parseListen, type MetricsConfig } from './metrics'
import { readFileSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import type { AccountingConfig, DasConfig, PolicyConfig, RadiusPolicyConfig, RadiusServerConfig } from './radius/types'
import { POLICY_SOURCES } from './radius/types'
import type { AttributeMatch } from './radius/profile'
import { ACCT_PORT, AUTH_PORT, DAS_PORT } from './radius/constants'
import { parse as parseYaml } from 'yaml'
import { isIp4, isIp6, parseMac, parsePrefix, canonicalIp6, isLinkLocal, parseIp6 } from '@pmip6/wire'
import type { MagCoreConfig, PolicyProfile, LinkConfig, LmaConfig, UnknownMnPolicy, DefaultProfile, RaConfig } from '@pmip6/core'
import { parseIpv4Prefix, parseIpv4Unicast } from '@pmip6/core'
import type { MockInit, MockStep } from '@pmip6/driver-mock'
import type { HostapdInit, HostapdInterfaceInit } from '@pmip6/driver-hostapd'
import { DEFAULT_INTERFACE_PATTERN, type PppInit } from '@pmip6/driver-ppp'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

export interface AgentConfig {
  /** Proxy-CoA: the MAG's address towards the LMAs, source of every PBU. */
  readonly address: string
  readonly controlSocket: string
  readonly controlSocketMode: number
  readonly logLevel: LogLevel
  /** SIGTERM: de-register every MN first, or leave the bindings to expire at the LMA. */
  readonly shutdown: 'deregister' | 'keep'
  /** How long a de-registering shutdown waits for PBAs. */
  readonly shutdownTimeoutMs: number
  /**
   * SCHED_RR priority (1-99) for the event-loop thread; absent: an ordinary task. On a busy
   * access router a registration waits for a CPU at each wake-up (issue 23), as keepalived's
   * VRRP does unless given a real-time priority.
   */
  readonly realtimePriority?: number
  readonly drivers: DriversConfig
  readonly core: MagCoreConfig
  /** The DHCPv6 relay (RFC 5213 §6.11); absent: off. */
  readonly dhcp6Relay?: Dhcp6RelayConfig
  readonly dhcp4?: Dhcp4Config
  /** Prometheus text endpoint; absent: off. */
  readonly metrics?: MetricsConfig
  /** Forwarding state in the kernel (RFC 5213 §6.10); absent: signalling only. */
  readonly dataplane?: DataplaneConfig
  /**
   * The interfaces Mobility Headers are taken from (ingress.ts); absent: every interface that
   * is not an access link.
   */
  readonly transportInterfaces?: readonly string[]
  /** Where MN policy profiles come from (`policy:`); default the config file's `profiles`. */
  readonly policy?: PolicyConfig
}

/** `dataplane:` in the config file (see @pmip6/dataplane). */
export interface DataplaneConfig {
  readonly backend: 'auto' | 'ip6tnl' | 'seg6'
  readonly table: number
  readonly rulePriority: number
  readonly maxTunnels: number
  readonly uplinkSelect: 'rule' | 'subtree'
  /** EnableMAGLocalRouting (RFC 5213 §9). */
  readonly localRouting: boolean
  /** Path MTU towards the LMAs; absent: the MTU of the interface holding mag.address. */
  readonly pathMtu?: number
  readonly enableForwarding: boolean
  /** RFC 5844: carry MNs' IPv4 home addresses too (IPv4-in-IPv6). Default false. */
  readonly ipv4: boolean
  /** RFC 5845: first routing table of bindings with GRE keys (two each); default 10000. */
  readonly greTable: number
  /** RFC 5845: bindings with GRE keys at once (one ip6gre device each); default 1024. */
  readonly maxGre: number
}

/** `dhcp4:` in the config file: the DHCPv4 server for MNs with an IPv4 binding (RFC 5844 §3.4). */
export interface Dhcp4Config {
  readonly enabled: boolean
  /** Longest lease handed out, seconds (the binding's lifetime caps it). Default 3600. */
  readonly maxLeaseSeconds: number
  /** DNS servers handed out (RFC 2132 §3.8). */
  readonly dns: readonly string[]
}

/** `drivers:` in the config file: which access drivers run, each with its own section. */
export interface DriversConfig {
  readonly mock?: MockInit
  readonly hostapd?: HostapdInit
  readonly ppp?: PppInit
}
export const DRIVER_NAMES = ['mock', 'hostapd', 'ppp'] as const

/** `dhcp6Relay:` in the config file. */
export interface Dhcp6RelayConfig {
  readonly enabled: boolean
  /** Unicast server addresses (and/or ff05::1:3) that Relay-forward messages go to. */
  readonly servers: readonly string[]
  /** Also send to All_DHCP_Servers ff05::1:3 (RFC 8415 §7.1). */
  readonly allServersMulticast: boolean
  /** How Interface-Id names the access link: 'link' (its name) or 'link-mac' (name/MAC). */
  readonly interfaceIdFormat: 'link' | 'link-mac'
  /** Outgoing interface for multicast server addresses. */
  readonly multicastInterface?: string
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(readonly problems: readonly { path: string; reason: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.path}: ${p.reason}`).join('\n')}`)
  }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Collects problems while reading a value tree; each accessor names the full path. */
class Reader {
  readonly problems: { path: string; reason: string }[] = []

  bad(path: string, reason: string): undefined {
    this.problems.push({ path, reason })
    return undefined
  }

  obj(v: unknown, path: string): Obj | undefined {
    if (v === undefined || v === null) return undefined
    return isObj(v) ? v : this.bad(path, 'must be a mapping')
  }

  known(o: Obj | undefined, path: string, keys: readonly string[]): void {
    if (!o) return
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.bad(`${path}.${k}`, `unknown field (known: ${keys.join(', ')})`)
  }

  str(v: unknown, path: string): string | undefined {
    if (v === undefined || v === null) return undefined
    return typeof v === 'string' && v.length > 0 ? v : this.bad(path, 'must be a non-empty string')
  }

  num(v: unknown, path: string, min: number, max: number, int = true): number | undefined {
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v))) return this.bad(path, `must be ${int ? 'an integer' : 'a number'}`)
    if (v < min || v > max) return this.bad(path, `must be between ${min} and ${max}`)
    return v
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (v === undefined || v === null) return undefined
    return typeof v === 'boolean' ? v : this.bad(path, 'must be true or false')
  }

  oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T | undefined {
    if (v === undefined || v === null) return undefined
    return typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : this.bad(path, `must be one of ${values.join(', ')}`)
  }

  ip6(v: unknown, path: string): string | undefined {
    const s = this.str(v, path)
    if (s === undefined) return undefined
    return isIp6(s) ? canonicalIp6(s) : this.bad(path, `not an IPv6 address: ${s}`)
  }

  prefix(v: unknown, path: string): string | undefined {
    const s = this.str(v, path)
    if (s === undefined) return undefined
    try {
      parsePrefix(s)
      return s
    } catch {
      return this.bad(path, `not an IPv6 prefix (like 2001:db8:1::/64): ${s}`)
    }
  }

  mac(v: unknown, path: string): string | undefined {
    const s = this.str(v, path)
    if (s === undefined) return undefined
    try {
      if (parseMac(s).length !== 6) throw new Error()
      return s
    } catch {
      return this.bad(path, `not a MAC address: ${s}`)
    }
  }

  arr(v: unknown, path: string): unknown[] | undefined {
    if (v === undefined || v === null) return undefined
    return Array.isArray(v) ? v : this.bad(path, 'must be a list')
  }

  need<T>(v: T | undefined, raw: unknown, path: string): T | undefined {
    if (raw === undefined || raw === null) this.bad(path, 'is required')
    return v
  }
}

const TOP_KEYS = ['mag', 'ra', 'links', 'lmas', 'localPool', 'localPrefixLength', 'localPrefixLifetime', 'drivers', 'profiles', 'unknownMn', 'dhcp6Relay', 'metrics', 'dataplane', 'dhcp4', 'policy'] as const
const LMA_KEYS = ['heartbeatInterval', 'heartbeatMissingThreshold', 'greKey'] as const
const MAG_KEYS = [
  'address',
  'controlSocket',
  'controlSocketMode',
  'logLevel',
  'shutdown',
  'shutdownTimeoutMs',
  'realtimePriority',
  'timestampBased',
  'lifetime',
  'refreshFraction',
  'maxRetransmissions',
  'fixedLinkLocal',
  'fixedLinkLayer',
  'seed',
  'tunnelMtu',
  'accessMtu',
  'lmaMtu',
  'teardownOnReject',
  'initialSequence',
  'maxPbusInFlight',
  'heartbeatInterval',
  'heartbeatMissingThreshold',
  'transportInterfaces',
] as const
const PROFILE_KEYS = ['mnId', 'lma', 'homePrefixes', 'prefixLifetime', 'addressConfig', 'mode', 'macs', 'otherConfig', 'stack', 'ipv4HomeAddress', 'ipv4Allowed', 'greKey'] as const

export const DEFAULT_CONTROL_SOCKET = '/run/mag/mag.sock'
/** RFC 5847 §5: HEARTBEAT_INTERVAL should not exceed 3600 s. Below its 30 s floor is allowed, for labs. */
export const MAX_HEARTBEAT_INTERVAL_S = 3_600

function readProfile(r: Reader, raw: unknown, path: string, isDefault: boolean): (PolicyProfile & { macNaiRealm?: string }) | undefined {
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, isDefault ? [...PROFILE_KEYS.filter((k) => k !== 'mnId' && k !== 'macs'), 'macNaiRealm'] : PROFILE_KEYS)
  const mnId = isDefault ? '' : r.need(r.str(o['mnId'], `${path}.mnId`), o['mnId'], `${path}.mnId`)
  const lma = r.need(r.ip6(o['lma'], `${path}.lma`), o['lma'], `${path}.lma`)
  const prefixes = r.arr(o['homePrefixes'], `${path}.homePrefixes`)?.map((p, i) => r.prefix(p, `${path}.homePrefixes[${i}]`))
  const macs = isDefault ? undefined : r.arr(o['macs'], `${path}.macs`)?.map((m, i) => r.mac(m, `${path}.macs[${i}]`))
  const p: PolicyProfile & { macNaiRealm?: string } = {
    mnId: mnId ?? '',
    lma: lma ?? '::',
    ...(prefixes ? { homePrefixes: prefixes.filter((x): x is string => x !== undefined) } : {}),
    ...(o['prefixLifetime'] !== undefined ? { prefixLifetime: r.num(o['prefixLifetime'], `${path}.prefixLifetime`, 1, 0xffffffff) ?? 0 } : {}),
    ...(o['addressConfig'] !== undefined ? { addressConfig: r.oneOf(o['addressConfig'], `${path}.addressConfig`, ['stateless', 'stateful', 'both'] as const) ?? 'stateless' } : {}),
    ...(o['mode'] !== undefined ? { mode: r.oneOf(o['mode'], `${path}.mode`, ['network', 'host'] as const) ?? 'network' } : {}),
    ...(macs ? { macs: macs.filter((x): x is string => x !== undefined) } : {}),
    ...(o['otherConfig'] !== undefined ? { otherConfig: r.bool(o['otherConfig'], `${path}.otherConfig`) ?? false } : {}),
    ...(isDefault && o['macNaiRealm'] !== undefined ? { macNaiRealm: r.str(o['macNaiRealm'], `${path}.macNaiRealm`) ?? '' } : {}),
    ...readIpv4Profile(r, o, path),
  }
  return p
}

/** RFC 5844 / RFC 5845 fields of a profile: stack, ipv4HomeAddress, ipv4Allowed, greKey. */
function readIpv4Profile(r: Reader, o: Obj, path: string): Pick<PolicyProfile, 'stack' | 'ipv4HomeAddress' | 'ipv4Allowed' | 'greKey'> {
  const stack = r.oneOf(o['stack'], `${path}.stack`, ['ipv6', 'ipv4', 'dual'] as const)
  const v4 = stack === 'ipv4' || stack === 'dual'
  const unicast = (v: unknown, at: string): string | undefined => {
    const s = r.str(v, at)
    if (s === undefined) return undefined
    const b = parseIpv4Unicast(s)
    return typeof b === 'string' ? r.bad(at, b) : s
  }
  const addr = unicast(o['ipv4HomeAddress'], `${path}.ipv4HomeAddress`)
  const allowed = r.arr(o['ipv4Allowed'], `${path}.ipv4Allowed`)?.map((v, i) => {
    const at = `${path}.ipv4Allowed[${i}]`
    const s = r.str(v, at)
    if (s === undefined) return undefined
    const n = parseIpv4Prefix(s)
    return typeof n === 'string' ? r.bad(at, n) : n.text
  })
  if (!v4 && o['ipv4HomeAddress'] !== undefined) r.bad(`${path}.ipv4HomeAddress`, "needs stack 'ipv4' or 'dual'")
  if (!v4 && o['ipv4Allowed'] !== undefined) r.bad(`${path}.ipv4Allowed`, "needs stack 'ipv4' or 'dual'")
  if (stack === 'ipv4' && o['homePrefixes'] !== undefined) r.bad(`${path}.homePrefixes`, "an IPv4-only MN (stack 'ipv4') has no home network prefix")
  const greKey = r.bool(o['greKey'], `${path}.greKey`)
  return {
    ...(stack !== undefined ? { stack } : {}),
    ...(addr !== undefined ? { ipv4HomeAddress: addr } : {}),
    ...(allowed ? { ipv4Allowed: allowed.filter((x): x is string => x !== undefined) } : {}),
    ...(greKey !== undefined ? { greKey } : {}),
  }
}

/**
 * `lmas:` settings per LMA, keyed by its address: `lmas: { '2001:db8:ffff::2': { heartbeatInterval: 0 } }`
 * (RFC 5847 §5 variables per peer; 0 = no heartbeats to an LMA that stops reading after one).
 */
function readLmas(r: Reader, raw: unknown, path: string): Record<string, LmaConfig> {
  const out: Record<string, LmaConfig> = {}
  const o = r.obj(raw, path)
  for (const [k, v] of Object.entries(o ?? {})) {
    const p = `${path}.${k}`
    const addr = isIp6(k) ? canonicalIp6(k) : r.bad(p, `not an IPv6 address: ${k}`)
    const lo = v === null ? {} : r.obj(v, p)
    if (!lo || addr === undefined) continue
    r.known(lo, p, LMA_KEYS)
    if (addr in out) r.bad(p, `duplicate LMA ${addr}`)
    const heartbeatIntervalS = r.num(lo['heartbeatInterval'], `${p}.heartbeatInterval`, 0, MAX_HEARTBEAT_INTERVAL_S)
    const heartbeatMissingThreshold = r.num(lo['heartbeatMissingThreshold'], `${p}.heartbeatMissingThreshold`, 1, 255)
    const greKey = r.bool(lo['greKey'], `${p}.greKey`)
    out[addr] = {
      ...(greKey !== undefined ? { greKey } : {}),
      ...(heartbeatIntervalS !== undefined ? { heartbeatIntervalS } : {}),
      ...(heartbeatMissingThreshold !== undefined ? { heartbeatMissingThreshold } : {}),
    }
  }
  return out
}

const DHCP6_RELAY_KEYS = ['enabled', 'servers', 'allServersMulticast', 'interfaceIdFormat', 'multicastInterface'] as const
const ALL_DHCP_SERVERS = 'ff05::1:3' // RFC 8415 §7.1

function readDhcp6Relay(r: Reader, raw: unknown, path: string): Dhcp6RelayConfig | undefined {
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, DHCP6_RELAY_KEYS)
  const enabled = r.bool(o['enabled'], `${path}.enabled`) ?? true
  const servers = (r.arr(o['servers'], `${path}.servers`) ?? [])
    .map((v, i) => {
      const a = r.ip6(v, `${path}.servers[${i}]`)
      // A link-local server would need a zone, and the relay sends from the MAG's global address.
      if (a && isLinkLocal(parseIp6(a))) return r.bad(`${path}.servers[${i}]`, 'must be a global or multicast address, not link-local')
      return a
    })
    .filter((x): x is string => x !== undefined)
  const allServersMulticast = r.bool(o['allServersMulticast'], `${path}.allServersMulticast`) ?? false
  const interfaceIdFormat = r.oneOf(o['interfaceIdFormat'], `${path}.interfaceIdFormat`, ['link', 'link-mac'] as const) ?? 'link'
  const multicastInterface = r.str(o['multicastInterface'], `${path}.multicastInterface`)
  if (enabled && servers.length === 0 && !allServersMulticast && r.problems.every((p) => !p.path.startsWith(`${path}.servers`))) {
    r.bad(`${path}.servers`, 'needs at least one server address, or allServersMulticast: true')
  }
  const all = allServersMulticast && !servers.includes(ALL_DHCP_SERVERS) ? [...servers, ALL_DHCP_SERVERS] : servers
  return { enabled, servers: all, allServersMulticast, interfaceIdFormat, ...(multicastInterface ? { multicastInterface } : {}) }
}

const HOSTAPD_KEYS = ['interfaces', 'ctrlDir', 'clientDir', 'pingIntervalMs', 'requestTimeoutMs', 'teardown', 'att'] as const
const HOSTAPD_IFACE_KEYS = ['name', 'ctrlPath', 'identity', 'perStaVif'] as const
/** Linux interface names (IFNAMSIZ - 1 bytes); hostapd names its control socket after them. */
const IFNAME_RE = /^[A-Za-z0-9_.:-]{1,15}$/

function readHostapd(r: Reader, raw: unknown, path: string): HostapdInit | undefined {
  if (raw === null || raw === undefined || raw === true) return r.bad(path, 'needs a mapping with at least `interfaces`')
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, HOSTAPD_KEYS)
  const list = r.need(r.arr(o['interfaces'], `${path}.interfaces`), o['interfaces'], `${path}.interfaces`)
  if (list && list.length === 0) r.bad(`${path}.interfaces`, 'needs at least one hostapd interface')
  const interfaces = (list ?? []).map((v, i): HostapdInterfaceInit | undefined => {
    const ip = `${path}.interfaces[${i}]`
    const io = typeof v === 'string' ? { name: v } : r.obj(v, ip)
    if (!io) return r.bad(ip, 'must be an interface name or a mapping with `name`')
    r.known(io, ip, HOSTAPD_IFACE_KEYS)
    const name = r.need(r.str(io['name'], `${ip}.name`), io['name'], `${ip}.name`)
    if (name !== undefined && !IFNAME_RE.test(name)) return r.bad(`${ip}.name`, `not an interface name: ${name}`)
    const ctrlPath = r.str(io['ctrlPath'], `${ip}.ctrlPath`)
    const identity = r.oneOf(io['identity'], `${ip}.identity`, ['mac', 'dot1x'] as const)
    const perStaVif = r.bool(io['perStaVif'], `${ip}.perStaVif`)
    if (name === undefined) return undefined
    return { name, ...(ctrlPath ? { ctrlPath } : {}), ...(identity ? { identity } : {}), ...(perStaVif !== undefined ? { perStaVif } : {}) }
  })
  const seenIf = new Set<string>()
  interfaces.forEach((x, i) => {
    if (x && seenIf.has(x.name)) r.bad(`${path}.interfaces[${i}].name`, `duplicate interface ${x.name}`)
    if (x) seenIf.add(x.name)
  })
  const ctrlDir = r.str(o['ctrlDir'], `${path}.ctrlDir`)
  const clientDir = r.str(o['clientDir'], `${path}.clientDir`)
  const pingIntervalMs = r.num(o['pingIntervalMs'], `${path}.pingIntervalMs`, 100, 3_600_000)
  const requestTimeoutMs = r.num(o['requestTimeoutMs'], `${path}.requestTimeoutMs`, 10, 60_000)
  const teardown = r.oneOf(o['teardown'], `${path}.teardown`, ['deauthenticate', 'disassociate', 'none'] as const)
  const att = r.num(o['att'], `${path}.att`, 0, 255)
  return {
    interfaces: interfaces.filter((x): x is HostapdInterfaceInit => x !== undefined),
    ...(ctrlDir ? { ctrlDir } : {}),
    ...(clientDir ? { clientDir } : {}),
    ...(pingIntervalMs !== undefined ? { pingIntervalMs } : {}),
    ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
    ...(teardown ? { teardown } : {}),
    ...(att !== undefined ? { att } : {}),
  }
}

const PPP_KEYS = ['socket', 'socketMode', 'stateFile', 'interfacePattern', 'identity', 'att', 'teardown', 'pidDir'] as const

function readPpp(r: Reader, raw: unknown, path: string): PppInit | undefined {
  if (raw === true || raw === null) return {}
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, PPP_KEYS)
  const pattern = r.str(o['interfacePattern'], `${path}.interfacePattern`)
  if (pattern !== undefined) {
    try {
      new RegExp(pattern)
    } catch (e) {
      r.bad(`${path}.interfacePattern`, `not a regular expression: ${(e as Error).message}`)
    }
  }
  const fields = {
    socket: r.str(o['socket'], `${path}.socket`),
    socketMode: r.num(o['socketMode'], `${path}.socketMode`, 0, 0o777),
    stateFile: r.str(o['stateFile'], `${path}.stateFile`),
    interfacePattern: pattern,
    identity: r.oneOf(o['identity'], `${path}.identity`, ['peername', 'ipparam', 'peername-or-ipparam'] as const),
    att: r.num(o['att'], `${path}.att`, 0, 255),
    teardown: r.bool(o['teardown'], `${path}.teardown`),
    pidDir: r.str(o['pidDir'], `${path}.pidDir`),
  }
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as PppInit
}

/** The PPP access interfaces' names (a pattern checked at load, so this does not throw). */
export function pppPattern(p: PppInit): RegExp {
  try {
    return new RegExp(p.interfacePattern ?? DEFAULT_INTERFACE_PATTERN)
  } catch {
    return new RegExp(DEFAULT_INTERFACE_PATTERN)
  }
}

function readMock(r: Reader, raw: unknown, path: string): MockInit | undefined {
  if (raw === true || raw === null) return {}
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, ['att', 'script', 'stateFile'])
  const att = r.num(o['att'], `${path}.att`, 0, 255)
  const stateFile = r.str(o['stateFile'], `${path}.stateFile`)
  const steps = r.arr(o['script'], `${path}.script`)?.map((s, i): MockStep | undefined => {
    const sp = `${path}.script[${i}]`
    const so = r.obj(s, sp)
    if (!so) return undefined
    r.known(so, sp, ['afterMs', 'attach', 'detach'])
    const afterMs = r.num(so['afterMs'], `${sp}.afterMs`, 0, 86_400_000) ?? 0
    const body = r.obj(so['attach'] ?? so['detach'], `${sp}.${so['attach'] ? 'attach' : 'detach'}`)
    if (!body) return r.bad(sp, 'needs attach or detach')
    const step = { link: r.str(body['link'], `${sp}.link`), mnId: r.str(body['mnId'], `${sp}.mnId`), mac: r.mac(body['mac'], `${sp}.mac`) }
    const clean = Object.fromEntries(Object.entries(step).filter(([, v]) => v !== undefined)) as { link?: string; mnId?: string; mac?: string }
    if (so['attach']) {
      if (!clean.link) return r.bad(`${sp}.attach.link`, 'is required')
      return { afterMs, attach: { ...clean, link: clean.link } }
    }
    return { afterMs, detach: clean }
  })
  return {
    ...(att !== undefined ? { att } : {}),
    ...(stateFile !== undefined ? { stateFile } : {}),
    ...(steps ? { script: steps.filter((s): s is MockStep => s !== undefined) } : {}),
  }
}

const POLICY_KEYS = ['source', 'radius'] as const
const RADIUS_KEYS = ['servers', 'timeoutMs', 'retries', 'deadTimeMs', 'cacheTtl', 'retryInitialMs', 'retryMaxMs', 'maxPending', 'nasIdentifier', 'userPassword', 'requireMessageAuthenticator', 'hostMode', 'addressConfig', 'accounting', 'das'] as const

/** A shared secret file: readable, not empty, and readable by nobody but its owner. */
function secretFile(r: Reader, v: unknown, path: string): string | undefined {
  const f = r.str(v, path)
  if (f === undefined) return r.bad(path, 'is required (a file holding the shared secret; secrets are never inline)')
  let text: string
  try {
    const st = statSync(f)
    if ((st.mode & 0o077) !== 0) return r.bad(path, `${f} is readable by group or others (chmod 600 ${f})`)
    text = readFileSync(f, 'utf8')
  } catch (e) {
    return r.bad(path, `cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  if ((text.split(/\r?\n/)[0] ?? '').length === 0) return r.bad(path, `${f}: the secret (its first line) is empty`)
  return f
}

function ipAny(r: Reader, v: unknown, path: string): string | undefined {
  const s = r.str(v, path)
  if (s === undefined) return undefined
  return isIP(s) === 0 ? r.bad(path, `not an IP address: ${s}`) : isIP(s) === 6 ? canonicalIp6(s) : s
}

function readRadiusServers(r: Reader, raw: unknown, path: string, defaultPort: number): RadiusServerConfig[] {
  const list = r.arr(raw, path)
  if (!list || list.length === 0) {
    r.bad(path, 'needs at least one server ({ address, port, secretFile })')
    return []
  }
  return list
    .map((v, i): RadiusServerConfig | undefined => {
      const p = `${path}[${i}]`
      const o = r.obj(v, p)
      if (!o) return undefined
      r.known(o, p, ['address', 'port', 'secretFile'])
      const address = r.need(ipAny(r, o['address'], `${p}.address`), o['address'], `${p}.address`)
      const port = r.num(o['port'], `${p}.port`, 1, 65535) ?? defaultPort
      const sf = secretFile(r, o['secretFile'], `${p}.secretFile`)
      return address && sf ? { address, port, secretFile: sf } : undefined
    })
    .filter((x): x is RadiusServerConfig => x !== undefined)
}

function readAttributeMatch(r: Reader, raw: unknown, path: string): AttributeMatch | undefined {
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, ['type', 'vendor', 'vendorType', 'value'])
  const vendor = r.num(o['vendor'], `${path}.vendor`, 1, 0xffffff)
  const type = vendor !== undefined ? 26 : r.need(r.num(o['type'], `${path}.type`, 1, 255), o['type'], `${path}.type`)
  const vendorType = vendor !== undefined ? r.need(r.num(o['vendorType'], `${path}.vendorType`, 1, 255), o['vendorType'], `${path}.vendorType`) : undefined
  if (vendor === undefined && o['vendorType'] !== undefined) r.bad(`${path}.vendorType`, 'needs vendor')
  const value = o['value']
  if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff)) return r.bad(`${path}.value`, 'is required: text, or an integer for a 4-octet attribute')
  if (type === undefined) return undefined
  return { type, value, ...(vendor !== undefined ? { vendor } : {}), ...(vendorType !== undefined ? { vendorType } : {}) }
}

function readPolicy(r: Reader, raw: unknown, hasFileProfiles: boolean): PolicyConfig {
  const o = r.obj(raw, 'policy')
  if (!o) return { source: 'file' }
  r.known(o, 'policy', POLICY_KEYS)
  const source = r.oneOf(o['source'], 'policy.source', POLICY_SOURCES) ?? (o['radius'] !== undefined ? 'radius' : 'file')
  if (source === 'file') {
    if (o['radius'] !== undefined) r.bad('policy.radius', 'is only read with policy.source radius or radius-then-file')
    return { source }
  }
  if (source === 'radius' && hasFileProfiles) r.bad('profiles', 'not consulted with policy.source radius: use radius-then-file to fall back on them, or remove them (and unknownMn)')
  const path = 'policy.radius'
  const ro = r.obj(o['radius'], path) ?? r.bad(path, `is required with policy.source ${source}`)
  if (!ro) return { source }
  r.known(ro, path, RADIUS_KEYS)
  const servers = readRadiusServers(r, ro['servers'], `${path}.servers`, AUTH_PORT)
  const retryInitialMs = r.num(ro['retryInitialMs'], `${path}.retryInitialMs`, 100, 600_000) ?? 2000
  const retryMaxMs = r.num(ro['retryMaxMs'], `${path}.retryMaxMs`, 100, 3_600_000) ?? 60_000
  if (retryMaxMs < retryInitialMs) r.bad(`${path}.retryMaxMs`, `must be at least retryInitialMs (${retryInitialMs})`)
  const hostMode = ro['hostMode'] !== undefined ? readAttributeMatch(r, ro['hostMode'], `${path}.hostMode`) : undefined
  const nasIdentifier = r.str(ro['nasIdentifier'], `${path}.nasIdentifier`)
  let accounting: AccountingConfig | undefined
  if (ro['accounting'] !== undefined) {
    const ap = `${path}.accounting`
    const ao = r.obj(ro['accounting'], ap)
    if (ao) {
      r.known(ao, ap, ['servers', 'interimInterval'])
      const interim = r.num(ao['interimInterval'], `${ap}.interimInterval`, 0, 86_400) ?? 0
      if (interim > 0 && interim < 60) r.bad(`${ap}.interimInterval`, 'must be 0 (none) or at least 60 seconds (RFC 2869 §5.16)')
      accounting = { servers: readRadiusServers(r, ao['servers'], `${ap}.servers`, ACCT_PORT), interimIntervalS: interim }
    }
  }
  let das: DasConfig | undefined
  if (ro['das'] !== undefined) {
    const dp = `${path}.das`
    const d = r.obj(ro['das'], dp)
    if (d) {
      r.known(d, dp, ['listen', 'clients'])
      const listen = r.str(d['listen'], `${dp}.listen`) ?? `[::]:${DAS_PORT}`
      try {
        parseListen(listen)
      } catch (e) {
        r.bad(`${dp}.listen`, (e as Error).message)
      }
      const cl = r.arr(d['clients'], `${dp}.clients`)
      if (!cl || cl.length === 0) r.bad(`${dp}.clients`, 'needs at least one client ({ address, secretFile }): requests from anyone else are dropped')
      const clients = (cl ?? [])
        .map((v, i) => {
          const p = `${dp}.clients[${i}]`
          const co = r.obj(v, p)
          if (!co) return undefined
          r.known(co, p, ['address', 'secretFile'])
          const address = r.need(ipAny(r, co['address'], `${p}.address`), co['address'], `${p}.address`)
          const sf = secretFile(r, co['secretFile'], `${p}.secretFile`)
          return address && sf ? { address, secretFile: sf } : undefined
        })
        .filter((x): x is { address: string; secretFile: string } => x !== undefined)
      das = { listen, clients }
    }
  }
  const radius: RadiusPolicyConfig = {
    servers,
    timeoutMs: r.num(ro['timeoutMs'], `${path}.timeoutMs`, 50, 60_000) ?? 1000,
    retries: r.num(ro['retries'], `${path}.retries`, 0, 10) ?? 2,
    deadTimeMs: r.num(ro['deadTimeMs'], `${path}.deadTimeMs`, 0, 3_600_000) ?? 30_000,
    cacheTtlS: r.num(ro['cacheTtl'], `${path}.cacheTtl`, 0, 604_800) ?? 3600,
    retryInitialMs,
    retryMaxMs,
    maxPending: r.num(ro['maxPending'], `${path}.maxPending`, 1, 1_000_000) ?? 10_000,
    ...(nasIdentifier !== undefined ? { nasIdentifier } : {}),
    userPassword: r.oneOf(ro['userPassword'], `${path}.userPassword`, ['none', 'user-name'] as const) ?? 'none',
    requireMessageAuthenticator: r.bool(ro['requireMessageAuthenticator'], `${path}.requireMessageAuthenticator`) ?? true,
    ...(hostMode ? { hostMode } : {}),
    addressConfig: r.oneOf(ro['addressConfig'], `${path}.addressConfig`, ['stateless', 'stateful', 'both'] as const) ?? 'stateless',
    ...(accounting ? { accounting } : {}),
    ...(das ? { das } : {}),
  }
  return { source, radius }
}

/** Validates a parsed config document. Throws ConfigError listing every problem. */
export function validateConfig(doc: unknown, overrides: { logLevel?: string; controlSocket?: string } = {}): AgentConfig {
  const r = new Reader()
  const top = r.obj(doc, 'config')
  if (!top) throw new ConfigError([{ path: 'config', reason: 'must be a mapping (YAML or JSON object)' }])
  r.known(top, 'config', TOP_KEYS)
  const m = r.obj(top['mag'], 'mag') ?? r.bad('mag', 'is required') ?? {}
  r.known(m, 'mag', MAG_KEYS)

  const address = r.need(r.ip6(m['address'], 'mag.address'), m['address'], 'mag.address')
  if (address && isLinkLocal(parseIp6(address))) r.bad('mag.address', 'must be a global address (the Proxy-CoA), not link-local')
  const fixedLinkLocal = r.ip6(m['fixedLinkLocal'], 'mag.fixedLinkLocal')
  if (fixedLinkLocal && fixedLinkLocal !== '::' && !isLinkLocal(parseIp6(fixedLinkLocal))) r.bad('mag.fixedLinkLocal', 'must be a link-local address (fe80::/10)')
  const fixedLinkLayer = r.mac(m['fixedLinkLayer'], 'mag.fixedLinkLayer')
  const logLevel = r.oneOf(overrides.logLevel ?? m['logLevel'], overrides.logLevel ? '--log-level' : 'mag.logLevel', LOG_LEVELS) ?? 'info'

  const ra = r.obj(top['ra'], 'ra')
  r.known(ra, 'ra', ['maxIntervalMs', 'minIntervalMs', 'routerLifetime', 'minDelayBetweenRasMs', 'curHopLimit'])
  const raCfg: RaConfig = ra
    ? Object.fromEntries(
        Object.entries({
          maxIntervalMs: r.num(ra['maxIntervalMs'], 'ra.maxIntervalMs', 70, 1_800_000),
          minIntervalMs: r.num(ra['minIntervalMs'], 'ra.minIntervalMs', 30, 1_350_000),
          routerLifetimeS: r.num(ra['routerLifetime'], 'ra.routerLifetime', 0, 9000),
          minDelayBetweenRasMs: r.num(ra['minDelayBetweenRasMs'], 'ra.minDelayBetweenRasMs', 0, 3_600_000),
          curHopLimit: r.num(ra['curHopLimit'], 'ra.curHopLimit', 0, 255),
        }).filter(([, v]) => v !== undefined),
      )
    : {}
  if (raCfg.minIntervalMs !== undefined && raCfg.maxIntervalMs !== undefined && raCfg.minIntervalMs > 0.75 * raCfg.maxIntervalMs) {
    r.bad('ra.minIntervalMs', 'must be at most 0.75 x ra.maxIntervalMs (RFC 4861 §6.2.1)')
  }

  const linksRaw = r.obj(top['links'], 'links')
  const links: Record<string, LinkConfig> = {}
  for (const [name, v] of Object.entries(linksRaw ?? {})) {
    const p = `links.${name}`
    const lo = v === null ? {} : r.obj(v, p)
    if (!lo) continue
    r.known(lo, p, ['shared', 'mtu', 'localPrefix', 'linkLocal'])
    const l: LinkConfig = Object.fromEntries(
      Object.entries({
        shared: r.bool(lo['shared'], `${p}.shared`),
        mtu: r.num(lo['mtu'], `${p}.mtu`, 1280, 65535),
        localPrefix: r.prefix(lo['localPrefix'], `${p}.localPrefix`),
        linkLocal: r.ip6(lo['linkLocal'], `${p}.linkLocal`),
      }).filter(([, x]) => x !== undefined),
    )
    links[name] = l
  }

  const profiles = (r.arr(top['profiles'], 'profiles') ?? []).map((p, i) => readProfile(r, p, `profiles[${i}]`, false)).filter((p): p is PolicyProfile => p !== undefined)
  const seen = new Set<string>()
  profiles.forEach((p, i) => {
    if (seen.has(p.mnId)) r.bad(`profiles[${i}].mnId`, `duplicate MN identifier ${p.mnId}`)
    seen.add(p.mnId)
  })
  let unknownMn: UnknownMnPolicy = 'refuse'
  if (top['unknownMn'] !== undefined && top['unknownMn'] !== 'refuse') {
    const d = readProfile(r, top['unknownMn'], 'unknownMn', true)
    if (d) {
      const { mnId: _m, macs: _x, ...rest } = d
      unknownMn = { profile: rest as DefaultProfile }
    }
  }

  const drivers = r.obj(top['drivers'], 'drivers')
  for (const k of Object.keys(drivers ?? {})) if (!(DRIVER_NAMES as readonly string[]).includes(k)) r.bad(`drivers.${k}`, `unknown driver (known: ${DRIVER_NAMES.join(', ')})`)
  const mock = drivers && 'mock' in drivers ? readMock(r, drivers['mock'], 'drivers.mock') : undefined
  const hostapd = drivers && 'hostapd' in drivers ? readHostapd(r, drivers['hostapd'], 'drivers.hostapd') : undefined
  const ppp = drivers && 'ppp' in drivers ? readPpp(r, drivers['ppp'], 'drivers.ppp') : undefined

  const dhcp6Relay = top['dhcp6Relay'] !== undefined ? readDhcp6Relay(r, top['dhcp6Relay'], 'dhcp6Relay') : undefined
  const dhcp4 = top['dhcp4'] !== undefined ? readDhcp4(r, top['dhcp4'], 'dhcp4') : undefined
  const metrics = top['metrics'] !== undefined ? readMetrics(r, top['metrics'], 'metrics') : undefined
  const dataplane = top['dataplane'] !== undefined ? readDataplane(r, top['dataplane'], 'dataplane') : undefined

  const policy = readPolicy(r, top['policy'], profiles.length > 0 || (top['unknownMn'] !== undefined && top['unknownMn'] !== 'refuse'))
  const lmas = readLmas(r, top['lmas'], 'lmas')
  const transportInterfaces = r.arr(m['transportInterfaces'], 'mag.transportInterfaces')?.map((v, i) => {
    const p = `mag.transportInterfaces[${i}]`
    const s = r.str(v, p)
    if (s === undefined) return undefined
    if (!IFNAME_RE.test(s)) return r.bad(p, `not an interface name: ${s}`)
    // Signalling from an access link is never taken (ingress.ts): a link cannot be both.
    if (linksRaw && s in linksRaw) return r.bad(p, `${s} is an access link (links.${s})`)
    if (hostapd?.interfaces.some((h) => h.name === s)) return r.bad(p, `${s} is a hostapd access interface`)
    if (ppp && pppPattern(ppp).test(s)) return r.bad(p, `${s} matches drivers.ppp.interfacePattern (PPP access links)`)
    return s
  })
  if (transportInterfaces && transportInterfaces.length === 0) r.bad('mag.transportInterfaces', 'needs at least one interface (leave it out to take every interface that is not an access link)')

  const lmaMtuRaw = r.obj(m['lmaMtu'], 'mag.lmaMtu')
  const lmaMtu: Record<string, number> = {}
  for (const [k, v] of Object.entries(lmaMtuRaw ?? {})) {
    const a = r.ip6(k, `mag.lmaMtu.${k}`)
    const n = r.num(v, `mag.lmaMtu.${k}`, 1280, 65535)
    if (a && n) lmaMtu[a] = n
  }

  const core: MagCoreConfig = {
    profiles,
    unknownMn,
    links,
    ra: raCfg,
    ...optional('timestampBased', r.bool(m['timestampBased'], 'mag.timestampBased')),
    ...optional('lifetimeS', r.num(m['lifetime'], 'mag.lifetime', 4, 262_140)),
    ...optional('refreshFraction', r.num(m['refreshFraction'], 'mag.refreshFraction', 0.1, 0.95, false)),
    ...optional('maxRetransmissions', r.num(m['maxRetransmissions'], 'mag.maxRetransmissions', 0, 1_000_000)),
    ...optional('fixedLinkLocal', fixedLinkLocal),
    ...optional('fixedLinkLayer', fixedLinkLayer),
    ...optional('seed', r.num(m['seed'], 'mag.seed', 0, 0xffffffff)),
    ...optional('tunnelMtu', r.num(m['tunnelMtu'], 'mag.tunnelMtu', 1280, 65535)),
    ...optional('accessMtu', r.num(m['accessMtu'], 'mag.accessMtu', 1280, 65535)),
    ...optional('teardownOnReject', r.bool(m['teardownOnReject'], 'mag.teardownOnReject')),
    ...optional('initialSequence', r.num(m['initialSequence'], 'mag.initialSequence', 0, 0xffff)),
    ...optional('maxPbusInFlight', r.num(m['maxPbusInFlight'], 'mag.maxPbusInFlight', 1, 65_536)),
    // RFC 5847 §5: HEARTBEAT_INTERVAL (seconds, 0 = off) and MISSING_HEARTBEATS_ALLOWED.
    ...optional('heartbeatIntervalS', r.num(m['heartbeatInterval'], 'mag.heartbeatInterval', 0, MAX_HEARTBEAT_INTERVAL_S)),
    ...optional('heartbeatMissingThreshold', r.num(m['heartbeatMissingThreshold'], 'mag.heartbeatMissingThreshold', 1, 255)),
    ...optional('localPool', r.prefix(top['localPool'], 'localPool')),
    ...optional('localPrefixLength', r.num(top['localPrefixLength'], 'localPrefixLength', 1, 128)),
    ...optional('localPrefixLifetimeS', r.num(top['localPrefixLifetime'], 'localPrefixLifetime', 1, 0xffffffff)),
    ...(Object.keys(lmaMtu).length ? { lmaMtu } : {}),
    ...(Object.keys(lmas).length ? { lmas } : {}),
  }

  const cfg: AgentConfig = {
    address: address ?? '::',
    controlSocket: overrides.controlSocket ?? r.str(m['controlSocket'], 'mag.controlSocket') ?? DEFAULT_CONTROL_SOCKET,
    controlSocketMode: r.num(m['controlSocketMode'], 'mag.controlSocketMode', 0, 0o777) ?? 0o600,
    logLevel,
    shutdown: r.oneOf(m['shutdown'], 'mag.shutdown', ['deregister', 'keep'] as const) ?? 'deregister',
    shutdownTimeoutMs: r.num(m['shutdownTimeoutMs'], 'mag.shutdownTimeoutMs', 0, 60_000) ?? 3000,
    ...optional('realtimePriority', r.num(m['realtimePriority'], 'mag.realtimePriority', 1, 99)),
    drivers: { ...(mock ? { mock } : {}), ...(hostapd ? { hostapd } : {}), ...(ppp ? { ppp } : {}) },
    core,
    ...(dhcp6Relay ? { dhcp6Relay } : {}),
    ...(dhcp4 ? { dhcp4 } : {}),
    ...(metrics ? { metrics } : {}),
    ...(dataplane ? { dataplane } : {}),
    policy,
    ...(transportInterfaces && transportInterfaces.length > 0 ? { transportInterfaces: transportInterfaces.filter((x): x is string => x !== undefined) } : {}),
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems)
  return cfg
}

const DATAPLANE_KEYS = ['backend', 'table', 'rulePriority', 'maxTunnels', 'uplinkSelect', 'localRouting', 'pathMtu', 'enableForwarding', 'ipv4', 'greTable', 'maxGre'] as const

/** `dhcp4: { enabled?, maxLeaseSeconds?, dns? }` (an empty mapping turns it on). */
function readDhcp4(r: Reader, raw: unknown, path: string): Dhcp4Config | undefined {
  if (raw === null) raw = {}
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, ['enabled', 'maxLeaseSeconds', 'dns'])
  const dns = (r.arr(o['dns'], `${path}.dns`) ?? []).map((v, i) => {
    if (typeof v !== 'string' || !isIp4(v)) return r.bad(`${path}.dns[${i}]`, 'not an IPv4 address')
    return v
  })
  return {
    enabled: r.bool(o['enabled'], `${path}.enabled`) ?? true,
    maxLeaseSeconds: r.num(o['maxLeaseSeconds'], `${path}.maxLeaseSeconds`, 60, 0x7fffffff) ?? 3600,
    dns: dns.filter((x): x is string => typeof x === 'string'),
  }
}

/** `dataplane:` (an empty mapping turns it on with the defaults). */
function readDataplane(r: Reader, raw: unknown, path: string): DataplaneConfig | undefined {
  if (raw === null) raw = {}
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, DATAPLANE_KEYS)
  const table = r.num(o['table'], `${path}.table`, 1, 252) ?? 100
  const maxTunnels = r.num(o['maxTunnels'], `${path}.maxTunnels`, 1, 250) ?? 64
  if (table + maxTunnels + 3 > 253) r.bad(`${path}.table`, `table ${table} leaves no room for maxTunnels ${maxTunnels} + 3 tables below 253 (the kernel's own tables)`)
  const rulePriority = r.num(o['rulePriority'], `${path}.rulePriority`, 1, 32760) ?? 1000
  const pathMtu = r.num(o['pathMtu'], `${path}.pathMtu`, 1320, 65535)
  const maxGre = r.num(o['maxGre'], `${path}.maxGre`, 1, 65_536) ?? 1024
  // Above the kernel's own tables (253-255), so never among the range of `table`.
  const greTable = r.num(o['greTable'], `${path}.greTable`, 256, 0xffffffff - 2 * 65_536) ?? 10_000
  return {
    backend: r.oneOf(o['backend'], `${path}.backend`, ['auto', 'ip6tnl', 'seg6'] as const) ?? 'auto',
    table,
    rulePriority,
    maxTunnels,
    uplinkSelect: r.oneOf(o['uplinkSelect'], `${path}.uplinkSelect`, ['rule', 'subtree'] as const) ?? 'rule',
    localRouting: r.bool(o['localRouting'], `${path}.localRouting`) ?? false,
    ...(pathMtu !== undefined ? { pathMtu } : {}),
    enableForwarding: r.bool(o['enableForwarding'], `${path}.enableForwarding`) ?? true,
    ipv4: r.bool(o['ipv4'], `${path}.ipv4`) ?? false,
    greTable,
    maxGre,
  }
}

/** `metrics: { listen: host:port, views?: boolean }`: off unless configured. */
function readMetrics(r: Reader, raw: unknown, path: string): MetricsConfig | undefined {
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, ['listen', 'views'])
  const listen = r.str(o['listen'], `${path}.listen`)
  const views = o['views']
  if (views !== undefined && typeof views !== 'boolean') r.bad(`${path}.views`, 'must be true or false')
  if (listen === undefined) {
    r.bad(`${path}.listen`, 'is required (host:port or [v6]:port, e.g. 127.0.0.1:9477)')
    return undefined
  }
  try {
    parseListen(listen)
  } catch (e) {
    r.bad(`${path}.listen`, (e as Error).message)
    return undefined
  }
  return { listen, ...(views === true ? { views: true } : {}) }
}

function optional<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V }
}

/** Reads and validates a YAML or JSON file. */
export function loadConfig(path: string, overrides: { logLevel?: string; controlSocket?: string } = {}): AgentConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError([{ path, reason: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }])
  }
  let doc: unknown
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (e) {
    throw new ConfigError([{ path, reason: `not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}` }])
  }
  return validateConfig(doc, overrides)
}
