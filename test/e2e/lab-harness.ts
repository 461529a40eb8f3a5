// Helpers for end-to-end tests in the netns lab: run `mag` as a user would, wait for facts with
// a bound, and capture packets with tshark inside a lab namespace. Everything here works on
// namespaces the test created through `mag lab up` and removes them in `mag lab down`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { dissect, haveTshark, values, type Field } from '../interop/tshark'

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

/** `describe`, or a loud failure (CI=true) / a loud skip (elsewhere) when the lab cannot run. */
export function describeLab(title: string, body: () => void): void {
  const why = labPrereqs()
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

export function nsRun(ns: string, cmd: readonly string[], timeoutMs = 30_000): Run {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` until it returns a value that is not null/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | null | false | Promise<T | null | false>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const v = await fn()
      if (v !== null && v !== false) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await sleep(everyMs)
  }
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
  private constructor(
    private readonly child: ChildProcess,
    dir: string,
  ) {
    this.dir = dir
    this.file = join(dir, 'cap.pcap')
  }

  static async start(ns: string, iface: string, filter: string): Promise<Capture> {
    const dir = mkdtempSync(join(tmpdir(), 'mag-e2e-cap-'))
    const child = spawn('ip', ['netns', 'exec', ns, 'tshark', '-n', '-q', '-i', iface, '-f', filter, '-w', join(dir, 'cap.pcap')], { stdio: ['ignore', 'ignore', 'pipe'] })
    const cap = new Capture(child, dir)
    let err = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (c: string) => (err += c))
    await waitFor(`tshark on ${ns}/${iface}`, () => {
      if (child.exitCode !== null) throw new Error(`tshark exited: ${err}`)
      // tshark says 'Capturing on' before dumpcap has opened the interface (about 100 ms
      // earlier here); packets in between are lost. 'Capture started' comes once it has.
      return err.includes('Capture started')
    }, 15_000, 50)
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
