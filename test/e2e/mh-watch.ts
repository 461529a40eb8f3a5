// tshark in a lab namespace, decoding Mobility Header packets line by line as they pass, so a
// test can wait (bounded) for what it expects on the wire instead of stopping a capture first.
import { spawn, type ChildProcess } from 'node:child_process'
import { waitFor, TSHARK_START_TIMEOUT_MS } from './lab-harness'

/** tshark decoding MH packets line by line as they pass (so a test waits for them, bounded). */
export class MhWatch {
  /** One row per MH packet: source, MH type, sequence number (PBU, PBA or Heartbeat), PBA status. */
  readonly rows: { src: string; type: string; seq: number; status: string }[] = []
  private err = ''
  private constructor(private readonly child: ChildProcess) {}

  static async start(ns: string, iface: string): Promise<MhWatch> {
    const fields = ['ipv6.src', 'mip6.mhtype', 'mip6.bu.seqnr', 'mip6.ba.seqnr', 'mip6.ba.status', 'mip6.hb.seqnr']
    const child = spawn('ip', ['netns', 'exec', ns, 'tshark', '-n', '-l', '-i', iface, '-f', 'ip6 proto 135', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { stdio: ['ignore', 'pipe', 'pipe'] })
    const w = new MhWatch(child)
    let buf = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (c: string) => {
      buf += c
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const [src, type, buSeq, baSeq, status, hbSeq] = buf.slice(0, i).split('|')
        buf = buf.slice(i + 1)
        w.rows.push({ src: src ?? '', type: type ?? '', seq: Number(buSeq || baSeq || hbSeq), status: status ?? '' })
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (c: string) => (w.err += c))
    await waitFor(`tshark on ${ns}/${iface}`, () => {
      if (child.exitCode !== null) throw new Error(`tshark exited: ${w.err}`)
      return w.err.includes('Capturing on')
    }, TSHARK_START_TIMEOUT_MS, 50)
    return w
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
