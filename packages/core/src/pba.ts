/**
 * PBA processing, RFC 5213 §6.9.1.2 (items 3 and 5-15): matching a PBA to its PBU, the echo
 * checks of item 6, acceptance (items 12-15, §6.9.2) and every rejection status (items 7-11),
 * with status 135 from RFC 6275 §11.7.3.
 *
 * Left out: items 1, 2 and 4 (IPsec, RFC 6275 §9.2 header rules, the Type 2 Routing header)
 * belong to the daemon and the wire decoder.
 */
import { BaStatus, HandoffIndicator, isAllZero, maskPrefix, type MobilityOption } from '@pmip6/wire'
import { assertNever } from './assert'
import { ALL_NODES, MAX_SEQUENCE_RESYNCS } from './constants'
import type { MagContext } from './context'
import { type Entry, F_TUNNEL, NOT_ARMED, P_DEREG, P_NONE, P_REFRESH, P_REG, PH_DEFERRED, PH_SENT, T_PBU, T_RA } from './entry'
import { nextRaInterval, sendRa, startAdvertising, stopService } from './home-link'
import { setPhase } from './inflight'
import { EMPTY, macText } from './profiles'
import { rememberPrefix } from './ra'
import { cancelPbu, deregister, fail, finishDereg, resyncSequence, startPbu, transmit } from './registration'
import { askedRefused, greKeysOf, ipv4HomeDown, readGre, readIpv4Answer, rehi, rejectIpv4, updateIpv4Home, wantsV4, wantsV6 } from './ipv4'
import { holdRouterAddress } from './router-address'
import { bytesEqualText, fastFormatIp6, isMasked, prefixText, prefixTextIs } from './text'
import type { GreKeys, PbaEvent } from './types'

const EMPTY_OPTS: readonly MobilityOption[] = Object.freeze([])

const REJECT_REASON: string[] = []

const rejectReason = (s: number): string => (REJECT_REASON[s] ??= `pba-rejected:${s}`)

const STATUS_COUNTER: string[] = []
export const statusCounter = (s: number): string => (STATUS_COUNTER[s] ??= `pba-status:${s}`)

const HEX = '0123456789abcdef'
/** Buffer equals the bytes of a lower-case hex string, without allocating. */
function sameHex(b: Buffer, hex: string): boolean {
  if (b.length * 2 !== hex.length) return false
  for (let i = 0; i < b.length; i++) {
    const v = b[i]!
    if (hex.charCodeAt(2 * i) !== HEX.charCodeAt(v >> 4) || hex.charCodeAt(2 * i + 1) !== HEX.charCodeAt(v & 15)) return false
  }
  return true
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (const x of a) if (!b.includes(x)) return false
  return true
}

function minus(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a.length === 0) return EMPTY
  const r = a.filter((x) => !b.includes(x))
  return r.length === 0 ? EMPTY : r
}

function dropPba(c: MagContext, reason: string): void {
  c.inc('pba-dropped')
  c.inc(`pba-dropped:${reason}`)
}

/**
 * Only the PBU in flight can be answered. A deferred PBU has none in flight: its predecessor
 * was answered (a 157 that asks for a new registration) or timed out, and an answer to it
 * must not stand in for the new one.
 */
function matches(e: Entry, seq: number): boolean {
  return e.pending !== P_NONE && e.phase === PH_SENT && e.seq === seq
}

