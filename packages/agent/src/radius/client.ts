/**
 * A RADIUS client over UDP (RFC 2865 §2.4-2.5, RFC 5080 §2.2): several servers in order of
 * preference with failover, a bounded timeout and number of retransmissions per server (the
 * same Identifier and bytes each time, RFC 5080 §2.2.1), and every answer checked before it is
 * believed: it must come from the server asked, match an outstanding Identifier, and carry a
 * valid Response Authenticator (and Message-Authenticator). Anything else is counted by reason
 * and dropped; the request keeps waiting for the real answer.
 *
 * A server that let a request time out is passed over for `deadTimeMs` (tried again when every
 * server is in that state). Counters and latency per server feed `mag status` and the metrics.
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { LatencyRecorder } from '../stats'
import { startDeadline, type Deadline } from '@pmip6/driver-api'
import type { Clock } from '../timers'
import { CODE_NAMES } from './constants'
import { decode, RadiusError, verifyResponse, type RadiusPacket } from './codec'

export interface RadiusServer {
  /** IPv6 or IPv4 address. */
  readonly address: string
  readonly port: number
  readonly secret: Buffer
}

export interface ClientOptions {
  readonly kind: 'auth' | 'acct'
  readonly servers: readonly RadiusServer[]
  readonly timeoutMs: number
  /** Retransmissions per server after the first send. */
  readonly retries: number
  /** How long a server that timed out is passed over. */
  readonly deadTimeMs: number
  /** Answers must carry a valid Message-Authenticator (RFC 3579 §3.2). */
  readonly requireMessageAuthenticator: boolean
  /** The codes an answer may have; others are counted and dropped. */
  readonly answerCodes: readonly number[]
}

/** What a request came to: an answer from one server, or none from any. */
export type RequestOutcome =
  | { readonly kind: 'answer'; readonly packet: RadiusPacket; readonly server: string; readonly rttUs: number }
  | { readonly kind: 'timeout'; readonly tried: readonly string[] }
  | { readonly kind: 'busy' }

/** Builds the request bytes for one server: its secret, the Identifier the client chose. */
export type RequestBuilder = (identifier: number, server: RadiusServer) => { readonly bytes: Buffer; readonly authenticator: Buffer }

interface Pending {
  readonly server: ServerState
  readonly identifier: number
  readonly bytes: Buffer
  readonly authenticator: Buffer
  readonly startedAt: number
  sends: number
  /** The wait for this send's answer: then a retransmission, or after the last one failover. */
  deadline: Deadline | null
  readonly done: (o: { packet: RadiusPacket; rttUs: number } | null) => void
}

export interface ServerView {
  readonly server: string
  readonly kind: 'auth' | 'acct'
  readonly state: 'up' | 'down' | 'unknown'
  readonly requests: number
  readonly retransmissions: number
  readonly answers: Readonly<Record<string, number>>
  readonly timeouts: number
  readonly dropped: Readonly<Record<string, number>>
  readonly outstanding: number
  readonly latencyUs: { readonly count: number; readonly p50: number | null; readonly p99: number | null }
}

class ServerState {
  readonly name: string
  readonly pending = new Map<number, Pending>()
  nextId = Math.floor(Math.random() * 256)
  deadUntil = 0
  state: 'up' | 'down' | 'unknown' = 'unknown'
  requests = 0
  retransmissions = 0
  timeouts = 0
  readonly answers: Record<string, number> = {}
  readonly dropped: Record<string, number> = {}
  readonly latency = new LatencyRecorder(2048)
  constructor(readonly cfg: RadiusServer) {
    this.name = isIP(cfg.address) === 6 ? `[${cfg.address}]:${cfg.port}` : `${cfg.address}:${cfg.port}`
  }
  drop(why: string): void {
    this.dropped[why] = (this.dropped[why] ?? 0) + 1
  }
  freeId(): number | null {
    for (let k = 0; k < 256; k++) {
      const id = (this.nextId + k) & 0xff
      if (!this.pending.has(id)) {
        this.nextId = (id + 1) & 0xff
        return id
      }
    }
    return null
  }
}

/** Answers from sources that are no server of ours. */
export interface ClientCounters {
  unknownSource: number
}

export class RadiusClient {
  private readonly servers: ServerState[]
  private readonly byName = new Map<string, ServerState>()
  private readonly sockets = new Map<4 | 6, Socket>()
  private closed = false
  readonly counters: ClientCounters = { unknownSource: 0 }

