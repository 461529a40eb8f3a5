/**
 * `mag lab`: a network-namespace testbed on one machine (root only): an LMA, two MAGs, a
 * correspondent node and N mobile nodes, wired as described in plan.ts, with the daemons
 * started inside their namespaces. `down` removes everything the lab created, found by its
 * name prefix, so it also cleans up after a crash.
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { controlRequest } from '@pmip6/agent'
import { PLAN, MAGS, LAB_METRICS_PORT, SINGLE_LMA, accessLink, lmaPlans, mnId, mnLma, mnMac, names, poolRouter, type LabNames, type LabShape, type LmaName, type LmaPlan, type MagName } from './plan'
import { ipn, listNetns, nsExec, waitFor, sleep } from './sh'
import { NetBuild, ipBatchAll } from './netbuild'
import { airPort, planTopology } from './topology'

export interface LabState {
  readonly name: string
  readonly mns: number
  readonly createdAt: string
  readonly namespaces: readonly string[]
  readonly pids: Record<string, number>
  readonly sockets: Record<string, string>
  readonly logs: Record<string, string>
  /** Which MAG each MN's air port is up towards. */
  readonly mnAt: Record<string, MagName>
  readonly dataplane: string
  /** How many LMAs (absent: one, a lab from before there could be two). */
  readonly lmas?: number
  /** RFC 5845 GRE keys on (the MAGs' profiles and every LMA). */
  readonly greKeys?: boolean
  /** Each LMA's IPv4 pool, when given at `up`. */
  readonly ipv4Pools?: readonly string[]
}

/** The shape a lab was made with (labs from before --lmas have one LMA). */
export function labShape(s: Pick<LabState, 'lmas' | 'greKeys' | 'ipv4Pools'>): LabShape {
  return { lmas: s.lmas ?? 1, greKeys: s.greKeys ?? false, ...(s.ipv4Pools !== undefined ? { ipv4Pools: s.ipv4Pools } : {}) }
}

/** The LMA of a lab node name ("lma", "lma2"), or null. */
function lmaNode(node: string): LmaName | null {
  return node === 'lma' || node === 'lma2' ? node : null
}

export interface LabUpOptions {
  readonly name: string
  readonly mns: number
  /** Extra fields merged into each MAG's config (tests use it for timers, for instance). */
  readonly magConfig?: Record<string, unknown>
  /** Extra fields for one MAG only, merged after magConfig (a driver only mag1 runs, say). */
  readonly magConfigs?: Partial<Record<MagName, Record<string, unknown>>>
  readonly lmaConfig?: Record<string, unknown>
  /** Extra fields for one LMA only, merged after lmaConfig. */
  readonly lmaConfigs?: Partial<Record<LmaName, Record<string, unknown>>>
  /**
   * LMAs (1 or 2; default 1). With two, MN i is served by lma (odd i) or lma2 (even i), the MNs
   * are dual-stack (RFC 5844) and the MAGs answer their DHCPv4 clients.
   */
  readonly lmas?: number
  /**
   * RFC 5845 GRE keys: the MAGs ask for them (profiles' greKey), the LMAs hand them out, and both
   * LMAs hand out IPv4 home addresses from the same pool. Needs ip6gre in the kernel when the
   * data plane is on: refused up front otherwise, naming this field.
   */
  readonly greKeys?: boolean
  /** Each LMA's IPv4 pool (overlapping ones only with greKeys); default plan.ts's. */
  readonly ipv4Pools?: readonly string[]
  /** Install forwarding state (tunnels, routes) on the LMA and the MAGs; default true. */
  readonly dataplane?: boolean
  readonly logLevel?: string
  readonly quiet?: boolean
  /** Each MAG serves metrics and the JSON views on its transport address (`mag lab up --metrics`). */
  readonly metrics?: boolean
  /** How long each daemon may take to be ready; default DAEMON_READY_TIMEOUT_MS (slow kernels, e.g. User-Mode Linux, need more). */
  readonly startTimeoutMs?: number
}

const MAG_JS = resolve(__dirname, '..', '..', 'bin', 'mag.js')

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('mag lab needs root: it creates network namespaces and runs daemons in them')
}

function statePath(n: LabNames): string {
  return join(n.stateDir, 'state.json')
}

export function readState(name: string): LabState {
  const n = names(name)
  const p = statePath(n)
  if (!existsSync(p)) throw new Error(`lab ${name} is not up (no ${p})`)
  return JSON.parse(readFileSync(p, 'utf8')) as LabState
}

