/**
 * `mag run`: loads and validates the config (nothing is touched before it passes), opens the
 * raw sockets, starts the drivers, the daemon and the control socket, and handles signals:
 * SIGTERM/SIGINT stop cleanly (de-registering first unless `mag.shutdown: keep`), SIGHUP
 * reloads the profiles.
 */
import { startMetricsServer, type MetricsServer } from './metrics'
import type { AccessDriver } from '@pmip6/driver-api'
import { mock } from '@pmip6/driver-mock'
import { hostapd } from '@pmip6/driver-hostapd'
import { ppp } from '@pmip6/driver-ppp'
import { loadConfig, type AgentConfig } from './config'
import { ControlServer, type ControlHandler, type ControlRequest, ControlError } from './control'
import { MagDaemon, type DataPlane } from './daemon'
import { writeRows, listJson, pageJson, Turns } from './listing'
import { greStartProblem, openKernelDataPlane } from './forwarding'
import { startDhcp6Relay, type Dhcp6RelayHandle } from './dhcp6'
import { startDhcp4, type Dhcp4Handle } from './dhcp4'
import { RawIo, type MagIo } from './io'
import { LinkWatcher, NetlinkLinkAddresses } from '@pmip6/dataplane'
import { createLogger, child } from './log'
import { systemClock, type Clock } from './timers'
import type winston from 'winston'
import type { HandoffHint } from '@pmip6/driver-api'
import { ACCESS_TECH_BY_NAME } from '@pmip6/driver-api'
import { clockSynced, setThreadRealtime } from '@pmip6/rawsock'
import { AaaPolicy } from './radius/aaa'
import { Accounting } from './radius/accounting'
import { DasServer, type SessionIds } from './radius/das'
import { ErrorCause } from './radius/constants'
import type { PolicyProfile, UnknownMnPolicy } from '@pmip6/core'

export interface RunOptions {
  readonly config: string
  readonly logLevel?: string
  readonly socket?: string
}

export interface RunningMag {
  readonly daemon: MagDaemon
  readonly control: ControlServer
  readonly log: winston.Logger
  /** The DHCPv6 relay, when `dhcp6Relay.enabled`. */
  readonly dhcp6Relay: Dhcp6RelayHandle | null
  /** Where the metrics listener is bound (its port when configured as 0), when configured. */
  readonly metricsAddress: { host: string; port: number } | null
  /** Where the RFC 5176 Dynamic Authorization Server listens, when configured. */
  readonly dasAddress: { host: string; port: number } | null
  stop(deregister?: boolean): Promise<void>
  /** Reloads the profiles from the config file (and drops the RADIUS profile cache). */
  reload(): unknown
}

export interface StartDeps {
  readonly io?: MagIo
  readonly clock?: Clock
  readonly dataplane?: DataPlane
  readonly logStream?: NodeJS.WritableStream
  /** Kernel clock state (default: adjtimex through @pmip6/rawsock). */
  readonly clockSynced?: () => boolean
}

function str(req: ControlRequest, k: string): string | undefined {
  const v = req[k]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new ControlError(`"${k}" must be a string`)
  return v
}

function attTech(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = ACCESS_TECH_BY_NAME[v]
  if (n !== undefined) return n
  if (/^\d{1,3}$/.test(v) && Number(v) <= 255) return Number(v)
  throw new ControlError(`unknown access technology "${v}" (wifi, ppp, ethernet, virtual or a number)`)
}

/**
 * Above this many bindings `bindings` answers in pages only: built in slices it never stalls the
 * MAG, but its answer is one line the client holds whole (~600 bytes a row).
 */
export const UNPAGED_BINDINGS_MAX = 10_000
/** Largest page. Built in slices (listing.ts), its size bounds the client's memory, not the MAG's stalls. */
export const BINDINGS_PAGE_MAX = 1000
export const BINDINGS_PAGE_DEFAULT = 500

/** `after` and `limit` of a page request, checked (the control socket and the HTTP view share it). */
export function pageArgs(after: unknown, limit: unknown): [after: number, limit: number] {
  const l = limit === undefined ? BINDINGS_PAGE_DEFAULT : Number(limit)
  if (!Number.isInteger(l) || l < 1 || l > BINDINGS_PAGE_MAX) throw new ControlError(`"limit" must be an integer from 1 to ${BINDINGS_PAGE_MAX}`)
  const a = after === undefined ? 0 : Number(after)
  if (!Number.isInteger(a) || a < 0) throw new ControlError('"after" must be the "next" of the page before (a non-negative integer)')
  return [a, l]
}

