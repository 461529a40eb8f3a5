/**
 * Registration and its timers, RFC 5213 §6.9.1.1 (initial registration), §6.9.1.3 (lifetime
 * extension) with §6.13 (presence before a refresh), §6.9.1.4 (de-registration), §6.9.4
 * (retransmission, backoff, rate limiting), sequence numbers and timestamps (§6.9.1.1 items 6-7,
 * RFC 6275 §9.5.1, §11.7.1, §11.7.3), and the re-registration after an LMA restart (RFC 5847 §3.2).
 */
import { HandoffIndicator, parseIp6 } from '@pmip6/wire'
import { assertNever } from './assert'
import { remove } from './bul'
import { INITIAL_BINDACK_TIMEOUT_MS, MAX_BINDACK_TIMEOUT_MS, SEQUENCE_MODULO, SEQUENCE_RESYNC_JUMP, UPDATE_RATE_WINDOW_MS } from './constants'
import type { MagContext } from './context'
import { type Entry, P_DEREG, P_NONE, P_REFRESH, P_REG, type PendingKind, PH_DEFERRED, PH_IDLE, PH_PACED, PH_PRESENCE, PH_REFRESH_PRESENCE, PH_SENT } from './entry'
import { stopService } from './home-link'
import { hasRoom, setPhase } from './inflight'
import { deny } from './pba'
import { buildPbu } from './pbu'
import { hnpOptionOf, macText } from './profiles'
import { releaseRouterAddress } from './router-address'
import type { PresenceEvent } from './types'

/** RFC 6275 §9.5.1: `a` is newer than `b` when it is less than half the 16-bit space ahead. */
function seqNewer(a: number, b: number): boolean {
  const d = (a - b + SEQUENCE_MODULO) % SEQUENCE_MODULO
  return d !== 0 && d < SEQUENCE_MODULO / 2
}

/**
 * RFC 5213 §6.9.1.4 / §6.13: the MN left or its session ends. The prefixes are withdrawn and
 * forwarding stops at once; a de-registration goes out only when the LMA may hold a binding
 * made by this MAG (an accepted one, or a registration still unanswered). After a rejection,
 * a hold or in host mode there is nothing to de-register, and the entry goes right away.
 */
export function deregister(c: MagContext, e: Entry, reason: string): void {
  stopService(c, e)
  // The MN is gone (not a failure that keeps it here): its router address leaves the link now.
  if (e.failReason === null) releaseRouterAddress(c, e)
  if (e.pending === P_DEREG && e.phase !== PH_DEFERRED) {
    // A de-registration already went out (policy switch to host mode): it covers this too.
    remove(c, e, reason)
    return
  }
  if (e.lmaState && e.mode === 'network' && e.profile) {
    c.changeState(e, 'deregistering', reason)
    startPbu(c, e, P_DEREG, HandoffIndicator.UNKNOWN)
    return
  }
  remove(c, e, reason)
}

/** Stops whatever PBU is outstanding; its late PBA will match nothing. */
export function cancelPbu(c: MagContext, e: Entry): void {
  c.disarm(e, 'pbu')
  if (e.pending !== P_NONE && e.seq >= 0 && c.bySeq[e.seq] === e) c.bySeq[e.seq] = undefined
  e.pending = P_NONE
  setPhase(c, e, PH_IDLE)
  e.attempts = 0
}

export function startPbu(c: MagContext, e: Entry, kind: PendingKind, hi: number): void {
  cancelPbu(c, e)
  e.pending = kind
  e.hi = hi
  e.backoff = INITIAL_BINDACK_TIMEOUT_MS
  e.resyncs = 0
  transmit(c, e)
}

