/**
 * RFC 5847 heartbeat towards each LMA the MAG has bindings with, sans-IO like the rest of the
 * core: the owner feeds it time, timers and received Heartbeat messages, and it pushes commands.
 *
 * Implements: periodic Heartbeat requests every HEARTBEAT_INTERVAL to each LMA with at least one
 * binding (§3.1, §5), each with a fresh 32-bit sequence number; a response matches the request
 * in flight by sequence number and source address; MISSING_HEARTBEATS_ALLOWED unanswered
 * requests in a row mark the path failed (§3.1), any later matching response restores it;
 * restart detection through the LMA's Restart Counter option (§3.2): the first value seen is
 * remembered, a different one later means the LMA lost its state, and the owner re-registers
 * every binding to it; responses to the LMA's own requests, echoing the sequence number, with
 * the MAG's Restart Counter when it has one. HEARTBEAT_INTERVAL and MISSING_HEARTBEATS_ALLOWED
 * may differ per LMA (§5: configuration variables of each node; an LMA without heartbeat
 * support is simply given 0), and an LMA that answers a request with a Binding Error, status 2
 * (RFC 5847 §3: a node that does not support the Heartbeat message answers it so, as RFC 6275
 * §9.2 says for any unknown MH type) gets no further requests.
 *
 * Left out: heartbeats to LMAs without a binding (nothing to protect), acting on a failed path
 * beyond reporting it (RFC 5847 leaves the action to the implementation; the core keeps
 * retransmitting per RFC 5213 §6.9.4), matching a response to a request other than the latest
 * one (a response slower than the interval counts as a miss).
 */
import { BeStatus, type Heartbeat } from '@pmip6/wire'
import type { LmaHeartbeatView, MagCommand, Millis } from './types'
import { HEARTBEAT_SEQUENCE_MODULO } from './constants'

/** Timer key prefix: `hb/<lma>`. */
export const HEARTBEAT_TIMER_KIND = 'hb'
export const heartbeatTimerKey = (lma: string): string => `${HEARTBEAT_TIMER_KIND}/${lma}`

type PathState = 'unknown' | 'reachable' | 'unreachable' | 'unsupported'

/** Per-LMA state. Kept after its last binding went (state 'idle' in the view), for its figures. */
interface Peer<M> {
  readonly lma: string
  readonly intervalMs: number
  readonly missingAllowed: number
  readonly members: Set<M>
  state: PathState
  reason: string
  /** Sequence number of the request in flight, or null. */
  outstanding: number | null
  consecutive: number
  restartCounter: number | null
  sent: number
  responses: number
  misses: number
  restarts: number
  lastResponseAt: Millis | null
  /** Due time of the armed timer, or null. */
  due: Millis | null
}

export interface HeartbeatSettings {
  /** 0: no requests are sent (responses to the LMA's requests still are). */
  readonly intervalMs: number
  readonly missingAllowed: number
  readonly restartCounter: number | null
  /** Per-LMA values by canonical address, over the two above. */
  readonly perLma?: ReadonlyMap<string, { readonly intervalMs?: number; readonly missingAllowed?: number }>
}

export interface HeartbeatHost<M> {
  emit(c: MagCommand): void
  inc(counter: string): void
  /** The LMA lost its bindings (restart) or is back after a failure: send its bindings' PBUs now. */
  reregister(lma: string, members: ReadonlySet<M>, why: 'lma-restarted' | 'lma-reachable'): void
}

export class HeartbeatMonitor<M> {
  private readonly peers = new Map<string, Peer<M>>()
  private seq: number

  constructor(
    private readonly s: HeartbeatSettings,
    private readonly host: HeartbeatHost<M>,
    firstSequence: number,
  ) {
    this.seq = firstSequence >>> 0
  }

  /** Heartbeats go to this peer: an interval, and no Binding Error said it has none. */
  private enabled(p: Peer<M>): boolean {
    return p.intervalMs > 0 && p.state !== 'unsupported'
  }

