/**
 * `mag lab capture` and `mag lab demo --pcap`: every link of the lab in one pcapng. One dumpcap
 * per namespace captures that node's side of each link (a MAG's access links and its uplink,
 * the correspondent's link); each capture is then merged in time order and every interface
 * renamed `<node>:<link>`, which is what `mag trace` reads to name the ladder's columns.
 * One capture point per link, so no packet is seen twice on one hop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CaptureReader, mergeCaptures, type CapturedPacket } from '../pcap/pcapng'
import { readState } from './lab'
import { MAGS, accessLink, names } from './plan'
import { waitFor } from './sh'

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
      for (const r of all) if (r.exited) throw new Error(`dumpcap in ${r.point.namespace} exited: ${r.stderr.trim().split('\n').pop() ?? ''}`)
      return all.every((r) => /^File: /m.test(r.stderr)) ? true : undefined
    },
    START_TIMEOUT_MS,
    20,
  )
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

export async function startLabCapture(lab: string, outFile: string): Promise<LabCapture> {
  const dir = mkdtempSync(join(tmpdir(), 'mag-capture-'))
  const running: Running[] = []
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true })
  try {
    for (const p of capturePoints(lab)) running.push(startDumpcap(p, join(dir, `${p.node}.pcapng`)))
    await ready(running)
  } catch (e) {
    await stopAll(running).catch(() => undefined)
    cleanup()
    throw e
  }
  return {
    async stop() {
      try {
        await stopAll(running)
        const merged = mergeCaptures(
          running.map((r) => ({
            bytes: readFileSync(r.file!),
            rename: (ifName: string) => `${r.point.node}:${ifName}`,
            describe: (ifName: string) => r.point.links.find((l) => l.ifname === ifName)?.description ?? '',
          })),
          { application: 'mag lab capture', comment: `PMIPv6 lab "${lab}": every link, captured at one end; interfaces are named <node>:<link>` },
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
