/**
 * `mag lab capture` and `mag lab demo --pcap`: every link of the lab in one pcapng. One dumpcap
 * per namespace captures that node's side of each link (a MAG's access links and its uplink,
 * the correspondent's link); each capture is then merged in time order and every interface
 * renamed `<node>:<link>`, which is what `mag trace` reads to name the ladder's columns.
 * One capture point per link, so no packet is seen twice on one hop.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CaptureReader, mergeCaptures, type CapturedPacket } from '../pcap/pcapng'
import { readState } from './lab'
import { MAGS, accessLink, names } from './plan'
import { ipn, waitFor } from './sh'

export interface CapturePoint {
  readonly node: string
  readonly namespace: string
  readonly links: readonly { readonly ifname: string; readonly description: string }[]
}

/** Where the lab is captured: each MAG's side of its access links and its uplink, and each CN's link. */
export function capturePoints(lab: string): CapturePoint[] {
  const s = readState(lab)
  const n = names(lab)
  const points: CapturePoint[] = []
  for (const mag of MAGS) {
    const links = [{ ifname: 'up0', description: `${mag} transport link to the LMA (PBU, PBA, heartbeats, tunnelled traffic)` }]
    for (let i = 1; i <= s.mns; i++) links.push({ ifname: accessLink(i), description: `${mag} access link of mn${i} (RS, RA, DHCPv6, the MN's traffic)` })
    points.push({ node: mag, namespace: n.mag[mag], links })
  }
  points.push({ node: 'cn', namespace: n.cn, links: [{ ifname: 'eth0', description: 'correspondent node link to the LMA' }] })
  if ((s.lmas ?? 1) > 1) points.push({ node: 'cn2', namespace: n.cn2, links: [{ ifname: 'eth0', description: 'correspondent node link to lma2' }] })
  return points
}

const DUMPCAP = process.env['MAG_DUMPCAP'] ?? 'dumpcap'
const START_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 10_000
const SYNC_TIMEOUT_MS = 30_000
/** A marker not in the file yet is sent again after this long. */
const MARKER_RESEND_MS = 1000

export interface Running {
  readonly point: CapturePoint
  readonly child: ChildProcess
  readonly file: string | null
  stderr: string
  exited: boolean
}

export function startDumpcap(point: CapturePoint, out: string | null, bin: string = DUMPCAP): Running {
  const args = ['netns', 'exec', point.namespace, bin]
  for (const l of point.links) args.push('-i', l.ifname)
  // -n: pcapng even for one interface; -w - streams it to stdout (live trace).
  args.push('-n', '-w', out ?? '-')
  const child = spawn('ip', args, { stdio: ['ignore', out ? 'ignore' : 'pipe', 'pipe'] })
  const r: Running = { point, child, file: out, stderr: '', exited: false }
  child.stderr?.on('data', (c: Buffer) => (r.stderr += c.toString()))
  child.on('exit', () => (r.exited = true))
  return r
}

/**
 * Waits until every dumpcap has its interfaces open (readiness, not a sleep). dumpcap prints
 * 'Capturing on' before it opens them, and 'File: <name>' once they are open and the file's
 * headers are written ("capture started successfully"): a packet sent between the two is lost
 * (the demo's first RA was, under load).
 */
export async function ready(all: readonly Running[]): Promise<void> {
  await waitFor(
    'dumpcap capturing on every lab link',
    () => {
      for (const r of all) if (r.exited) throw exitedError(r)
      return all.every((r) => /^File: /m.test(r.stderr)) ? true : undefined
    },
    START_TIMEOUT_MS,
    20,
  )
}

/**
 * Sync markers. A capture is complete only up to what dumpcap has written: libpcap hands packets
 * over a ring block at a time, so the last ones before a stop can still be in the kernel, and
 * under load even the first ones after 'File:' were missed. So at the start and before the stop
 * an ICMPv6 echo request to ff02::1 carrying this capture's tag goes out of every captured link
 * until each file holds it; markers and the answers to them (which echo the tag) are left out of
 * the merged file.
 */
export class Markers {
  private readonly tag = randomBytes(8)
  private n = 0

  /**
   * Sends a fresh marker on every link of every capture that can carry one (up, with a carrier:
   * the lab keeps a MAG's access link down until an MN moves there), until each file holds its
   * own (bounded).
   */
  async sync(all: readonly Running[], timeoutMs = SYNC_TIMEOUT_MS): Promise<void> {
    const pending = all
      .filter((r) => r.file !== null)
      .flatMap((r) => {
        const live = linksWithCarrier(r.point.namespace)
        return r.point.links.filter((l) => live.has(l.ifname)).map((l) => ({ r, link: l.ifname, token: this.token(), sent: 0 }))
      })
    await waitFor(
      `capture sync markers on ${pending.map((p) => `${p.r.point.node}:${p.link}`).join(', ')}`,
      () => {
        for (let i = pending.length - 1; i >= 0; i--) {
          const p = pending[i]!
          if (p.r.exited) throw exitedError(p.r)
          if (fileHolds(p.r.file!, p.token)) pending.splice(i, 1)
          else if (Date.now() - p.sent >= MARKER_RESEND_MS) {
            // -W 1: whoever is on the link may answer, nobody need; the marker is the request.
            // -s 32: ping's timestamp takes the first 16 bytes, the whole token is in the next 16.
            spawnSync('ip', ['netns', 'exec', p.r.point.namespace, 'ping', '-6', '-n', '-q', '-c', '1', '-W', '1', '-s', '32', '-p', p.token.toString('hex'), '-I', p.link, 'ff02::1'], { stdio: 'ignore', timeout: 5000 })
            p.sent = Date.now()
          }
        }
        return pending.length === 0 ? true : undefined
      },
      timeoutMs,
      20,
    )
  }

