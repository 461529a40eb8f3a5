// RFC 5844 IPv4 home addresses through the data plane, against a real kernel: the MN's IPv4
// carried over the IPv6 transport (seg6 encap.red, outer next header 4, End.DX4 nh4 0.0.0.0 at
// the receiving end, told apart from IPv6-in-IPv6 by `ipproto 4` rules), per-MN IPv4 routes and
// source rules beside the IPv6 ones, transactional (a failure at each netlink call leaves nothing),
// cleaned up at start and at close. Namespaces dp4-<pid>-<n>, created and deleted here; addresses
// 2001:db8::/32, 192.0.2.0/24 (MN home) and 198.51.100.0/24 (CN), only inside them. ip6tnl
// `mode any` is the kernel tier's (this kernel has no ip6_tunnel).
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const IN_CI = process.env['CI'] === 'true'
const FIXTURE = join(__dirname, 'fixtures', 'dataplane-ctl.js')
const PKG = join(__dirname, '..')
const T = 100 // DataPlane's default first table
const P = 1000 // and first rule priority
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const HNP1 = '2001:db8:100:1::/64'

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): ip netns and rtnetlink writes need root`
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['ping', ['-V']],
  ] as const) {
    if (spawnSync(tool, args, { stdio: 'ignore' }).status !== 0) return `${tool} is missing`
  }
  const dist = join(PKG, 'dist', 'index.js')
  if (!existsSync(dist)) return 'packages/dataplane is not built: run `npx tsc -b packages/dataplane` (npm run build)'
  // tsc -b leaves unchanged outputs alone, but always rewrites its build info.
  const info = join(PKG, 'tsconfig.tsbuildinfo')
  const built = Math.max(...[info, ...readdirSync(join(PKG, 'dist')).map((f) => join(PKG, 'dist', f))].filter(existsSync).map((f) => statSync(f).mtimeMs))
  const stale = readdirSync(join(PKG, 'src')).find((f) => statSync(join(PKG, 'src', f)).mtimeMs > built)
  if (stale !== undefined) return `packages/dataplane/dist is older than src/${stale}: run \`npx tsc -b packages/dataplane\``
  return undefined
}

const missing = missingPrerequisite()
if (missing !== undefined) {
  if (IN_CI) {
    test('data plane kernel tests have what they need in CI', () => {
      throw new Error(`${missing}; CI=true, so this is a failure, not a skip`)
    })
  } else {
    console.warn(`SKIPPED data plane kernel tests: ${missing}`)
  }
}
const describeIf = missing === undefined ? describe : describe.skip

// ------------------------------------------------------------------ namespaces and iproute2

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
}
function ipJson<T>(args: readonly string[]): T[] {
  const out = ip(args).trim()
  return out === '' ? [] : (JSON.parse(out) as T[])
}
function nsExec(ns: string, cmd: readonly string[], timeoutMs = 10_000): { code: number; out: string; err: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' }
}
function listNetns(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '')
}
function deleteNetns(name: string): void {
  try {
    ip(['netns', 'del', name])
  } catch {
    // already gone
  }
}
/** Namespaces left by an earlier run whose jest process died. */
function removeStale(): void {
  for (const ns of listNetns()) {
    const m = /^dp4-(\d+)-/.exec(ns)
    if (m === null || Number(m[1]) === process.pid) continue
    try {
      process.kill(Number(m[1]), 0)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') deleteNetns(ns)
    }
  }
}

