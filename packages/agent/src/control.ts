/**
 * The control socket: a UNIX stream socket speaking newline-delimited JSON. Each request is
 * one line `{"cmd": "...", ...}`; each gets one reply line, `{"ok": true, "result": ...}` or
 * `{"ok": false, "error": "..."}`. A bad line (not JSON, unknown command, oversized) gets an
 * error reply and is counted; the connection and the daemon stay up. A handler may answer with a
 * promise (the listing builds a long answer over many turns of the event loop): the requests of
 * one connection are still answered one after the other, in order. Only the daemon's own user
 * (and root) may talk to it: the socket's mode, and the peer's credentials on every connection.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { startDeadline } from '@pmip6/driver-api'
import { peerCredentials } from '@pmip6/rawsock'
import { drained, JsonStream, Turns } from './listing'

export type ControlRequest = { readonly cmd: string } & Readonly<Record<string, unknown>>
/**
 * Answers one request: a value, JSON text written as it is made (JsonStream), or a promise of a
 * value. `turns` is the request's: a handler that works in slices calls turns.check() between them.
 */
export type ControlHandler = (req: ControlRequest, turns: Turns) => unknown
export class ControlError extends Error {}

/** Bytes (about) of an answer handed to the socket in one write. */
const WRITE_BYTES = 64 * 1024

/** Longest request line accepted; a longer one is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 64 * 1024

export interface ControlCounters {
  requests: number
  badRequests: number
  connections: number
  /** Connections refused because the peer is neither root nor the daemon's user. */
  refused: number
}

/** Why a connection is refused, or null to accept it. */
export type PeerCheck = (sock: Socket) => string | null

/** SO_PEERCRED: root or the daemon's own uid; anyone else is refused, whatever the socket mode. */
export const ownerOnly: PeerCheck = (sock) => {
  // Node keeps the descriptor on the handle; it has no public API for peer credentials.
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) return 'cannot read the peer credentials'
  let uid: number
  try {
    uid = peerCredentials(fd).uid
  } catch (e) {
    return `cannot read the peer credentials: ${(e as Error).message}`
  }
  const me = process.getuid?.() ?? 0
  return uid === 0 || uid === me ? null : `not allowed: uid ${uid} is not the daemon's user (${me}) or root`
}

export class ControlServer {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  readonly counters: ControlCounters = { requests: 0, badRequests: 0, connections: 0, refused: 0 }
  /**
   * The longest one request held the event loop in one go (handler, JSON encoding, hand-over to
   * the socket; for an answer built in slices, its longest turn), in ms since start or the last
   * resetLongestReply(): a listing at a million bindings must never stall the MAG (issue 23).
   */
  longestReplyMs = 0

  resetLongestReply(): void {
    this.longestReplyMs = 0
  }

