/**
 * One client socket on hostapd's control interface (protocol-reference.md §7): AF_UNIX
 * SOCK_DGRAM, bound to a path of our own (hostapd answers to the sender's address), connected
 * to hostapd's socket. Requests are serialised, since replies carry no tag; datagrams that
 * start with `<N>` are events and go to the event handler instead.
 */
import { existsSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { createSocket, type UnixDgramSocket } from 'unix-dgram'
import { startDeadline, type Deadline } from '@pmip6/driver-api'
import { isEventDatagram } from './parse'

export class CtrlError extends Error {
  override readonly name = 'CtrlError'
  constructor(
    readonly code: 'connect' | 'send' | 'timeout' | 'closed',
    message: string,
  ) {
    super(message)
  }
}

let counter = 0

interface Pending {
  readonly cmd: string
  resolve(s: string): void
  reject(e: Error): void
  deadline: Deadline
}

export class CtrlSocket {
  private sock: UnixDgramSocket | null = null
  private readonly localPath: string
  private pending: Pending | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private eventFn: (text: string) => void = () => undefined

  constructor(
    readonly remotePath: string,
    clientDir: string,
    private readonly timeoutMs: number,
  ) {
    // Like wpa_ctrl_open(): a per-process, per-socket path, unlinked on close.
    this.localPath = join(clientDir, `mag_ctrl_${process.pid}-${++counter}`)
  }

  onEvent(fn: (text: string) => void): void {
    this.eventFn = fn
  }

  /** Binds our path and connects to hostapd; throws CtrlError('connect') when it is not there. */
  open(): void {
    this.close()
    if (!existsSync(this.remotePath)) throw new CtrlError('connect', `no hostapd control socket at ${this.remotePath}`)
    try {
      if (existsSync(this.localPath)) unlinkSync(this.localPath)
    } catch {
      // a stale path we cannot remove makes bind fail below, with its own message
    }
    const s = createSocket('unix_dgram')
    let err: Error | null = null
    s.on('error', (e) => {
      err = e
    })
    s.on('message', (buf) => this.onDatagram(buf.toString('utf8')))
    s.bind(this.localPath)
    if (!err) s.connect(this.remotePath)
    if (err) {
      this.closeSocket(s)
      throw new CtrlError('connect', `cannot connect to ${this.remotePath}: ${(err as Error).message}`)
    }
    // Later socket errors surface through the pending request or the next send.
    s.removeAllListeners('error')
    s.on('error', (e) => this.failPending(new CtrlError('send', e.message)))
    this.sock = s
  }

  get isOpen(): boolean {
    return this.sock !== null
  }

  /** Sends a command and resolves with its reply text; one request at a time. */
  request(cmd: string, timeoutMs = this.timeoutMs): Promise<string> {
    const run = (): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        const s = this.sock
        if (!s) return reject(new CtrlError('closed', `control socket ${this.remotePath} is closed`))
        // A reply already queued on a starved agent's socket wins over the due timer.
        const deadline = startDeadline(timeoutMs, () => this.failPending(new CtrlError('timeout', `${cmd.split(' ')[0]} to ${this.remotePath}: no reply in ${timeoutMs} ms`)))
        this.pending = { cmd, resolve, reject, deadline }
        s.send(Buffer.from(cmd, 'ascii'), (e) => {
          if (e) this.failPending(new CtrlError('send', `${cmd.split(' ')[0]} to ${this.remotePath}: ${e.message}`))
        })
      })
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => undefined)
    return p
  }

  close(): void {
    this.failPending(new CtrlError('closed', `control socket ${this.remotePath} closed`))
    if (this.sock) this.closeSocket(this.sock)
    this.sock = null
  }

  private closeSocket(s: UnixDgramSocket): void {
    s.removeAllListeners('message')
    try {
      s.close()
    } catch {
      // already closed
    }
    try {
      unlinkSync(this.localPath)
    } catch {
      // never bound
    }
  }

  private onDatagram(text: string): void {
    if (isEventDatagram(text)) {
      this.eventFn(text)
      return
    }
    const p = this.pending
    if (!p) return // a late reply to a request that timed out
    this.pending = null
    p.deadline.cancel()
    p.resolve(text)
  }

  private failPending(e: Error): void {
    const p = this.pending
    if (!p) return
    this.pending = null
    p.deadline.cancel()
    p.reject(e)
  }
}
