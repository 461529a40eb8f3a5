// Test harness: the MAG core on a fake clock with a timer wheel, plus a scripted LMA that builds
// PBAs from the PBUs the core sends. Not a test file itself (no .test.ts suffix).
import { PBA_FLAGS, parseIp6, parsePrefix, formatPrefix, type MobilityOption, type ProxyBindingAck, type ProxyBindingUpdate, type NdOption, type RouterAdvertisement } from '@pmip6/wire'
import {
  createMagCore,
  type MagCommand,
  type MagCore,
  type MagCoreConfig,
  type MagEvent,
  type PolicyProfile,
  type SendPbuCommand,
  type SendRaCommand,
  type StateChangedCommand,
  type HandoffHint,
} from '../src'

export const LMA = '2001:db8:ffff::2'
export const LMA2 = '2001:db8:ffff::3'
export const NAI = 'mn1@example.com'
export const MAC = Buffer.from('001122334455', 'hex')
export const MAC2 = Buffer.from('00aabbccddee', 'hex')
export const T0 = Date.parse('2024-01-01T00:00:00.500Z')

export const profile = (over: Partial<PolicyProfile> = {}): PolicyProfile => ({ mnId: NAI, lma: LMA, ...over })

export function config(over: Partial<MagCoreConfig> = {}): MagCoreConfig {
  return {
    profiles: [profile(), { mnId: 'mn2@example.com', lma: LMA, macs: ['00:aa:bb:cc:dd:ee'] }],
    fixedLinkLocal: 'fe80::1',
    fixedLinkLayer: '02:00:00:00:00:fe',
    seed: 42,
    // RFC 5847 heartbeats are off here, so the exact command lists of the RFC 5213 tests stay
    // about RFC 5213; heartbeat.test.ts and the property tests turn them on.
    heartbeatIntervalS: 0,
    ...over,
  }
}

export type Step = readonly MagCommand[]

export class Harness {
  readonly core: MagCore
  now: number
  readonly timers = new Map<string, number>()
  /** Kind, id and ref of each armed key, as the arm-timer command gave them. */
  readonly timerParts = new Map<string, { kind: string; id: string; ref?: number }>()
  readonly log: MagCommand[] = []
  /** Answer query-presence automatically with this (per MN; default true). null: leave unanswered. */
  readonly presence = new Map<string, boolean | null>()
  autoPresence = true

  constructor(cfg: MagCoreConfig = config(), t0 = T0) {
    this.core = createMagCore(cfg)
    this.now = t0
  }

  /** One event; returns its commands plus those of any auto-answered presence query. */
  step(ev: MagEvent): MagCommand[] {
    const out: MagCommand[] = []
    const queue: MagEvent[] = [ev]
    while (queue.length > 0) {
      const e = queue.shift()!
      const cmds = this.core.step(e)
      for (const c of cmds) {
        out.push(c)
        this.log.push(c)
        if (c.type === 'arm-timer') {
          this.timers.set(c.key, c.at)
          this.timerParts.set(c.key, { kind: c.kind, id: c.id, ...(c.ref !== undefined ? { ref: c.ref } : {}) })
        } else if (c.type === 'cancel-timer') this.timers.delete(c.key)
        else if (c.type === 'query-presence' && this.autoPresence) {
          const p = this.presence.get(c.mnId)
          if (p !== null) queue.push({ type: 'presence', at: this.now, mnId: c.mnId, present: p ?? true })
        }
      }
    }
    return out
  }

  attach(over: Partial<Extract<MagEvent, { type: 'attached' }>> & { hint?: HandoffHint } = {}): MagCommand[] {
    return this.step({ type: 'attached', at: this.now, link: 'ppp0', mnId: NAI, llId: MAC, att: 4, hint: 'new', ...over })
  }

  detach(over: Partial<Extract<MagEvent, { type: 'detached' }>> = {}): MagCommand[] {
    return this.step({ type: 'detached', at: this.now, link: 'ppp0', mnId: NAI, cause: 'left', ...over })
  }

  pba(pba: ProxyBindingAck, from = LMA): MagCommand[] {
    return this.step({ type: 'pba', at: this.now, from, pba })
  }

  rs(over: Partial<Extract<MagEvent, { type: 'rs' }>> = {}): MagCommand[] {
    return this.step({ type: 'rs', at: this.now, link: 'ppp0', from: 'fe80::211:22ff:fe33:4455', hopLimit: 255, ...over })
  }

  /** Fires every timer due up to `t` in time order, then sets the clock to `t`. */
  advance(t: number): MagCommand[] {
    const out: MagCommand[] = []
    for (;;) {
      let key: string | null = null
      let at = Infinity
      for (const [k, v] of this.timers) if (v < at) [key, at] = [k, v]
      if (key === null || at > t) break
      this.timers.delete(key)
      this.now = Math.max(this.now, at)
      // As the daemon does: the command's parts and ref come back with the event.
      out.push(...this.step({ type: 'timer', at: this.now, key, ...this.timerParts.get(key) }))
    }
    this.now = Math.max(this.now, t)
    return out
  }