const HINTS: readonly HandoffHint[] = ['new', 'same-interface', 'other-interface', 'unknown']

/**
 * `ready` in `status`: the data plane, the links, the drivers (and the relay) are up and the MAG
 * answers (the control socket opens last); false again once it stops. Scripts wait on it.
 */
export function controlHandlers(d: MagDaemon, reload: () => unknown, isReady: () => boolean = () => true, control: () => ControlServer | null = () => null): Map<string, ControlHandler> {
  const m = new Map<string, ControlHandler>()
  const needMock = () => {
    const mk = d.mock
    if (!mk) throw new ControlError('the mock driver is not enabled (drivers.mock in the config)')
    return mk
  }
  m.set('attach', (req) => {
    const hint = str(req, 'hint')
    if (hint !== undefined && !(HINTS as readonly string[]).includes(hint)) throw new ControlError(`hint must be one of ${HINTS.join(', ')}`)
    const link = str(req, 'link')
    if (!link) throw new ControlError('attach needs "link"')
    const mnId = str(req, 'mn')
    const mac = str(req, 'mac')
    const att = attTech(str(req, 'att'))
    const f = needMock().attach({ link, ...(mnId ? { mnId } : {}), ...(mac ? { mac } : {}), ...(att !== undefined ? { att } : {}), ...(hint ? { hint: hint as HandoffHint } : {}) })
    return { attached: f }
  })
  // A crowd of synthetic MNs in one request (labs and storm benchmarks): <prefix><i>@<realm>,
  // MAC 0a:00:00 + the 24-bit index, all on one link.
  m.set('attach-range', (req) => {
    const link = str(req, 'link')
    if (!link) throw new ControlError('attach-range needs "link"')
    const count = Number(req['count'])
    const start = req['start'] === undefined ? 1 : Number(req['start'])
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new ControlError('attach-range needs "count" between 1 and 1000000')
    if (!Number.isInteger(start) || start < 0 || start + count > 0xffffff) throw new ControlError('attach-range "start" + "count" must stay below 16777215')
    const prefix = str(req, 'mnPrefix') ?? 'mn'
    const realm = str(req, 'realm') ?? 'example.com'
    const att = attTech(str(req, 'att'))
    const mk = needMock()
    for (let i = start; i < start + count; i++) {
      const mac = `0a:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
      mk.attach({ link, mnId: `${prefix}${i}@${realm}`, mac, ...(att !== undefined ? { att } : {}), hint: 'new' })
    }
    return { attached: count, first: `${prefix}${start}@${realm}`, last: `${prefix}${start + count - 1}@${realm}` }
  })
  m.set('detach', (req) => {
    const mnId = str(req, 'mn')
    const link = str(req, 'link')
    const mac = str(req, 'mac')
    const n = needMock().detach({ ...(mnId ? { mnId } : {}), ...(link ? { link } : {}), ...(mac ? { mac } : {}), cause: 'left' })
    if (n === 0) throw new ControlError(`no attached MN matches ${JSON.stringify({ mn: mnId, link, mac })}`)
    return { detached: n }
  })
  // Benchmarks measure retained heap: a full collection first when node runs with --expose-gc.
  m.set('gc', () => {
    const gc = (globalThis as { gc?: () => void }).gc
    if (!gc) throw new ControlError('start the daemon with node --expose-gc to allow this')
    gc()
    return { heapUsedBytes: process.memoryUsage().heapUsed }
  })
  // A page: {"limit": n, "after": cursor} -> {bindings, next}; a page may be short (at most
  // PAGE_SLOTS_MAX slots are looked at), only next: null ends the list. The whole list in one
  // answer only while it is small. Both are built in slices: never more than a few ms of the
  // event loop in one go, however long the list (issue 23).
  m.set('bindings', (req) => {
    if (req['limit'] === undefined && req['after'] === undefined) {
      const n = d.bindingCount()
      if (n > UNPAGED_BINDINGS_MAX) throw new ControlError(`${n} bindings: ask for them in pages ("limit" up to ${BINDINGS_PAGE_MAX}, then "after" set to the "next" of the page before)`)
      return listJson(d.listing)
    }
    return pageJson(d.listing, ...pageArgs(req['after'], req['limit']))
  })
  m.set('status', () => {
    const mem = process.memoryUsage()
    const c = control()
    return {
      ready: isReady(),
      ...d.status(),
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external, arrayBuffersBytes: mem.arrayBuffers },
      pid: process.pid,
      ...(c ? { control: { longestReplyMs: Math.round(c.longestReplyMs * 1000) / 1000 } } : {}),
    }
  })
  m.set('policy', (req) => {
    const mnId = str(req, 'mn')
    const mode = str(req, 'mode')
    if (!mnId) throw new ControlError('policy needs "mn"')
    if (mode !== 'network' && mode !== 'host') throw new ControlError('mode must be network or host')
    d.enqueue({ type: 'policy', at: Date.now(), mnId, mode })
    return { mnId, mode }
  })
  m.set('admin-clear', (req) => {
    const mnId = str(req, 'mn')
    d.enqueue({ type: 'admin-clear', at: Date.now(), ...(mnId ? { mnId } : {}) })
    return { cleared: mnId ?? 'all' }
  })
  m.set('clock-synced', () => {
    d.enqueue({ type: 'clock-synced', at: Date.now() })
    return {}
  })
  m.set('reload', () => reload())
  m.set('latency-reset', () => {
    d.registrationLatency.reset()
    d.lmaRoundTrip.reset()
    d.magProcessing.reset()
    control()?.resetLongestReply()
    return {}
  })
  return m
}

export async function startMag(cfg: AgentConfig, configPath: string | null, deps: StartDeps = {}): Promise<RunningMag> {
  const log = createLogger(cfg.logLevel, deps.logStream)
  const clock = deps.clock ?? systemClock
  const io = deps.io ?? new RawIo()
  const drivers = new Map<string, AccessDriver>()
  const dctx = (name: string) => ({ log: child(log, `driver-${name}`), clock })
  if (cfg.drivers.mock) drivers.set('mock', mock(cfg.drivers.mock, dctx('mock')))
  if (cfg.drivers.hostapd) drivers.set('hostapd', hostapd(cfg.drivers.hostapd, dctx('hostapd')))
  if (cfg.drivers.ppp) drivers.set('ppp', ppp(cfg.drivers.ppp, dctx('ppp')))
  // The data plane first: its start removes leftovers of an earlier run and tells the tunnel MTU
  // (RFC 5213 §6.9.5) for the RAs. A failure here stops the start before any MN is served.
  let dataplane = deps.dataplane
  // The operator's own tunnel MTU, before the data plane's fills the gap: it caps what is learnt (§6.9.5).
  const tunnelMtuCap = cfg.core.tunnelMtu
  if (!dataplane && cfg.dataplane) {
    const k = await openKernelDataPlane(cfg, cfg.dataplane, child(log, 'dataplane'))
    dataplane = k
    if (cfg.core.tunnelMtu === undefined) cfg = { ...cfg, core: { ...cfg.core, tunnelMtu: k.tunnelMtu } }
  } else if (!dataplane) {
    log.warn('no data plane configured (dataplane: in the config): signalling only, nothing is forwarded')
  }
  // RFC 5845: whether the kernel makes ip6gre devices is known only once the data plane is open;
  // GRE keys the config asks for and it cannot carry stop the start, naming the fields.
  const greProblem = dataplane?.gre === false ? greStartProblem(cfg, false) : null
  if (greProblem !== null) {
    await dataplane?.close?.(false)
    throw new Error(greProblem)
  }
  // With real sockets, the kernel too: router addresses on access links (RFC 5213 §6.9.1.2 item
  // 15) and link MTU reports (§6.9.5). An in-memory I/O has neither.
  const dlog = child(log, 'daemon')
  const linkAddresses = deps.io ? undefined : new NetlinkLinkAddresses((e) => dlog.warn('netlink socket error (link addresses)', { error: e.message }))
  const daemon = new MagDaemon(cfg, { log: dlog, clock, io, drivers, clockSynced: deps.clockSynced ?? clockSynced, ...(dataplane ? { dataplane } : {}), ...(linkAddresses ? { linkAddresses } : {}), ...(tunnelMtuCap !== undefined ? { tunnelMtuCap } : {}) })
  let watcher: LinkWatcher | null = null
  if (!deps.io) {
    try {
      watcher = new LinkWatcher((l) => daemon.linkMtu(l.name, l.mtu), (e) => dlog.warn('netlink socket error (link events)', { error: e.message }))
      const uplink = await watcher.addressDev(cfg.address)
      const links = await watcher.links()
      const up = links.find((l) => l.name === uplink)
      if (up) daemon.setUplink(up.name, up.mtu)
      else dlog.warn('the Proxy-CoA is on no interface: the tunnel MTU does not follow the uplink', { address: cfg.address })
      for (const l of links) daemon.linkMtu(l.name, l.mtu)
    } catch (e) {
      dlog.warn('link events unavailable: the tunnel MTU stays as configured', { error: (e as Error).message })
    }
  }
  // The RADIUS policy source (policy.source radius / radius-then-file), its accounting and its
  // Dynamic Authorization Server (RFC 5176).
  const pcfg = cfg.policy
  const alog = child(log, 'aaa')
  const aaa = pcfg && pcfg.source !== 'file' && pcfg.radius ? new AaaPolicy(pcfg.source, pcfg.radius, cfg.core.profiles, cfg.core.unknownMn ?? 'refuse', cfg.address, daemon, alog, clock, cfg.dataplane?.ipv4 === true) : null
  const rcfg = pcfg?.radius
  const nas = { ipv6: cfg.address, ...(rcfg?.nasIdentifier ? { identifier: rcfg.nasIdentifier } : {}) }
  const accounting =
    aaa && rcfg?.accounting ? new Accounting(rcfg.accounting, daemon, nas, (mnId) => aaa.profileOf(mnId)?.classes ?? [], alog, clock, rcfg.timeoutMs, rcfg.retries, rcfg.deadTimeMs) : null
  if (aaa) {
    daemon.useAaa(aaa, accounting ? () => accounting.views() : undefined)
    if (accounting) {
      daemon.onBindingsChanged((changed) => accounting.changed(changed))
      daemon.addCounters('accounting.', () => accounting.counters.snapshot())
    }
  }
  const sessionMn = (ids: SessionIds): string | undefined => {
    if (!aaa) return undefined
    for (const id of [ids.mobileNodeId, ids.userName, ids.callingStationId]) {
      if (id === undefined) continue
      const mn = aaa.mnIdFor(id) ?? (daemon.hasBinding(id) ? id : undefined)
      if (mn) return mn
    }
    return ids.acctSessionId !== undefined ? accounting?.sessionOf(ids.acctSessionId) : undefined
  }
  const heldKey = (ids: SessionIds): string | undefined => {
    for (const id of [ids.mobileNodeId, ids.userName, ids.callingStationId]) if (id !== undefined && aaa?.heldKey(id)) return id
    return undefined
  }
  const das =
    aaa && rcfg?.das
      ? new DasServer(
          rcfg.das,
          nas,
          {
            disconnect(ids) {
              const mn = sessionMn(ids)
              const held = heldKey(ids)
              if (!mn && !held) return ErrorCause.SESSION_CONTEXT_NOT_FOUND
              if (held) aaa.dropProfile(held)
              if (mn) {
                accounting?.noteDisconnect(mn)
                daemon.disconnect(mn)
                aaa.dropProfile(mn)
              }
              return true
            },
            coa(ids) {
              const mn = sessionMn(ids) ?? heldKey(ids)
              if (!mn) return ErrorCause.SESSION_CONTEXT_NOT_FOUND
              aaa.dropProfile(mn)
              return true
            },
          },
          child(log, 'das'),
        )
      : null
  if (das) daemon.addCounters('das.', () => das.counters.snapshot())
  const applyProfiles = (profiles: readonly PolicyProfile[], unknownMn: UnknownMnPolicy | undefined): void => {
    if (aaa) aaa.reload(profiles, unknownMn ?? 'refuse')
    else daemon.enqueue({ type: 'profiles', at: clock.now(), profiles, ...(unknownMn ? { unknownMn } : {}) })
  }
  const reload = () => {
    if (!configPath) throw new ControlError('no config file to reload')
    const next = loadConfig(configPath)
    applyProfiles(next.core.profiles, next.core.unknownMn)
    log.info('profiles reloaded', { profiles: next.core.profiles.length, ...(aaa ? { radiusCacheDropped: true } : {}) })
    return { profiles: next.core.profiles.length }
  }
  let phase: 'starting' | 'ready' | 'stopping' = 'starting'
  // The handlers run only once the server below is listening.
  const handlers = controlHandlers(daemon, reload, () => phase === 'ready', () => control)
  const control = new ControlServer(cfg.controlSocket, handlers, cfg.controlSocketMode)
  daemon.addCounters('control.', () => ({ ...control.counters }))
  let dhcp6Relay: Dhcp6RelayHandle | null = null
  let dhcp4: Dhcp4Handle | null = null
  let metrics: MetricsServer | null = null
  let dasAddress: { host: string; port: number } | null = null
  try {
    if (das) {
      dasAddress = await das.start()
      log.info('das listening (RFC 5176)', dasAddress)
    }
    await daemon.start()
    if (cfg.dhcp6Relay?.enabled) dhcp6Relay = startDhcp6Relay(daemon, cfg.dhcp6Relay, child(log, 'dhcp6-relay'))
    if (cfg.dhcp4?.enabled) dhcp4 = await startDhcp4(daemon, cfg.dhcp4, child(log, 'dhcp4'))
    await control.start()
    if (cfg.metrics) {
      // The HTTP views answer exactly what the control socket answers: one handler each.
      const view = (cmd: 'bindings' | 'status') => () => handlers.get(cmd)!({ cmd }, new Turns())
      metrics = await startMetricsServer(cfg.metrics, () => daemon.status(), { '/bindings': view('bindings'), '/status': view('status') }, (after, limit, turns, write, comma) => writeRows(daemon.listing, ...pageArgs(after, limit), turns, write, undefined, comma))
      log.info('metrics endpoint ready', { url: `http://${cfg.metrics.listen}/metrics`, views: cfg.metrics.views === true })
    }
  } catch (e) {
    watcher?.close()
    await metrics?.close()
    dhcp6Relay?.stop()
    await dhcp4?.stop().catch(() => undefined)
    await dataplane?.close?.(false).catch(() => undefined)
    await daemon.stop(false).catch(() => undefined)
    await control.stop().catch(() => undefined)
    das?.stop()
    await accounting?.close(0)
    throw e
  }
  phase = 'ready'
  log.info('control socket ready', { path: cfg.controlSocket, ready: true })
  let stopping: Promise<void> | null = null
  return {
    daemon,
    control,
    log,
    dhcp6Relay,
    metricsAddress: metrics?.address ?? null,
    dasAddress,
    reload,
    stop(deregister?: boolean) {
      stopping ??= (async () => {
        phase = 'stopping'
        await control.stop()
        await metrics?.close()
        dhcp6Relay?.stop()
        await dhcp4?.stop()
        watcher?.close()
        das?.stop()
        await daemon.stop(deregister)
        await accounting?.close(rcfg ? rcfg.timeoutMs * (rcfg.retries + 1) : 0)
      })()
      return stopping
    },
  }
}

/**
 * The event-loop thread under SCHED_RR (issue 23): on a loaded CPU every wake-up of an ordinary
 * task (an attach, a PBA) waits behind the others, which under two CPU hogs put milliseconds
 * into each registration. Only the `mag run` process does this, never a test's in-process MAG.
 */
export function applyRealtimePriority(priority: number, field: string): void {
  try {
    setThreadRealtime(priority)
  } catch (e) {
    throw new Error(`${field}: cannot run at SCHED_RR priority ${priority} (${(e as Error).message}); it needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least ${priority}`)
  }
}

/** The `mag run` process: start, then live until a signal. */
export async function runMag(opts: RunOptions): Promise<void> {
  const cfg = loadConfig(opts.config, { ...(opts.logLevel ? { logLevel: opts.logLevel } : {}), ...(opts.socket ? { controlSocket: opts.socket } : {}) })
  if (cfg.realtimePriority !== undefined) applyRealtimePriority(cfg.realtimePriority, 'mag.realtimePriority')
  const mag = await startMag(cfg, opts.config)
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      mag.log.info('signal', { signal: sig })
      void mag.stop().then(resolve, (e: unknown) => {
        mag.log.error('stop failed', { error: (e as Error).message })
        resolve()
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    process.on('SIGHUP', () => {
      try {
        mag.log.info('profiles reloaded (SIGHUP)', mag.reload() as Record<string, unknown>)
      } catch (e) {
        mag.log.error('reload failed, keeping the running profiles', { error: (e as Error).message })
      }
    })
  })
  // Winston writes asynchronously; give the last lines a moment before exiting.
  await new Promise((r) => setTimeout(r, 50))
}
