// Helpers for end-to-end tests in the netns lab: run `mag` as a user would, wait for facts with
// a bound, and capture packets with tshark inside a lab namespace. Everything here works on
// namespaces the test created through `mag lab up` and removes them with labDown() (`mag lab down`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { controlRequest, type ControlRequest } from '@pmip6/agent'
import { writeUdhcpcScript } from '../../packages/cli/src/lab/demo'
import { labSocket } from '../../packages/cli/src/lab/lab'
import { onPath } from '../../packages/cli/src/lab/sh'
import { dissect, haveTshark, values, type Field } from '../interop/tshark'
import { MARKER_FILTER, markerSeen } from './marker'

export const ROOT = resolve(__dirname, '../..')
export const MAG_JS = join(ROOT, 'packages/cli/bin/mag.js')
export const RAW_SEND = join(__dirname, 'fixtures/raw-send.js')

export interface Run {
  readonly code: number
  readonly out: string
  readonly err: string
}

/** What the lab needs; with CI=true a missing piece fails the suite instead of skipping it. */
export function labPrereqs(): string | null {
  if (process.getuid?.() !== 0) return 'the netns lab needs root (ip netns, raw sockets)'
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'iproute2 (ip) is missing'
  if (!haveTshark()) return 'tshark is missing'
  try {
    readFileSync(join(ROOT, 'packages/cli/dist/main.js'))
    readFileSync(join(ROOT, 'packages/rawsock/build/Release/rawsock.node'))
  } catch {
    return 'the project is not built: run `npm run build` (and npm ci for the rawsock addon)'
  }
  return null
}

/**
 * What a suite beyond the lab needs: each tool on PATH (with the Debian packages that bring them,
 * for the message) and each built file; null when all are there.
 */
export function toolPrereqs(tools: readonly string[], apt: string, built: readonly string[] = []): string | null {
  const lab = labPrereqs()
  if (lab !== null) return lab
  for (const tool of tools) if (!onPath(tool)) return `${tool} is missing (apt-get install ${apt})`
  for (const f of built) {
    try {
      readFileSync(join(ROOT, f))
    } catch {
      return `the project is not built (${f}): npm ci && npm run build`
    }
  }
  return null
}

/** `describe`, or a loud failure (CI=true) / a loud skip (elsewhere) when the lab cannot run. */
export function describeLab(title: string, body: () => void, why: string | null = labPrereqs()): void {
  if (why === null) {
    describe(title, body)
    return
  }
  if (process.env['CI'] === 'true') {
    test(`${title}: prerequisites`, () => {
      throw new Error(`${why}; CI=true, so this is a failure, not a skip`)
    })
    return
  }
  console.warn(`SKIPPED ${title}: ${why}`)
  describe.skip(title, body)
}

