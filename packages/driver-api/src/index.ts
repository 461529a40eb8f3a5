/**
 * The contract between access-link drivers and the agent (design.md, "Drivers report facts;
 * the core decides"). A driver turns link-layer events into attached/detached facts: link,
 * MAC, access technology, an identity if the link knows one. Profile lookup, LMA choice,
 * Handoff Indicator and policy belong to the core.
 */

export type LinkRef = string
export type HandoffHint = 'new' | 'same-interface' | 'other-interface' | 'unknown'
export type DetachCause = 'left' | 'lost' | 'admin'

export interface AttachedFact {
  readonly type: 'attached'
  /** Access link: the interface the MN is reached through. */
  readonly link: LinkRef
  /** The MN's link-layer address as lower-case colon text, when the link has one. */
  readonly mac?: string
  /** An identity the link learned (802.1X identity, PPP peer name), used as MN-ID. */
  readonly mnId?: string
  /** Access Technology Type (RFC 5213 §8.5). */
  readonly att: number
  /** Only what the driver definitively knows (RFC 5213 §6.9.1.1 items 4-5). */
  readonly hint?: HandoffHint
}

export interface DetachedFact {
  readonly type: 'detached'
  readonly link: LinkRef
  readonly mac?: string
  readonly mnId?: string
  readonly cause: DetachCause
}

export type LinkEvent = AttachedFact | DetachedFact

export interface Logger {
  debug(msg: string, meta?: Record<string, unknown>): void
  info(msg: string, meta?: Record<string, unknown>): void
  warn(msg: string, meta?: Record<string, unknown>): void
  error(msg: string, meta?: Record<string, unknown>): void
}

export interface DriverClock {
  now(): number
}

/** Which attached MN a presence question is about. */
export interface PresenceQuery {
  readonly link: LinkRef
  readonly mac?: string
  readonly mnId?: string
}

export interface AccessDriver {
  readonly name: string
  start(): Promise<void>
  /** Idempotent; no event is delivered after it resolves. */
  stop(): Promise<void>
  /** Subscribes; returns the unsubscribe function. */
  onEvent(fn: (ev: LinkEvent) => void): () => void
  /**
   * Is the MN still attached? (RFC 5213 §6.9.4 before a retransmission, §6.13 before a refresh)
   * A driver that knows at once may answer synchronously: the daemon asks before every refresh,
   * and a promise per answer was measurable at 100,000 bindings (issue 8).
   */
  present(q: PresenceQuery): boolean | Promise<boolean>
  /** Who is attached now: used after a restart to rebuild state. */
  attached(): Promise<AttachedFact[]>
  /** Disconnects the MN from the link (RFC 5213 §6.9.1.2 item 11), where the link allows it. */
  teardown?(q: PresenceQuery): Promise<void>
}

export interface DriverContext {
  readonly log: Logger
  readonly clock: DriverClock
}

export type DriverFactory<Init> = (init: Init, c: DriverContext) => AccessDriver

export const ACCESS_TECH_BY_NAME: Readonly<Record<string, number>> = {
  virtual: 1,
  ppp: 2,
  ethernet: 3,
  wifi: 4,
  wlan: 4,
  wimax: 5,
  eutran: 8,
}

/** Lower-case colon form of a MAC text, or throws. */
export function normalizeMac(text: string): string {
  const parts = text.trim().split(/[:-]/)
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`not a MAC address: ${JSON.stringify(text)}`)
  return parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':')
}

/** A small fan-out used by drivers: listeners, and a gate that closes on stop(). */
export class FactEmitter {
  private readonly fns = new Set<(ev: LinkEvent) => void>()
  private open = true

  on(fn: (ev: LinkEvent) => void): () => void {
    this.fns.add(fn)
    return () => this.fns.delete(fn)
  }

  emit(ev: LinkEvent): void {
    if (!this.open) return
    for (const fn of [...this.fns]) fn(ev)
  }

  close(): void {
    this.open = false
  }

  reopen(): void {
    this.open = true
  }
}
export * from './deadline'
