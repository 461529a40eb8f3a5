/**
 * How the lab LMA meets the network: an `MhTransport` carries Mobility Header messages (IPv6
 * next header 135, RFC 6275 §6.1) to and from the MAGs. Two implementations:
 * - `openRawMhTransport`: a raw IPPROTO_MH socket from @pmip6/rawsock (the kernel fills and
 *   checks the MH checksum at offset 4, protocol-reference.md §9.2; needs CAP_NET_RAW);
 * - `MemoryTransport`: in-process, for tests and benchmarks.
 */
import { openMhSocket, type RawMessage } from '@pmip6/rawsock'

export type MhHandler = (bytes: Buffer, src: string, dst: string) => void

export interface MhTransport {
  /** Sends one MH message (checksum field 0) to `dst`, from `src` when given. */
  send(bytes: Uint8Array, dst: string, src?: string): void
  onMessage(fn: MhHandler): void
  close(): void
}

export interface RawMhTransportOptions {
  /** SO_BINDTODEVICE: listen and send on this interface only. */
  readonly bindToDevice?: string
  /** Called for socket errors after open (the socket stops polling on an error). */
  readonly onError?: (err: Error) => void
}

/** An MhTransport over a raw IPPROTO_MH socket (@pmip6/rawsock). Throws (EPERM, ...) when it cannot open. */
export function openRawMhTransport(opts: RawMhTransportOptions = {}): MhTransport {
  // A large receive queue: the LMA must not be what loses PBUs in a MAG's registration storm.
  const sock = openMhSocket({ receiveBuffer: 32 << 20, ...(opts.bindToDevice !== undefined ? { bindToDevice: opts.bindToDevice } : {}) })
  if (opts.onError !== undefined) sock.on('error', opts.onError)
  return {
    send(bytes, dst, src) {
      sock.send(bytes, dst, src !== undefined ? { src } : {})
    },
    onMessage(fn) {
      sock.onMessage((m: RawMessage) => {
        if (!m.truncated) fn(m.data, m.src, m.dst)
      })
    },
    close() {
      sock.close()
    },
  }
}

export interface SentMessage {
  readonly bytes: Buffer
  readonly dst: string
  readonly src: string | undefined
}

/** In-memory transport: `deliver` plays a MAG sending to the LMA; `sent` and `onSent` see the answers. */
export class MemoryTransport implements MhTransport {
  readonly sent: SentMessage[] = []
  #handlers: MhHandler[] = []
  #sentHandlers: Array<(m: SentMessage) => void> = []
  #closed = false

  send(bytes: Uint8Array, dst: string, src?: string): void {
    if (this.#closed) throw new Error('transport closed')
    const m: SentMessage = { bytes: Buffer.from(bytes), dst, src }
    this.sent.push(m)
    for (const h of this.#sentHandlers) h(m)
  }

  onMessage(fn: MhHandler): void {
    this.#handlers.push(fn)
  }

  onSent(fn: (m: SentMessage) => void): () => void {
    this.#sentHandlers.push(fn)
    return () => {
      this.#sentHandlers = this.#sentHandlers.filter((h) => h !== fn)
    }
  }

  /** A message arriving from `src` (a MAG) for `dst` (the LMA). */
  deliver(bytes: Uint8Array, src: string, dst: string): void {
    if (this.#closed) return
    for (const h of this.#handlers) h(Buffer.from(bytes), src, dst)
  }

  /** Resolves with the next message sent (or rejects after `timeoutMs`). */
  nextSent(timeoutMs = 2_000): Promise<SentMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new Error(`no message sent within ${timeoutMs} ms`))
      }, timeoutMs)
      const off = this.onSent((m) => {
        clearTimeout(timer)
        off()
        resolve(m)
      })
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  close(): void {
    this.#closed = true
    this.#handlers = []
  }
}