function writeState(n: LabNames, s: LabState): void {
  writeFileSync(statePath(n), JSON.stringify(s, null, 2) + '\n')
}

/** Records a process the lab started after `up` (Prometheus, a forwarder), so `down` stops it. */
export function addLabProcess(name: string, key: string, pid: number): void {
  const s = readState(name)
  writeState(names(name), { ...s, pids: { ...s.pids, [key]: pid } })
}

/** Whether a lab of this shape gives its MNs IPv4 home addresses by default (two LMAs, or GRE keys). */
export function ipv4Lab(shape: LabShape): boolean {
  return shape.lmas > 1 || shape.greKeys
}

/** The MAGs' MN profiles: each names the LMA that serves it; dual-stack in an IPv4 lab. */
export function labProfiles(mns: number, shape: LabShape): Record<string, unknown>[] {
  const plans = lmaPlans(shape)
  const v4 = ipv4Lab(shape)
  const profiles = []
  for (let i = 1; i <= mns; i++) {
    const lma = plans.find((p) => p.node === mnLma(i, shape.lmas))!
    profiles.push({ mnId: mnId(i), lma: lma.address, macs: [mnMac(i)], ...(v4 ? { stack: 'dual' } : {}), ...(shape.greKeys ? { greKey: true } : {}) })
  }
  return profiles
}

function magConfig(n: LabNames, mag: MagName, mns: number, extra: Record<string, unknown>, logLevel: string, dataplane: boolean, metrics = false, shape: LabShape = SINGLE_LMA): Record<string, unknown> {
  const links: Record<string, unknown> = {}
  for (let i = 1; i <= mns; i++) links[accessLink(i)] = {}
  const profiles = labProfiles(mns, shape)
  const v4 = ipv4Lab(shape)
  const base: Record<string, unknown> = {
    mag: {
      address: PLAN.mags[mag],
      controlSocket: join(n.stateDir, `${mag}.sock`),
      logLevel,
      fixedLinkLocal: PLAN.fixedLinkLocal,
      fixedLinkLayer: PLAN.fixedLinkLayer,
      shutdown: 'deregister',
      shutdownTimeoutMs: 1500,
    },
    links,
    localPool: PLAN.localPools[mag],
    // The mock link keeps its stations in a file, as a real link keeps them while the MAG restarts.
    drivers: { mock: { att: 4, stateFile: join(n.stateDir, `${mag}-mock.json`) } },
    profiles,
    ...(dataplane ? { dataplane: v4 ? { ipv4: true } : {} } : {}),
    // RFC 5844 §3.4: the MNs' own DHCPv4 clients get their IPv4 home addresses from the MAG.
    ...(v4 ? { dhcp4: { enabled: true } } : {}),
    // On the transport address: reachable from the LMA's namespace, never from an access link.
    ...(metrics ? { metrics: { listen: `[${PLAN.mags[mag]}]:${LAB_METRICS_PORT}`, views: true } } : {}),
  }
  for (const [k, v] of Object.entries(extra)) {
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof base[k] === 'object' ? { ...(base[k] as object), ...(v as object) } : v
  }
  return base
}

/** `b` over `a`, objects merged one level deep (as magConfig merges its extra fields). */
function mergeConfig(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k]
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? { ...(cur as object), ...(v as object) } : v
  }
  return out
}

function lmaConfig(n: LabNames, extra: Record<string, unknown>, dataplane: boolean, lma: LmaPlan = lmaPlans(SINGLE_LMA)[0]!, greKeys = false): Record<string, unknown> {
  return {
    address: lma.address,
    pool: lma.homePool,
    // RFC 5844 §3.1: IPv4 home addresses for MNs whose PBU asks for one.
    ipv4Pool: lma.homePool4,
    acceptUnknown: true,
    controlSocket: join(n.stateDir, `${lma.node}.sock`),
    ...(dataplane ? { dataplane: true } : {}),
    // RFC 5845 §3: a key for every PBU that carries the GRE Key option.
    ...(greKeys ? { greKeys: 'on' } : {}),
    // Every node of the lab reads the same kernel clock, so a PBU's timestamp can only be off by
    // the time it waited in the LMA's socket. RFC 5213 §9.1's 300 ms default was too little on a
    // loaded 2-core machine: a storm of 200 attaches got 43 status 156 answers, and those MNs
    // then wait for a clock that was never wrong (§6.9.1.2 item 9).
    timestampWindowMs: LAB_TIMESTAMP_WINDOW_MS,
    ...extra,
  }
}