const created: string[] = []
let nsCount = 0
/** A fresh namespace with lo up and DAD off (addresses are usable at once). */
function newNs(): string {
  const ns = `dp4-${process.pid}-${++nsCount}`
  created.push(ns)
  ip(['netns', 'add', ns])
  ip(['-n', ns, 'link', 'set', 'lo', 'up'])
  const r = nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
  if (r.code !== 0) throw new Error(`sysctl in ${ns}: ${r.err}`)
  return ns
}
/** A veth pair `a` in nsA, `b` in nsB, both up. */
function veth(nsA: string, a: string, nsB: string, b: string): void {
  ip(['-n', nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB])
  ip(['-n', nsA, 'link', 'set', a, 'up'])
  ip(['-n', nsB, 'link', 'set', b, 'up'])
}
function addr(ns: string, dev: string, a: string): void {
  ip(['-n', ns, '-6', 'addr', 'add', a, 'dev', dev, 'nodad'])
}
interface IpRule {
  priority: number
  table?: string
  protocol?: string
  src?: string
  srclen?: number
  dst?: string
  dstlen?: number
  iif?: string
  action?: string
  ipproto?: string
}
interface IpRoute {
  dst: string
  table?: string
  protocol?: string
  dev?: string
  from?: string
}
interface KState {
  rules: IpRule[]
  routes: IpRoute[]
  links: string[]
}
const key = (o: object): string => JSON.stringify(o)
const sortRoutes = (r: IpRoute[]): IpRoute[] => [...r].sort((x, y) => key(x).localeCompare(key(y)))
function kstate(ns: string): KState {
  return {
    rules: ipJson<IpRule>(['-n', ns, '-6', '-j', 'rule']),
    routes: sortRoutes(ipJson<IpRoute>(['-n', ns, '-6', '-j', 'route', 'show', 'table', 'all'])),
    links: ipJson<{ ifname: string }>(['-n', ns, '-j', 'link']).map((l) => l.ifname).sort(),
  }
}
/** Our marks: protocol 158 on rules and routes. */
const is158 = (o: { protocol?: string }): boolean => o.protocol === '158'
const ours = (s: { rules: IpRule[]; routes: IpRoute[] }): string[] => [...s.rules.filter(is158), ...s.routes.filter(is158)].map(key).sort()

// ------------------------------------------------------------------ the fixture

interface Snapshot {
  backend: string
  tunnels: { peer: string; slot: number; users: number; device: string | null }[]
  bindings: number
  objects: number
  failures: number
}
interface Reply {
  ok: boolean
  calls?: number
  snapshot?: Snapshot
  state?: { rules: IpRule[]; routes: IpRoute[] }
  error?: { name: string; message: string; code: string | null; cause: { name: string; message: string; code: string | null } | null }
  routes?: { encapType: number | null; encap: string | null }[]
  removed?: number
}

const ctls = new Set<Ctl>()

/** dataplane-ctl.js inside a namespace: one JSON command in, one JSON reply out, each bounded. */
class Ctl {
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