export function onPba(c: MagContext, ev: PbaEvent): void {
  const pba = ev.pba
  c.cPbaReceived.n++
  if (pba.kind !== 'binding-ack') return dropPba(c, 'not-binding-ack')
  // Item 1: a PBA is a Binding Acknowledgement with P set.
  if (!pba.flags.p) return dropPba(c, 'not-proxy')
  let idOpt: Buffer | null = null
  for (const o of pba.options) {
    if (o.type === 'mn-id') {
      idOpt = o.id
      break
    }
  }
  // Item 5: match on MN-ID and sequence number; anything else is ignored. The common case, the
  // outstanding PBU with this sequence number and the same MN-ID, needs no hashing.
  let e: Entry | undefined
  let idMismatch = false
  const fast = c.bySeq[pba.sequence & 0xffff]
  if (fast && matches(fast, pba.sequence) && (idOpt === null || bytesEqualText(idOpt, fast.mnId))) {
    e = fast
  } else if (idOpt !== null) {
    const cand = c.byMn.get(idOpt.toString('utf8'))
    if (cand && matches(cand, pba.sequence)) e = cand
    else if (cand && pba.status === BaStatus.SEQUENCE_OUT_OF_WINDOW && cand.pending !== P_NONE && cand.phase === PH_SENT) {
      // RFC 6275 §9.5.1: a 135 carries the LMA's last accepted sequence number, not ours (with
      // timestamps too: an LMA may order by sequence number whatever we send, issue 17 item 8).
      e = cand
    } else if (!cand) {
      const other = c.bySeq[pba.sequence & 0xffff]
      if (other && matches(other, pba.sequence)) {
        // Our PBU's sequence number came back with an MN-ID we have no entry for: item 6.
        e = other
        idMismatch = true
      }
    }
    // An MN-ID of ours whose outstanding PBU has another sequence number: a late answer. With
    // timestamps the sequence numbers come from one 16-bit counter for the whole MAG, so with
    // more than 65,536 PBUs in flight another MN's PBU may carry the same number; the MN-ID
    // decides (item 5), and the other MN is not held for it.
  }
  if (!e) return dropPba(c, 'no-match')
  // Only the LMA the PBU went to may answer it.
  if (!e.profile || !c.sameAddr(ev.from, e.profile.lma)) return dropPba(c, 'wrong-source')
  if (pba.status === BaStatus.SEQUENCE_OUT_OF_WINDOW && !idMismatch && echoMismatch(e, pba.options, idOpt !== null) === null) {
    c.inc(statusCounter(pba.status))
    e.lastStatus = pba.status
    onSequenceOutOfWindow(c, e, pba.sequence)
    return
  }
  if (e.pending === P_DEREG) {
    c.inc(statusCounter(pba.status))
    e.lastStatus = pba.status
    // §6.9.1.4: the entry goes on the reply. The old MAG of a handoff gets here too: the LMA
    // answers its de-registration without touching the new MAG's binding, so only local
    // state is removed, whatever the status.
    finishDereg(c, e, pba.status === BaStatus.ACCEPTED ? 'deregistration-accepted' : rejectReason(pba.status))
    return
  }
  const mismatch = idMismatch ? 'mn-id' : echoMismatch(e, pba.options, idOpt !== null)
  if (mismatch !== null) {
    dropPba(c, 'echo-mismatch')
    hold(c, e, `pba-echo-mismatch:${mismatch}`)
    return
  }
  if (pba.status === BaStatus.ACCEPTED) c.cPbaAccepted.n++
  else c.inc(statusCounter(pba.status))
  e.lastStatus = pba.status
  if (pba.status < 128) {
    accept(c, e, pba.lifetime, pba.options, pba.status)
    return
  }
  reject(c, e, pba.status, pba.options)
}

/**
 * Status 135 (RFC 6275 §11.7.3): the LMA holds a newer sequence number for this MN, from an
 * earlier run of this MAG, say; the PBU goes again above the number the answer carries, and the
 * MN is never denied for it. MAX_SEQUENCE_RESYNCS go at once; after them the PBU keeps its
 * retransmission time (§6.9.4 backoff), so an LMA that answers 135 to everything gets no loop.
 */
