// The part of npm unix-dgram 2.0.7 (lib/unix_dgram.js) this driver uses; it ships no typings.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events'
  export interface UnixDgramSocket extends EventEmitter {
    bind(path: string): void
    connect(path: string): void
    /** On a connected socket: send(buf, callback). */
    send(buf: Buffer, callback?: (err?: Error) => void): void
    /** On an unconnected socket: sendto. */
    send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void
    close(): void
    on(ev: 'message', fn: (buf: Buffer, rinfo: { size: number; path?: string }) => void): this
    on(ev: 'error', fn: (err: Error & { code?: number | string }) => void): this
    on(ev: 'congestion' | 'writable' | 'connect' | 'listening', fn: (...a: unknown[]) => void): this
  }
  export function createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): UnixDgramSocket
}
