/** `mag trace FILE` and `mag trace --lab`: ladder diagrams of captures (see trace/ladder.ts). */
import { readFileSync, writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { CliError } from './daemon-commands'
import { CaptureError, readCapture } from './pcap/pcapng'
import { dissect } from './pcap/dissect'
import { LadderBuilder, buildLadder, headerLines, renderSvg, renderText, rowLines, type Hints, type Ladder, type Row, type TracePacket } from './trace/ladder'
import { liveLabCapture } from './lab/capture'
import { LAB_DEFAULT_NAME, PLAN } from './lab/plan'
import { requireRoot } from './lab/lab'

/** The first host address of an IPv4 prefix ('192.0.2.0/24' -> '192.0.2.1'). */
function firstHost4(prefix: string): string {
  const [net = '', len = '32'] = prefix.split('/')
  const n = (net.split('.').reduce((a, o) => a * 256 + Number(o), 0) & (Number(len) === 0 ? 0 : ~0 << (32 - Number(len)))) >>> 0
  return [24, 16, 8, 0].map((s) => ((n + 1) >>> s) & 255).join('.')
}

/**
 * Names for lab addresses no signalling identifies: the correspondent node (IPv6 and IPv4), and
 * the MNs' IPv4 default router (RFC 5844: the lab LMA's default, the pool's first address), which
 * every MAG emulates on its access links as it does fe80::1.
 */
const LAB_HINTS: Hints = { [PLAN.cn]: 'cn', [PLAN.cn4]: 'cn', [firstHost4(PLAN.homePool4)]: 'ipv4-router' }

/** Reads a pcap or pcapng file into trace packets, in time order. */
export function tracePackets(bytes: Buffer): { packets: TracePacket[]; lab: boolean } {
  const c = readCapture(bytes)
  const packets = c.packets.map((p) => ({ us: p.us, iface: p.iface.name || `if${p.iface.id}`, frame: dissect(p.iface.linkType, p.data) }))
  packets.sort((a, b) => a.us - b.us)
  return { packets, lab: c.application === 'mag lab capture' }
}

export function traceFile(file: string): Ladder {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`)
  }
  try {
    const { packets, lab } = tracePackets(bytes)
    return buildLadder(packets, lab ? LAB_HINTS : {})
  } catch (e) {
    if (e instanceof CaptureError) throw new CliError(`${file}: ${e.message}`)
    throw e
  }
}

/** How long a live packet waits for earlier ones from other capture points before it is drawn. */
const REORDER_MS = 250

async function traceLive(lab: string, durationS: number | undefined, out: (s: string) => void): Promise<void> {
  requireRoot()
  const b = new LadderBuilder(LAB_HINTS)
  let columnsChanged = true
  b.onColumns = () => (columnsChanged = true)
  let startUs: number | null = null
  const pending: TracePacket[] = []
  const print = (rows: readonly Row[]): void => {
    for (const r of rows) {
      if (columnsChanged) {
        out(headerLines(b.columns()).join('\n') + '\n')
        columnsChanged = false
      }
      out(rowLines(r, b.columns(), startUs ?? r.us).join('\n') + '\n')
    }
  }
  const drain = (all: boolean): void => {
    pending.sort((x, y) => x.us - y.us)
    const horizon = Date.now() * 1000 - REORDER_MS * 1000
    while (pending.length > 0 && (all || pending[0]!.us <= horizon)) {
      const p = pending.shift()!
      startUs ??= p.us
      const rows = b.add(p)
      // A new column is known only once its packet is in; draw after the header is current.
      print(rows)
    }
  }
  const cap = await liveLabCapture(lab, (p, iface) => pending.push({ us: p.us, iface, frame: dissect(p.iface.linkType, p.data) }))
  process.stderr.write(`tracing lab ${lab} live${durationS ? ` for ${durationS} s` : ''}; Ctrl-C to stop\n`)
  const tick = setInterval(() => drain(false), 100)
  await new Promise<void>((resolve) => {
    const done = (): void => resolve()
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
    if (durationS) setTimeout(done, durationS * 1000).unref()
  })
  clearInterval(tick)
  await cap.stop()
  drain(true)
  print(b.flush())
}

export function addTraceCommands(program: Command): void {
  program
    .command('trace')
    .description('draw the PMIPv6 exchanges of a capture (pcap or pcapng) as a ladder diagram: PBU, PBA, RS, RA, DHCPv6, heartbeats, errors; user traffic summarised')
    .argument('[file]', 'capture file (`mag lab capture` writes one with every lab link)')
    .option('--svg <file>', 'also write the ladder as an SVG picture')
    .option('--json', 'print the ladder as JSON (columns and rows) instead of text')
    .option('--lab', 'trace the running network-namespace lab live (root)')
    .option('--name <lab>', 'lab name, with --lab', process.env['MAG_LAB'] ?? LAB_DEFAULT_NAME)
    .option('--duration <s>', 'with --lab: stop after this many seconds (default: Ctrl-C)')
    .action(async (file: string | undefined, o: { svg?: string; json?: boolean; lab?: boolean; name: string; duration?: string }) => {
      const out = (s: string): void => void process.stdout.write(s)
      if (o.lab) {
        if (file) throw new CliError('give a capture file or --lab, not both')
        const d = o.duration === undefined ? undefined : Number(o.duration)
        if (d !== undefined && !(d > 0)) throw new CliError('--duration must be a positive number of seconds')
        try {
          await traceLive(o.name, d, out)
        } catch (e) {
          if (e instanceof CliError) throw e
          throw new CliError((e as Error).message)
        }
        return
      }
      if (!file) throw new CliError('give a capture file, or --lab for the running lab')
      const ladder = traceFile(file)
      if (o.svg) writeFileSync(o.svg, renderSvg(ladder))
      out(o.json ? JSON.stringify(ladder, null, 2) + '\n' : renderText(ladder))
    })
}
