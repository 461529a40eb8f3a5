/**
 * A test fixture script run by node inside a network namespace (`ip netns exec <ns> node <script>`),
 * driven by JSON lines: one command in on stdin, one JSON reply out on stdout, each wait bounded.
 * A socket (rtnetlink, a raw or UDP socket) belongs to the namespace of the process that opens it,
 * so the packages' netns tests and the kernel tier run their DataPlane or DHCPv4 server this way.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { waitUntil } from './netns'

/** What every fixture answers: `ok`, and on failure an error (its shape is the fixture's). */
export interface FixtureReply {
  ok: boolean
  error?: unknown
}

export interface NsFixtureOptions {
  /** How long send() and next() wait for a reply by default. */
  readonly replyTimeoutMs?: number
  /** How long stop() waits for the fixture to exit after closing its stdin, by default. */
  readonly stopTimeoutMs?: number
}

const live = new Set<NsFixture<FixtureReply>>()

export class NsFixture<R extends FixtureReply> {
  readonly child: ChildProcessWithoutNullStreams
  private buf = ''
  private readonly lines: string[] = []
  private wake: (() => void) | null = null
  private readonly replyTimeoutMs: number
  private readonly stopTimeoutMs: number
  /** The fixture's stderr so far, for error messages. */
  err = ''

  constructor(
    readonly ns: string,
    script: string,
    opts: NsFixtureOptions = {},
  ) {
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 20_000
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, script])
    live.add(this)
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
    // 'close', not 'exit': a fixture that answers and then exits (op 'exit') may be seen to
    // exit before its answer's 'data' arrives; 'close' comes once its stdout has ended.
    this.child.on('close', () => {
      this.closed = true
      this.wake?.()
    })
  }

  /** The fixture's stdio has ended: every line it wrote is in `lines`. */
  private closed = false

  private get running(): boolean {
    return !this.closed
  }

  /** The next reply line (a ready line the fixture prints unasked, too), bounded. */
  async next(timeoutMs = this.replyTimeoutMs, what = 'a reply'): Promise<R> {
    const until = Date.now() + timeoutMs
    while (this.lines.length === 0) {
      if (!this.running) throw new Error(`fixture in ${this.ns} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.err}`)
      const left = until - Date.now()
      if (left <= 0) throw new Error(`fixture in ${this.ns}: no ${what} within ${timeoutMs} ms; stderr: ${this.err}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, left)
        this.wake = () => {
          clearTimeout(t)
          r()
        }
      })
      this.wake = null
    }
    return JSON.parse(this.lines.shift()!) as R
  }

  async send(cmd: object, timeoutMs = this.replyTimeoutMs): Promise<R> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`)
    return this.next(timeoutMs, `reply to ${JSON.stringify(cmd)}`)
  }

  /** Sends and insists on ok. */
  async ok(cmd: object): Promise<R> {
    const r = await this.send(cmd)
    if (!r.ok) throw new Error(`${JSON.stringify(cmd)} failed in ${this.ns}: ${JSON.stringify(r.error)}`)
    return r
  }

  /** Waits for the fixture to exit on its own (after a command that ends it), bounded. */
  async exited(timeoutMs = 10_000): Promise<void> {
    await waitUntil('the fixture to exit', () => !this.running, timeoutMs, 20)
    live.delete(this)
  }

  /** Closes stdin (the fixture cleans up and exits), bounded; then SIGKILL. */
  async stop(timeoutMs = this.stopTimeoutMs): Promise<void> {
    live.delete(this)
    if (this.running) {
      const exited = new Promise<void>((r) => this.child.once('exit', () => r()))
      this.child.stdin.end()
      let t: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))])
      clearTimeout(t)
      if (this.running) this.child.kill('SIGKILL')
    }
  }

  /** Stops every fixture of this test file still running (an afterAll after a failed test). */
  static async stopAll(timeoutMs = 5_000): Promise<void> {
    for (const f of [...live]) await f.stop(timeoutMs)
  }
}

/** A fixture for the length of `f`, stopped after it however it ends. */
export async function withNsFixture<F extends NsFixture<FixtureReply>, T>(fixture: F, f: (c: F) => Promise<T>): Promise<T> {
  try {
    return await f(fixture)
  } finally {
    await fixture.stop()
  }
}