  async send(cmd: object, timeoutMs = 20_000): Promise<Reply> {
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

  /** Sends and insists on ok. */
  async ok(cmd: object): Promise<Reply> {
    const r = await this.send(cmd)
    if (!r.ok) throw new Error(`${JSON.stringify(cmd)} failed in ${this.ns}: ${JSON.stringify(r.error)}`)
    return r
  }

  /** Closes stdin (the fixture closes its data plane and exits), bounded; then SIGKILL. */
  async stop(timeoutMs = 10_000): Promise<void> {
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

async function withCtl<R>(ns: string, f: (c: Ctl) => Promise<R>): Promise<R> {
  const c = new Ctl(ns)
  try {
    return await f(c)
  } finally {
    await c.stop()
  }
}

const HOA = '192.0.2.2'
const HOA_UNBOUND = '192.0.2.3'
const ROUTER4 = '192.0.2.1'
const CN4 = '198.51.100.2'

/** Rules and routes of both families, and links: IPv4 objects are ours too. */
function k46(ns: string): { v6: KState; rules4: IpRule[]; routes4: IpRoute[] } {
  return {
    v6: kstate(ns),
    rules4: ipJson<IpRule>(['-n', ns, '-4', '-j', 'rule']),
    routes4: sortRoutes(ipJson<IpRoute>(['-n', ns, '-4', '-j', 'route', 'show', 'table', 'all'])),
  }
}
const ours4 = (s: ReturnType<typeof k46>): string[] => [...ours(s.v6), ...s.rules4.filter(is158).map(key), ...s.routes4.filter(is158).map(key)].sort()

describeIf('IPv4 home addresses in the data plane (RFC 5844; seg6 End.DX4 in a real kernel)', () => {
  jest.setTimeout(180_000)
  const ns = { mag: '', lma: '', mn: '', cn: '' }

  beforeAll(() => {
    removeStale()
    ns.mag = newNs()
    ns.lma = newNs()
    ns.mn = newNs()
    ns.cn = newNs()
    veth(ns.mag, 'm0', ns.lma, 'l0')
    veth(ns.lma, 'c0', ns.cn, 'eth0')
    veth(ns.mag, 'a0', ns.mn, 'eth0')
    addr(ns.mag, 'm0', `${MAG}/64`)
    addr(ns.lma, 'l0', `${LMA}/64`)
    // CN: IPv4 only (198.51.100.0/24 behind the LMA).
    ip(['-n', ns.lma, '-4', 'addr', 'add', '198.51.100.1/24', 'dev', 'c0'])
    ip(['-n', ns.cn, '-4', 'addr', 'add', `${CN4}/24`, 'dev', 'eth0'])
    ip(['-n', ns.cn, '-4', 'route', 'add', 'default', 'via', '198.51.100.1'])
    // MN: its IPv4 home address and default router, as DHCPv4 would give them (RFC 5844 §3.4).
    ip(['-n', ns.mn, '-4', 'addr', 'add', `${HOA}/24`, 'dev', 'eth0'])
    ip(['-n', ns.mn, '-4', 'addr', 'add', `${HOA_UNBOUND}/24`, 'dev', 'eth0'])
    ip(['-n', ns.mn, '-4', 'route', 'add', 'default', 'via', ROUTER4])
    // MAG: the IPv4 Default-Router Address on the access link (the agent puts it there).
    ip(['-n', ns.mag, '-4', 'addr', 'add', `${ROUTER4}/32`, 'dev', 'a0'])
  })

  afterAll(async () => {
    for (const c of [...ctls]) await c.stop(5_000)
    for (const n of created) deleteNetns(n)
    const left = listNetns().filter((n) => created.includes(n))
    if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`)
  })

  function ping4(src: string): { sent: number; received: number } {
    const r = nsExec(ns.mn, ['ping', '-4', '-n', '-q', '-c', '3', '-W', '1', '-i', '0.2', '-I', src, CN4], 20_000)
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.out)
    if (!m) throw new Error(`ping gave no summary: ${r.out}${r.err}`)
    return { sent: Number(m[1]), received: Number(m[2]) }
  }

  test('the MN pings the CN over IPv4 through the tunnel; an unbound IPv4 source gets nothing; down() stops it; close() leaves nothing of ours', async () => {
    const before = { mag: ours4(k46(ns.mag)), lma: ours4(k46(ns.lma)) }
    const lma = new Ctl(ns.lma)
    const mag = new Ctl(ns.mag)
    try {
      await lma.ok({ op: 'open', opts: { role: 'lma', self: LMA, backend: 'seg6', ipv4: true } })
      await lma.ok({ op: 'up', req: { id: 'mn1', link: '', prefixes: [HNP1], ipv4: [HOA], peer: MAG } })
      await mag.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      expect(ping4(HOA).received).toBe(0) // the access link's IPv4 floor
      await mag.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      nsExec(ns.mn, ['ping', '-4', '-n', '-q', '-c', '1', '-W', '2', '-I', HOA, CN4], 10_000) // neighbours resolved
      expect(ping4(HOA)).toEqual({ sent: 3, received: 3 })
      expect(ping4(HOA_UNBOUND)).toEqual({ sent: 3, received: 0 })

      // The layout: IPv4 objects beside the IPv6 ones, as model.ts says.
      const m = k46(ns.mag)
      expect(m.routes4).toEqual(expect.arrayContaining([expect.objectContaining({ dst: `${HOA}`, dev: 'a0', table: String(T), protocol: '158' })]))
      expect(m.rules4).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ priority: P + 2, dst: HOA, table: String(T) }),
          expect.objectContaining({ priority: P + 3, src: HOA, iif: 'a0', table: String(T + 2) }),
          expect.objectContaining({ priority: P + 4, iif: 'a0', action: 'blackhole' }),
        ]),
      )
      expect(m.v6.rules).toEqual(expect.arrayContaining([expect.objectContaining({ priority: P, dst: MAG, ipproto: 'ipencap', table: String(T) })]))
      const l = k46(ns.lma)
      expect(l.routes4).toEqual(expect.arrayContaining([expect.objectContaining({ dst: HOA, table: String(T + 66), protocol: '158' })]))

      // IPv4 away (a partial down by address), IPv6 stays.
      await mag.ok({ op: 'down', id: 'mn1', prefixes: [HOA] })
      expect(ping4(HOA).received).toBe(0)
      expect(k46(ns.mag).routes4.filter(is158)).toHaveLength(1) // the peer's 0.0.0.0/0 into the tunnel
      await mag.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      expect(ping4(HOA).received).toBeGreaterThan(0)
      await mag.ok({ op: 'down', id: 'mn1' })
      await mag.ok({ op: 'idle' })
      expect(ping4(HOA)).toEqual({ sent: 3, received: 0 })
      await mag.ok({ op: 'close' })
      await lma.ok({ op: 'close' })
      expect(ours4(k46(ns.mag))).toEqual(before.mag)
      expect(ours4(k46(ns.lma))).toEqual(before.lma)
    } finally {
      await mag.stop()
      await lma.stop()
    }
  })

  test('up() with IPv4: a failure at each of its netlink calls leaves the kernel as before the call', async () => {
    await withCtl(ns.mag, async (c) => {
      await c.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      const base = ours4(k46(ns.mag))
      const req = { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA }
      const full = await c.ok({ op: 'up', req })
      const n = full.calls!
      expect(n).toBeGreaterThanOrEqual(5) // tunnel (2 routes) + IPv6 prefix + IPv4 route and rules
      await c.ok({ op: 'down', id: 'mn1' })
      await c.ok({ op: 'idle' })
      for (let i = 1; i <= n; i++) {
        const r = await c.send({ op: 'up', req, failAt: i })
        expect(r.ok).toBe(false)
        await c.ok({ op: 'idle' })
        expect([i, ours4(k46(ns.mag))]).toEqual([i, base])
      }
      await c.ok({ op: 'close' })
    })
  })

  test('RFC 5845 on a kernel without ip6gre: open() reports gre false and a binding with GRE keys is refused with the reason, leaving nothing', async () => {
    // Whether this kernel makes ip6gre devices, asked of iproute2: the data plane's probe must agree.
    const probe = nsExec(ns.mag, ['ip', 'link', 'add', 'dp4greprobe', 'type', 'ip6gre', 'local', MAG, 'remote', '2001:db8::fffe'])
    const kernelHasGre = probe.code === 0
    if (kernelHasGre) ip(['-n', ns.mag, 'link', 'del', 'dp4greprobe'])
    await withCtl(ns.mag, async (c) => {
      const r = await c.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      expect(r.snapshot).toMatchObject({ gre: kernelHasGre, greBindings: 0 })
      // Where the kernel has ip6gre, test/kernel/gre.ktest.ts covers the devices themselves.
      if (!kernelHasGre) {
        const base = ours4(k46(ns.mag))
        const f = await c.send({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA, gre: { uplink: 1, downlink: 2 } } })
        expect(f.ok).toBe(false)
        expect(f.error).toMatchObject({ name: 'ForwardingError' })
        expect(f.error!.message).toContain('ip6gre')
        expect(f.snapshot).toMatchObject({ bindings: 0, greBindings: 0, failures: 1 })
        expect(ours4(k46(ns.mag))).toEqual(base)
        // The same MN without keys is served: the refusal held nothing back.
        await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      }
      await c.ok({ op: 'close' })
    })
  })

  test('open() removes IPv4 leftovers of a crashed run', async () => {
    const original = ours4(k46(ns.mag))
    await withCtl(ns.mag, async (c) => {
      await c.ok({ op: 'open', opts: { role: 'mag', self: MAG, backend: 'seg6', accessLinks: ['a0'], ipv4: true } })
      await c.ok({ op: 'up', req: { id: 'mn1', link: 'a0', prefixes: [HNP1], ipv4: [HOA], peer: LMA } })
      await c.send({ op: 'exit' }).catch(() => undefined)
    })
    const left = k46(ns.mag)
    expect(left.rules4.filter(is158).length).toBeGreaterThan(0)
    await withCtl(ns.mag, async (c) => {
      const r = await c.ok({ op: 'cleanup', layout: { table: T, rulePriority: P, maxTunnels: 64 } })
      expect(r.removed).toBeGreaterThan(0)
    })
    expect(ours4(k46(ns.mag))).toEqual(original)
  })
})
