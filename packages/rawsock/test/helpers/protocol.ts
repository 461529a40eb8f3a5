// What the test process and the child (test/fixtures/child.ts, run inside a namespace) exchange.
// The spec goes in as argv[3] (JSON); the child answers with JSON lines on stdout.

export interface SockSpec {
  id: string
  kind: 'icmp6' | 'mh'
  /** icmp6 only: ICMPV6_FILTER types (default [133, 134]); null = no filter. */
  types?: number[] | null
  join?: Array<{ group: string; iface: string }>
  bindToDevice?: string
  maxBatch?: number
  /** SO_RCVBUFFORCE in bytes. */
  rcvbuf?: number
}

export interface PacketSpec {
  hex: string
  dst: string
  /** Interface name, turned into an ifindex by the child. */
  iface?: string
  hopLimit?: number
  src?: string
  count?: number
}

export type ChildSpec =
  | {
      mode: 'listen'
      sockets: SockSpec[]
      /** Messages to wait for, per socket id. */
      expect: Record<string, number>
      timeoutMs: number
      /** Wait for a line on stdin before attaching message listeners (packets queue up). */
      waitForGo?: boolean
      /** After the expected messages arrived, keep listening this long for unexpected extras. */
      settleMs?: number
    }
  | { mode: 'send'; kind: 'icmp6' | 'mh'; packets: PacketSpec[] }
  | { mode: 'open'; proto: number }
  | { mode: 'errors' }

export interface WireMessage {
  data: string
  src: string
  scopeId: number
  dst: string
  ifindex: number
  hopLimit: number
}

export interface SockStats {
  received: number
  batches: number
  fullBatches: number
  largestBatch: number
}

export type ChildOutput =
  | { event: 'ready'; ifindex: Record<string, number> }
  | {
      event: 'result'
      timedOut: boolean
      messages: Record<string, WireMessage[]>
      stats: Record<string, SockStats>
      checksumOpt?: Record<string, number>
    }
  | { event: 'sent'; bytes: number[] }
  | { event: 'error'; code: string; syscall: string; message: string }
  | { event: 'errors'; results: Record<string, { code?: string; message?: string; ok?: boolean; value?: unknown }> }