/** The lab LMA's TimestampValidityWindow (RFC 5213 §9.1: configurable, default 300 ms). */
export const LAB_TIMESTAMP_WINDOW_MS = 5_000

function startDaemon(n: LabNames, node: string, ns: string, args: string[]): { pid: number; log: string } {
  const log = join(n.stateDir, `${node}.log`)
  const fd = openSync(log, 'a')
  try {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, MAG_JS, ...args], { detached: true, stdio: ['ignore', fd, fd] })
    child.unref()
    if (child.pid === undefined) throw new Error(`could not start ${node}`)
    return { pid: child.pid, log }
  } finally {
    closeSync(fd)
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * How long `mag lab up` and `mag lab restart` wait for a daemon to say it is ready. Generous: a
 * daemon starts in about a second on an idle machine, several under load (two CPU hogs and
 * other work on two cores), and a start that fails says so at once (the process exits).
 */
export const DAEMON_READY_TIMEOUT_MS = 60_000

/** A daemon's `status` (the MAG answers it as the result, the lab LMA under `status`). */
async function daemonStatus(sock: string): Promise<Record<string, unknown>> {
  const r = (await controlRequest(sock, { cmd: 'status' }, 2000)) as Record<string, unknown>
  return typeof r['status'] === 'object' && r['status'] !== null ? (r['status'] as Record<string, unknown>) : r
}

/**
 * Waits until a lab daemon is ready for traffic: its control socket answers (it opens last, after
 * the data plane, the MH socket, the links and the drivers) and its status says `ready: true`,
 * with a data plane when one was asked for. Fails at once, with the end of its log, if the
 * process exits, and after `timeoutMs` with what it last answered.
 */
export async function waitDaemonReady(node: string, pid: number, sock: string, log: string, o: { dataplane: boolean; timeoutMs?: number }): Promise<Record<string, unknown>> {
  const timeoutMs = o.timeoutMs ?? DAEMON_READY_TIMEOUT_MS
  const until = Date.now() + timeoutMs
  let last = 'no answer yet'
  for (;;) {
    if (!pidAlive(pid)) throw new Error(`${node} exited while starting; the end of its log (${log}):\n${tail(log)}`)
    try {
      const st = await daemonStatus(sock)
      const dp = st['dataplane'] as { name?: string; backend?: string } | undefined
      const hasDp = dp !== undefined && (dp.backend !== undefined || (dp.name !== undefined && dp.name !== 'none'))
      if (st['ready'] === true && (!o.dataplane || hasDp)) return st
      last = st['ready'] !== true ? 'answers, not ready yet' : 'ready without the data plane it was asked for'
    } catch (e) {
      last = (e as Error).message
    }
    if (Date.now() >= until) throw new Error(`${node} not ready after ${timeoutMs} ms (${last}); the end of its log (${log}):\n${tail(log)}`)
    await sleep(50)
  }
}

/** The device name of the ip6gre probe (an interface name: at most 15 bytes). */
const GRE_PROBE = 'labgreprobe'

/**
 * Whether the kernel makes ip6gre devices, tried in namespace `ns` (the device goes again at
 * once): null when it does, else what `ip` said.
 */
export function probeIp6gre(ns: string, local: string, remote: string): string | null {
  const add = spawnSync('ip', ['-n', ns, 'link', 'add', GRE_PROBE, 'type', 'ip6gre', 'local', local, 'remote', remote, 'ikey', '1', 'okey', '1'], { encoding: 'utf8', timeout: 30_000 })
  if (add.status !== 0) return (add.stderr || add.error?.message || `exit status ${add.status}`).trim()
  spawnSync('ip', ['-n', ns, 'link', 'del', GRE_PROBE], { timeout: 30_000 })
  return null
}

/** The refusal of GRE keys on a kernel without ip6gre, naming the lab field. */
export function greKeysRefusal(why: string): string {
  return `greKeys: GRE keys (RFC 5845) need ip6gre devices in the data plane, and this kernel makes none (${why}; CONFIG_IPV6_GRE, modprobe ip6_gre): run the GRE lab on a kernel with ip6gre (User-Mode Linux: test/kernel/gre-lab.ktest.ts), leave greKeys off, or use --no-dataplane`
}

export async function labUp(o: LabUpOptions): Promise<LabState> {
  requireRoot()
  if (!Number.isInteger(o.mns) || o.mns < 1 || o.mns > 200) throw new Error('--mns must be between 1 and 200')
  const shape: LabShape = { lmas: o.lmas ?? 1, greKeys: o.greKeys ?? false, ...(o.ipv4Pools !== undefined ? { ipv4Pools: o.ipv4Pools } : {}) }
  // Refused before anything is made: a bad LMA count, overlapping pools without GRE keys.
  const plans = lmaPlans(shape)
  const n = names(o.name)
  if (existsSync(statePath(n)) || listNetns().some((x) => x.startsWith(`${n.name}-`))) {
    throw new Error(`lab ${n.name} is already up (or left over): run \`mag lab down --name ${n.name}\` first`)
  }
  mkdirSync(n.stateDir, { recursive: true, mode: 0o700 })
  const pids: Record<string, number> = {}
  const logs: Record<string, string> = {}
  const log = (s: string) => o.quiet || process.stderr.write(`lab: ${s}\n`)
  try {
    log(`creating namespaces for ${o.mns} MNs${plans.length > 1 ? ` and ${plans.length} LMAs` : ''}`)
    const topo = planTopology(n, o.mns, shape)
    // On failure `down` (below) removes what was made, found by the lab's name prefix.
    for (const p of topo.phases) {
      try {
        p.build.run()
      } catch (e) {
        throw new Error(`lab ${n.name}: ${p.what}: ${(e as Error).message}`, { cause: e })
      }
    }
    const mnAt: Record<string, MagName> = { ...topo.mnAt }
    const dp = o.dataplane ?? true
    // RFC 5845 keys in the kernel need ip6gre devices: asked once here, so the refusal names
    // the lab's field before any daemon starts (each daemon would refuse too, naming its own).
    if (shape.greKeys && dp) {
      const why = probeIp6gre(n.mag.mag1, PLAN.mags.mag1, PLAN.lma)
      if (why !== null) throw new Error(greKeysRefusal(why))
    }

    // Daemons.
    const level = o.logLevel ?? 'info'
    const sockets: Record<string, string> = {}
    for (const p of plans) {
      const lmaCfg = join(n.stateDir, `${p.node}.json`)
      const extra = mergeConfig(o.lmaConfig ?? {}, o.lmaConfigs?.[p.node] ?? {})
      writeFileSync(lmaCfg, JSON.stringify(lmaConfig(n, extra, dp, p, shape.greKeys), null, 2))
      const lma = startDaemon(n, p.node, p.node === 'lma' ? n.lma : n.lma2, ['lma', '--config', lmaCfg, '--log-level', level])
      pids[p.node] = lma.pid
      logs[p.node] = lma.log
      sockets[p.node] = join(n.stateDir, `${p.node}.sock`)
    }
    for (const mag of MAGS) {
      const cfgPath = join(n.stateDir, `${mag}.json`)
      const extra = mergeConfig(o.magConfig ?? {}, o.magConfigs?.[mag] ?? {})
      writeFileSync(cfgPath, JSON.stringify(magConfig(n, mag, o.mns, extra, level, dp, o.metrics, shape), null, 2))
      const d = startDaemon(n, mag, n.mag[mag], ['run', '--config', cfgPath])
      pids[mag] = d.pid
      logs[mag] = d.log
      sockets[mag] = join(n.stateDir, `${mag}.sock`)
    }
    // A one-LMA lab's state is as it always was: the shape's fields only when they say more.
    const shapeFields = { ...(plans.length > 1 ? { lmas: plans.length } : {}), ...(shape.greKeys ? { greKeys: true } : {}), ...(o.ipv4Pools !== undefined ? { ipv4Pools: o.ipv4Pools } : {}) }
    let state: LabState = { name: n.name, mns: o.mns, createdAt: new Date().toISOString(), namespaces: topo.namespaces, pids, sockets, logs, mnAt, dataplane: 'none', ...shapeFields }
    writeState(n, state)
    // Readiness, not timing: `mag lab up` returns once every daemon says it is ready for traffic.
    const nodes = [...plans.map((p) => p.node), ...MAGS]
    const ready = await Promise.all(nodes.map((node) => waitDaemonReady(node, pids[node]!, sockets[node]!, logs[node]!, { dataplane: dp, ...(o.startTimeoutMs ? { timeoutMs: o.startTimeoutMs } : {}) })))
    const dataplane = (ready[nodes.indexOf('mag1')]?.['dataplane'] as { name?: string } | undefined)?.name ?? 'none'
    state = { ...state, dataplane }
    writeState(n, state)
    log(`lab ${n.name} is up`)
    return state
  } catch (e) {
    await labDown(n.name, { quiet: true })
    throw e
  }
}

export async function labDown(name: string, o: { quiet?: boolean } = {}): Promise<{ namespaces: number; processes: number }> {
  requireRoot()
  const n = names(name)
  let processes = 0
  let state: LabState | null = null
  try {
    state = readState(name)
  } catch {
    state = null
  }
  const pids = Object.values(state?.pids ?? {})
  for (const pid of pids) {
    if (!pidAlive(pid)) continue
    processes++
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // gone
    }
  }
  const until = Date.now() + 4000
  while (pids.some(pidAlive) && Date.now() < until) await sleep(50)
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL')
  // Anything still running inside the lab's namespaces (a crashed lab has no state file). One
  // `ip -batch` for all of them, and one to delete them: cleanup costs two processes, not 2 per
  // namespace.
  const ours = listNetns().filter((x) => x.startsWith(`${n.name}-`))
  const pidsIn = ipBatchAll(ours.map((ns) => `netns pids ${ns}`))
    .stdout.split(/\s+/)
    .filter(Boolean)
    .map(Number)
  for (const pid of pidsIn) {
    try {
      process.kill(pid, 'SIGKILL')
      processes++
    } catch {
      // gone
    }
  }
  ipBatchAll(ours.map((ns) => `netns del ${ns}`))
  rmSync(n.stateDir, { recursive: true, force: true })
  if (!o.quiet) process.stderr.write(`lab: ${n.name} down (${ours.length} namespaces, ${processes} processes)\n`)
  return { namespaces: ours.length, processes }
}

