/**
 * Batched rtnetlink requests on the npm `netlink` raw socket. Requests queued in the same tick
 * leave in one sendmsg(). The kernel processes the messages of a datagram in turn, within that
 * sendmsg(), and answers a message with an NLMSG_ERROR when it fails or asks for an ack
 * (NLM_F_ACK). Only the last message of a datagram asks: its answer comes after those of all
 * the others, so when it comes, every message of the datagram without an error answer
 * succeeded. One ack per datagram instead of one per message: the binding reads at most 32
 * datagrams per event-loop turn, and at 100,000 MNs on a busy machine the MAG spent its turns
 * reading acks, 200 bindings/s (issue 23). Measured here: the typed per-request API costs
 * about 100 µs of CPU per route, most of it in JavaScript; batching brings it near the
 * kernel's own cost. Used for the per-binding rules and routes; everything else goes through
 * the typed API.
 */
import { constants } from 'node:os'
import { RawNetlinkSocket } from 'netlink'
import { NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, NLMSG_HDRLEN, setNlmsgHeader } from './encode'

const NETLINK_ROUTE = 0
/** linux/netlink.h struct nlmsghdr: nlmsg_flags after nlmsg_len and nlmsg_type. */
const NLMSG_FLAGS_OFFSET = 6
/** Messages in flight at once; only failures and each datagram's last message are answered. */
const MAX_IN_FLIGHT = 4096
/**
 * Largest datagram we send. The kernel does the work of the whole datagram inside our
 * sendmsg() (a few µs per route), so this also bounds how long one send holds the event loop:
 * about 300 routes.
 */
const MAX_DATAGRAM_BYTES = 24 * 1024
const SOCKET_BUFFER_BYTES = 4 << 20
/** Long enough for a starved process on a loaded machine to read acks that did come (issue 23: at load 25, 20,000 routes took up to 12 s from request to ack; 2 s failed bindings). */
const TIMEOUT_MS = 30_000
const SWEEP_MS = 250

const ERRNO_NAME = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]))

/** The kernel's refusal of one message, as errno name and number. */
export class RtnlRefusal extends Error {
  override readonly name = 'RtnlRefusal'
  constructor(
    readonly code: string,
    readonly errno: number,
  ) {
    super(`Request rejected: ${code}`)
  }
}

interface Pending {
  readonly resolve: () => void
  readonly reject: (e: Error) => void
  /** When it left (the time out runs from there, not while it waits its turn). */
  at: number
  /** Sequence numbers of the datagram it left in; the last one asked for the ack. */
  group: readonly number[]
}

const NO_GROUP: readonly number[] = []

export class BatchRtnl {
  private readonly sock: RawNetlinkSocket
  readonly port: number
  private seq = 1
  private readonly pending = new Map<number, Pending>()
  private queue: { seq: number; msg: Buffer; p: Pending }[] = []
  /** Next queue entry to send (consumed by index: shift() on thousands is quadratic). */
  private head = 0
  private scheduled = false
  private readonly sweep: NodeJS.Timeout
  private closed = false
  /** Datagrams sent, so a benchmark can tell the batching apart. */
  datagrams = 0

  constructor(onError: (e: Error) => void) {
    this.sock = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES })
    this.port = this.sock.address().port
    this.sock.on('message', (buf: Buffer) => this.onMessage(buf))
    // Never let an 'error' event throw inside the native callback: requests it hit time out.
    this.sock.on('error', onError)
    this.sweep = setInterval(() => this.expire(), SWEEP_MS)
    this.sweep.unref()
    this.sock.unref()
  }

  /**
   * Sends one request with NLM_F_REQUEST | NLM_F_ACK | `flags`; resolves on the kernel's ack.
   * `msg` comes from ruleMsg/routeMsg: its first 16 bytes are room for the netlink header.
   */
  request(type: number, flags: number, msg: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('netlink socket closed'))
    return new Promise<void>((resolve, reject) => {
      const seq = this.seq
      this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1
      const p: Pending = { resolve, reject, at: 0, group: NO_GROUP }
      setNlmsgHeader(msg, type, flags | NLM_F_REQUEST | NLM_F_ACK, seq, this.port)
      this.queue.push({ seq, msg, p })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    while (this.head < this.queue.length && this.pending.size < MAX_IN_FLIGHT) {
      const batch: Buffer[] = []
      const seqs: number[] = []
      const now = Date.now()
      let bytes = 0
      while (this.head < this.queue.length && this.pending.size < MAX_IN_FLIGHT && bytes + this.queue[this.head]!.msg.length <= MAX_DATAGRAM_BYTES) {
        const q = this.queue[this.head++]!
        q.p.at = now
        q.p.group = seqs
        this.pending.set(q.seq, q.p)
        batch.push(q.msg)
        seqs.push(q.seq)
        bytes += q.msg.length
      }
      // Only the last message asks for an ack (see the top of the file).
      for (let i = 0; i < batch.length - 1; i++) batch[i]!.writeUInt16LE(batch[i]!.readUInt16LE(NLMSG_FLAGS_OFFSET) & ~NLM_F_ACK, NLMSG_FLAGS_OFFSET)
      this.datagrams++
      this.sock.ref()
      this.sock.send(batch, {}, (err) => {
        if (!err) return
        for (const s of seqs) this.settle(s, err)
      })
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    }
  }

  private onMessage(buf: Buffer): void {
    let off = 0
    while (off + NLMSG_HDRLEN <= buf.length) {
      const len = buf.readUInt32LE(off)
      if (len < NLMSG_HDRLEN || off + len > buf.length) break
      if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
        const errno = -buf.readInt32LE(off + NLMSG_HDRLEN)
        const seq = buf.readUInt32LE(off + 8)
        const group = this.pending.get(seq)?.group
        this.settle(seq, errno === 0 ? null : new RtnlRefusal(ERRNO_NAME.get(errno) ?? `errno ${errno}`, errno))
        // The answer to a datagram's last message: the others without an error answer succeeded.
        if (group !== undefined && group[group.length - 1] === seq) for (const s of group) this.settle(s, null)
      }
      off += (len + 3) & ~3
    }
    if (this.head < this.queue.length && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  private settle(seq: number, err: Error | null): void {
    const p = this.pending.get(seq)
    if (!p) return
    this.pending.delete(seq)
    if (this.pending.size === 0) this.sock.unref()
    if (err) p.reject(err)
    else p.resolve()
  }

  /** When the sweep last ran. */
  private lastSweep = Date.now()

  /**
   * Acks lost to a receive-queue overrun never come: such requests fail after TIMEOUT_MS. A
   * sweep that runs late (the event loop was busy: a large GC, a burst of work) expires
   * nothing: the acks may be waiting in the socket, read in the poll phase that follows this
   * timer phase. Measured: a 3 s stall while 10,000 stations attached failed 384 forwarding
   * set-ups whose acks had come (issue 23).
   */
  private expire(): void {
    const now = Date.now()
    const late = now - this.lastSweep > 2 * SWEEP_MS
    this.lastSweep = now
    if (late) return
    const limit = now - TIMEOUT_MS
    for (const [seq, p] of this.pending) if (p.at < limit) this.settle(seq, new RtnlRefusal('ETIMEDOUT', constants.errno.ETIMEDOUT))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.sweep)
    for (const seq of [...this.pending.keys()]) this.settle(seq, new Error('netlink socket closed'))
    for (const q of this.queue.slice(this.head)) q.p.reject(new Error('netlink socket closed'))
    this.queue = []
    this.head = 0
    this.sock.close()
  }
}
