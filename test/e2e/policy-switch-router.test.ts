// Issue 17, item 12 (RFC 6612 §3.3, RFC 4861 §6.2.5), end to end: switching an MN from host
// mode (Scenario B) back to network mode must not send an RA with router lifetime 0 for a router
// address that stays (the fixed link-local, RFC 5213 §6.9.3): before the fix the MN's kernel
// dropped its default route for the few ms until the HNP RA came. The MN's own route table is
// watched (`ip -6 monitor route`) and the RAs read by tshark on its link, both as they happen.
import { spawn, type ChildProcess } from 'node:child_process'
import { controlRequest } from '@pmip6/agent'
import { labUp } from '../../packages/cli/src/lab/lab'
import { describeLab, labName, LiveFields, nsRun, waitFor, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e17b')
const MN = 'mn1@example.com'
const MN_NS = `${LAB}-mn1`

/** A command in a namespace whose output lines are kept as they come. */
class Lines {
  readonly lines: string[] = []
  err = ''
  private constructor(private readonly child: ChildProcess) {}
  static start(ns: string, cmd: readonly string[]): Lines {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
    const l = new Lines(child)
    let buf = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (c: string) => {
      buf += c
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        l.lines.push(buf.slice(0, i))
        buf = buf.slice(i + 1)
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (c: string) => (l.err += c))
    return l
  }
  get exited(): boolean {
    return this.child.exitCode !== null
  }
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

interface View {
  mnId: string
  state: string
  prefixes: string[]
}

describeLab('RFC 6612 §3.3: host -> network keeps the MN\'s default router', () => {
  jest.setTimeout(120_000)
  let sock = ''
  const procs: { kill(): void }[] = []

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({ name: LAB, mns: 1, quiet: true, magConfig: { mag: { heartbeatInterval: 0 } } })
    sock = s.sockets['mag1']!
  }, 90_000)

  afterAll(async () => {
    for (const p of procs) p.kill()
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const binding = async (): Promise<View | undefined> => ((await controlRequest(sock, { cmd: 'bindings' }, 5000)) as View[]).find((b) => b.mnId === MN)
  const defaultRoute = (): string => nsRun(MN_NS, ['ip', '-6', 'route', 'show', 'default']).out.trim()
  const globals = (): string => nsRun(MN_NS, ['ip', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']).out

  test('§3.3 the switch back withdraws the local prefix without router lifetime 0; the default route via fe80::1 is never deleted', async () => {
    await controlRequest(sock, { cmd: 'attach', link: 'mn1', mn: MN, mac: '02:00:00:00:01:01', att: 'wifi', hint: 'new' })
    await waitFor('registered', async () => (await binding())?.state === 'registered', 20_000)
    await controlRequest(sock, { cmd: 'policy', mn: MN, mode: 'host' })
    const local = await waitFor('local prefix', async () => {
      const b = await binding()
      return b?.state === 'local' && b.prefixes.length > 0 ? b.prefixes[0]! : null
    }, 10_000)
    await waitFor('local address on the MN', () => globals().includes(local.replace(/::\/64$/, ':')), 15_000)
    await waitFor('default route via fe80::1', () => defaultRoute().includes('via fe80::1'), 15_000)

    // Watch the MN's routes and the RAs on its link, each confirmed live before the switch.
    const routes = Lines.start(MN_NS, ['ip', '-6', 'monitor', 'route'])
    procs.push(routes)
    const ras = await LiveFields.start(MN_NS, 'eth0', 'icmp6 and ip6[40] == 134', ['icmpv6.nd.ra.router_lifetime', 'icmpv6.opt.prefix', 'icmpv6.opt.prefix.valid_lifetime'])
    procs.push(ras)
    const probe = nsRun(MN_NS, ['ip', '-6', 'route', 'add', '2001:db8:dead::/64', 'dev', 'eth0'])
    expect(probe.code).toBe(0)
    await waitFor('route monitor live', () => routes.lines.some((l) => l.includes('2001:db8:dead::/64')), 10_000, 20)
    routes.lines.length = 0

    await controlRequest(sock, { cmd: 'policy', mn: MN, mode: 'network' })
    const b = await waitFor('registered again', async () => {
      const v = await binding()
      return v?.state === 'registered' && v.prefixes.length > 0 ? v : null
    }, 20_000)
    const hnp = b.prefixes[0]!.replace(/::\/64$/, '::')
    // The HNP RA has reached the MN (tshark), so everything the switch sent has been seen.
    await waitFor('HNP RA on the MN link', () => ras.rows.some((r) => r[1]?.split(',').includes(hnp)), 60_000, 50)
    await waitFor('home address on the MN', () => globals().includes(hnp.replace(/::$/, ':')), 15_000)

    const zero = ras.rows.filter((r) => r[0] === '0')
    expect(zero).toEqual([])
    // The withdrawal of the local prefix did go out (zero lifetime), in an RA that kept the router.
    const withdrawal = ras.rows.find(([rl, prefixes, lifetimes]) => {
      const i = (prefixes ?? '').split(',').indexOf(local.replace(/\/64$/, ''))
      return i >= 0 && (lifetimes ?? '').split(',')[i] === '0' && Number(rl) > 0
    })
    expect(withdrawal).toBeDefined()
    expect(routes.lines.filter((l) => l.startsWith('Deleted') && l.includes('default'))).toEqual([])
    expect(defaultRoute()).toContain('via fe80::1')
  })
})
