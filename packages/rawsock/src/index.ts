// IPv6 raw sockets (MH and ICMPv6) for the MAG: which interface a packet arrived on, its
// destination and hop limit on receive; source, interface and hop limit per packet on send.
// design.md "Platform choices: Raw sockets"; protocol-reference.md §9.2, §12.4.
import { EventEmitter } from 'node:events'
import {
  DEFAULT_MAX_BATCH,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6,
  IPPROTO_MH,
  IPPROTO_UDP,
  IPV6_CHECKSUM,
  IPV6_MULTICAST_HOPS,
  IPV6_UNICAST_HOPS,
  MH_CHECKSUM_OFFSET,
  ND_HOP_LIMIT,
  SOL_RAW,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
} from './constants'
import type { PeerCredentials, RawMessage, SendOptions } from './native'
import { native } from './native'

export * from './constants'
export type { PeerCredentials, RawMessage, SendOptions } from './native'
export { PacketSocket, ipv6Packet, parseMac, ETH_P_IP, ETH_P_IPV6, IPV6_HEADER_LENGTH } from './packet'

/** What the addon throws: a system error with its errno name. */
export interface RawSocketError extends Error {
  /** errno name: 'EPERM', 'ENODEV', 'EINVAL', 'EADDRNOTAVAIL', ... */
  code: string
  /** The failing call: 'socket', 'setsockopt', 'sendmsg', 'if_nametoindex', ... */
  syscall: string
  /** Negative errno, as in Node's own system errors. */
  errno: number
}

/** Structural check (not instanceof: under jest's vm contexts the addon's Error is another realm's). */
export function isRawSocketError(e: unknown): e is RawSocketError {
  if (typeof e !== 'object' || e === null) return false
  const x = e as Partial<RawSocketError>
  return typeof x.message === 'string' && typeof x.code === 'string' && typeof x.syscall === 'string'
}

export interface OpenOptions {
  /** Most packets read per readiness callback before yielding to the event loop (default 256). */
  maxBatch?: number
  /** SO_BINDTODEVICE: receive from and send on this interface only. */
  bindToDevice?: string
  /**
   * Receive queue size in bytes (SO_RCVBUFFORCE as root, else SO_RCVBUF up to rmem_max). The
   * default (~208 KiB) holds a few hundred packets: a registration storm needs more.
   */
  receiveBuffer?: number
}

/** Counters for the readiness/drain loop. */
export interface RawSocketStats {
  received: number
  /** Readiness callbacks that found at least one packet. */
  batches: number
  /** Readiness callbacks that stopped at maxBatch with packets possibly still queued. */
  fullBatches: number
  largestBatch: number
}

export type RawSocketEvents = {
  message: [msg: RawMessage]
  error: [err: Error]
  close: []
  newListener: [event: string | symbol, listener: (...args: unknown[]) => void]
  removeListener: [event: string | symbol, listener: (...args: unknown[]) => void]
}

const CLOSED = -1
/** Largest IPv6 payload without a jumbogram; raw IPv6 sockets deliver the payload only. */
const RECV_BUF_SIZE = 65536
/** recvBatch's meta per datagram (rawsock.c): two addresses, then six 32-bit words. */
const META_STRIDE = 56
/**
 * Datagrams one recvmmsg(2) may return (rawsock.c allows 64). A readiness callback usually
 * finds a handful queued; eight 64 KiB slots (512 KiB per socket, made on first receive)
 * keep the 64 KiB truncation limit.
 */
const RECV_BATCH = 8
/** Addresses remembered per socket: a MAG hears from a few LMAs, on a few addresses of its own. */
const ADDR_CACHE = 8

/**
 * (Exported for its unit test.) Text forms of the addresses a socket sees, keyed by their 16 bytes (as four 32-bit words):
 * the same few peers send nearly every datagram, so the text is made once, not per datagram.
 */
export class AddressCache {
  private readonly words = new Uint32Array(ADDR_CACHE * 4)
  private readonly texts: (string | undefined)[] = new Array<string | undefined>(ADDR_CACHE).fill(undefined)
  private next = 0

  /** The text of the address at word `w` of `m` (whose bytes are `bytes`). */
  text(m: Uint32Array, w: number, bytes: Uint8Array): string {
    const a = m[w]!
    const b = m[w + 1]!
    const c = m[w + 2]!
    const d = m[w + 3]!
    const k = this.words
    for (let i = 0; i < ADDR_CACHE; i++) {
      const j = i * 4
      if (k[j] === a && k[j + 1] === b && k[j + 2] === c && k[j + 3] === d && this.texts[i] !== undefined) return this.texts[i]!
    }
    const t = native().ntop(bytes, w * 4)
    const i = this.next
    this.next = (i + 1) % ADDR_CACHE
    k[i * 4] = a
    k[i * 4 + 1] = b
    k[i * 4 + 2] = c
    k[i * 4 + 3] = d
    this.texts[i] = t
    return t
  }
}

