// An in-memory world for daemon unit tests: a fake clock that moves only when told, an MH
// link that records what the daemon sends and delivers what the test plays as the LMA, and a
// log that keeps every structured entry.
import { mh, PBA_FLAGS, type BindingUpdate, type MhMessage } from '@pmip6/wire'
import type { AccessDriver } from '@pmip6/driver-api'
import { validateConfig } from '../../src/config'
import { MagDaemon } from '../../src/daemon'
import type { MagIo, Packet } from '../../src/io'

export const MAG = '2001:db8:ffff::1'
export const LMA = '2001:db8:ffff::2'

export interface Sent {
  readonly to: string
  readonly src: string
  readonly msg: MhMessage
}

export function world(opts: { drivers?: Map<string, AccessDriver>; mag?: Record<string, unknown>; links?: Record<string, unknown>; profiles?: readonly Record<string, unknown>[]; clockSynced?: () => boolean } = {}) {
  let now = 1_700_000_000_000
  let pending: { fn: () => void; at: number }[] = []
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      const t = { fn, at: now + ms }
      pending.push(t)
      return t
    },
    clearTimeout: (h: unknown) => {
      pending = pending.filter((t) => t !== h)
    },
  }
  const sent: Sent[] = []
  const icmp: { to: string; src: string; bytes: Buffer }[] = []
  let deliver: (p: Packet) => void = () => undefined
  let deliverNd: (p: Packet) => void = () => undefined
  const ras: { link: string; to: string; bytes: Buffer; llDst: string | null }[] = []
  const io: MagIo = {
    sendMh: (bytes, dst, src) => void sent.push({ to: dst, src, msg: mh.decode(bytes) }),
    sendNd: (bytes, link, dst, _src, llDst) => void ras.push({ link, to: dst, bytes, llDst: llDst ?? null }),
    sendIcmp: (bytes, dst, src) => void icmp.push({ to: dst, src, bytes }),
    onMh: (fn) => void (deliver = fn),
    onNd: (fn) => void (deliverNd = fn),
    addLink() {},
    removeLink() {},
    close() {},
  }
  const logs: { level: string; msg: string; meta?: Record<string, unknown> }[] = []
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => void logs.push({ level, msg, ...(meta ? { meta } : {}) })
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  const cfg = validateConfig({
    mag: { address: MAG, fixedLinkLocal: 'fe80::1', heartbeatInterval: 1, heartbeatMissingThreshold: 3, ...opts.mag },
    links: opts.links ?? { mn1: null },
    profiles: opts.profiles ?? [{ mnId: 'mn1@example.com', lma: LMA }],
  })
  const d = new MagDaemon(cfg, { log, clock, io, drivers: opts.drivers ?? new Map(), ...(opts.clockSynced ? { clockSynced: opts.clockSynced } : {}) })
  /** Moves the clock on by `ms`, running the timers that fall due on the way. */
  const tick = (ms: number) => {
    const until = now + ms
    for (;;) {
      const due = pending.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
      if (!due) break
      pending = pending.filter((t) => t !== due)
      now = Math.max(now, due.at)
      due.fn()
    }
    now = until
  }
  // The LMA is heard on the transport interface (the daemon takes signalling from nowhere else).
  const fromLma = (msg: MhMessage) => deliver({ data: mh.encode(msg), src: LMA, dst: MAG, link: 'up0', hopLimit: 64 })
  /** The LMA accepts a PBU as asked, with one home network prefix. */
  const accept = (pbu: BindingUpdate) =>
    fromLma({
      kind: 'binding-ack',
      status: 0,
      flags: PBA_FLAGS,
      sequence: pbu.sequence,
      lifetime: pbu.lifetime,
      options: [...pbu.options.filter((o) => o.type !== 'hnp'), { type: 'hnp', prefixLength: 64, prefix: Buffer.from('20010db8000100010000000000000000', 'hex') }],
    })
  const pbus = () => sent.flatMap((s) => (s.msg.kind === 'binding-update' ? [s.msg] : []))
  return { d, sent, icmp, logs, tick, fromLma, deliver: (p: Packet) => deliver(p), deliverNd: (p: Packet) => deliverNd(p), ras, accept, pbus, now: () => now }
}
