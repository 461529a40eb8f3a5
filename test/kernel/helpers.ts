// Helpers of the real-kernel tier (runs inside User-Mode Linux, see run.js): iproute2 with
// bounded time, kernel state snapshots, polling with deadlines, and the data plane fixture of
// packages/dataplane/test (a DataPlane in a namespace, driven by JSON lines).
import { execFileSync, spawn, spawnSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { dissect, values } from '../interop/tshark'

export const ROOT = resolve(__dirname, '../..')
export const IN_CI = process.env['CI'] === 'true'

export function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 })
}
export function ipJson<T>(args: readonly string[]): T[] {
  const out = ip(args).trim()
  return out === '' ? [] : (JSON.parse(out) as T[])
}
/** Many `ip` commands in one process (`ip -batch`): each exec costs 0.2-0.5 s under UML. */
export function ipBatch(lines: readonly string[], ns?: string): void {
  execFileSync('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { input: lines.join('\n') + '\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
}
export interface Run {
  readonly code: number
  readonly out: string
  readonly err: string
}
export function nsExec(ns: string, cmd: readonly string[], timeoutMs = 20_000): Run {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}
export function sh(cmd: string, timeoutMs = 20_000): Run {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}
export function listNetns(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '')
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

// ------------------------------------------------------------------ kernel state

export interface IpRule {
  priority: number
  table?: string
  protocol?: string
  src?: string
  dst?: string
  iif?: string
  action?: string
}
export interface IpRoute {
  dst: string
  table?: string
  protocol?: string
  dev?: string
  type?: string
}
export interface KState {
  rules: IpRule[]
  routes: IpRoute[]
  links: string[]
}
const key = (o: object): string => JSON.stringify(o)
export const sortRoutes = (r: IpRoute[]): IpRoute[] => [...r].sort((x, y) => key(x).localeCompare(key(y)))
/** Rules, routes (all tables) and link names of a namespace, read by one `ip -batch`. */
export function kstate(ns: string): KState {
  const out = execFileSync('ip', ['-n', ns, '-6', '-j', '-batch', '-'], { input: 'rule show\nroute show table all\nlink show\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 })
  const [rules, routes, links] = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown[])
  return {
    rules: rules as IpRule[],
    routes: sortRoutes(routes as IpRoute[]),
    links: (links as { ifname: string }[]).map((l) => l.ifname).sort(),
  }
}
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

// ------------------------------------------------------------------ the data plane fixture

const FIXTURE = join(ROOT, 'packages/dataplane/test/fixtures/dataplane-ctl.js')

export interface Snapshot {
  backend: string
  tunnels: { peer: string; slot: number; users: number; device: string | null }[]
  bindings: number
  objects: number
  failures: number
}
export interface Reply {
  ok: boolean
  calls?: number
  snapshot?: Snapshot
  state?: { rules: IpRule[]; routes: IpRoute[] }
  error?: { name: string; message: string; code: string | null; cause: { name: string; message: string; code: string | null } | null }
  removed?: number
}

const ctls = new Set<Ctl>()

/** packages/dataplane/test/fixtures/dataplane-ctl.js inside a namespace: one JSON command in, one reply out. */
export class Ctl {
  private readonly child: ChildProcessWithoutNullStreams
  private buf = ''
  private readonly lines: string[] = []
  private wake: (() => void) | null = null
  err = ''

  constructor(readonly ns: string) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, FIXTURE])
    ctls.add(this)
    this.child.stdout.setEncoding('utf8')
    this.child.stderr.setEncoding('utf8')
    this.child.stdout.on('data', (d: string) => {
      this.buf += d
      let nl: number
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl))
        this.buf = this.buf.slice(nl + 1)
      }
      this.wake?.()
    })
    this.child.stderr.on('data', (d: string) => (this.err += d))
    this.child.on('exit', () => this.wake?.())
  }

  async send(cmd: object, timeoutMs = 60_000): Promise<Reply> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`)
    const until = Date.now() + timeoutMs
    while (this.lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`fixture in ${this.ns} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.err}`)
      const left = until - Date.now()
      if (left <= 0) throw new Error(`fixture in ${this.ns}: no reply to ${JSON.stringify(cmd)} within ${timeoutMs} ms; stderr: ${this.err}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, left)
        this.wake = () => {
          clearTimeout(t)
          r()
        }
      })
      this.wake = null
    }
    return JSON.parse(this.lines.shift()!) as Reply
  }

  async ok(cmd: object): Promise<Reply> {
    const r = await this.send(cmd)
    if (!r.ok) throw new Error(`${JSON.stringify(cmd)} failed in ${this.ns}: ${JSON.stringify(r.error)}`)
    return r
  }

  /** Waits for the fixture to exit on its own (after `exit`), bounded. */
  async exited(timeoutMs = 10_000): Promise<void> {
    await waitFor('the fixture to exit', () => this.child.exitCode !== null || this.child.signalCode !== null, timeoutMs, 20)
    ctls.delete(this)
  }

  /** Closes stdin (the fixture closes its data plane and exits), bounded; then SIGKILL. */
  async stop(timeoutMs = 15_000): Promise<void> {
    ctls.delete(this)
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((r) => this.child.once('exit', () => r()))
      this.child.stdin.end()
      let t: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))])
      clearTimeout(t)
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    }
  }
}

export async function stopAllCtls(): Promise<void> {
  for (const c of [...ctls]) await c.stop(5_000)
}

export async function withCtl<R>(ns: string, f: (c: Ctl) => Promise<R>): Promise<R> {
  const c = new Ctl(ns)
  try {
    return await f(c)
  } finally {
    await c.stop()
  }
}

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
 * dumpcap writing a pcap inside a namespace (tshark's own capture engine: it starts in a
 * fraction of tshark's time under UML); stop() has tshark dissect what it saw.
 */
/**
 * tshark's start-up (thousands of dissectors registered) is exec- and syscall-heavy: under UML on
 * a busy 2-core host it took over 60 s. A deadline, not a timing.
 */
const TSHARK_TIMEOUT_MS = 300_000

export class Capture {
  private readonly file: string
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    this.file = join(dir, 'cap.pcap')
  }

  static async start(ns: string, iface: string, filter: string): Promise<Capture> {
    const dir = mkdtempSync(join(tmpdir(), 'kt-cap-'))
    const child = spawn('ip', ['netns', 'exec', ns, 'dumpcap', '-q', '-P', '-i', iface, '-f', filter, '-w', join(dir, 'cap.pcap')], { stdio: ['ignore', 'ignore', 'pipe'] })
    const cap = new Capture(child, dir)
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
    let fields: ReturnType<typeof dissect>
    try {
      fields = dissect(pcap, TSHARK_TIMEOUT_MS)
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