function onSequenceOutOfWindow(c: MagContext, e: Entry, carried: number): void {
  c.inc('sequence-resync')
  resyncSequence(c, e, carried)
  if (e.resyncs < MAX_SEQUENCE_RESYNCS) {
    e.resyncs++
    transmit(c, e)
    return
  }
  c.inc('sequence-resync-paced')
  if (e.pending === P_DEREG) {
    // §6.9.1.4: a de-registration is not retransmitted; the LMA's binding runs out.
    finishDereg(c, e, rejectReason(BaStatus.SEQUENCE_OUT_OF_WINDOW))
    return
  }
  paceRetry(c, e, rejectReason(BaStatus.SEQUENCE_OUT_OF_WINDOW))
}

/**
 * §6.9.4: an answer that asks for another PBU (157, a 135 past its bound) is paced like a
 * retransmission: the PBU goes when its retransmission timer fires (exponential backoff),
 * with a new sequence number and timestamp, not at once; the retransmission cap applies.
 */
function paceRetry(c: MagContext, e: Entry, reason: string): void {
  if (e.attempts - 1 >= c.s.maxRetransmissions) {
    fail(c, e, reason)
    return
  }
  setPhase(c, e, PH_DEFERRED)
  c.inc('pbu-paced-retry')
  if (e.due(T_PBU) === NOT_ARMED) c.arm(e, 'pbu', c.now + e.backoff)
}

/** Item 6: HI, ATT, MN-LL-ID and MN-ID must come back as sent. */
function echoMismatch(e: Entry, opts: readonly MobilityOption[], idMatched: boolean): string | null {
  for (const o of opts) {
    switch (o.type) {
      case 'handoff-indicator':
        if (o.value !== e.hi) return 'hi'
        break
      case 'access-tech-type':
        if (o.value !== e.att) return 'att'
        break
      case 'mn-ll-id':
        if (e.mac !== null && !sameHex(o.id, e.mac)) return 'mn-ll-id'
        break
      case 'mn-id':
        if (!idMatched && !bytesEqualText(o.id, e.mnId)) return 'mn-id'
        break
      case 'hnp':
      case 'link-local-address':
      case 'timestamp':
      case 'restart-counter':
      case 'gre-key':
      case 'ipv4-hoa-request': // RFC 5844 §3.3.1-3.3.2: a PBU option, answered by a Reply; the IPv4 rules read them
      case 'ipv4-hoa-reply':
      case 'ipv4-default-router':
      case 'ipv4-dhcp-support-mode':
      case 'unknown':
        break
      default:
        assertNever(o, 'mobility option')
    }
  }
  return null
}

/** Item 6: ignore the PBA and send nothing for this MN until an administrative action. */
function hold(c: MagContext, e: Entry, reason: string): void {
  c.inc('held')
  stopService(c, e)
  cancelPbu(c, e)
  c.setLmaState(e, false)
  e.hintHi = HandoffIndicator.UNKNOWN
  c.blocked.set(e.mnId, reason)
  c.changeState(e, 'held', reason)
}

/**
 * The LMA granted `p` to another MN while `o` still forwards it. RFC 5213 §2.2: only the
 * Per-MN-Prefix model, so the LMA holds no binding of `o` for `p` any more (an LMA that restarted
 * lost its bindings, RFC 5847 §3.2, and hands its pool out afresh in the order PBUs reach it).
 * `o` stops using it at once (an RA with lifetime 0 on its link; its routes are removed before
 * the new holder's are added, which the kernel would refuse while they exist) and registers
 * again for what it has left, or for a prefix of the LMA's choosing.
 */
function prefixReassigned(c: MagContext, o: Entry, p: string): void {
  c.inc('prefix-reassigned')
  const left = minus(o.hnps, [p])
  stopService(c, o)
  cancelPbu(c, o)
  o.hnps = EMPTY
  o.req = left
  c.changeState(o, 'registering', 'prefix-reassigned')
  startPbu(c, o, P_REG, HandoffIndicator.UNKNOWN)
}