  /** `m` now may have a binding at `lma`; the first one starts the heartbeats. */
  add(lma: string, m: M, now: Millis): void {
    let p = this.peers.get(lma)
    if (!p) {
      const own = this.s.perLma?.get(lma)
      const intervalMs = own?.intervalMs ?? this.s.intervalMs
      const missingAllowed = own?.missingAllowed ?? this.s.missingAllowed
      p = { lma, intervalMs, missingAllowed, members: new Set(), state: 'unknown', reason: '', outstanding: null, consecutive: 0, restartCounter: null, sent: 0, responses: 0, misses: 0, restarts: 0, lastResponseAt: null, due: null }
      this.peers.set(lma, p)
    }
    const first = p.members.size === 0
    p.members.add(m)
    if (first && this.enabled(p)) {
      p.state = 'unknown'
      p.reason = 'started'
      p.outstanding = null
      p.consecutive = 0
      this.arm(p, now + p.intervalMs)
    }
  }

  /** `m` no longer has a binding at `lma`; the last one stops the heartbeats (and their timer). */
  remove(lma: string, m: M): void {
    const p = this.peers.get(lma)
    if (!p || !p.members.delete(m) || p.members.size > 0) return
    p.outstanding = null
    p.consecutive = 0
    if (p.state !== 'unsupported') p.reason = 'no-binding'
    if (p.due !== null) {
      p.due = null
      this.host.emit({ type: 'cancel-timer', key: heartbeatTimerKey(lma), kind: HEARTBEAT_TIMER_KIND, id: lma })
    }
  }

  /** A `hb/<lma>` timer fired. Returns false when it was not ours to handle (stale). */
  onTimer(lma: string, at: Millis): boolean {
    const p = this.peers.get(lma)
    if (!p || p.due === null || p.members.size === 0 || !this.enabled(p)) return false
    if (at < p.due) {
      this.host.inc('timer-early')
      return true
    }
    p.due = null
    if (p.outstanding !== null) {
      // §3.1: no response within the interval.
      p.misses++
      p.consecutive++
      this.host.inc('heartbeat-missed')
      if (p.consecutive >= p.missingAllowed && p.state !== 'unreachable') {
        this.setState(p, 'unreachable', `missing-heartbeats:${p.consecutive}`)
      }
    }
    this.sendRequest(p)
    this.arm(p, at + p.intervalMs)
    return true
  }

  /**
   * A Binding Error from `from` (canonical text). RFC 5847 §3: a node without heartbeat support
   * answers a Heartbeat with status 2 (unrecognised MH type, RFC 6275 §9.2); the MAG sends an LMA
   * nothing else that an LMA may not know, so heartbeats to it stop for good (its bindings are
   * untouched). Anything else is counted and dropped. Returns whether it was acted on.
   */
  onBindingError(from: string, status: number): boolean {
    const p = this.peers.get(from)
    if (!p) {
      this.drop('binding-error-unknown-peer')
      return false
    }
    // Status 1 is about a Home Address option, which a MAG never sends; status 2 before any
    // request of ours cannot be about a Heartbeat.
    if (status !== BeStatus.UNRECOGNIZED_MH_TYPE || p.sent === 0) {
      this.drop(`binding-error-status-${status}`)
      return false
    }
    if (p.state === 'unsupported') return false
    this.host.inc('heartbeat-unsupported')
    p.outstanding = null
    p.consecutive = 0
    if (p.due !== null) {
      p.due = null
      this.host.emit({ type: 'cancel-timer', key: heartbeatTimerKey(p.lma), kind: HEARTBEAT_TIMER_KIND, id: p.lma })
    }
    this.setState(p, 'unsupported', `binding-error:${status}`)
    return true
  }

  /** A Heartbeat from `from` (canonical text). */
  onHeartbeat(from: string, hb: Heartbeat, at: Millis): void {
    if (!hb.flags.r) {
      this.answer(from, hb)
      return
    }
    const p = this.peers.get(from)
    if (!p) return this.drop('unknown-peer')
    if (hb.flags.u) {
      // An unsolicited response matches no request; it may still tell of a restart (§3.2).
      this.host.inc('heartbeat-unsolicited')
      this.checkRestart(p, hb)
      return
    }
    if (p.outstanding === null || hb.sequence !== p.outstanding) return this.drop('no-match')
    p.outstanding = null
    p.consecutive = 0
    p.responses++
    p.lastResponseAt = at
    this.host.inc('heartbeat-response')
    const wasDown = p.state === 'unreachable'
    if (p.state !== 'reachable') this.setState(p, 'reachable', wasDown ? 'heartbeat-response' : 'first-response')
    const restarted = this.checkRestart(p, hb)
    // Back after a failure: PBUs in backoff (up to MAX_BINDACK_TIMEOUT) go now, not in 32 s.
    if (wasDown && !restarted && p.members.size > 0) this.host.reregister(p.lma, p.members, 'lma-reachable')
  }

