// Helpers of the real-kernel tier (runs inside User-Mode Linux, see run.js): iproute2 with
// bounded time, kernel state snapshots, polling with deadlines, and the data plane fixture of
// packages/dataplane/test (a DataPlane in a namespace, driven by JSON lines).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { NsFixture, withNsFixture } from '@pmip6/testkit'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { labDown } from '../../packages/cli/src/lab/lab'
import { Ctl as DataplaneCtl, ipJson, nsExec, type Run } from '../../packages/dataplane/test/fixtures/netns'
import { MARKER_FILTER, markerSeen } from '../e2e/marker'
import { dissect, parsePdml, values, type Field } from '../interop/tshark'

export const ROOT = resolve(__dirname, '../..')
export const IN_CI = process.env['CI'] === 'true'

// iproute2 with bounded time: the data plane tests' own (packages/dataplane/test/fixtures/netns.ts).
export { ip, ipJson, listNetns, Namespaces, nsExec, type Run } from '../../packages/dataplane/test/fixtures/netns'

/** Many `ip` commands in one process (`ip -batch`): each exec costs 0.2-0.5 s under UML. */
export function ipBatch(lines: readonly string[], ns?: string): void {
  execFileSync('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { input: lines.join('\n') + '\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
}
export function sh(cmd: string, timeoutMs = 20_000): Run {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` until it returns something other than null/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | null | false | undefined | Promise<T | null | false | undefined>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const v = await fn()
      if (v !== null && v !== false && v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`)
    await sleep(everyMs)
  }
}

/**
 * `n` echo requests from a namespace, one ping process each, every one answered within `replyS`
 * seconds or counted lost. One at a time because a counted flood cannot be bounded both ways on
 * a loaded single-CPU guest: `ping -c n -w` keeps sending until n replies came (more than n sent
 * once a reply is slower than the interval), and `-c n -W` gives up on a late reply after twice
 * the largest round trip seen.
 */
export function pingEach(ns: string, dst: string, n: number, replyS = 20): { sent: number; received: number } {
  const sum = { sent: 0, received: 0 }
  for (let i = 0; i < n; i++) {
    const r = nsExec(ns, ['ping', '-n', '-q', '-c', '1', '-W', String(replyS), dst], (replyS + 30) * 1000)
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.out)
    if (!m) throw new Error(`ping ${dst} in ${ns} gave no summary: ${r.out}${r.err}`)
    sum.sent += Number(m[1])
    sum.received += Number(m[2])
  }
  return sum
}

// ------------------------------------------------------------------ kernel state

// The snapshot and the fixture are the data plane tests' own (packages/dataplane/test/fixtures/netns.ts).
export { is158, kstate, ours, sortRoutes, type IpRoute, type IpRule, type KState, type Reply, type Snapshot } from '../../packages/dataplane/test/fixtures/netns'

export interface IpLink {
  ifname: string
  link_type?: string
  linkinfo?: { info_kind?: string; info_data?: { proto?: string; local?: string; remote?: string; encap_limit?: number | string } }
  mtu?: number
}
/** Our ip6tnl devices (`pmip6t<slot>`) in a namespace, with their tunnel parameters. */
export function tunnels(ns: string): IpLink[] {
  return ipJson<IpLink>(['-n', ns, '-d', '-j', 'link', 'show']).filter((l) => l.ifname.startsWith('pmip6t'))
}

/** The IPv6 addresses on a device: none on our tunnels (they make no link-local of their own). */
export function ip6Addrs(ns: string, dev: string): string[] {
  return ipJson<{ addr_info?: { local: string }[] }>(['-n', ns, '-6', '-j', 'addr', 'show', 'dev', dev]).flatMap((l) => (l.addr_info ?? []).map((a) => a.local))
}

// ------------------------------------------------------------------ the data plane fixture

/** packages/dataplane/test/fixtures/dataplane-ctl.js inside a namespace, with the deadlines of a slow kernel. */
export class Ctl extends DataplaneCtl {
  constructor(ns: string) {
    super(ns, { replyTimeoutMs: 60_000, stopTimeoutMs: 15_000 })
  }
}

export const stopAllCtls = (): Promise<void> => NsFixture.stopAll()

export const withCtl = <R>(ns: string, f: (c: Ctl) => Promise<R>): Promise<R> => withNsFixture(new Ctl(ns), f)

// ------------------------------------------------------------------ captures

