/**
 * A small network-namespace topology for end-to-end tests and benchmarks of access drivers
 * (root only): the lab LMA, one MAG and N mobile nodes, with the daemons run by `mag` as a user
 * would. Every address is from 2001:db8::/32 and lives only in namespaces this object made;
 * down() kills whatever still runs in them and deletes them.
 *
 *   mn<i> (eth0) --- per-MN veth, or a bridge in <prefix>-air for a shared link --- mag (access)
 *   mag (up0) 2001:db8:ffff::1 --- veth --- (t0) 2001:db8:ffff::2 lma
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join, resolve } from 'node:path'
import { sleep } from './compliance'

export const MAG_JS = resolve(__dirname, '../../cli/bin/mag.js')

export const NS_PLAN = {
  mag: '2001:db8:ffff::1',
  lma: '2001:db8:ffff::2',
  homePool: '2001:db8:100::/48',
  fixedLinkLocal: 'fe80::1',
  fixedLinkLayer: '02:00:00:00:00:fe',
} as const

export type AccessShape = { readonly kind: 'per-mn'; readonly name: (i: number) => string } | { readonly kind: 'shared'; readonly name: string }

export interface NsLabOptions {
  /** Namespace prefix, unique per test file (at most 10 characters). */
  readonly prefix: string
  readonly mns: number
  readonly access: AccessShape
  readonly stateDir: string
  /** How long a daemon may take to open its control socket; default 15 s (slow kernels such as User-Mode Linux need more). */
  readonly readyTimeoutMs?: number
}

export class NsError extends Error {
  override readonly name = 'NsError'
}

export interface Run {
  readonly code: number
  readonly out: string
  readonly err: string
}

export function run(cmd: string, args: readonly string[], timeoutMs = 15_000): Run {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? (r.error ? String(r.error) : '') }
}

function must(cmd: string, args: readonly string[]): string {
  const r = run(cmd, args)
  if (r.code !== 0) throw new NsError(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.err.trim()}`)
  return r.out
}

/** `ip [ARGS] -batch -` over `lines`; a failure names the batch's failing line. */
function batch(args: readonly string[], lines: readonly string[]): void {
  if (lines.length === 0) return
  const r = spawnSync('ip', [...args, '-batch', '-'], { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 15_000 + 250 * lines.length })
  if (r.status !== 0) {
    const n = /-:(\d+)/.exec(r.stderr ?? '')
    throw new NsError(`ip ${args.join(' ')} -batch exited ${r.status ?? r.signal ?? String(r.error)}: ${(r.stderr ?? '').trim()}${n ? ` (line: ${lines[Number(n[1]) - 1]})` : ''}`)
  }
}

/** One JSON-line request on a daemon's control socket (MAG or lab LMA). */
export function control(path: string, req: Record<string, unknown>, timeoutMs = 3000): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const s = createConnection(path)
    let buf = ''
    const timer = setTimeout(() => {
      s.destroy()
      reject(new NsError(`no answer on ${path} within ${timeoutMs} ms`))
    }, timeoutMs)
    s.setEncoding('utf8')
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'))
    s.on('data', (d: string) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      s.destroy()
      try {
        const r = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
        if (r['ok'] === false) reject(new NsError(String(r['error'])))
        else resolvePromise(r)
      } catch (e) {
        reject(e as Error)
      }
    })
    s.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
}

/** Resolves when `p` does or after `ms`, whichever is first; leaves no timer behind. */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
}

/** Polls until `fn` gives a value that is not null/false/undefined, or throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, fn: () => T | null | false | undefined | Promise<T | null | false | undefined>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const v = await fn()
      if (v !== null && v !== false && v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new NsError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await sleep(everyMs)
  }
}

export class Daemon {
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly log: string,
    readonly socket: string,
  ) {}

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    return control(this.socket, req)
  }

  logText(): string {
    try {
      return readFileSync(this.log, 'utf8')
    } catch {
      return ''
    }
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`. */
  async stop(graceMs = 4000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.alive) return
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()))
    this.child.kill(signal)
    await within(exited, graceMs)
    if (this.alive) {
      this.child.kill('SIGKILL')
      await within(exited, 1000)
    }
  }
}

export class NsLab {
  readonly ns: { readonly lma: string; readonly mag: string; readonly air: string; mn(i: number): string }
  private readonly daemons: Daemon[] = []

  private constructor(readonly o: NsLabOptions) {
    const p = o.prefix
    this.ns = { lma: `${p}-lma`, mag: `${p}-mag`, air: `${p}-air`, mn: (i: number) => `${p}-mn${i}` }
  }

  static mnMac(i: number): string {
    return `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`
  }