  views(): LmaHeartbeatView[] {
    const out: LmaHeartbeatView[] = []
    for (const p of this.peers.values()) {
      out.push({
        lma: p.lma,
        state: p.state === 'unsupported' ? p.state : p.members.size === 0 || p.intervalMs === 0 ? 'idle' : p.state,
        reason: p.reason,
        intervalS: p.intervalMs / 1000,
        bindings: p.members.size,
        requestsSent: p.sent,
        responses: p.responses,
        misses: p.misses,
        consecutiveMisses: p.consecutive,
        restartCounter: p.restartCounter,
        restarts: p.restarts,
        lastResponseAt: p.lastResponseAt,
      })
    }
    return out
  }

  /** Members of `lma` (for tests and the owner's bookkeeping checks). */
  membersOf(lma: string): ReadonlySet<M> | undefined {
    return this.peers.get(lma)?.members
  }

  // ------------------------------------------------------------------ internals

  private drop(reason: string): void {
    this.host.inc('heartbeat-dropped')
    this.host.inc(`heartbeat-dropped:${reason}`)
  }

  private arm(p: Peer<M>, at: Millis): void {
    p.due = at
    this.host.emit({ type: 'arm-timer', key: heartbeatTimerKey(p.lma), kind: HEARTBEAT_TIMER_KIND, id: p.lma, at })
  }

  private sendRequest(p: Peer<M>): void {
    const sequence = this.seq
    this.seq = (this.seq + 1) % HEARTBEAT_SEQUENCE_MODULO
    p.outstanding = sequence
    p.sent++
    this.host.inc('heartbeat-sent')
    this.host.emit({ type: 'send-heartbeat', to: p.lma, heartbeat: { kind: 'heartbeat', flags: { u: false, r: false }, sequence, options: [] } })
  }

  /** §3.1: a request is answered with a response carrying its sequence number (and our Restart Counter, §3.2). */
  private answer(from: string, hb: Heartbeat): void {
    if (!this.peers.has(from)) return this.drop('request-from-unknown-peer')
    this.host.inc('heartbeat-request-answered')
    const rc = this.s.restartCounter
    this.host.emit({
      type: 'send-heartbeat',
      to: from,
      heartbeat: { kind: 'heartbeat', flags: { u: false, r: true }, sequence: hb.sequence, options: rc === null ? [] : [{ type: 'restart-counter', value: rc }] },
    })
  }

  /** §3.2: true when the LMA's Restart Counter changed since it was first seen. */
  private checkRestart(p: Peer<M>, hb: Heartbeat): boolean {
    let rc: number | null = null
    for (const o of hb.options) if (o.type === 'restart-counter') rc = o.value
    if (rc === null) return false
    if (p.restartCounter === null) {
      p.restartCounter = rc
      return false
    }
    if (rc === p.restartCounter) return false
    const old = p.restartCounter
    p.restartCounter = rc
    p.restarts++
    this.host.inc('lma-restarted')
    this.host.emit({ type: 'lma-state', lma: p.lma, state: p.state === 'unknown' ? 'reachable' : p.state, reason: `lma-restarted:${old}->${rc}`, restartCounter: rc })
    if (p.members.size > 0) this.host.reregister(p.lma, p.members, 'lma-restarted')
    return true
  }

  private setState(p: Peer<M>, to: 'reachable' | 'unreachable' | 'unsupported', reason: string): void {
    p.state = to
    p.reason = reason
    this.host.inc(`lma-${to}`)
    this.host.emit({ type: 'lma-state', lma: p.lma, state: to, reason, restartCounter: p.restartCounter })
  }
}