/** Items 12-15: tunnel and routes up, BUL updated, prefixes advertised, refresh armed. */
function accept(c: MagContext, e: Entry, lifetime: number, opts: readonly MobilityOption[], status: number = BaStatus.ACCEPTED): void {
  const granted: string[] = []
  let lla: string | null = null
  const held = e.state === 'registered' || e.state === 'refreshing' ? e.hnps : EMPTY
  for (const o of opts) {
    if (o.type === 'hnp') {
      if (o.prefixLength === 0 || o.prefixLength > 128 || isAllZero(o.prefix)) continue
      // A refresh: the prefixes the binding has already, as the texts we hold.
      let t: string | undefined
      for (const k of held) {
        if (prefixTextIs(k, o.prefix, o.prefixLength)) {
          t = k
          break
        }
      }
      if (t === undefined) {
        const bytes = isMasked(o.prefix, o.prefixLength) ? o.prefix : maskPrefix(Buffer.from(o.prefix), o.prefixLength)
        t = prefixText(bytes, o.prefixLength)
        // The first RA follows at once: spare it parsing the text back into bytes.
        rememberPrefix(t, bytes, o.prefixLength)
      }
      if (!granted.includes(t)) granted.push(t)
    } else if (o.type === 'link-local-address' && c.s.fixedLinkLocal === null && !isAllZero(o.address)) {
      // Only kept without a fixed link-local address (below): no text to make otherwise.
      lla = fastFormatIp6(o.address)
    }
  }
  // RFC 5844 §3.2.2: an IPv4-only MN has no IPv6 home prefix; one the LMA names anyway is not
  // advertised or routed. Its IPv4 answer is read only when it asked for one.
  const v6 = wantsV6(e)
  if (!v6 && granted.length > 0) {
    c.inc('pba-hnp-ignored:ipv4-only')
    granted.length = 0
  }
  const v4 = wantsV4(e) ? readIpv4Answer(e, opts) : null
  // The PBA names the prefixes the binding covers (RFC 5213 §5.3.6); without them the MAG would
  // be guessing what the LMA routes to it, so such an acceptance gives no service (§6.9.2 item 2).
  // Kept for the binding's lifetime: an exact-size array (push() left room for 17 elements).
  // A refresh that keeps the same prefixes (the usual case) allocates nothing here: at 100,000
  // bindings every array made per refresh ended up in the old generation (issue 8).
  const wasAdv = e.state === 'registered' || e.state === 'refreshing'
  const old = wasAdv ? e.hnps : EMPTY
  const same = wasAdv && granted.length > 0 && sameSet(granted, old)
  const prefixes: readonly string[] = same ? old : granted.length === 1 ? [granted[0]!] : granted.slice()
  const v4Fatal = v4 !== null && !v4.ok && v4.fatal
  if (lifetime === 0 || v4Fatal || (v6 ? prefixes.length === 0 : v4 === null || !v4.ok)) {
    c.inc('pba-accepted-unusable')
    if (lifetime === 0) {
      // Accepted for no time: the LMA holds nothing to take back.
      deny(c, e, 'pba-accepted-zero-lifetime', false)
      return
    }
    // The LMA now holds a binding (and routes) for the MN that serves nothing, or one for an
    // IPv4 address the MAG cannot route (issue 21 item 6): take it back (§6.9.1.4, lifetime
    // 0), then deny the MN (item 11) with the reason.
    if (v4Fatal) c.inc('ipv4-unroutable')
    e.failReason = v4 !== null && !v4.ok && (v4Fatal || !v6) ? v4.reason : 'pba-accepted-without-prefix'
    e.failState = 'denied'
    if (v4 !== null && !v4.ok) {
      e.v4Reason = v4.reason
      askedRefused(c, e, `refused:${v4.reason}`)
    }
    deregister(c, e, e.failReason)
    return
  }
  if (e.sentAt + lifetime * 1000 <= c.now) {
    // RFC 6275 §11.7.3: the granted lifetime counts from when the PBU was sent. An answer that
    // comes after it ran out grants nothing: advertising the prefix now would outlive the
    // LMA's binding (§6.9.2 item 2). As on expiry: stop any service and register afresh.
    c.inc('pba-accepted-expired')
    cancelPbu(c, e)
    if (wasAdv) stopService(c, e)
    e.req = prefixes
    if (e.state !== 'registering') c.changeState(e, 'registering', 'binding-expired')
    startPbu(c, e, P_REG, HandoffIndicator.UNKNOWN)
    return
  }
  cancelPbu(c, e)
  if (v6) {
    // Item 15: never back to an address DAD found in use on this link (an LMA that did not take
    // the replacement we uploaded would otherwise send us round in circles).
    if (lla !== null && c.s.fixedLinkLocal === null && lla !== e.badLla) e.lla = lla
    holdRouterAddress(c, e)
  }
  const removed = same ? EMPTY : minus(old, prefixes)
  const added = same ? EMPTY : wasAdv ? minus(prefixes, old) : prefixes
  const profile = e.profile!
  // The keys the data plane holds now (RFC 5845), to tell whether this PBA changed them.
  const greBefore = e.fwd === F_TUNNEL ? greKeysOf(e) : null
  const wasTunnel = e.fwd === F_TUNNEL
  readGre(c, e, status, opts)
  // RFC 5844 §3.2.4: the IPv4 home address is routed like a home prefix (one host route).
  const v4New = v4 !== null && v4.ok ? v4.text : null
  const v4Changed = v4New !== e.v4Fwd
  const rm4 = v4Changed && e.v4Fwd !== null ? [e.v4Fwd] : null
  const add4 = v4Changed && v4New !== null ? [v4New] : null
  if (rm4 !== null && e.v4Home) ipv4HomeDown(c, e)
  for (const p of removed) if (c.hnpOwner.get(p) === e) c.hnpOwner.delete(p)
  for (const p of added) {
    const other = c.hnpOwner.get(p)
    // Only the same LMA speaks for the other MN's binding (two LMAs may overlap, RFC 5845 keys).
    if (other !== undefined && other !== e && other.profile && c.sameAddr(other.profile.lma, profile.lma)) prefixReassigned(c, other, p)
    c.hnpOwner.set(p, e)
  }
  // §6.12: renumbered prefixes lose their routes here and are withdrawn in the RA below.
  if (removed.length > 0 || rm4 !== null) c.out.push({ type: 'forwarding-down', mnId: e.mnId, link: e.link, prefixes: removed, mode: 'tunnel', lma: profile.lma, ...(rm4 !== null ? { ipv4: rm4 } : {}) })
  e.hnps = sameSet(prefixes, old) ? old : prefixes
  const gre = greKeysOf(e)
  if (added.length > 0 || add4 !== null) {
    c.out.push({ type: 'forwarding-up', mnId: e.mnId, link: e.link, prefixes: added, mode: 'tunnel', lma: profile.lma, ...(add4 !== null ? { ipv4: add4 } : {}), ...(gre !== null ? { greKeys: gre } : {}) })
  } else if (wasTunnel && !sameGreKeys(greBefore, gre)) {
    // RFC 5845 §3: the LMA gave another uplink key on a refresh (or keys came or went): the data
    // plane applies it. The whole set, so a failure names what the binding forwards.
    c.inc('gre-keys-forwarded')
    c.out.push({ type: 'forwarding-up', mnId: e.mnId, link: e.link, prefixes: e.hnps, mode: 'tunnel', lma: profile.lma, ...(v4New !== null ? { ipv4: [v4New] } : {}), ...(gre !== null ? { greKeys: gre } : {}) })
  }
  e.v4Fwd = v4New
  e.fwd = F_TUNNEL
  c.setLmaState(e, true)
  const grantedBefore = e.granted
  e.granted = lifetime
  e.expiresAt = e.sentAt + lifetime * 1000
  c.changeState(e, 'registered', 'pba-accepted')
  c.cBindingAccepted.n++
  c.arm(e, 'refresh', e.sentAt + Math.floor(lifetime * 1000 * c.s.refreshFraction))
  c.arm(e, 'expire', e.expiresAt)
  // After the routes: the access link's DHCPv4 server offers the address (RFC 5844 §3.4).
  if (v4 !== null) updateIpv4Home(c, e, v4, lifetime)
  if (!v6) return
  if (!wasAdv) startAdvertising(c, e, EMPTY)
  else if (removed.length > 0 || added.length > 0) sendRa(c, e, ALL_NODES, removed, false)
  else if (lifetime < grantedBefore) {
    // A shorter binding: the next RA may now be due sooner (nextRaInterval).
    const at = c.now + nextRaInterval(c, e)
    if (e.due(T_RA) === NOT_ARMED || e.due(T_RA) > at) c.arm(e, 'ra', at)
  }
}

