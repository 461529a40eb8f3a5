/**
 * The lab LMA runner: the one place where the pure core (lma-core.ts) meets the world. It feeds
 * MH messages from an MhTransport (a raw IPPROTO_MH socket by default) and timer expiries into
 * `core.step`, executes the commands that come out (send, arm/cancel timers), logs binding
 * changes, re-emits them for a data plane to follow, and serves the control socket.
 *
 * RFC 5213 §5 behaviour lives in the core; this file adds no protocol logic. Left out: the data
 * plane (§5.6 tunnels and routes), persistence of the Restart Counter across real restarts.
 */
import { EventEmitter } from 'node:events'
import type { MhMessage } from '@pmip6/wire'
import { LmaCore, type BindingView, type FaultPatch, type FaultState, type LmaCommand, type LmaEvent, type LmaStatus } from './lma-core'
import type { LmaConfig } from './config'
import { startControlServer, type ControlServer } from './control'
import { silentLogger, type Logger } from './logger'
import { openRawMhTransport, type MhTransport } from './transport'

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
}

export interface LmaRunStatus extends LmaStatus {
  readonly uptimeMs: number
  readonly controlSocket?: string
}

export interface LmaHandle {
  readonly core: LmaCore
  readonly transport: MhTransport
  readonly controlSocket: string | undefined
  readonly events: EventEmitter<LmaHandleEvents>
  status(): LmaRunStatus
  bindings(): BindingView[]
  /** Applies a fault patch (as the control socket's `fault` command does) and returns the knobs. */
  fault(patch: FaultPatch): FaultState
  /** Closes the control socket and the transport and cancels every timer. Idempotent. */
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

  const transport =
    opts.transport ??
    openRawMhTransport({
      ...(config.interface !== undefined ? { bindToDevice: config.interface } : {}),
      onError: (err) => log.error('mh socket error', { error: err.message }),
    })

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
          try {
            transport.send(c.bytes, c.to, c.from)
            if (log.isLevelEnabled?.('debug') ?? true) log.debug('mh sent', { to: c.to, from: c.from, mnId: c.mnId, reason: c.reason, ...describeMsg(c.msg) })
          } catch (e) {
            log.warn('mh send failed', { to: c.to, error: e instanceof Error ? e.message : String(e), ...describeMsg(c.msg) })
          }
          events.emit('sent', c)
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
          const { binding: _b, ...fields } = c
          log.info(c.type, fields)
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
    execute(cmds)
  }

  const fault = (patch: FaultPatch): FaultState => {
    const cmds = core.step({ type: 'fault', at: now(), fault: patch })
    log.info('fault set', { patch, restartCounter: core.restartCounter })
    execute(cmds)
    return core.faults()
  }

  transport.onMessage((bytes, src, dst) => dispatch({ type: 'mh', at: now(), from: src, to: dst, data: bytes }))

  const status = (): LmaRunStatus => ({
    ...core.status(),
    uptimeMs: now() - startedAt,
    ...(control !== undefined ? { controlSocket: control.path } : {}),
  })

  const controlPath = opts.controlSocket === undefined ? config.controlSocket : (opts.controlSocket ?? undefined)
  let control: ControlServer | undefined
  if (controlPath !== undefined) {
    try {
      control = await startControlServer(controlPath, { status, bindings: () => core.bindings(), fault }, log)
    } catch (e) {
      transport.close()
      throw e
    }
  }
  log.info('lma started', {
    address: core.address,
    timestampMode: core.timestampMode,
    pool: config.pool,
    restartCounter: core.restartCounter,
    controlSocket: control?.path,
  })

  return {
    core,
    transport,
    controlSocket: control?.path,
    events,
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
      log.info('lma stopped', { bindings: core.bindings().length })
    },
  }
}