/**
 * §6.9.1.1 item 6: with timestamps, one MAG-wide counter that only serves to match replies.
 * Without, RFC 6275 §11.7.1: per mobility session, increasing on every transmission (§6.9.4
 * item 4); a new session starts at the MAG-wide counter, which stays one past the newest
 * number this MAG has sent, so it starts above what an earlier session of this run left at an
 * LMA (RFC 6275 §9.5.1: while fewer than 32,768 PBUs lie between). The counter starts at
 * random in each run (initialSequence, drawn by the daemon): nothing from an earlier run is
 * known, and a guessable number would help a forged PBA (issue 17); a 135 resynchronises.
 */
function nextSeq(c: MagContext, e: Entry): number {
  const fresh = c.s.timestampBased || e.seq < 0
  const v = fresh ? c.seqCounter : (e.seq + 1) & 0xffff
  const after = (v + 1) & 0xffff
  if (fresh || seqNewer(after, c.seqCounter)) c.seqCounter = after
  return v
}

/**
 * RFC 6275 §11.7.3 (status 135): take the sequence number the answer carries and go above it.
 * When it is our own number the LMA's is unknown: go SEQUENCE_RESYNC_JUMP ahead instead.
 */
export function resyncSequence(c: MagContext, e: Entry, carried: number): void {
  let held = carried & 0xffff
  if (held === e.seq) held = (held + SEQUENCE_RESYNC_JUMP - 1) & 0xffff
  if (c.s.timestampBased) {
    // The MAG-wide counter gives the next number.
    c.seqCounter = (held + 1) & 0xffff
    return
  }
  if (e.seq >= 0 && c.bySeq[e.seq] === e) c.bySeq[e.seq] = undefined
  e.seq = held
}

/**
 * Sends the outstanding PBU now, or defers it when MAX_UPDATE_RATE PBUs went to this MN's
 * LMA within the last second (§6.9.4, RFC 6275 §11.8): deferred, never dropped. Each
 * transmission gets a new sequence number and the current timestamp (§6.9.4 item 4).
 */
export function transmit(c: MagContext, e: Entry): void {
  const at = c.now
  const profile = e.profile
  if (!profile) {
    cancelPbu(c, e)
    return
  }
  const oldest = e.oldestSend()
  if (at - oldest < UPDATE_RATE_WINDOW_MS) {
    setPhase(c, e, PH_DEFERRED)
    c.inc('pbu-deferred')
    c.arm(e, 'pbu', oldest + UPDATE_RATE_WINDOW_MS)
    return
  }
  if (e.phase !== PH_SENT && !hasRoom(c, profile.lma)) {
    // Its turn comes when a PBU to this LMA lands (land()); the timestamp is taken then.
    setPhase(c, e, PH_PACED)
    c.inc('pbu-paced')
    let q = c.paced.get(profile.lma)
    if (!q) c.paced.set(profile.lma, (q = { items: [], head: 0 }))
    q.items.push(e)
    return
  }
  if (e.seq >= 0 && c.bySeq[e.seq] === e) c.bySeq[e.seq] = undefined
  const seq = nextSeq(c, e)
  e.seq = seq
  c.bySeq[seq] = e
  const kind = e.pending
  const prefixes = kind === P_REG ? e.req : e.hnps.length > 0 ? e.hnps : e.req
  // Made afresh per PBU (a fast parse and 16 bytes), not cached by prefix text: at 100,000
  // bindings such a cache missed on every refresh and churned the old generation (issue 8).
  const hnps = prefixes === profile.homePrefixes ? profile.hnpOptions : prefixes.map((p) => hnpOptionOf(p))
  const pbu = buildPbu({
    sequence: seq,
    lifetime: kind === P_DEREG ? 0 : c.s.lifetimeS,
    mnId: e.mnId,
    hnps,
    hi: e.hi,
    att: e.att,
    timestampMs: c.s.timestampBased ? at : null,
    macHex: e.mac,
    linkLocal: c.s.fixedLinkLocal !== null ? undefined : e.lla === null ? null : parseIp6(e.lla),
  })
  c.out.push({ type: 'send-pbu', to: profile.lma, pbu, mnId: e.mnId })
  // From now on the LMA may hold a binding (a registration it may have accepted); one that
  // is still paced or deferred never left, so a detach then needs no de-registration.
  if (kind !== P_DEREG) c.setLmaState(e, true)
  e.recordSend(at)
  e.sentAt = at
  e.attempts++
  if (e.phase !== PH_SENT) {
    e.phase = PH_SENT
    let set = c.inFlight.get(profile.lma)
    if (!set) c.inFlight.set(profile.lma, (set = new Set()))
    set.add(e)
  }
  c.cPbuSent.n++
  const byHi = c.cPbuSentByHi[e.hi]
  if (byHi !== undefined) byHi.n++
  if (kind === P_REFRESH) c.cPbuSentRefresh.n++
  else c.inc(kind === P_REG ? 'pbu-sent:registration' : 'pbu-sent:deregistration')
  if (e.attempts > 1) {
    e.retx++
    c.inc('pbu-retransmitted')
  }
  if (kind === P_DEREG) {
    // §6.9.1.4: wait INITIAL_BINDACK_TIMEOUT for the reply, no retransmission.
    c.arm(e, 'pbu', at + INITIAL_BINDACK_TIMEOUT_MS)
  } else {
    c.arm(e, 'pbu', at + e.backoff)
    e.backoff = Math.min(2 * e.backoff, MAX_BINDACK_TIMEOUT_MS)
  }
}