interface AddrInfo {
  ifname: string
  address?: string
  operstate?: string
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[]
}

export function labStatus(name: string): Record<string, unknown> {
  const s = readState(name)
  const n = names(name)
  const node = (ns: string) => {
    let ifaces: AddrInfo[] = []
    try {
      ifaces = JSON.parse(ipn(ns, '-j', 'addr', 'show')) as AddrInfo[]
    } catch {
      ifaces = []
    }
    return {
      namespace: ns,
      interfaces: ifaces
        .filter((i) => i.ifname !== 'lo')
        .map((i) => ({
          name: i.ifname,
          mac: i.address ?? null,
          state: i.operstate ?? null,
          addresses: (i.addr_info ?? []).filter((a) => a.family === 'inet6').map((a) => `${a.local}/${a.prefixlen}`),
          ipv4Addresses: (i.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
        })),
    }
  }
  const shape = labShape(s)
  const plans = lmaPlans(shape)
  const multi = plans.length > 1
  const nodes: Record<string, unknown> = {}
  for (const p of plans) {
    const [lmaNs, cnNs] = p.node === 'lma' ? [n.lma, n.cn] : [n.lma2, n.cn2]
    // With two LMAs each says what it hands out (RFC 5844 §3.1 pools, RFC 5845 keys).
    const pools = multi || shape.greKeys ? { homePool: p.homePool, ipv4Pool: p.homePool4, ipv4Router: poolRouter(p.homePool4), greKeys: shape.greKeys, cn: p.cnNode } : {}
    nodes[p.node] = { ...node(lmaNs), address: p.address, controlSocket: s.sockets[p.node], pid: s.pids[p.node], running: pidAlive(s.pids[p.node]!), ...pools }
    nodes[p.cnNode] = { ...node(cnNs), address: p.cn, ipv4Address: p.cn4, ...(multi ? { lma: p.node } : {}) }
  }
  for (const mag of MAGS) nodes[mag] = { ...node(n.mag[mag]), address: PLAN.mags[mag], controlSocket: s.sockets[mag], pid: s.pids[mag], running: pidAlive(s.pids[mag]!), log: s.logs[mag] }
  for (let i = 1; i <= s.mns; i++) {
    const at = s.mnAt[mnId(i)] ?? 'mag1'
    nodes[`mn${i}`] = { ...node(n.mn(i)), mnId: mnId(i), mac: mnMac(i), mag: at, link: accessLink(i), ...(multi ? { lma: mnLma(i, plans.length) } : {}) }
  }
  return { name: s.name, createdAt: s.createdAt, dataplane: s.dataplane, ...(multi || shape.greKeys ? { lmas: plans.length, greKeys: shape.greKeys } : {}), nodes }
}

/** Moves MN i's layer-2 attachment to another MAG (the air port flip); signalling is separate. */
export function labMoveL2(name: string, i: number, to: MagName): void {
  const s = readState(name)
  const n = names(name)
  if (i < 1 || i > s.mns) throw new Error(`no mn${i} in lab ${name}`)
  const from: MagName = to === 'mag1' ? 'mag2' : 'mag1'
  new NetBuild()
    .ip(n.air, ['link', 'set', airPort(from, i), 'down'])
    .ip(n.air, ['link', 'set', airPort(to, i), 'up'])
    .run()
  writeState(n, { ...s, mnAt: { ...s.mnAt, [mnId(i)]: to } })
}

/**
 * Starts a lab daemon again (after `kill -9`, say) with the configuration it had; the MAG finds
 * its stations in the mock link's state file and registers them again.
 */
export async function labRestart(name: string, node: string, o: { startTimeoutMs?: number } = {}): Promise<number> {
  const s = readState(name)
  const n = names(name)
  const lma = lmaNode(node)
  if (lma !== null && !(s.sockets[lma] !== undefined)) throw new Error(`no ${lma} in lab ${name}`)
  if (lma === null && node !== 'mag1' && node !== 'mag2') throw new Error(`only lma, lma2, mag1 and mag2 can be restarted, not ${node}`)
  const old = s.pids[node]
  const cfg = join(n.stateDir, `${node}.json`)
  // RFC 5847 §3.2: a restarted LMA has a new Restart Counter, so its MAGs learn that it lost
  // their bindings. The lab LMA keeps no state file; the lab bumps the counter in its config.
  if (lma !== null) await bumpRestartCounter(cfg, s.sockets[lma], old !== undefined && pidAlive(old))
  if (old !== undefined && pidAlive(old)) {
    process.kill(old, 'SIGTERM')
    await waitFor(`${node} to stop`, () => (pidAlive(old) ? undefined : true), 5000, 20).catch(() => process.kill(old, 'SIGKILL'))
  }
  const args = lma !== null ? ['lma', '--config', cfg] : ['run', '--config', cfg]
  const d = startDaemon(n, node, lma === 'lma' ? n.lma : lma === 'lma2' ? n.lma2 : n.mag[node as MagName], args)
  writeState(n, { ...s, pids: { ...s.pids, [node]: d.pid } })
  await waitDaemonReady(node, d.pid, s.sockets[node]!, d.log, { dataplane: s.dataplane !== 'none', ...(o.startTimeoutMs ? { timeoutMs: o.startTimeoutMs } : {}) })
  return d.pid
}

/** Writes the lab LMA's config with its Restart Counter one above the running (or configured) one. */
async function bumpRestartCounter(cfgPath: string, sock: string | undefined, running: boolean): Promise<void> {
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>
  let current = typeof cfg['restartCounter'] === 'number' ? cfg['restartCounter'] : 0
  if (running && sock !== undefined) {
    try {
      const st = await daemonStatus(sock)
      if (typeof st['restartCounter'] === 'number') current = st['restartCounter']
    } catch {
      // Not answering: the configured value is the best we know.
    }
  }
  writeFileSync(cfgPath, JSON.stringify({ ...cfg, restartCounter: (current + 1) >>> 0 }, null, 2))
}

export function labSocket(name: string, node: string): string {
  const s = readState(name)
  const sock = s.sockets[node]
  if (!sock) throw new Error(`no node ${node} with a control socket in lab ${name} (nodes: ${Object.keys(s.sockets).join(', ')})`)
  return sock
}

export function labNamespace(name: string, node: string): string {
  const n = names(name)
  const m = /^mn(\d+)$/.exec(node)
  if (m) return n.mn(Number(m[1]))
  if (node === 'lma') return n.lma
  if (node === 'cn') return n.cn
  if (node === 'lma2') return n.lma2
  if (node === 'cn2') return n.cn2
  if (node === 'air') return n.air
  if (node === 'mag1' || node === 'mag2') return n.mag[node]
  throw new Error(`unknown lab node ${node}`)
}

export { nsExec, MAG_JS }