  advanceBy(ms: number): MagCommand[] {
    return this.advance(this.now + ms)
  }

  /** Attach and accept with the given prefixes; returns the accept step's commands. */
  register(prefixes = ['2001:db8:1:1::/64'], over: Parameters<Harness['attach']>[0] = {}): MagCommand[] {
    const a = this.attach(over)
    const pbu = lastPbu(a)
    return this.pba(pbaFor(pbu, 0, { prefixes }))
  }

  view(mnId = NAI) {
    return this.core.bindings(this.now).find((b) => b.mnId === mnId)
  }

  keysOf(mnId: string): string[] {
    return [...this.timers.keys()].filter((k) => k.slice(k.indexOf('/') + 1) === mnId)
  }
}

export const pbus = (cmds: readonly MagCommand[]): SendPbuCommand[] => cmds.filter((c): c is SendPbuCommand => c.type === 'send-pbu')
export const ras = (cmds: readonly MagCommand[]): SendRaCommand[] => cmds.filter((c): c is SendRaCommand => c.type === 'send-ra')
export const states = (cmds: readonly MagCommand[]): StateChangedCommand[] => cmds.filter((c): c is StateChangedCommand => c.type === 'state-changed')
export const ofType = <T extends MagCommand['type']>(cmds: readonly MagCommand[], t: T): Extract<MagCommand, { type: T }>[] =>
  cmds.filter((c): c is Extract<MagCommand, { type: T }> => c.type === t)

export function lastPbu(cmds: readonly MagCommand[]): ProxyBindingUpdate {
  const p = pbus(cmds)
  if (p.length === 0) throw new Error('no PBU in ' + JSON.stringify(cmds.map((c) => c.type)))
  return p[p.length - 1]!.pbu
}

export function opt<T extends MobilityOption['type']>(m: { options: readonly MobilityOption[] }, t: T): Extract<MobilityOption, { type: T }> | undefined {
  return m.options.find((o): o is Extract<MobilityOption, { type: T }> => o.type === t)
}

export function hnpsOf(m: { options: readonly MobilityOption[] }): string[] {
  return m.options.filter((o): o is Extract<MobilityOption, { type: 'hnp' }> => o.type === 'hnp').map((o) => formatPrefix(o.prefix, o.prefixLength))
}

export interface PbaOpts {
  prefixes?: readonly string[]
  lifetime?: number
  lla?: string
  /** Replace echoed options (e.g. a wrong HI). */
  hi?: number
  att?: number
  mnId?: string
  llId?: Buffer
  sequence?: number
  p?: boolean
}

/** What a conforming LMA answers to `pbu`: echoes MN-ID, HI, ATT, timestamp, LL-ID (RFC 5213 §5.3.6). */
export function pbaFor(pbu: ProxyBindingUpdate, status: number, o: PbaOpts = {}): ProxyBindingAck {
  const options: MobilityOption[] = []
  for (const x of pbu.options) {
    switch (x.type) {
      case 'mn-id':
        options.push(o.mnId !== undefined ? { ...x, id: Buffer.from(o.mnId) } : x)
        if (o.prefixes) {
          for (const p of o.prefixes) {
            const pp = parsePrefix(p)
            options.push({ type: 'hnp', prefixLength: pp.length, prefix: pp.prefix })
          }
        }
        break
      case 'hnp':
        if (!o.prefixes) options.push(x)
        break
      case 'handoff-indicator':
        options.push({ ...x, value: o.hi ?? x.value })
        break
      case 'access-tech-type':
        options.push({ ...x, value: o.att ?? x.value })
        break
      case 'mn-ll-id':
        options.push(o.llId ? { ...x, id: o.llId } : x)
        break
      case 'link-local-address':
        options.push(o.lla ? { type: 'link-local-address', address: parseIp6(o.lla) } : x)
        break
      default:
        options.push(x)
    }
  }
  return {
    kind: 'binding-ack',
    status,
    flags: { ...PBA_FLAGS, p: o.p ?? true },
    sequence: o.sequence ?? pbu.sequence,
    lifetime: o.lifetime ?? pbu.lifetime,
    options,
  }
}

export type Pio = Extract<NdOption, { type: 'prefix-info' }>
export const piosOf = (ra: RouterAdvertisement): Pio[] => ra.options.filter((o): o is Pio => o.type === 'prefix-info')
export const pioText = (p: Pio): string => formatPrefix(p.prefix, p.prefixLength)
/** Prefixes advertised with a non-zero valid lifetime. */
export const livePrefixes = (ra: RouterAdvertisement): string[] => piosOf(ra).filter((p) => p.validLifetime > 0).map(pioText)
export const deadPrefixes = (ra: RouterAdvertisement): string[] => piosOf(ra).filter((p) => p.validLifetime === 0).map(pioText)