/** /proc/net/snmp6 of a namespace: counters such as Icmp6InEchos, to wait on what arrived. */
export function snmp6(ns: string): Record<string, number> {
  const r = nsExec(ns, ['cat', '/proc/net/snmp6'])
  const out: Record<string, number> = {}
  for (const line of r.out.split('\n')) {
    const [k, v] = line.trim().split(/\s+/)
    if (k && v) out[k] = Number(v)
  }
  return out
}

export interface Packet {
  readonly fields: readonly { name: string; show: string }[]
  v(name: string): string | undefined
  all(name: string): string[]
}

/**
 * tshark's start-up (thousands of dissectors registered) is exec- and syscall-heavy: under UML on
 * a busy 2-core host it took over 60 s. A deadline, not a timing.
 */
const TSHARK_TIMEOUT_MS = 300_000
let dissections = 0
/**
 * tshark's fields of each packet in `pcap`. When run.js serves dissections (KT_DISSECT: a folder
 * of the host's result folder), the host runs tshark: the same binary and settings (the guest's
 * root is the host's /), without its start-up in the guest, where 160 MB of page faults through
 * ptrace cost 20-60 s per capture on a busy host. The request is written under a temporary name
 * and renamed, so the host never reads half a file; the answer likewise.
 */
async function dissectPcap(pcap: Buffer): Promise<Field[][]> {
  const dir = process.env['KT_DISSECT']
  if (!dir || !existsSync(dir)) return dissect(pcap, TSHARK_TIMEOUT_MS)
  const id = `${process.pid}-${++dissections}-${randomBytes(4).toString('hex')}`
  writeFileSync(join(dir, `${id}.pcap.part`), pcap)
  renameSync(join(dir, `${id}.pcap.part`), join(dir, `${id}.pcap`))
  // Listed, not looked up by name: the answer's name is only ever opened once it exists.
  const answer = await waitFor("the host's tshark", () => readdirSync(dir).find((f) => f === `${id}.pdml` || f === `${id}.err`), TSHARK_TIMEOUT_MS, 100)
  const text = readFileSync(join(dir, answer), 'utf8')
  rmSync(join(dir, answer), { force: true })
  if (answer.endsWith('.err')) throw new Error(text)
  return parsePdml(text)
}
/** How long a sync marker may take to show in the pcap: dumpcap flushes its file about every 0.5 s, a loaded single-CPU guest is slower. */
const SYNC_TIMEOUT_MS = 60_000

/** The marker loop's pace here: an `ip netns exec ... ping` may take seconds in the guest. */
const MARKER_PACE = { pingTimeoutMs: 20_000, everyMs: 50 }
const isMarker = (p: Packet): boolean => p.v('icmpv6.type') === '128' && p.v('ipv6.dst') === 'ff02::1'

/**
 * dumpcap writing a pcap inside a namespace (tshark's own capture engine: it starts in a
 * fraction of tshark's time under UML); stop() has tshark dissect what it saw.
 */
