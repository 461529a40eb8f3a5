// Network namespaces for the rawsock tests: created per suite, always deleted (afterAll), names
// unique per jest worker (`rs-<pid>-<tag>`). Addresses only from 2001:db8::/32 and fe80::/64.
import { execFileSync } from 'node:child_process'

const PREFIX = 'rs-'

export function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
}

/** Runs a command inside a namespace (ip netns exec), returning stdout. */
export function nsExec(ns: string, cmd: string, args: readonly string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  })
}

export function sysctl(ns: string, settings: Record<string, string | number>): void {
  nsExec(ns, 'sysctl', ['-q', '-w', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)])
}

export function listNetns(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '')
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Deletes namespaces left behind by earlier runs whose jest process is gone (rs-<pid>-*). */
export function removeStaleNetns(): void {
  for (const ns of listNetns()) {
    const m = /^rs-(\d+)-/.exec(ns)
    if (m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) deleteNetns(ns)
  }
}

export function netnsName(tag: string): string {
  return `${PREFIX}${process.pid}-${tag}`
}

export function createNetns(name: string): void {
  ip(['netns', 'add', name])
  ip(['-n', name, 'link', 'set', 'lo', 'up'])
  // Deterministic links: no DAD delay, no kernel router solicitations on link up.
  sysctl(name, {
    'net.ipv6.conf.all.accept_dad': 0,
    'net.ipv6.conf.default.accept_dad': 0,
    'net.ipv6.conf.all.router_solicitations': 0,
    'net.ipv6.conf.default.router_solicitations': 0,
  })
}

/** Deletes a namespace (and with it its veth ends); never throws. */
export function deleteNetns(name: string): void {
  try {
    ip(['netns', 'del', name])
  } catch {
    // already gone
  }
}

export interface LinkEnd {
  ns: string
  ifname: string
  /** Addresses with prefix length, e.g. '2001:db8:1::1/64' or 'fe80::1/64'. */
  addrs: string[]
}

/** A veth pair between two namespaces, both ends up, addresses added without DAD. */
export function addVeth(a: LinkEnd, b: LinkEnd): void {
  ip(['-n', a.ns, 'link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns])
  for (const end of [a, b]) {
    for (const addr of end.addrs) ip(['-n', end.ns, 'addr', 'add', addr, 'dev', end.ifname, 'nodad'])
    ip(['-n', end.ns, 'link', 'set', end.ifname, 'up'])
  }
}

/** Addresses (without prefix length) on an interface in a namespace. */
export function addrsOf(ns: string, ifname: string): string[] {
  const out = ip(['-n', ns, '-6', '-o', 'addr', 'show', 'dev', ifname])
  return [...out.matchAll(/inet6 ([0-9a-f:]+)\//g)].map((m) => m[1] ?? '')
}

/** Waits until IPv6 is usable on a link: carrier up and the ff00::/8 multicast route installed. */
export async function waitLinkReady(ns: string, ifname: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const up = / state UP /.test(ip(['-n', ns, '-o', 'link', 'show', 'dev', ifname]))
    const mc = ip(['-n', ns, '-6', 'route', 'show', 'table', 'local', 'dev', ifname]).includes('ff00::/8')
    if (up && mc) return
    if (Date.now() > deadline) throw new Error(`${ns}/${ifname} not ready within ${timeoutMs} ms (up=${up}, ff00::/8=${mc})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Two namespaces joined by two veth pairs: a0<->b0 and a1<->b1. */
export interface Topology {
  a: string
  b: string
  destroy(): void
}

export const TOPO = {
  a0: { ifname: 'a0', global: '2001:db8:1::1', ll: 'fe80::a0' },
  b0: { ifname: 'b0', global: '2001:db8:1::2', ll: 'fe80::b0' },
  // protocol-reference.md §10: MAG Proxy-CoA 2001:db8:ffff::1, LMA 2001:db8:ffff::2; RA from fe80::1
  a1: { ifname: 'a1', global: '2001:db8:ffff::1', ll: 'fe80::1' },
  b1: { ifname: 'b1', global: '2001:db8:ffff::2', ll: 'fe80::b1' },
} as const

export async function createTopology(tag: string): Promise<Topology> {
  const a = netnsName(`${tag}a`)
  const b = netnsName(`${tag}b`)
  const destroy = (): void => {
    deleteNetns(a)
    deleteNetns(b)
  }
  try {
    createNetns(a)
    createNetns(b)
    const end = (ns: string, e: { ifname: string; global: string; ll: string }): LinkEnd => ({
      ns,
      ifname: e.ifname,
      addrs: [`${e.global}/64`, `${e.ll}/64`],
    })
    addVeth(end(a, TOPO.a0), end(b, TOPO.b0))
    addVeth(end(a, TOPO.a1), end(b, TOPO.b1))
    for (const [ns, ifname] of [[a, 'a0'], [a, 'a1'], [b, 'b0'], [b, 'b1']] as const) await waitLinkReady(ns, ifname)
  } catch (e) {
    destroy()
    throw e
  }
  return { a, b, destroy }
}