function reject(c: MagContext, e: Entry, status: number, opts: readonly MobilityOption[] = EMPTY_OPTS): void {
  const reason = rejectReason(status)
  // RFC 5844 §3.3.5 / RFC 5845 §3: statuses that change what is asked for, then register again.
  const again = (why: string): void => {
    const hi = rehi(e)
    if (e.pending === P_REFRESH) e.req = e.hnps
    stopService(c, e)
    c.changeState(e, 'registering', why)
    startPbu(c, e, P_REG, hi)
  }
  if (rejectIpv4(c, e, status, opts, again)) return
  switch (status) {
    case BaStatus.PROXY_REG_NOT_ENABLED:
      // Item 7: deny the service, no PBU until an administrative action.
      deny(c, e, reason, true)
      return
    case BaStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX: {
      // Item 10: never ask for those prefixes again; let the LMA assign (one ALL_ZERO HNP).
      const asked = e.pending === P_REFRESH ? e.hnps : e.req
      if (asked.length === 0) {
        deny(c, e, reason, false)
        return
      }
      stopService(c, e)
      e.noProfilePrefixes = true
      e.hnps = EMPTY
      e.req = EMPTY
      const hi = e.pending === P_REFRESH ? HandoffIndicator.UNKNOWN : e.hi
      c.changeState(e, 'registering', reason)
      startPbu(c, e, P_REG, hi)
      return
    }
    case BaStatus.TIMESTAMP_MISMATCH:
      if (!c.s.timestampBased) break
      // Item 9: register again only once the clock is synchronised (clock-synced event).
      c.clockUnsynced = true
      stopService(c, e)
      cancelPbu(c, e)
      c.setLmaState(e, false)
      if (e.hnps.length > 0) e.hintHi = HandoffIndicator.UNKNOWN
      c.changeState(e, 'clock-wait', reason)
      return
    case BaStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED: {
      // Item 8: register again (new sequence number, current timestamp), paced as a
      // retransmission (§6.9.4): an LMA that always answers 157 gets 1, 2, 4 ... 32 s apart.
      c.inc('reregister-after-157')
      c.changeState(e, e.state, reason)
      paceRetry(c, e, reason)
      return
    }
    default:
      break
  }
  deny(c, e, reason, false)
}

/** Item 11: no home prefix in any RA, no forwarding; optionally the link goes down. */
export function deny(c: MagContext, e: Entry, reason: string, block: boolean): void {
  c.inc('denied')
  stopService(c, e)
  cancelPbu(c, e)
  c.setLmaState(e, false)
  if (e.hnps.length > 0) e.hintHi = HandoffIndicator.UNKNOWN
  if (block) c.blocked.set(e.mnId, reason)
  c.changeState(e, 'denied', reason)
  if (c.s.teardownOnReject) c.out.push({ type: 'link-teardown', link: e.link, mnId: e.mnId, llId: e.mac === null ? null : macText(e.mac) })
}

function sameGreKeys(a: GreKeys | null, b: GreKeys | null): boolean {
  return a === null || b === null ? a === b : a.uplink === b.uplink && a.downlink === b.downlink
}
