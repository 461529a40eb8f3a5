/**
 * The daemon's configuration file (YAML or JSON), validated at load. Every invalid field is
 * reported with its path and the reason, all at once, before anything touches the system.
 * The result is a `AgentConfig`; the core gets only the `MagCoreConfig` part it needs.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { isIp6, parseMac, parsePrefix, canonicalIp6, isLinkLocal, parseIp6 } from '@pmip6/wire'
import type { MagCoreConfig, PolicyProfile, LinkConfig, UnknownMnPolicy, DefaultProfile, RaConfig } from '@pmip6/core'
import type { MockInit, MockStep } from '@pmip6/driver-mock'

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
  readonly drivers: { readonly mock?: MockInit }
  readonly core: MagCoreConfig
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

const TOP_KEYS = ['mag', 'ra', 'links', 'localPool', 'localPrefixLength', 'localPrefixLifetime', 'drivers', 'profiles', 'unknownMn'] as const
const MAG_KEYS = [
  'address',
  'controlSocket',
  'controlSocketMode',
  'logLevel',
  'shutdown',
  'shutdownTimeoutMs',
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
] as const
const PROFILE_KEYS = ['mnId', 'lma', 'homePrefixes', 'prefixLifetime', 'addressConfig', 'mode', 'macs', 'otherConfig'] as const

export const DEFAULT_CONTROL_SOCKET = '/run/mag/mag.sock'

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
  }
  return p
}

function readMock(r: Reader, raw: unknown, path: string): MockInit | undefined {
  if (raw === true || raw === null) return {}
  const o = r.obj(raw, path)
  if (!o) return undefined
  r.known(o, path, ['att', 'script'])
  const att = r.num(o['att'], `${path}.att`, 0, 255)
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
  return { ...(att !== undefined ? { att } : {}), ...(steps ? { script: steps.filter((s): s is MockStep => s !== undefined) } : {}) }
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
  r.known(drivers, 'drivers', ['mock'])
  const mock = drivers && 'mock' in drivers ? readMock(r, drivers['mock'], 'drivers.mock') : undefined

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
    ...optional('localPool', r.prefix(top['localPool'], 'localPool')),
    ...optional('localPrefixLength', r.num(top['localPrefixLength'], 'localPrefixLength', 1, 128)),
    ...optional('localPrefixLifetimeS', r.num(top['localPrefixLifetime'], 'localPrefixLifetime', 1, 0xffffffff)),
    ...(Object.keys(lmaMtu).length ? { lmaMtu } : {}),
  }

  const cfg: AgentConfig = {
    address: address ?? '::',
    controlSocket: overrides.controlSocket ?? r.str(m['controlSocket'], 'mag.controlSocket') ?? DEFAULT_CONTROL_SOCKET,
    controlSocketMode: r.num(m['controlSocketMode'], 'mag.controlSocketMode', 0, 0o777) ?? 0o600,
    logLevel,
    shutdown: r.oneOf(m['shutdown'], 'mag.shutdown', ['deregister', 'keep'] as const) ?? 'deregister',
    shutdownTimeoutMs: r.num(m['shutdownTimeoutMs'], 'mag.shutdownTimeoutMs', 0, 60_000) ?? 3000,
    drivers: mock ? { mock } : {},
    core,
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems)
  return cfg
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