/**
 * An AF_INET6 SOCK_RAW socket. Messages are delivered through `onMessage(fn)` or the 'message'
 * event; the socket polls for readiness only while at least one message listener is attached
 * (so nothing is read and dropped before someone listens). Events: 'message', 'error'
 * (recv/poll failures; unhandled, it throws like any EventEmitter 'error'), 'close'.
 */
export class RawSocket extends EventEmitter<RawSocketEvents> {
  readonly proto: number
  readonly maxBatch: number
  #fd: number
  #watching = false
  #ref = true
  #stats: RawSocketStats = { received: 0, batches: 0, fullBatches: 0, largestBatch: 0 }
  readonly #addrs = new AddressCache()
  /** recvBatch's slots (made on first receive) and what the kernel said about each datagram. */
  #bbuf: Buffer | null = null
  readonly #bmeta = new Uint8Array(RECV_BATCH * META_STRIDE)
  readonly #b32 = new Uint32Array(this.#bmeta.buffer)
  readonly #bi32 = new Int32Array(this.#bmeta.buffer)

  private constructor(fd: number, proto: number, maxBatch: number) {
    super()
    this.#fd = fd
    this.proto = proto
    this.maxBatch = maxBatch
    this.on('newListener', (event) => {
      if (event === 'message') this.#startWatching()
    })
    this.on('removeListener', (event) => {
      if (event === 'message' && this.listenerCount('message') === 0) this.#stopWatching()
    })
  }

