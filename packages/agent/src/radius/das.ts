/**
 * The MAG as a Dynamic Authorization Server (RFC 5176): Disconnect-Request ends an MN's session
 * (the link is torn down where the driver can and the binding de-registered); CoA-Request drops
 * the MN's cached profile, so its next attach asks RADIUS again.
 *
 * Trust nothing (RFC 5176 §3.5, §6): a request is taken only from a configured client, with a
 * valid Request Authenticator (and Message-Authenticator, when present) under that client's
 * secret; anything else is counted by reason and silently dropped. A request naming another
 * NAS gets a NAK with Error-Cause 403, one naming no session 402, an unknown session 503
 * (RFC 5176 §3.5). A retransmitted request gets the same answer again, not a second action
 * (§2.3: duplicate detection, by source, Identifier and Request Authenticator).
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { canonicalIp6, formatIp6 } from '@pmip6/wire'
import type { Logger } from '@pmip6/driver-api'
import { Counters } from '../stats'
import { parseListen } from '../metrics'
import { Attr, ErrorCause, RadiusCode } from './constants'
import { decode, encodeResponse, RadiusError, u32, verifySignedRequest, type RadiusPacket } from './codec'
import { readSecret } from './aaa'
import type { DasConfig } from './types'

/** The session a request names: the attributes RFC 5176 §3 lists that the MAG can match. */
export interface SessionIds {
  readonly userName?: string
  readonly callingStationId?: string
  readonly acctSessionId?: string
  readonly mobileNodeId?: string
}

/** What the daemon does with a request; a number is the RFC 5176 Error-Cause of a NAK. */
export interface DasActions {
  disconnect(ids: SessionIds): true | number
  coa(ids: SessionIds): true | number
}

const DUPLICATE_WINDOW_MS = 30_000
const DUPLICATE_MAX = 1024

export class DasServer {
  private socket: Socket | null = null
  private readonly clients = new Map<string, Buffer>()
  private readonly recent = new Map<string, { at: number; bytes: Buffer }>()
  readonly counters = new Counters()

  constructor(
    private readonly cfg: DasConfig,
    private readonly nas: { readonly ipv6: string; readonly identifier?: string },
    private readonly actions: DasActions,
    private readonly log: Logger,
  ) {
    for (const c of cfg.clients) this.clients.set(normal(c.address), readSecret(c.secretFile))
  }

  async start(): Promise<{ host: string; port: number }> {
    const { host, port } = parseListen(this.cfg.listen)
    const s = createSocket({ type: isIP(host) === 4 ? 'udp4' : 'udp6', ipv6Only: false })
    s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port))
    s.on('error', (e) => this.log.warn('das socket error', { error: e.message }))
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(port, host, () => {
        s.off('error', reject)
        resolve()
      })
    })
    this.socket = s
    const a = s.address()
    return { host: a.address, port: a.port }
  }

  stop(): void {
    try {
      this.socket?.close()
    } catch {
      // closed already
    }
    this.socket = null
  }

  private drop(why: string, from: string): void {
    this.counters.inc('dropped')
    this.counters.inc(`dropped.${why}`)
    this.log.debug('das request dropped', { reason: why, from })
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    this.counters.inc('received')
    const from = normal(address)
    const secret = this.clients.get(from)
    if (!secret) return this.drop('unknown-client', from)
    let p: RadiusPacket
    try {
      p = decode(msg)
    } catch (e) {
      if (!(e instanceof RadiusError)) throw e
      return this.drop(`malformed.${e.reason}`, from)
    }
    if (p.code !== RadiusCode.DISCONNECT_REQUEST && p.code !== RadiusCode.COA_REQUEST) return this.drop(`unexpected-code.${p.code}`, from)
    const v = verifySignedRequest(msg, secret)
    // A wrong secret or a forgery (§3.5: silently discarded).
    if (v !== 'ok') return this.drop(v, from)
    const key = `${from}|${port}|${p.identifier}|${p.authenticator.toString('hex')}`
    const now = Date.now()
    const seen = this.recent.get(key)
    if (seen && now - seen.at < DUPLICATE_WINDOW_MS) {
      this.counters.inc('duplicates')
      this.send(seen.bytes, address, port)
      return
    }
    const kind = p.code === RadiusCode.DISCONNECT_REQUEST ? 'disconnect' : 'coa'
    this.counters.inc(`${kind}.requests`)
    const result = this.handle(p, kind)
    const ack = result === true
    const code = kind === 'disconnect' ? (ack ? RadiusCode.DISCONNECT_ACK : RadiusCode.DISCONNECT_NAK) : ack ? RadiusCode.COA_ACK : RadiusCode.COA_NAK
    this.counters.inc(`${kind}.${ack ? 'ack' : 'nak'}`)
    const hadMa = p.attributes.some((a) => a.type === Attr.MESSAGE_AUTHENTICATOR)
    const bytes = encodeResponse(code, p.identifier, p.authenticator, ack ? [] : [u32(Attr.ERROR_CAUSE, result as number)], secret, hadMa)
    this.log.info('das request', { kind, from, answer: ack ? 'ack' : 'nak', errorCause: ack ? undefined : result })
    this.remember(key, now, bytes)
    this.send(bytes, address, port)
  }

  private handle(p: RadiusPacket, kind: 'disconnect' | 'coa'): true | number {
    const str = (t: number): string | undefined => p.attributes.find((a) => a.type === t)?.value.toString('utf8')
    // §3: the NAS identification attributes, when present, must name this MAG.
    if (p.attributes.some((a) => a.type === Attr.NAS_IP_ADDRESS)) return ErrorCause.NAS_IDENTIFICATION_MISMATCH
    const v6 = p.attributes.find((a) => a.type === Attr.NAS_IPV6_ADDRESS)?.value
    if (v6 !== undefined && (v6.length !== 16 || formatIp6(v6) !== canonicalIp6(this.nas.ipv6))) return ErrorCause.NAS_IDENTIFICATION_MISMATCH
    const nasId = str(Attr.NAS_IDENTIFIER)
    if (nasId !== undefined && nasId !== this.nas.identifier) return ErrorCause.NAS_IDENTIFICATION_MISMATCH
    const ids: SessionIds = Object.fromEntries(
      Object.entries({ userName: str(Attr.USER_NAME), callingStationId: str(Attr.CALLING_STATION_ID), acctSessionId: str(Attr.ACCT_SESSION_ID), mobileNodeId: str(Attr.MOBILE_NODE_IDENTIFIER) }).filter(([, x]) => x !== undefined),
    )
    if (Object.keys(ids).length === 0) return ErrorCause.MISSING_ATTRIBUTE
    return kind === 'disconnect' ? this.actions.disconnect(ids) : this.actions.coa(ids)
  }

  private remember(key: string, at: number, bytes: Buffer): void {
    this.recent.set(key, { at, bytes })
    if (this.recent.size <= DUPLICATE_MAX) return
    for (const [k, r] of this.recent) {
      if (this.recent.size <= DUPLICATE_MAX && at - r.at < DUPLICATE_WINDOW_MS) break
      this.recent.delete(k)
    }
  }

  private send(bytes: Buffer, address: string, port: number): void {
    this.socket?.send(bytes, port, address, (e) => {
      if (e) this.counters.inc('send-error')
    })
  }
}

/** An address as the socket reports it: IPv4-mapped IPv6 as plain IPv4, IPv6 canonical. */
function normal(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)
  if (m) return m[1]!
  return isIP(a) === 6 ? canonicalIp6(a) : a
}
