/**
 * The lab LMA runner: the one place where the pure core (lma-core.ts) meets the world. It feeds
 * MH messages from an MhTransport (a raw IPPROTO_MH socket by default) and timer expiries into
 * `core.step`, executes the commands that come out (send, arm/cancel timers), logs binding
 * changes, re-emits them for a data plane to follow, and serves the control socket.
 *
 * Start order: the data plane first (when configured, §5.6), then the MH socket, then the control
 * socket, so the LMA never answers a PBU it cannot route, and a control socket that answers
 * means a ready LMA (`status().ready`, false again once it stops). A PBA that creates, moves or
 * refreshes a binding leaves only once the binding's forwarding change is done.
 *
 * RFC 5213 §5 behaviour lives in the core; this file adds no protocol logic. Left out:
 * persistence of the Restart Counter across real restarts.
 */
import { EventEmitter } from 'node:events'
import type { MhMessage } from '@pmip6/wire'
import { LmaCore, type BindingView, type FaultPatch, type FaultState, type LmaCommand, type LmaEvent, type LmaStatus } from './lma-core'
import type { LmaConfig } from './config'
import { startControlServer, type ControlServer } from './control'
import { silentLogger, type LogMeta, type Logger } from './logger'
import { openRawMhTransport, type MhTransport } from './transport'
import { lmaForwarding, openKernelDataPlane, type LmaDataPlane, type LmaForwarding } from './forwarding'

/** setTimeout's largest delay (2^31 - 1 ms); longer timers are re-armed in steps. */
const MAX_TIMEOUT_MS = 0x7fff_ffff

export type BindingEvent = Extract<LmaCommand, { type: 'binding-created' | 'binding-updated' | 'binding-moved' | 'binding-deleted' }>
export type SendEvent = Extract<LmaCommand, { type: 'send' }>

export type LmaHandleEvents = {
  /** A binding was created, refreshed/de-registered, moved to another MAG, or deleted. */
  binding: [ev: BindingEvent]
  /** A message went out (after any fault delay). */
  sent: [ev: SendEvent]
  /** A message was not answered (malformed, fault, unexpected kind). */
  dropped: [ev: Extract<LmaCommand, { type: 'dropped' }>]
}

export interface StartLmaOptions {
  readonly log?: Logger
  /** Default: a raw IPPROTO_MH socket (needs CAP_NET_RAW), bound to `config.interface` if set. */
  readonly transport?: MhTransport
  /** Wall clock, ms since 1970 (tests may pass their own). */
  readonly now?: () => number
  /** Overrides `config.controlSocket`; null: no control socket. */
  readonly controlSocket?: string | null
  /**
   * Opens the data plane when `config.dataplane` is set (default: the kernel's, through
   * rtnetlink); null: signalling only whatever the config says.
   */
  readonly openDataplane?: ((config: LmaConfig, log: Logger) => Promise<LmaDataPlane>) | null
}

export interface LmaRunStatus extends LmaStatus {
  /** True from the moment the data plane, the MH socket and the control socket are open until stop. */
  readonly ready: boolean
  readonly uptimeMs: number
  readonly controlSocket?: string
  /** The data plane, when there is one: its backend, tunnels, bindings, failed changes. */
  readonly dataplane?: { readonly backend: string; readonly failures: number; readonly state?: unknown }
}

export interface LmaHandle {
  readonly core: LmaCore
  readonly transport: MhTransport
  readonly controlSocket: string | undefined
  readonly events: EventEmitter<LmaHandleEvents>
  /** The data plane the runner drives, when configured. */
  readonly forwarding: LmaForwarding | undefined
  status(): LmaRunStatus
  bindings(): BindingView[]
  /** Applies a fault patch (as the control socket's `fault` command does) and returns the knobs. */
  fault(patch: FaultPatch): FaultState
  /** Closes the control socket, the transport and the data plane and cancels every timer. Idempotent. */
  stop(): Promise<void>
}

function describeMsg(m: MhMessage): Record<string, unknown> {
  switch (m.kind) {
    case 'binding-ack':
      return { kind: 'pba', status: m.status, seq: m.sequence, lifetime: m.lifetime }
    case 'heartbeat':
      return { kind: 'heartbeat', seq: m.sequence, response: m.flags.r }
    case 'binding-error':
      return { kind: 'binding-error', status: m.status }
    case 'binding-update':
      return { kind: 'pbu', seq: m.sequence }
    case 'other':
      return { kind: 'other', mhType: m.mhType }
  }
}