  /** socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto) with IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT on. */
  static open(proto: number, opts: OpenOptions = {}): RawSocket {
    const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`)
    }
    const sock = new RawSocket(native().open(proto), proto, maxBatch)
    try {
      if (opts.bindToDevice !== undefined) sock.bindToDevice(opts.bindToDevice)
      if (opts.receiveBuffer !== undefined) sock.setReceiveBuffer(opts.receiveBuffer)
    } catch (e) {
      sock.close()
      throw e
    }
    return sock
  }

  /**
   * socket(AF_INET6, SOCK_DGRAM, UDP) bound to [::]:port (IPV6_V6ONLY), with IPV6_RECVPKTINFO and
   * IPV6_RECVHOPLIMIT on: like a raw socket, each message tells its arrival interface and
   * destination, which node:dgram cannot (a DHCPv6 relay needs both). `send` takes opts.port.
   */
  static openUdp(port: number, opts: OpenOptions & { reuseAddr?: boolean } = {}): RawSocket {
    const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`)
    }
    const sock = new RawSocket(native().openUdp(port, opts.reuseAddr ?? false), IPPROTO_UDP, maxBatch)
    try {
      if (opts.bindToDevice !== undefined) sock.bindToDevice(opts.bindToDevice)
    } catch (e) {
      sock.close()
      throw e
    }
    return sock
  }

  /** The file descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd
  }

  get closed(): boolean {
    return this.#fd === CLOSED
  }

  get stats(): RawSocketStats {
    return { ...this.#stats }
  }

  /** sendmsg(2) with IPV6_PKTINFO (src, ifindex) and IPV6_HOPLIMIT. Returns the bytes sent. */
  send(data: Uint8Array, dst: string, opts: SendOptions = {}): number {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object { ifindex?, hopLimit?, src?, port? }')
    return native().send(this.#live(), data, dst, opts.src, opts.ifindex, opts.hopLimit, opts.port)
  }

  /** One datagram, or null if none is queued. Usually the readiness loop calls this for you. */
  recv(): RawMessage | null {
    const fd = this.#live()
    const buf = this.#slots()
    return native().recvBatch(fd, buf, RECV_BUF_SIZE, this.#bmeta, 1) === 1 ? this.#batchMessage(buf, 0) : null
  }

  #slots(): Buffer {
    return (this.#bbuf ??= Buffer.allocUnsafeSlow(RECV_BATCH * RECV_BUF_SIZE))
  }

  /** Datagram i of the last recvBatch, as recv() gives one (payload copied out of the slot). */
  #batchMessage(buf: Buffer, i: number): RawMessage {
    const w = i * (META_STRIDE / 4)
    const m = this.#b32
    const len = m[w + 13]!
    const data = Buffer.allocUnsafe(len)
    buf.copy(data, 0, i * RECV_BUF_SIZE, i * RECV_BUF_SIZE + len)
    return {
      data,
      src: this.#addrs.text(m, w, this.#bmeta),
      scopeId: m[w + 8]!,
      dst: this.#addrs.text(m, w + 4, this.#bmeta),
      ifindex: this.#bi32[w + 9]!,
      hopLimit: this.#bi32[w + 10]!,
      truncated: m[w + 11] !== 0,
      port: m[w + 12]!,
    }
  }

  /** Subscribes to incoming datagrams; returns the unsubscribe function. */
  onMessage(fn: (msg: RawMessage) => void): () => void {
    this.on('message', fn)
    this.#startWatching() // also covers a removeAllListeners() that dropped the internal hooks
    return () => {
      this.off('message', fn)
    }
  }

  /** Grows the receive queue; returns the size the kernel granted (it reports twice the request). */
  setReceiveBuffer(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 1024 || bytes > 0x7fffffff / 2) throw new RangeError(`receive buffer out of range: ${bytes}`)
    try {
      this.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, bytes)
    } catch (e) {
      // Without CAP_NET_ADMIN: the plain option, capped by net.core.rmem_max.
      if (!(isRawSocketError(e) && e.code === 'EPERM')) throw e
      this.setsockopt(SOL_SOCKET, SO_RCVBUF, bytes)
    }
    return this.getsockoptInt(SOL_SOCKET, SO_RCVBUF)
  }

  setsockopt(level: number, name: number, value: number | Uint8Array): void {
    native().setsockopt(this.#live(), level, name, value)
  }

  getsockoptInt(level: number, name: number): number {
    return native().getsockoptInt(this.#live(), level, name)
  }

  /** SO_BINDTODEVICE; '' removes the binding. */
  bindToDevice(ifname: string): void {
    native().bindToDevice(this.#live(), ifname)
  }

  /** IPV6_ADD_MEMBERSHIP on an interface given by index or name. */
  joinGroup(group: string, iface: number | string): void {
    native().joinGroup(this.#live(), group, toIfindex(iface))
  }

  /** IPV6_DROP_MEMBERSHIP. */
  leaveGroup(group: string, iface: number | string): void {
    native().leaveGroup(this.#live(), group, toIfindex(iface))
  }

  /** ICMPV6_FILTER that passes only the given ICMPv6 types (ICMPv6 sockets only). */
  setIcmp6Filter(allowedTypes: readonly number[]): void {
    native().setIcmp6Filter(this.#live(), allowedTypes)
  }

  /** Let a socket with message listeners keep the process alive (the default). */
  ref(): this {
    this.#ref = true
    if (this.#watching) native().setRef(this.#fd, true)
    return this
  }

  /** Do not keep the process alive just for this socket. */
  unref(): this {
    this.#ref = false
    if (this.#watching) native().setRef(this.#fd, false)
    return this
  }

  /** Stops polling and closes the fd. Safe to call more than once; emits 'close' once. */
  close(): void {
    if (this.#fd === CLOSED) return
    const fd = this.#fd
    this.#fd = CLOSED
    this.#watching = false
    native().close(fd) // also stops the uv_poll handle, before the fd number can be reused
    process.nextTick(() => this.emit('close'))
  }

  #live(): number {
    if (this.#fd === CLOSED) {
      throw Object.assign(new Error('raw socket is closed (EBADF)'), { code: 'EBADF', syscall: 'rawsock', errno: -9 })
    }
    return this.#fd
  }

  #startWatching(): void {
    if (this.#watching || this.#fd === CLOSED) return
    native().watch(this.#fd, this.#onReadable)
    this.#watching = true
    if (!this.#ref) native().setRef(this.#fd, false)
  }

  #stopWatching(): void {
    if (!this.#watching || this.#fd === CLOSED) return
    native().unwatch(this.#fd)
    this.#watching = false
  }

  // Drains at most maxBatch datagrams, then returns to the loop. uv_poll is level-triggered
  // (epoll without EPOLLET), so a non-empty queue fires this again on the next iteration, after
  // timers and other I/O had their turn: a flood cannot starve the event loop.
  readonly #onReadable = (err: Error | null): void => {
    if (err !== null) {
      this.#watching = false // the addon stopped the poll
      this.emit('error', err)
      return
    }
    // recvmmsg(2): a batch per system call, and when it comes back short the queue is empty, so
    // no further call is made only to hear EAGAIN (issue 8: the PBAs of a refresh burst).
    const buf = this.#slots()
    let n = 0
    while (n < this.maxBatch && this.#watching) {
      const want = Math.min(RECV_BATCH, this.maxBatch - n)
      let got: number
      try {
        got = native().recvBatch(this.#live(), buf, RECV_BUF_SIZE, this.#bmeta, want)
      } catch (e) {
        this.emit('error', toError(e))
        break
      }
      // Datagrams read are delivered even if a listener stops watching meanwhile: they are off
      // the kernel's queue and would otherwise be lost. A close drops the rest.
      for (let i = 0; i < got && !this.closed; i++) {
        n++
        this.#stats.received++
        this.emit('message', this.#batchMessage(buf, i))
      }
      if (got < want) break
    }
    if (n > 0) this.#stats.batches++
    if (n === this.maxBatch) this.#stats.fullBatches++
    if (n > this.#stats.largestBatch) this.#stats.largestBatch = n
  }
}

/** Who is at the other end of a connected UNIX socket (SO_PEERCRED), by its file descriptor. */
export function peerCredentials(fd: number): PeerCredentials {
  return native().peerCredentials(fd)
}

/** Interface name -> index (if_nametoindex); throws code 'ENODEV' for a missing interface. */
export function ifNameToIndex(name: string): number {
  return native().ifNameToIndex(name)
}

/**
 * Whether the kernel reports the system clock synchronised: adjtimex(2) read only, STA_UNSYNC
 * clear and state not TIME_ERROR. Set by whatever disciplines the clock (ntpd, chrony,
 * systemd-timesyncd); a clock nobody disciplines reads as not synchronised.
 */
export function clockSynced(): boolean {
  return native().clockSynced()
}

/**
 * Puts the calling thread (the event loop's, in a daemon) under SCHED_RR at `priority` (1-99),
 * or back to SCHED_OTHER with 0. Only this thread: V8's compiler and GC helpers and libuv's
 * threadpool stay ordinary tasks. Needs CAP_SYS_NICE (or an RLIMIT_RTPRIO); throws code EPERM
 * otherwise. The kernel keeps 5% of each CPU for ordinary tasks (sched_rt_runtime_us).
 */
export function setThreadRealtime(priority: number): void {
  native().setThreadRealtime(priority)
}

/** Interface index -> name (if_indextoname); throws code 'ENODEV' for a missing interface. */
export function ifIndexToName(ifindex: number): string {
  return native().ifIndexToName(ifindex)
}

function toError(e: unknown): Error {
  if (e instanceof Error || isRawSocketError(e)) return e
  return new Error(String(e))
}

function toIfindex(iface: number | string): number {
  return typeof iface === 'string' ? ifNameToIndex(iface) : iface
}

/**
 * A Mobility Header socket (proto 135). The kernel fills the MH checksum at offset 4 on send and
 * drops bad checksums on receive; write the checksum field as 0. Current kernels enable this by
 * themselves; the explicit IPV6_CHECKSUM (level SOL_RAW) covers old ones (§9.2).
 */
export function openMhSocket(opts: OpenOptions = {}): RawSocket {
  const sock = RawSocket.open(IPPROTO_MH, opts)
  try {
    sock.setsockopt(SOL_RAW, IPV6_CHECKSUM, MH_CHECKSUM_OFFSET)
  } catch (e) {
    if (!(isRawSocketError(e) && e.code === 'EINVAL')) {
      sock.close()
      throw e
    }
  }
  return sock
}

export interface Icmp6SocketOptions extends OpenOptions {
  /** ICMPv6 types to receive (ICMPV6_FILTER); default [133, 134]; null installs no filter. */
  types?: readonly number[] | null
  /** IPV6_UNICAST_HOPS and IPV6_MULTICAST_HOPS; default 255 as Neighbor Discovery requires. */
  hopLimit?: number
  /** Groups to join right away, e.g. [{ group: 'ff02::2', iface: 'eth1' }] to hear RSs. */
  join?: ReadonlyArray<{ group: string; iface: number | string }>
}

/** An ICMPv6 socket (proto 58) for Neighbor Discovery: hop limits 255 and a type filter. */
export function openIcmp6Socket(opts: Icmp6SocketOptions = {}): RawSocket {
  const sock = RawSocket.open(IPPROTO_ICMPV6, opts)
  try {
    const hops = opts.hopLimit ?? ND_HOP_LIMIT
    sock.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops)
    sock.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, hops)
    const types = opts.types === undefined ? [ICMPV6_ROUTER_SOLICITATION, ICMPV6_ROUTER_ADVERTISEMENT] : opts.types
    if (types !== null) sock.setIcmp6Filter(types)
    for (const { group, iface } of opts.join ?? []) sock.joinGroup(group, iface)
  } catch (e) {
    sock.close()
    throw e
  }
  return sock
}

/** A UDP socket on [::]:port that reports arrival interface and destination (see RawSocket.openUdp). */
export function openUdp6Socket(port: number, opts: OpenOptions & { reuseAddr?: boolean; join?: ReadonlyArray<{ group: string; iface: number | string }> } = {}): RawSocket {
  const sock = RawSocket.openUdp(port, opts)
  try {
    for (const { group, iface } of opts.join ?? []) sock.joinGroup(group, iface)
  } catch (e) {
    sock.close()
    throw e
  }
  return sock
}
