// tshark in a lab namespace, decoding Mobility Header packets line by line as they pass, so a
// test can wait (bounded) for what it expects on the wire instead of stopping a capture first.
import { LiveFields } from './lab-harness'

/** One MH packet: source, MH type, sequence number (PBU, PBA or Heartbeat), PBA status. */
export interface MhRow {
  readonly src: string
  readonly type: string
  readonly seq: number
  readonly status: string
}

/** tshark decoding MH packets as they pass; live once start() resolves (a marker came through). */
export class MhWatch {
  private constructor(private readonly live: LiveFields) {}

  static async start(ns: string, iface: string): Promise<MhWatch> {
    return new MhWatch(await LiveFields.start(ns, iface, 'ip6 proto 135', ['ipv6.src', 'mip6.mhtype', 'mip6.bu.seqnr', 'mip6.ba.seqnr', 'mip6.ba.status', 'mip6.hb.seqnr']))
  }

  /** Every MH packet seen so far, in order. */
  get rows(): MhRow[] {
    return this.live.rows.map(([src, type, buSeq, baSeq, status, hbSeq]) => ({ src: src ?? '', type: type ?? '', seq: Number(buSeq || baSeq || hbSeq), status: status ?? '' }))
  }

  kill(): void {
    this.live.kill()
  }
}
