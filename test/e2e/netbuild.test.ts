// NetBuild against the real `ip` and kernel: a failing batch line is named with its namespace,
// a sysctl shell names the key it could not write and skips an absent optional one, and a lab
// build that stops half-way leaves nothing `mag lab down` does not remove (veths are made in
// their namespaces, never in ours).
import { spawnSync } from 'node:child_process'
import { NetBuild, NetBuildError, ipBatchAll } from '../../packages/cli/src/lab/netbuild'
import { planTopology } from '../../packages/cli/src/lab/topology'
import { names } from '../../packages/cli/src/lab/plan'
import { describeLab, labName, labNamespaces, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e18nb')
// Not under the lab's prefix: the last test counts the lab's namespaces.
const NS = `${LAB}x-t`

const rootLinks = (): string[] => JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]').map((l: { ifname: string }) => l.ifname)
const inNs = (ns: string, cmd: string[]): string => spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' }).stdout.trim()

describeLab('NetBuild on the real ip', () => {
  afterAll(async () => {
    ipBatchAll([`netns del ${NS}`])
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('the failing line is named with its namespace; the lines before it took effect', () => {
    new NetBuild().ip(null, ['netns', 'add', NS]).run()
    const nb = new NetBuild()
      .ip(NS, ['link', 'set', 'lo', 'up'])
      .ip(NS, ['link', 'add', 'br0', 'type', 'bridge'])
      .ip(NS, ['link', 'set', 'nosuch0', 'up'])
      .ip(NS, ['link', 'add', 'br1', 'type', 'bridge'])
    let err: unknown
    try {
      nb.run()
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(NetBuildError)
    expect(err).toMatchObject({ ns: NS, line: 3, command: 'link set nosuch0 up' })
    expect((err as Error).message).toMatch(new RegExp(`^ip -n ${NS} link set nosuch0 up \\(line 3 of a batch in namespace ${NS}\\): .*nosuch0`))
    const links = spawnSync('ip', ['-n', NS, '-o', 'link', 'show'], { encoding: 'utf8' }).stdout
    expect(links).toMatch(/ lo: .*UP/)
    expect(links).toContain(' br0: ')
    expect(links).not.toContain(' br1: ')
  })

  test('sysctls: written in one shell, an absent optional key skipped, an absent key named', () => {
    new NetBuild()
      .sysctl(NS, 'net.ipv6.conf.br0.accept_ra', 0)
      .sysctl(NS, 'net.ipv6.conf.nosuch0.accept_ra', 0, { ifPresent: true })
      .sysctl(NS, 'net/ipv6/conf/br0/hop_limit', 17)
      .run()
    expect(inNs(NS, ['cat', '/proc/sys/net/ipv6/conf/br0/accept_ra', '/proc/sys/net/ipv6/conf/br0/hop_limit'])).toBe('0\n17')
    expect(() => new NetBuild().sysctl(NS, 'net.ipv6.conf.br0.autoconf', 0).sysctl(NS, 'net.ipv6.conf.nosuch0.autoconf', 0).run()).toThrow(
      new RegExp(`^sysctl -w net\\.ipv6\\.conf\\.nosuch0\\.autoconf=0 in namespace ${NS}: .*nosuch0`),
    )
    expect(inNs(NS, ['cat', '/proc/sys/net/ipv6/conf/br0/autoconf'])).toBe('0')
    // One ip forks a shell per namespace: the line that failed says which namespace.
    const gone = `${LAB}x-gone`
    expect(() => new NetBuild().sysctl(NS, 'net.ipv6.conf.br0.autoconf', 1).sysctl(gone, 'net.ipv6.conf.all.forwarding', 1).run()).toThrow(new RegExp(`^sysctl settings in namespace ${gone} failed: .*${gone}`))
    expect(inNs(NS, ['cat', '/proc/sys/net/ipv6/conf/br0/autoconf'])).toBe('1')
  })

  test('a lab build stopped half-way (namespaces, defaults, links): `mag lab down` removes it all, and nothing was made here', async () => {
    const before = rootLinks()
    const plan = planTopology(names(LAB), 2)
    for (const p of plan.phases.slice(0, 3)) p.build.run()
    expect(labNamespaces(LAB).sort()).toEqual([...plan.namespaces].sort())
    expect(spawnSync('ip', ['-n', `${LAB}-air`, '-o', 'link', 'show', 'y2'], { encoding: 'utf8' }).stdout).toContain('y2@')
    // Other work on this machine may add links here meanwhile: only the lab's names count.
    const lab = new Set(['br0', 'up0', 'p-mag1', 'p-mag2', 'eth0', 'cn0', 'm1', 'm2', 'b1', 'b2', 'x1', 'x2', 'y1', 'y2', 'mn1', 'mn2'])
    expect(rootLinks().filter((l) => !before.includes(l) && lab.has(l))).toEqual([])
    await labDown(LAB)
    expect(labNamespaces(LAB)).toEqual([])
  })
})