  /** The MAG's access link that MN `i` is on. */
  accessLink(i: number): string {
    return this.o.access.kind === 'shared' ? this.o.access.name : this.o.access.name(i)
  }

  /** Builds the namespaces and links; on failure removes what it made. */
  static create(o: NsLabOptions): NsLab {
    const lab = new NsLab(o)
    try {
      lab.build()
    } catch (e) {
      lab.removeNamespaces()
      throw e
    }
    return lab
  }

  ip(ns: string, ...args: string[]): string {
    return must('ip', ['-n', ns, ...args])
  }

  exec(ns: string, cmd: readonly string[], timeoutMs = 15_000): Run {
    return run('ip', ['netns', 'exec', ns, ...cmd], timeoutMs)
  }

  /**
   * The topology in a handful of processes, not one or two per setting (each exec costs 0.2-0.5 s
   * or more in single-CPU User-Mode Linux, where the kernel tier builds this lab): one `ip -batch`
   * makes the namespaces and the veths straight inside them, one runs each namespace's sysctls
   * (`netns exec`, before any link is up: no EUI-64 link-local appears on an access link), then one
   * `ip -n NS -batch` per namespace sets its addresses and links.
   */
  private build(): void {
    const { o, ns } = this
    if (this.listOurs().length > 0) throw new NsError(`namespaces ${o.prefix}-* exist already`)
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 })
    const mns = Array.from({ length: o.mns }, (_, k) => k + 1)
    const all = [ns.lma, ns.mag, ...mns.map((i) => ns.mn(i)), ...(o.access.kind === 'shared' ? [ns.air] : [])]
    const root = all.map((n) => `netns add ${n}`)
    const sysctls = new Map<string, string[]>(all.map((n) => [n, []]))
    const lines = new Map<string, string[]>(all.map((n) => [n, ['link set lo up']]))
    const at = (m: Map<string, string[]>, n: string): string[] => m.get(n)!
    const veth = (nsA: string, ifA: string, nsB: string, ifB: string) => root.push(`link add ${ifA} netns ${nsA} type veth peer name ${ifB} netns ${nsB}`)
    veth(ns.mag, 'up0', ns.lma, 't0')
    at(lines, ns.mag).push(`addr add ${NS_PLAN.mag}/64 dev up0 nodad`, 'link set up0 up')
    at(lines, ns.lma).push(`addr add ${NS_PLAN.lma}/64 dev t0 nodad`, 'link set t0 up')
    at(sysctls, ns.mag).push('net.ipv6.conf.all.forwarding=1')
    at(sysctls, ns.lma).push('net.ipv6.conf.all.forwarding=1')
    const magAccess = (name: string) => {
      // Only the fixed link-local address: the MN sees the same router on every MAG.
      at(sysctls, ns.mag).push(`net.ipv6.conf.${name}.addr_gen_mode=1`, `net.ipv6.conf.${name}.accept_ra=0`, `net.ipv6.conf.${name}.accept_dad=0`)
      at(lines, ns.mag).push(`link set ${name} address ${NS_PLAN.fixedLinkLayer}`, `link set ${name} up`, `addr add ${NS_PLAN.fixedLinkLocal}/64 dev ${name} nodad`)
    }
    const mnEth = (i: number) => {
      at(sysctls, ns.mn(i)).push('net.ipv6.conf.eth0.accept_dad=0', 'net.ipv6.conf.eth0.accept_ra=1', 'net.ipv6.conf.eth0.autoconf=1')
      at(lines, ns.mn(i)).push(`link set eth0 address ${NsLab.mnMac(i)}`, 'link set eth0 up')
    }
    if (o.access.kind === 'shared') {
      // Forward 01:80:c2:00:00:03 (802.1X PAE), which bridges keep to themselves by default.
      at(lines, ns.air).push('link add b0 type bridge', 'link set b0 type bridge group_fwd_mask 8')
      veth(ns.mag, o.access.name, ns.air, 'a0')
      at(lines, ns.air).push('link set a0 master b0', 'link set a0 up')
      magAccess(o.access.name)
      for (const i of mns) {
        veth(ns.mn(i), 'eth0', ns.air, `m${i}`)
        at(lines, ns.air).push(`link set m${i} master b0`, `link set m${i} up`)
        mnEth(i)
      }
      at(lines, ns.air).push('link set b0 up')
    } else {
      for (const i of mns) {
        const name = o.access.name(i)
        veth(ns.mn(i), 'eth0', ns.mag, name)
        magAccess(name)
        mnEth(i)
      }
    }
    batch([], root)
    batch([], [...sysctls].filter(([, kv]) => kv.length > 0).map(([n, kv]) => `netns exec ${n} sysctl -qw ${kv.join(' ')}`))
    for (const [n, l] of lines) batch(['-n', n], l)
  }

  /** Starts a daemon in a namespace: `mag <args>`, output to `<stateDir>/<name>.log`. */
  private spawnDaemon(name: string, ns: string, args: readonly string[], socket: string): Daemon {
    const log = join(this.o.stateDir, `${name}.log`)
    const fd = openSync(log, 'a')
    try {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, MAG_JS, ...args], { stdio: ['ignore', fd, fd] })
      const d = new Daemon(name, child, log, socket)
      this.daemons.push(d)
      return d
    } finally {
      closeSync(fd)
    }
  }

  /** Waits until the daemon says it is ready for traffic (`ready` in its status; see `mag lab up`). */
  private async ready(d: Daemon): Promise<Daemon> {
    let exited: NsError | null = null
    await waitUntil(
      `${d.name} ready`,
      async () => {
        if (!d.alive) exited = new NsError(`${d.name} exited:\n${d.logText().split('\n').slice(-15).join('\n')}`)
        if (exited) return true
        const r = await d.request({ cmd: 'status' })
        // The MAG answers `result`, the lab LMA `status`.
        const st = (r['result'] ?? r['status']) as { ready?: unknown } | undefined
        return st?.ready === true
      },
      this.o.readyTimeoutMs ?? 60_000,
      50,
    )
    if (exited) throw exited
    return d
  }

  async startLma(extra: Record<string, unknown> = {}): Promise<Daemon> {
    const socket = join(this.o.stateDir, 'lma.sock')
    const cfg = join(this.o.stateDir, 'lma.json')
    writeFileSync(cfg, JSON.stringify({ address: NS_PLAN.lma, pool: NS_PLAN.homePool, acceptUnknown: true, controlSocket: socket, ...extra }, null, 2))
    return this.ready(this.spawnDaemon('lma', this.ns.lma, ['lma', '--config', cfg, '--log-level', 'info'], socket))
  }

  /** The MAG's base config: access links, profiles for mn1..N by MAC; `extra` is merged on top. */
  magConfig(extra: Record<string, unknown> = {}, profiles?: readonly Record<string, unknown>[]): Record<string, unknown> {
    const links: Record<string, unknown> = {}
    if (this.o.access.kind === 'shared') links[this.o.access.name] = { shared: true }
    else for (let i = 1; i <= this.o.mns; i++) links[this.o.access.name(i)] = {}
    const socket = join(this.o.stateDir, 'mag.sock')
    const base: Record<string, unknown> = {
      mag: { address: NS_PLAN.mag, controlSocket: socket, logLevel: 'info', fixedLinkLocal: NS_PLAN.fixedLinkLocal, fixedLinkLayer: NS_PLAN.fixedLinkLayer, shutdown: 'deregister', shutdownTimeoutMs: 1500 },
      links,
      profiles: profiles ?? Array.from({ length: this.o.mns }, (_, k) => ({ mnId: `mn${k + 1}@example.org`, lma: NS_PLAN.lma, macs: [NsLab.mnMac(k + 1)] })),
    }
    for (const [k, v] of Object.entries(extra)) {
      const cur = base[k]
      base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof cur === 'object' && cur !== null ? { ...cur, ...v } : v
    }
    return base
  }

  async startMag(config: Record<string, unknown>, logLevel = 'info'): Promise<Daemon> {
    const cfg = join(this.o.stateDir, 'mag.json')
    writeFileSync(cfg, JSON.stringify(config, null, 2))
    const socket = String((config['mag'] as Record<string, unknown>)['controlSocket'])
    return this.ready(this.spawnDaemon('mag', this.ns.mag, ['run', '--config', cfg, '--log-level', logLevel], socket))
  }

  /** Global addresses of MN i's eth0 (SLAAC from our RAs). */
  mnGlobals(i: number): string[] {
    const r = this.exec(this.ns.mn(i), ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0'])
    const j = JSON.parse(r.out || '[]') as { addr_info?: { local: string; scope: string }[] }[]
    return (j[0]?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => a.local)
  }

  private listOurs(): string[] {
    return run('ip', ['netns', 'list']).out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${this.o.prefix}-`))
  }

  private removeNamespaces(): void {
    for (const ns of this.listOurs()) {
      for (const pid of run('ip', ['netns', 'pids', ns]).out.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone
        }
      }
      run('ip', ['netns', 'del', ns])
    }
  }

  /** Stops the daemons, kills anything else running in our namespaces, deletes them. */
  async down(): Promise<void> {
    for (const d of this.daemons) await d.stop(2000).catch(() => undefined)
    this.removeNamespaces()
    rmSync(this.o.stateDir, { recursive: true, force: true })
  }
}
