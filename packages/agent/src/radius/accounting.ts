/**
 * RADIUS accounting per binding (RFC 2866): Start when an MN's binding is first registered,
 * Interim-Update every configured interval (RFC 2869 §5.16), Stop when the binding goes. The
 * session is the binding: Acct-Session-Id unique per start (RFC 2866 §5.5), the home prefixes
 * as Framed-IPv6-Prefix (RFC 3162 §2.3), the Access-Accept's Class echoed (RFC 2865 §5.25).
 * Sent through a RadiusClient with the same failover and bounded retries; an accounting record
 * nobody answered is counted and logged, never queued without bound.
 */
import { parsePrefix, parseIp6 } from '@pmip6/wire'
import type { BindingView } from '@pmip6/core'
import type { Logger } from '@pmip6/driver-api'
import { Counters } from '../stats'
import type { Clock } from '../timers'
import { RadiusClient, type ServerView } from './client'
import { AcctStatus, AcctTerminate, Attr, RadiusCode } from './constants'
import { encodeSignedRequest, ip6PrefixValue, octets, text, u32, type RadiusAttribute } from './codec'
import { nasPortTypeOf, serversOf, stationId } from './aaa'
import type { AccountingConfig } from './types'

export interface AccountingHost {
  binding(mnId: string): BindingView | undefined
  bindings(): readonly BindingView[]
}

interface Session {
  readonly id: string
  readonly mnId: string
  readonly startedAt: number
  readonly mac: string | null
  readonly att: number
  prefixes: readonly string[]
  timer: unknown
  classes: readonly Buffer[]
}

export class Accounting {
  private readonly client: RadiusClient
  private readonly sessions = new Map<string, Session>()
  private readonly base = Math.floor(Date.now() / 1000).toString(16)
  private seq = 0
  private readonly inFlight = new Set<Promise<void>>()
  /** MNs ended by an RFC 5176 Disconnect: their Stop says Admin-Reset. */
  private readonly adminReset = new Set<string>()
  readonly counters = new Counters()

  constructor(
    private readonly cfg: AccountingConfig,
    private readonly host: AccountingHost,
    private readonly nas: { readonly ipv6: string; readonly identifier?: string },
    private readonly classesOf: (mnId: string) => readonly Buffer[],
    private readonly log: Logger,
    private readonly clock: Clock,
    timeoutMs: number,
    retries: number,
    deadTimeMs: number,
  ) {
    this.client = new RadiusClient(
      { kind: 'acct', servers: serversOf(cfg.servers), timeoutMs, retries, deadTimeMs, requireMessageAuthenticator: false, answerCodes: [RadiusCode.ACCOUNTING_RESPONSE] },
      clock,
      (e) => log.warn('radius accounting socket error', { error: e.message }),
    )
  }

  /** After a batch of binding changes ('all': look at every MN with or without a session). */
  changed(mnIds: ReadonlySet<string> | 'all'): void {
    const ids = mnIds === 'all' ? new Set([...this.sessions.keys(), ...this.host.bindings().map((b) => b.mnId)]) : mnIds
    for (const mnId of ids) {
      const b = this.host.binding(mnId)
      const s = this.sessions.get(mnId)
      const up = b !== undefined && (b.state === 'registered' || b.state === 'refreshing')
      if (up && !s) this.start(b)
      else if (!b && s) this.stop(s, this.adminReset.delete(mnId) ? AcctTerminate.ADMIN_RESET : AcctTerminate.USER_REQUEST)
      else if (up && s && b.prefixes.join() !== s.prefixes.join()) s.prefixes = b.prefixes
    }
  }

  noteDisconnect(mnId: string): void {
    this.adminReset.add(mnId)
  }

  sessionOf(acctSessionId: string): string | undefined {
    for (const s of this.sessions.values()) if (s.id === acctSessionId) return s.mnId
    return undefined
  }

  private start(b: BindingView): void {
    const s: Session = { id: `${this.base}-${(++this.seq).toString(16).padStart(8, '0')}`, mnId: b.mnId, startedAt: this.clock.now(), mac: b.mac, att: b.att, prefixes: b.prefixes, timer: null, classes: this.classesOf(b.mnId) }
    this.sessions.set(b.mnId, s)
    this.send(s, AcctStatus.START)
    this.armInterim(s)
  }

  private armInterim(s: Session): void {
    if (this.cfg.interimIntervalS <= 0) return
    s.timer = this.clock.setTimeout(() => {
      s.timer = null
      if (this.sessions.get(s.mnId) !== s) return
      this.send(s, AcctStatus.INTERIM_UPDATE)
      this.armInterim(s)
    }, this.cfg.interimIntervalS * 1000)
  }

  private stop(s: Session, cause: number): void {
    this.sessions.delete(s.mnId)
    if (s.timer !== null) this.clock.clearTimeout(s.timer)
    this.send(s, AcctStatus.STOP, cause)
  }

  private attributes(s: Session, status: number, cause?: number): RadiusAttribute[] {
    const a: RadiusAttribute[] = [
      u32(Attr.ACCT_STATUS_TYPE, status),
      text(Attr.ACCT_SESSION_ID, s.id),
      text(Attr.USER_NAME, s.mnId),
      octets(Attr.NAS_IPV6_ADDRESS, parseIp6(this.nas.ipv6)),
      u32(Attr.NAS_PORT_TYPE, nasPortTypeOf(s.att)),
      u32(Attr.EVENT_TIMESTAMP, Math.floor(this.clock.now() / 1000)),
      u32(Attr.ACCT_DELAY_TIME, 0),
    ]
    if (this.nas.identifier) a.push(text(Attr.NAS_IDENTIFIER, this.nas.identifier))
    if (s.mac) a.push(text(Attr.CALLING_STATION_ID, stationId(s.mac)))
    for (const p of s.prefixes) {
      const x = parsePrefix(p)
      a.push(octets(Attr.FRAMED_IPV6_PREFIX, ip6PrefixValue(x.prefix, x.length)))
    }
    for (const c of s.classes) a.push(octets(Attr.CLASS, c))
    if (status !== AcctStatus.START) a.push(u32(Attr.ACCT_SESSION_TIME, Math.floor((this.clock.now() - s.startedAt) / 1000)))
    if (cause !== undefined) a.push(u32(Attr.ACCT_TERMINATE_CAUSE, cause))
    return a
  }

  private send(s: Session, status: number, cause?: number): void {
    const name = status === AcctStatus.START ? 'start' : status === AcctStatus.STOP ? 'stop' : 'interim'
    this.counters.inc(`${name}.sent`)
    const attrs = this.attributes(s, status, cause)
    const p = this.client
      .request((id, server) => {
        const bytes = encodeSignedRequest(RadiusCode.ACCOUNTING_REQUEST, id, attrs, server.secret)
        return { bytes, authenticator: bytes.subarray(4, 20) }
      })
      .then((o) => {
        if (o.kind === 'answer') this.counters.inc(`${name}.answered`)
        else {
          this.counters.inc(`${name}.unanswered`)
          this.log.warn('radius accounting unanswered', { mn: s.mnId, record: name, session: s.id })
        }
      })
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p))
  }

  views(): ServerView[] {
    return this.client.views()
  }

  /** Stop for every session still open (a shutdown that keeps the bindings), then waits (bounded) for the answers. */
  async close(waitMs: number): Promise<void> {
    for (const s of [...this.sessions.values()]) this.stop(s, AcctTerminate.NAS_REQUEST)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all([...this.inFlight]), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))])
    clearTimeout(timer)
    this.client.close()
  }
}