export function onPbuTimer(c: MagContext, e: Entry): void {
  switch (e.phase) {
    case PH_DEFERRED:
      transmit(c, e)
      return
    case PH_SENT:
      if (e.pending === P_DEREG) {
        c.inc('deregistration-timeout')
        finishDereg(c, e, 'deregistration-timeout')
        return
      }
      if (e.attempts - 1 >= c.s.maxRetransmissions) {
        fail(c, e)
        return
      }
      // §6.9.4 item 2: make sure the MN is still attached before retransmitting.
      queryPresence(c, e, PH_PRESENCE)
      return
    case PH_PRESENCE:
    case PH_REFRESH_PRESENCE:
      // The daemon owes us an answer; ask again rather than guess either way.
      c.inc('presence-timeout')
      queryPresence(c, e, e.phase)
      return
    case PH_IDLE:
    case PH_PACED:
      c.inc('timer-stale')
      return
    default:
      assertNever(e.phase, 'phase')
  }
}

function queryPresence(c: MagContext, e: Entry, phase: typeof PH_PRESENCE | typeof PH_REFRESH_PRESENCE): void {
  setPhase(c, e, phase)
  c.cPresenceQuery.n++
  c.out.push({ type: 'query-presence', mnId: e.mnId, link: e.link, llId: e.mac === null ? null : macText(e.mac), purpose: phase === PH_PRESENCE ? 'retransmit' : 'refresh' })
  c.arm(e, 'pbu', c.now + MAX_BINDACK_TIMEOUT_MS)
}

export function onPresence(c: MagContext, ev: PresenceEvent): void {
  const e = c.findMn(ev.mnId)
  if (!e || (e.phase !== PH_PRESENCE && e.phase !== PH_REFRESH_PRESENCE)) {
    c.inc('presence-unexpected')
    return
  }
  c.disarm(e, 'pbu')
  if (!ev.present) {
    c.inc('presence-lost')
    deregister(c, e, 'presence-lost')
    return
  }
  if (e.phase === PH_PRESENCE) {
    transmit(c, e)
    return
  }
  setPhase(c, e, PH_IDLE)
  if (e.state === 'registered') {
    // §6.9.1.3: same options as the initial PBU, every assigned prefix, HI 5.
    c.changeState(e, 'refreshing', 'refresh')
    startPbu(c, e, P_REFRESH, HandoffIndicator.NOT_CHANGED)
  } else if (e.state === 'registering') {
    // The binding expired while we waited for the answer: register afresh for the same prefixes.
    e.req = e.hnps
    startPbu(c, e, P_REG, HandoffIndicator.UNKNOWN)
  } else {
    c.inc('presence-unexpected')
  }
}