  /** A marker, or an answer to one: an ICMPv6 echo whose data carries this capture's tag. */
  isMarker(p: CapturedPacket): boolean {
    const d = p.data
    // Ethernet, IPv6 (next header ICMPv6 straight away), echo request or reply.
    if (d.length < 14 + 40 + 8 + this.tag.length || d.readUInt16BE(12) !== 0x86dd || d[14 + 6] !== 58) return false
    const type = d[14 + 40]
    return (type === 128 || type === 129) && d.subarray(14 + 40 + 8).includes(this.tag)
  }

  /** 16 bytes, the most ping -p takes: the tag, then a counter. */
  private token(): Buffer {
    const b = Buffer.alloc(16)
    this.tag.copy(b, 0)
    b.writeUInt32BE(++this.n, 12)
    return b
  }
}

/** A dumpcap that ended early, with the last line it wrote. */
function exitedError(r: Running): Error {
  return new Error(`dumpcap in ${r.point.namespace} exited: ${r.stderr.trim().split('\n').pop() ?? ''}`)
}

/** The links of a namespace that are up with a carrier (`ip -j link`: flags UP and LOWER_UP). */
function linksWithCarrier(ns: string): Set<string> {
  const links = JSON.parse(ipn(ns, '-j', 'link', 'show')) as { ifname: string; flags?: string[] }[]
  return new Set(links.filter((l) => l.flags?.includes('UP') && l.flags.includes('LOWER_UP')).map((l) => l.ifname))
}

function fileHolds(file: string, needle: Buffer): boolean {
  try {
    return readFileSync(file).includes(needle)
  } catch {
    return false
  }
}

export async function stopAll(all: readonly Running[]): Promise<void> {
  for (const r of all) if (!r.exited) r.child.kill('SIGINT')
  try {
    await waitFor('dumpcap to finish its files', () => (all.every((r) => r.exited) ? true : undefined), STOP_TIMEOUT_MS, 20)
  } finally {
    for (const r of all) if (!r.exited) r.child.kill('SIGKILL')
  }
}

export interface LabCapture {
  /** Stops capturing and writes the merged pcapng; returns what it holds. */
  stop(): Promise<{ file: string; packets: number; interfaces: string[] }>
  /** Stops without writing (on failure). */
  abort(): Promise<void>
}

export function startLabCapture(lab: string, outFile: string): Promise<LabCapture> {
  return startCapture(capturePoints(lab), outFile, { comment: `PMIPv6 lab "${lab}": every link, captured at one end; interfaces are named <node>:<link>` })
}

/** Captures these points into one pcapng at `outFile` (on stop), interfaces named `<node>:<link>`. */
export async function startCapture(points: readonly CapturePoint[], outFile: string, o: { comment?: string; dumpcap?: string } = {}): Promise<LabCapture> {
  const dir = mkdtempSync(join(tmpdir(), 'mag-capture-'))
  const running: Running[] = []
  const markers = new Markers()
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true })
  try {
    for (const p of points) running.push(startDumpcap(p, join(dir, `${p.node}.pcapng`), o.dumpcap))
    await ready(running)
    await markers.sync(running)
  } catch (e) {
    await stopAll(running).catch(() => undefined)
    cleanup()
    throw e
  }
  return {
    async stop() {
      try {
        try {
          await markers.sync(running)
        } finally {
          await stopAll(running)
        }
        const merged = mergeCaptures(
          running.map((r) => ({
            bytes: readFileSync(r.file!),
            rename: (ifName: string) => `${r.point.node}:${ifName}`,
            describe: (ifName: string) => r.point.links.find((l) => l.ifname === ifName)?.description ?? '',
          })),
          { application: 'mag lab capture', ...(o.comment !== undefined ? { comment: o.comment } : {}), keep: (p) => !markers.isMarker(p) },
        )
        writeFileSync(outFile, merged.bytes)
        return { file: outFile, packets: merged.packets, interfaces: merged.interfaces }
      } finally {
        cleanup()
      }
    },
    async abort() {
      await stopAll(running).catch(() => undefined)
      cleanup()
    },
  }
}

/** A live capture of the lab: packets of every link as they come, interfaces named `<node>:<link>`. */
export async function liveLabCapture(lab: string, onPacket: (p: CapturedPacket, iface: string) => void): Promise<{ stop(): Promise<void> }> {
  const running: Running[] = []
  try {
    for (const p of capturePoints(lab)) {
      const r = startDumpcap(p, null)
      const reader = new CaptureReader()
      r.child.stdout?.on('data', (c: Buffer) => {
        for (const pkt of reader.push(c)) onPacket(pkt, `${p.node}:${pkt.iface.name}`)
      })
      running.push(r)
    }
    await ready(running)
  } catch (e) {
    await stopAll(running).catch(() => undefined)
    throw e
  }
  return { stop: () => stopAll(running) }
}