export async function startLma(config: LmaConfig, opts: StartLmaOptions = {}): Promise<LmaHandle> {
  const log = opts.log ?? silentLogger
  const now = opts.now ?? ((): number => Date.now())
  const core = new LmaCore(config)
  const startedAt = now()
  const events = new EventEmitter<LmaHandleEvents>()
  const timers = new Map<string, NodeJS.Timeout>()
  let stopped = false
  let ready = false

  // The lines of a step are written once its answer is out (issue 23): winston formats and
  // writes synchronously, and at info level the binding lines (and the data plane's, such as a
  // new MAG's 'tunnel up') came before the PBA they describe. A PBA held behind forwarding
  // writes them when its chain ends.
  const lines: [string, LogMeta][] = []
  let holding = false
  const writeLines = (): void => {
    if (holding || lines.length === 0) return
    for (const [msg, meta] of lines.splice(0)) log.info(msg, meta)
  }
  /**
   * Per MN, the forwarding changes not finished yet and the answers held behind them, in order:
   * a PBA leaves once the route it announces is in place (§5.6.1 before the MAG forwards).
   */
  const held = new Map<string, Promise<void>>()
  const after = (mnId: string, fn: () => void | Promise<void>): void => {
    const prev = held.get(mnId)
    let run: Promise<void>
    if (prev !== undefined) run = prev.then(fn)
    else {
      // Nothing ahead for this MN: start now (a forwarding change begins in this very step).
      try {
        run = Promise.resolve(fn())
      } catch (e) {
        run = Promise.reject(e as Error)
      }
    }
    const next = run.catch((e: unknown) => log.error('lma held action failed', { mnId, error: e instanceof Error ? e.message : String(e) }))
    held.set(mnId, next)
    void next.then(() => {
      // Only the chain's last action writes: this reaction runs before the next action's (the
      // PBA), which was chained on `next` later.
      if (held.get(mnId) !== next) return
      held.delete(mnId)
      writeLines()
    })
  }
  /** The data plane's info lines wait with the step's own while answers are held. */
  const dataplaneLog: Logger = {
    debug: (msg, meta) => log.debug(msg, meta),
    info: (msg, meta) => {
      if (holding || held.size > 0) lines.push([msg, meta ?? {}])
      else log.info(msg, meta)
    },
    warn: (msg, meta) => log.warn(msg, meta),
    error: (msg, meta) => log.error(msg, meta),
    isLevelEnabled: (level) => log.isLevelEnabled?.(level) ?? true,
  }

  // RFC 5213 §5.6: routes follow bindings, so the data plane opens before anything can bind.
  let forwarding: LmaForwarding | undefined
  if (config.dataplane !== undefined && opts.openDataplane !== null) {
    const open = opts.openDataplane ?? ((c: LmaConfig, l: Logger) => openKernelDataPlane(c.address, c.dataplane!, l, c.ipv4Pool !== undefined))
    const dp = await open(config, dataplaneLog)
    // RFC 5845: keys this LMA hands out must be carried; a data plane without ip6gre cannot.
    if ((config.greKeys ?? 'off') !== 'off' && dp.gre === false) {
      await dp.close().catch(() => undefined)
      throw new Error(`greKeys: ${config.greKeys} needs ip6gre devices in the data plane, and this kernel makes none (CONFIG_IPV6_GRE, modprobe ip6_gre); set greKeys: off or leave dataplane out`)
    }
    forwarding = lmaForwarding(dp, dataplaneLog)
  }
  let transport: MhTransport
  try {
    transport =
      opts.transport ??
      openRawMhTransport({
        ...(config.interface !== undefined ? { bindToDevice: config.interface } : {}),
        onError: (err) => log.error('mh socket error', { error: err.message }),
      })
  } catch (e) {
    await forwarding?.close().catch(() => undefined)
    throw e
  }

  const send = (c: SendEvent): void => {
    if (stopped) return
    try {
      transport.send(c.bytes, c.to, c.from)
      writeLines()
      if (log.isLevelEnabled?.('debug') ?? true) log.debug('mh sent', { to: c.to, from: c.from, mnId: c.mnId, reason: c.reason, ...describeMsg(c.msg) })
    } catch (e) {
      log.warn('mh send failed', { to: c.to, error: e instanceof Error ? e.message : String(e), ...describeMsg(c.msg) })
    }
    events.emit('sent', c)
  }

  const cancel = (key: string): void => {
    const t = timers.get(key)
    if (t !== undefined) clearTimeout(t)
    timers.delete(key)
  }

  const arm = (key: string, at: number): void => {
    cancel(key)
    const delay = Math.max(0, Math.min(at - now(), MAX_TIMEOUT_MS))
    const t = setTimeout(() => {
      timers.delete(key)
      if (now() < at) arm(key, at) // only for timers beyond MAX_TIMEOUT_MS
      else dispatch({ type: 'timer', at: now(), key })
    }, delay)
    timers.set(key, t)
  }

  const execute = (cmds: readonly LmaCommand[]): void => {
    for (const c of cmds) {
      switch (c.type) {
        case 'send':
          if (c.mnId !== undefined && held.has(c.mnId)) after(c.mnId, () => send(c))
          else send(c)
          break
        case 'arm-timer':
          arm(c.key, c.at)
          break
        case 'cancel-timer':
          cancel(c.key)
          break
        case 'binding-created':
        case 'binding-updated':
        case 'binding-moved':
        case 'binding-deleted': {
          // The line is built only when it will be written (one per binding change, issue 23).
          if (log.isLevelEnabled?.('info') ?? true) {
            const { binding: _b, ...fields } = c
            lines.push([c.type, fields])
          }
          if (forwarding !== undefined) {
            const fwd = forwarding
            after(c.mnId, () => fwd.apply(c))
          }
          events.emit('binding', c)
          break
        }
        case 'dropped':
          log.debug('mh dropped', { from: c.from, reason: c.reason, detail: c.detail })
          events.emit('dropped', c)
          break
      }
    }
  }

  function dispatch(ev: LmaEvent): void {
    if (stopped) return
    let cmds: LmaCommand[]
    try {
      cmds = core.step(ev)
    } catch (e) {
      log.error('lma core error', { event: ev.type, error: e instanceof Error ? e.message : String(e) })
      return
    }
    holding = true
    try {
      execute(cmds)
    } finally {
      holding = false
    }
    if (held.size === 0) writeLines()
  }

  const fault = (patch: FaultPatch): FaultState => {
    const cmds = core.step({ type: 'fault', at: now(), fault: patch })
    log.info('fault set', { patch, restartCounter: core.restartCounter })
    execute(cmds)
    writeLines()
    return core.faults()
  }

  transport.onMessage((bytes, src, dst) => dispatch({ type: 'mh', at: now(), from: src, to: dst, data: bytes }))

  const status = (): LmaRunStatus => ({
    ...core.status(),
    ready: ready && !stopped,
    uptimeMs: now() - startedAt,
    ...(control !== undefined ? { controlSocket: control.path } : {}),
    ...(forwarding !== undefined
      ? { dataplane: { backend: forwarding.dataplane.backend, failures: forwarding.failures, ...(forwarding.dataplane.snapshot ? { state: forwarding.dataplane.snapshot() } : {}) } }
      : {}),
  })

  const controlPath = opts.controlSocket === undefined ? config.controlSocket : (opts.controlSocket ?? undefined)
  let control: ControlServer | undefined
  if (controlPath !== undefined) {
    try {
      control = await startControlServer(controlPath, { status, bindings: () => core.bindings(), fault }, log)
    } catch (e) {
      stopped = true
      transport.close()
      await forwarding?.close().catch(() => undefined)
      throw e
    }
  }
  ready = true
  log.info('lma started', {
    address: core.address,
    timestampMode: core.timestampMode,
    pool: config.pool,
    restartCounter: core.restartCounter,
    controlSocket: control?.path,
    dataplane: forwarding?.dataplane.backend ?? 'none',
  })

  return {
    core,
    transport,
    controlSocket: control?.path,
    events,
    forwarding,
    status,
    bindings: () => core.bindings(),
    fault,
    async stop() {
      if (stopped) return
      stopped = true
      for (const t of timers.values()) clearTimeout(t)
      timers.clear()
      transport.close()
      await control?.close()
      await forwarding?.close().catch((e: unknown) => log.error('lma data plane close failed', { error: e instanceof Error ? e.message : String(e) }))
      log.info('lma stopped', { bindings: core.bindings().length })
    },
  }
}