/** The retransmission cap ran out (§6.9.4): the MN gets no service; an admin-clear or a new attach retries. */
export function fail(c: MagContext, e: Entry, reason = 'retransmit-timeout'): void {
  c.inc('registration-failed')
  stopService(c, e)
  cancelPbu(c, e)
  e.hintHi = e.hnps.length > 0 ? HandoffIndicator.UNKNOWN : e.hintHi
  c.changeState(e, 'failed', reason)
}

export function finishDereg(c: MagContext, e: Entry, reason: string): void {
  cancelPbu(c, e)
  c.setLmaState(e, false)
  if (e.state === 'deregistering' && e.failReason !== null) {
    // The MN is still attached but cannot be served: it stays visible until it re-attaches or an admin-clear.
    const why = e.failReason
    e.failReason = null
    if (e.failState === 'denied') deny(c, e, why, false)
    else c.changeState(e, 'failed', why)
  } else if (e.state === 'deregistering') remove(c, e, reason)
  else c.inc('deregistration-done-in-host-mode')
}

export function onRefreshTimer(c: MagContext, e: Entry): void {
  if (e.state !== 'registered') {
    c.inc('timer-stale')
    return
  }
  // §6.13: before extending the lifetime, make sure the MN is still there.
  queryPresence(c, e, PH_REFRESH_PRESENCE)
}

/** The binding ran out before a refresh succeeded: stop advertising and routing (§6.7, §6.9.2 item 2). */
export function onExpire(c: MagContext, e: Entry): void {
  if (e.state !== 'registered' && e.state !== 'refreshing') {
    c.inc('timer-stale')
    return
  }
  c.inc('binding-expired')
  const waiting = e.phase === PH_REFRESH_PRESENCE
  stopService(c, e)
  if (waiting) {
    c.changeState(e, 'registering', 'binding-expired')
    return
  }
  e.req = e.hnps
  c.changeState(e, 'registering', 'binding-expired')
  startPbu(c, e, P_REG, HandoffIndicator.UNKNOWN)
}

/**
 * RFC 5847 §3.2: the LMA restarted and lost its bindings; or it answers again after a failure
 * (§3.1). Each binding to it is registered again through the ordinary PBU path: an accepted
 * binding is refreshed at once (§6.9.1.3: every assigned prefix, HI 5, service kept while it
 * is outstanding); a PBU already in flight starts over with a new sequence number, a fresh
 * timestamp and the initial backoff (§6.9.4), instead of waiting out up to MAX_BINDACK_TIMEOUT.
 * After a mere failure, only PBUs in flight are sent again: accepted bindings were not lost.
 */
export function reregisterAll(c: MagContext, members: ReadonlySet<Entry>, why: 'lma-restarted' | 'lma-reachable'): void {
  const restarted = why === 'lma-restarted'
  for (const e of [...members]) {
    if (c.byMn.get(e.mnId) !== e || e.mode !== 'network' || !e.profile) continue
    const inFlight = e.phase === PH_SENT || e.phase === PH_PRESENCE
    switch (e.state) {
      case 'registered':
        if (!restarted) break
        c.inc('reregister-after-lma-restart')
        c.changeState(e, 'refreshing', why)
        startPbu(c, e, P_REFRESH, HandoffIndicator.NOT_CHANGED)
        break
      case 'refreshing':
        if (e.pending !== P_REFRESH || !(restarted || inFlight)) break
        c.inc(`reregister-after-${why}`)
        startPbu(c, e, P_REFRESH, HandoffIndicator.NOT_CHANGED)
        break
      case 'registering':
        if (e.pending !== P_REG || !(restarted || inFlight)) break
        c.inc(`reregister-after-${why}`)
        startPbu(c, e, P_REG, e.hi)
        break
      case 'deregistering':
      case 'held':
      case 'denied':
      case 'clock-wait':
      case 'failed':
      case 'local':
        break
      default:
        assertNever(e.state, 'state')
    }
  }
}