  constructor(
    private readonly path: string,
    private readonly handlers: ReadonlyMap<string, ControlHandler>,
    private readonly mode = 0o600,
    private readonly peerCheck: PeerCheck = ownerOnly,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true })
    if (existsSync(this.path)) {
      // A socket left by a crashed daemon: replace it; refuse to clobber anything else.
      if (!lstatSync(this.path).isSocket()) throw new Error(`control socket path ${this.path} exists and is not a socket`)
      unlinkSync(this.path)
    }
    const server = createServer((s) => this.accept(s))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.path, () => {
        server.off('error', reject)
        resolve()
      })
    })
    chmodSync(this.path, this.mode)
    this.server = server
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    for (const c of this.sockets) c.destroy()
    this.sockets.clear()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
    try {
      unlinkSync(this.path)
    } catch {
      // already gone
    }
  }

  private accept(sock: Socket): void {
    this.counters.connections++
    // Tracked from the start, refused ones too: stop() must not wait for any peer to hang up.
    this.sockets.add(sock)
    sock.on('close', () => this.sockets.delete(sock))
    const refusal = this.peerCheck(sock)
    if (refusal !== null) {
      this.counters.refused++
      sock.on('error', () => sock.destroy())
      sock.end(JSON.stringify({ ok: false, error: refusal }) + '\n')
      // Give the peer a moment to read why, then drop it whatever it does.
      setTimeout(() => sock.destroy(), 1000).unref()
      return
    }
    sock.setEncoding('utf8')
    let buf = ''
    // One answer after the other: the next request waits for the answer before it to be written.
    let queue: Promise<void> = Promise.resolve()
    sock.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim() === '') continue
        queue = queue
          .then(() => this.reply(sock, line))
          .catch(() => {
            sock.destroy()
          })
      }
      if (buf.length > MAX_REQUEST_BYTES) {
        this.counters.badRequests++
        sock.end(JSON.stringify({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` }) + '\n')
        buf = ''
      }
    })
    sock.on('error', () => sock.destroy())
  }

  private async reply(sock: Socket, line: string): Promise<void> {
    const turns = new Turns()
    this.counters.requests++
    let result: unknown
    let error: string | null = null
    try {
      result = this.handle(line, turns)
      if (result instanceof Promise) result = await result
    } catch (e) {
      this.counters.badRequests++
      error = e instanceof Error ? e.message : String(e)
    }
    if (error !== null) {
      if (!sock.destroyed) sock.write(JSON.stringify({ ok: false, error }) + '\n')
    } else if (result instanceof JsonStream) {
      // Written as it is made, in turns, no faster than the client reads: a long answer is
      // never one big string, nor queued in the heap.
      // Pieces gathered to WRITE_BYTES before each socket write: fewer write requests to settle.
      let held: string[] = []
      let heldBytes = 0
      const write = (json: string, flush = false): Promise<void> | undefined => {
        held.push(json)
        heldBytes += json.length
        if (!flush && heldBytes < WRITE_BYTES) return undefined
        const out = held.join('')
        held = []
        heldBytes = 0
        if (sock.destroyed || sock.write(out)) return undefined
        return drained(sock)
      }
      write('{"ok":true,"result":')
      try {
        await result.writeTo(write, turns)
        const w = write('}\n', true)
        if (w) await turns.wait(w)
      } catch {
        // Half an answer is out: the client must see a broken reply, not a short list.
        sock.destroy()
      }
    } else if (!sock.destroyed) sock.write(JSON.stringify({ ok: true, result }) + '\n')
    turns.done()
    if (turns.longestMs > this.longestReplyMs) this.longestReplyMs = turns.longestMs
  }

  private handle(line: string, turns: Turns): unknown {
    let req: unknown
    try {
      req = JSON.parse(line)
    } catch {
      throw new ControlError('request is not valid JSON')
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new ControlError('request must be a JSON object')
    const cmd = (req as Record<string, unknown>)['cmd']
    if (typeof cmd !== 'string') throw new ControlError('request needs a "cmd" string')
    const h = this.handlers.get(cmd)
    if (!h) throw new ControlError(`unknown command "${cmd}" (known: ${[...this.handlers.keys()].sort().join(', ')})`)
    return h(req as ControlRequest, turns)
  }
}

/** Client side: sends one request and resolves with its result, or rejects with the daemon's error. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(path)
    // Chunks until the newline: a large answer (a page of a big list) is searched once, not
    // again from its start on every chunk.
    const parts: string[] = []
    // A starved client (a loaded lab host, a UML guest) takes an answer already queued first.
    const deadline = startDeadline(timeoutMs, () => {
      sock.destroy()
      reject(new Error(`no answer from the daemon on ${path} within ${timeoutMs} ms`))
    })
    sock.setEncoding('utf8')
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'))
    let answered = false
    sock.on('data', (c: string) => {
      if (answered) return
      const nl = c.indexOf('\n')
      if (nl < 0) {
        parts.push(c)
        return
      }
      parts.push(c.slice(0, nl))
      answered = true
      deadline.cancel()
      sock.end()
      let rep: { ok?: boolean; result?: unknown; error?: string } & Record<string, unknown>
      try {
        rep = JSON.parse(parts.join('')) as typeof rep
      } catch {
        reject(new Error('the daemon answered something that is not JSON'))
        return
      }
      // The lab LMA answers with named fields ({"ok":true,"faults":...}) instead of `result`.
      if (rep.ok) resolve('result' in rep ? rep.result : Object.fromEntries(Object.entries(rep).filter(([k]) => k !== 'ok')))
      else reject(new ControlError(rep.error ?? 'the daemon refused the request'))
    })
    sock.on('error', (e: NodeJS.ErrnoException) => {
      deadline.cancel()
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no daemon is listening on ${path} (${e.code})` : e.code === 'EACCES' ? `not allowed to use ${path} (EACCES): run as the daemon's user` : e.message
      reject(new Error(why))
    })
  })
}