export function mag(args: readonly string[], timeoutMs = 60_000): Run {
  const r = spawnSync(process.execPath, [MAG_JS, ...args], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}

/** Runs `mag ...` and parses its JSON output, failing with its stderr otherwise. */
export function magJson<T>(args: readonly string[]): T {
  const r = mag(args)
  if (r.code !== 0) throw new Error(`mag ${args.join(' ')} exited ${r.code}: ${r.err}`)
  return JSON.parse(r.out) as T
}

/**
 * One control request to a lab daemon (`mag1`, `mag2`, `lma`), made in this process. Polling with
 * `mag lab ctl` starts two node processes per poll (some 0.4 s of CPU each): at a poll every
 * 100 ms that alone kept a core busy and slowed the lab it was waiting on.
 */
export function labAsk<T>(name: string, node: string, req: ControlRequest, timeoutMs = 10_000): Promise<T> {
  return controlRequest(labSocket(name, node), req, timeoutMs) as Promise<T>
}

/** The binding update list of a lab MAG, as `mag bindings --json` prints it. */
export const labBindings = <T = LabBinding>(name: string, node = 'mag1'): Promise<T[]> => labAsk<T[]>(name, node, { cmd: 'bindings' })

/** A lab daemon's status, as `mag status --json` prints it. */
export const labStatus = <T = LabStatus>(name: string, node = 'mag1'): Promise<T> => labAsk<T>(name, node, { cmd: 'status' })

/** The fields of a binding view the tests read (the view has more). */
export interface LabBinding {
  readonly mnId: string
  readonly state: string
  readonly [k: string]: unknown
}

/** The fields of a status answer the tests read. */
export interface LabStatus {
  readonly ready?: boolean
  readonly counters: Record<string, number>
  readonly [k: string]: unknown
}

export function nsRun(ns: string, cmd: readonly string[], timeoutMs = 30_000): Run {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}

/**
 * The demo's udhcpc script at `path` (an MN configured as Debian's udhcpc would), for suites
 * whose MNs run busybox udhcpc: a missing udhcpc is a failure, not a skip.
 */
export function installUdhcpcScript(path: string): void {
  if (!onPath('udhcpc')) throw new Error('udhcpc is missing')
  writeUdhcpcScript(path)
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Deadlines sized for a loaded machine (two CPU hogs and other work on two cores: `mag lab up`
 * with 4 MNs runs some 200 `ip` commands, a tshark start loads every dissector). They only
 * matter when something is wrong; on an idle machine each wait ends in well under a tenth.
 */
export const LAB_UP_TIMEOUT_MS = 240_000
/** For a beforeAll that brings a lab up. */
export const LAB_HOOK_TIMEOUT_MS = LAB_UP_TIMEOUT_MS + 30_000
export const TSHARK_START_TIMEOUT_MS = 60_000

/**
 * Brings up lab `name` for a suite (`beforeAll(() => labUp(LAB, ['--mns', '1']), LAB_HOOK_TIMEOUT_MS)`):
 * a crashed earlier run's lab of that name goes first; returns only once every daemon is ready.
 */
export function labUp(name: string, args: readonly string[] = []): void {
  mag(['lab', 'down', '--name', name])
  const up = mag(['lab', 'up', '--name', name, ...args], LAB_UP_TIMEOUT_MS)
  if (up.code !== 0) throw new Error(`mag lab up: ${up.err}`)
}

/**
 * Taking a lab down on a loaded machine: `mag lab down` gives the daemons 4 s after SIGTERM, then
 * kills what still runs in each namespace and deletes them, each `ip` bounded by 15 s. Under load
 * a 20-60 s budget was not enough and two suites left their labs behind.
 */
export const LAB_DOWN_TIMEOUT_MS = 180_000
/** For an afterAll that takes a lab down: `afterAll(() => labDown(LAB), LAB_DOWN_HOOK_TIMEOUT_MS)`. */
export const LAB_DOWN_HOOK_TIMEOUT_MS = LAB_DOWN_TIMEOUT_MS + 30_000

/** The network namespaces of lab `name` that still exist. */
export function labNamespaces(name: string): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`ip netns list: ${r.stderr ?? r.error}`)
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => ns.startsWith(`${name}-`))
}

/** `mag ...` without blocking the event loop (jest's own deadlines keep running), killed after `timeoutMs`. */
function magAsync(args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAG_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeoutMs} ms)`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code: code ?? -1, out, err })
    })
  })
}

/**
 * Takes lab `name` down (the suite's afterAll, with LAB_DOWN_HOOK_TIMEOUT_MS) and returns once
 * its namespaces are gone: `mag lab down` again while any is left (one of its bounded `ip`
 * commands ran out of time), polling until the deadline; then fails naming what is left.
 */
export async function labDown(name: string, timeoutMs = LAB_DOWN_TIMEOUT_MS): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const last = await magAsync(['lab', 'down', '--name', name], Math.max(5_000, until - Date.now()))
    const left = labNamespaces(name)
    if (left.length === 0) return
    if (Date.now() >= until) throw new Error(`lab ${name} not down after ${timeoutMs} ms: ${left.join(', ')} left; the last \`mag lab down\` exited ${last.code}: ${last.err.trim()}`)
    await sleep(1000)
  }
}