  constructor(
    private readonly o: ClientOptions,
    private readonly clock: Clock,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {
    this.servers = o.servers.map((s) => new ServerState(s))
    for (const s of this.servers) this.byName.set(s.name, s)
  }

  private socket(family: 4 | 6): Socket {
    let s = this.sockets.get(family)
    if (s) return s
    s = createSocket(family === 6 ? 'udp6' : 'udp4')
    s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port))
    s.on('error', (e) => this.onError(e))
    s.unref()
    this.sockets.set(family, s)
    return s
  }

  /** Tries the servers in order (live ones first) until one answers or all have timed out. */
  async request(build: RequestBuilder): Promise<RequestOutcome> {
    const now = this.clock.now()
    const live = this.servers.filter((s) => s.deadUntil <= now)
    const order = live.length > 0 ? live : this.servers
    const tried: string[] = []
    let busy = 0
    for (const s of order) {
      if (this.closed) break
      const id = s.freeId()
      if (id === null) {
        s.drop('identifiers-exhausted')
        busy++
        continue
      }
      const { bytes, authenticator } = build(id, s.cfg)
      tried.push(s.name)
      const r = await this.attempt(s, id, bytes, authenticator)
      if (r) {
        s.state = 'up'
        s.deadUntil = 0
        return { kind: 'answer', packet: r.packet, server: s.name, rttUs: r.rttUs }
      }
      s.timeouts++
      s.state = 'down'
      s.deadUntil = this.clock.now() + this.o.deadTimeMs
    }
    return busy > 0 && tried.length === 0 ? { kind: 'busy' } : { kind: 'timeout', tried }
  }

  private attempt(s: ServerState, identifier: number, bytes: Buffer, authenticator: Buffer): Promise<{ packet: RadiusPacket; rttUs: number } | null> {
    return new Promise((resolve) => {
      const p: Pending = { server: s, identifier, bytes, authenticator, startedAt: performance.now(), sends: 0, deadline: null, done: resolve }
      s.pending.set(identifier, p)
      s.requests++
      this.send(p)
    })
  }

  private send(p: Pending): void {
    if (this.closed) return this.finish(p, null)
    if (p.sends > 0) p.server.retransmissions++
    p.sends++
    const family = isIP(p.server.cfg.address) === 6 ? 6 : 4
    this.socket(family).send(p.bytes, p.server.cfg.port, p.server.cfg.address, (e) => {
      if (e) p.server.drop('send-error')
    })
    // An Accept already on the socket of a starved process wins over the retransmission timer.
    p.deadline = startDeadline(
      this.o.timeoutMs,
      () => {
        p.deadline = null
        if (p.sends <= this.o.retries) this.send(p)
        else this.finish(p, null)
      },
      { timers: this.clock },
    )
  }

  private finish(p: Pending, r: { packet: RadiusPacket; rttUs: number } | null): void {
    if (p.server.pending.get(p.identifier) !== p) return
    p.server.pending.delete(p.identifier)
    p.deadline?.cancel()
    p.deadline = null
    p.done(r)
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    const family = isIP(address)
    const key = family === 6 ? `[${address}]:${port}` : `${address}:${port}`
    // One socket per address family, so an IPv4 server answers on the udp4 socket: no mapped addresses here.
    const s = this.byName.get(key)
    if (!s) {
      this.counters.unknownSource++
      return
    }
    let packet: RadiusPacket
    try {
      packet = decode(msg)
    } catch (e) {
      if (!(e instanceof RadiusError)) throw e
      s.drop(`malformed.${e.reason}`)
      return
    }
    const p = s.pending.get(packet.identifier)
    if (!p) {
      s.drop('unknown-identifier')
      return
    }
    const v = verifyResponse(msg, p.authenticator, s.cfg.secret, this.o.requireMessageAuthenticator)
    if (v !== 'ok') {
      // A wrong secret or a forgery: not the answer; the real one may still come.
      s.drop(v)
      return
    }
    if (!this.o.answerCodes.includes(packet.code)) {
      s.drop(`unexpected-code.${packet.code}`)
      return
    }
    const rttUs = (performance.now() - p.startedAt) * 1000
    s.latency.add(rttUs)
    const name = CODE_NAMES[packet.code] ?? String(packet.code)
    s.answers[name] = (s.answers[name] ?? 0) + 1
    this.finish(p, { packet, rttUs })
  }

  views(): ServerView[] {
    const now = this.clock.now()
    return this.servers.map((s) => ({
      server: s.name,
      kind: this.o.kind,
      state: s.state === 'down' && s.deadUntil <= now ? 'unknown' : s.state,
      requests: s.requests,
      retransmissions: s.retransmissions,
      answers: { ...s.answers },
      timeouts: s.timeouts,
      dropped: { ...s.dropped },
      outstanding: s.pending.size,
      latencyUs: { count: s.latency.count, p50: s.latency.percentile(50), p99: s.latency.percentile(99) },
    }))
  }

  /** Ends every outstanding request (as timed out) and closes the sockets. */
  close(): void {
    this.closed = true
    for (const s of this.servers) for (const p of [...s.pending.values()]) this.finish(p, null)
    for (const sock of this.sockets.values()) {
      try {
        sock.close()
      } catch {
        // already closed
      }
    }
    this.sockets.clear()
  }
}