export class Capture {
  private readonly file: string
  private markers = 0
  private readonly tag = randomBytes(4).toString('hex')
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly where?: { readonly ns: string; readonly iface: string },
  ) {
    this.file = join(dir, 'cap.pcap')
  }

  /**
   * dumpcap running. It says 'Capturing on' before the interface is open, so a packet sent right
   * after this resolves may be lost: where a test counts packets, use startSynced().
   */
  static async start(ns: string, iface: string, filter: string, where?: { readonly ns: string; readonly iface: string }): Promise<Capture> {
    const dir = mkdtempSync(join(tmpdir(), 'kt-cap-'))
    const child = spawn('ip', ['netns', 'exec', ns, 'dumpcap', '-q', '-P', '-i', iface, '-f', filter, '-w', join(dir, 'cap.pcap')], { stdio: ['ignore', 'ignore', 'pipe'] })
    const cap = new Capture(child, dir, where)
    captures.add(cap)
    let err = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (c: string) => (err += c))
    await waitFor(`dumpcap on ${ns}/${iface}`, () => {
      if (child.exitCode !== null) throw new Error(`dumpcap exited: ${err}`)
      return err.includes('Capturing on')
    }, 30_000, 50)
    return cap
  }

  /**
   * A capture known to see the interface when this resolves: a marker packet (an echo request to
   * ff02::1 with a payload unique to this capture) is sent on the interface until the pcap holds
   * it. stopSynced() does the same before stopping, so everything that crossed the interface
   * before it was called is in the file, whatever the load. Markers are not returned.
   */
  static async startSynced(ns: string, iface: string, filter: string): Promise<Capture> {
    const cap = await Capture.start(ns, iface, `(${filter}) or (${MARKER_FILTER})`, { ns, iface })
    try {
      await cap.sync()
    } catch (e) {
      cap.kill()
      throw e
    }
    return cap
  }

  /** Sends a marker on the interface, again every second, until the pcap file holds it (bounded). */
  async sync(timeoutMs = SYNC_TIMEOUT_MS): Promise<void> {
    if (this.where === undefined) throw new Error('sync() needs a capture made by Capture.startSynced')
    const { ns, iface } = this.where
    const token = `${this.tag}${(++this.markers).toString(16).padStart(8, '0')}`
    const needle = Buffer.from(token, 'hex')
    await markerSeen(`capture marker on ${ns}/${iface}`, ns, iface, token, () => {
      if (this.child.exitCode !== null) throw new Error('dumpcap exited')
      try {
        return readFileSync(this.file).includes(needle)
      } catch {
        return false
      }
    }, timeoutMs, MARKER_PACE)
  }

  /** sync(), then stop(): every packet up to this call, dissected, the markers left out. */
  async stopSynced(): Promise<Packet[]> {
    try {
      await this.sync()
    } catch (e) {
      this.kill()
      throw e
    }
    return (await this.stop()).filter((p) => !isMarker(p))
  }

  /**
   * Stops the capture (bounded) and returns the outer IPv6 Next Header of each Ethernet frame,
   * read from the pcap itself: enough to tell ESP (50) from plaintext MH (135) without paying
   * for a tshark start-up under UML.
   */
  async stopNextHeaders(): Promise<number[]> {
    const pcap = await this.halt()
    const out: number[] = []
    if (pcap.length < 24) return out
    const le = pcap.readUInt32LE(0) === 0xa1b2c3d4
    const u32 = (o: number) => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o))
    if (u32(20) !== 1) throw new Error(`capture link type ${u32(20)}, expected Ethernet`)
    for (let o = 24; o + 16 <= pcap.length; ) {
      const len = u32(o + 8)
      const frame = pcap.subarray(o + 16, o + 16 + len)
      if (frame.length >= 14 + 40 && frame.readUInt16BE(12) === 0x86dd) out.push(frame[14 + 6]!)
      o += 16 + len
    }
    return out
  }

  /** Stops dumpcap (bounded) and returns what it wrote. */
  private async halt(): Promise<Buffer> {
    captures.delete(this)
    const exited = new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', () => r())))
    this.child.kill('SIGINT')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 10_000)))])
    clearTimeout(timer)
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
    try {
      return readFileSync(this.file)
    } finally {
      rmSync(this.dir, { recursive: true, force: true })
    }
  }

  /** Stops the capture (bounded) and returns every packet, dissected by tshark. */
  async stop(): Promise<Packet[]> {
    const pcap = await this.halt()
    let fields: Field[][]
    try {
      fields = await dissectPcap(pcap)
    } catch (e) {
      // A plain error: spawnSync's carries a circular 'error' property, and jest's --json
      // writer then failed on it, losing the tier's whole result file.
      throw new Error(`tshark: ${e instanceof Error ? e.message : String(e)}`)
    }
    return fields.map((f) => ({ fields: f, v: (n: string) => values(f, n)[0], all: (n: string) => values(f, n) }))
  }

  kill(): void {
    captures.delete(this)
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}
const captures = new Set<Capture>()
export function killCaptures(): void {
  for (const c of [...captures]) c.kill()
}

/**
 * Copies files (daemon logs, say) into the host's result folder under artifacts/<name>/, so a
 * failure can be read after the VM is gone (run.js keeps them when the tier fails).
 */
export function saveArtifacts(name: string, dir: string, match: RegExp = /\.(log|json)$/): void {
  const out = process.env['KT_OUT']
  if (!out || !existsSync(dir)) return
  const to = join(out, 'artifacts', name)
  mkdirSync(to, { recursive: true })
  for (const f of readdirSync(dir)) if (match.test(f)) copyFileSync(join(dir, f), join(to, f))
}

/**
 * A lab test file's teardown: captures stopped, the lab's logs kept as artifacts/<name>/, the lab
 * taken down (also when keeping the logs failed) and the test's own folder removed.
 */
export async function endLab(name: string, lab: string, dir?: string): Promise<void> {
  try {
    killCaptures()
    saveArtifacts(name, `/run/mag-lab/${lab}`)
  } finally {
    await labDown(lab, { quiet: true })
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
}