/**
 * Polls `fn` until it returns a value that is not null/false, or fails after `timeoutMs`. The
 * default deadline allows for polls that each start a `mag` process on a loaded machine.
 * `explain`, asked only on a timeout, adds what the test saw then (daemon views, log lines):
 * a failure seen once in a stress check must say why without a rerun.
 */
export async function waitFor<T>(what: string, fn: () => T | null | false | Promise<T | null | false>, timeoutMs = 30_000, everyMs = 100, explain?: () => string | Promise<string>): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const v = await fn()
      if (v !== null && v !== false) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) {
      let seen = ''
      if (explain) seen = await Promise.resolve().then(explain).then((x) => `\n${x}`, (e: unknown) => `\n(explain failed: ${String(e)})`)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}${seen}`)
    }
    await sleep(everyMs)
  }
}

/** The last `n` lines of a lab daemon's log that match `re` (for a test's failure message). */
export function logLines(file: string, re: RegExp, n = 40): string {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    return `(${file}: ${(e as Error).message})`
  }
  return text.split('\n').filter((l) => re.test(l)).slice(-n).join('\n')
}

export interface Packet {
  /** Capture time, seconds since the epoch. */
  readonly t: number
  readonly fields: readonly Field[]
  v(name: string): string | undefined
  all(name: string): string[]
}

/** tshark writing a pcap inside a namespace; `stop()` dissects what it saw. */
export class Capture {
  private readonly dir: string
  private readonly file: string
  private markers = 0
  private readonly tag = randomBytes(4).toString('hex')
  private constructor(
    private readonly child: ChildProcess,
    dir: string,
    private readonly where?: { readonly ns: string; readonly iface: string },
  ) {
    this.dir = dir
    this.file = join(dir, 'cap.pcap')
  }

  /**
   * A capture that is known to run when this resolves, and whose `stopSynced()` returns only once
   * everything that crossed the interface before it was called is in the file: a marker packet
   * (an echo request to ff02::1 with a unique payload) is sent on the interface and waited for,
   * at the start and at the end. No fixed sleeps, whatever the load. Markers are not returned.
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

  /** Sends a marker on the interface until the capture file holds it (bounded). */
  async sync(timeoutMs = 20_000): Promise<void> {
    if (this.where === undefined) throw new Error('sync() needs a capture made by Capture.startSynced')
    const { ns, iface } = this.where
    const token = `${this.tag}${(++this.markers).toString(16).padStart(8, '0')}`
    const needle = Buffer.from(token, 'hex')
    await markerSeen(`capture marker on ${ns}/${iface}`, ns, iface, token, () => {
      if (this.child.exitCode !== null) throw new Error('tshark exited')
      try {
        return readFileSync(this.file).includes(needle)
      } catch {
        return false
      }
    }, timeoutMs)
  }

  /** sync(), then stop(): every packet up to this call, the markers left out. */
  async stopSynced(): Promise<Packet[]> {
    await this.sync()
    const pkts = await this.stop()
    return pkts.filter((p) => !(p.v('icmpv6.type') === '128' && p.v('ipv6.dst') === 'ff02::1'))
  }

  static async start(ns: string, iface: string, filter: string, where?: { readonly ns: string; readonly iface: string }): Promise<Capture> {
    const dir = mkdtempSync(join(tmpdir(), 'mag-e2e-cap-'))
    const child = spawn('ip', ['netns', 'exec', ns, 'tshark', '-n', '-q', '-i', iface, '-f', filter, '-w', join(dir, 'cap.pcap')], { stdio: ['ignore', 'ignore', 'pipe'] })
    const cap = new Capture(child, dir, where)
    let err = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (c: string) => (err += c))
    await waitFor(`tshark on ${ns}/${iface}`, () => {
      if (child.exitCode !== null) throw new Error(`tshark exited: ${err}`)
      // tshark says 'Capturing on' before dumpcap has opened the interface (about 100 ms
      // earlier here); packets in between are lost. 'Capture started' comes once it has.
      return err.includes('Capture started')
    }, TSHARK_START_TIMEOUT_MS, 50)
    return cap
  }

  /** Stops the capture (bounded) and returns every packet, dissected by tshark. */
  async stop(): Promise<Packet[]> {
    const exited = new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', () => r())))
    this.child.kill('SIGINT')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))])
    clearTimeout(timer)
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
    let pcap: Buffer
    try {
      pcap = readFileSync(this.file)
    } finally {
      rmSync(this.dir, { recursive: true, force: true })
    }
    return dissect(pcap).map((fields) => ({
      t: Number(values(fields, 'frame.time_epoch')[0]),
      fields,
      v: (name: string) => values(fields, name)[0],
      all: (name: string) => values(fields, name),
    }))
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** A lab name of at most 12 characters, unique per test process. */
export function labName(prefix: string): string {
  return `${prefix}${process.pid % 100000}`.slice(0, 12)
}

/**
 * tshark in a lab namespace printing the named fields of each packet as it passes (`-l -T
 * fields`), so a test waits (bounded) for what it expects on the wire. `start()` returns once a
 * marker packet it sent on the interface has come back through tshark: 'Capturing on' is printed
 * before dumpcap has the interface open, and an RA in that gap was missed (a stress-check run).
 * `sync()` does the same later: every packet that crossed before the call is in `rows` after it.
 * Markers (echo requests to ff02::1, see MARKER_FILTER) are kept out of `rows`.
 */
export class LiveFields {
  /** One row per packet: the values of the requested fields, in order ('' when absent). */
  readonly rows: string[][] = []
  private err = ''
  private readonly seen = new Set<string>()
  private readonly tag = randomBytes(4).toString('hex')
  private markers = 0
  private constructor(
    private readonly child: ChildProcess,
    private readonly ns: string,
    private readonly iface: string,
  ) {}

  static async start(ns: string, iface: string, filter: string, fields: readonly string[]): Promise<LiveFields> {
    // Three fields of our own after the caller's: what tells a marker apart.
    const all = [...fields, 'icmpv6.type', 'ipv6.dst', 'data.data']
    const child = spawn('ip', ['netns', 'exec', ns, 'tshark', '-n', '-l', '-i', iface, '-f', `(${filter}) or (${MARKER_FILTER})`, '-T', 'fields', '-E', 'separator=|', ...all.flatMap((f) => ['-e', f])], { stdio: ['ignore', 'pipe', 'pipe'] })
    const w = new LiveFields(child, ns, iface)
    let buf = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (c: string) => {
      buf += c
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const row = buf.slice(0, i).split('|')
        buf = buf.slice(i + 1)
        const [type, dst, data] = row.slice(fields.length)
        if (type === '128' && dst === 'ff02::1') w.seen.add((data ?? '').replace(/:/g, ''))
        else w.rows.push(row.slice(0, fields.length))
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (c: string) => (w.err += c))
    try {
      await w.sync(TSHARK_START_TIMEOUT_MS)
    } catch (e) {
      w.kill()
      throw e
    }
    return w
  }

  /** Sends a marker on the interface (again each second) until tshark has printed it (bounded). */
  async sync(timeoutMs = 20_000): Promise<void> {
    const token = `${this.tag}${(++this.markers).toString(16).padStart(8, '0')}`
    await markerSeen(`tshark marker on ${this.ns}/${this.iface}`, this.ns, this.iface, token, () => {
      if (this.child.exitCode !== null) throw new Error(`tshark exited: ${this.err}`)
      for (const d of this.seen) if (d.includes(token)) return true
      return false
    }, timeoutMs)
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
