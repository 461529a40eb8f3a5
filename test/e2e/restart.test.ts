// Restart without loss (issue 9): the MAG is killed with SIGKILL while 100 MNs are attached and
// started again. It learns who is attached from its link driver (the mock link's state file),
// registers them again, and every MN keeps its home prefix, since the LMA still holds it.
// Kernel state the daemon owns (rules, routes, links) is counted before and after: reconciled,
// never duplicated.
import { controlRequest } from '@pmip6/agent'
import { labRestart, labUp, readState } from '../../packages/cli/src/lab/lab'
import { describeLab, labName, nsRun, waitFor, LAB_HOOK_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e9r')
const LMA = '2001:db8:ffff::2'
const N = 100

interface View {
  mnId: string
  state: string
  prefixes: string[]
}

/** What a MAG installs: policy rules, routes (not the kernel's own per-address ones), links. */
function kernelObjects(ns: string): { rules: number; routes: number; links: number } {
  const lines = (args: string[]) => nsRun(ns, ['ip', ...args]).out.split('\n').filter((l) => l.trim() !== '')
  return {
    rules: lines(['-6', 'rule', 'show']).length,
    routes: lines(['-6', 'route', 'show', 'table', 'all']).filter((l) => !/proto kernel|table local/.test(l)).length,
    links: lines(['-o', 'link', 'show']).length,
  }
}

describeLab('restart without loss', () => {
  jest.setTimeout(120_000)
  let sock = ''
  let lmaSock = ''

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({ name: LAB, mns: 1, quiet: true, magConfig: { unknownMn: { lma: LMA }, links: { mn1: { shared: true } } } })
    sock = s.sockets['mag1']!
    lmaSock = s.sockets['lma']!
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const registered = async (): Promise<View[]> => ((await controlRequest(sock, { cmd: 'bindings' }, 10_000)) as View[]).filter((b) => b.state === 'registered')

  test('SIGKILL with 100 MNs attached, start again: 100 bindings, same prefixes, nothing duplicated', async () => {
    await controlRequest(sock, { cmd: 'attach-range', link: 'mn1', count: N, mnPrefix: 'rs' })
    const before = await waitFor('100 registered', async () => {
      const r = await registered()
      return r.length === N ? r : null
    }, 20_000)
    const prefixOf = new Map(before.map((b) => [b.mnId, b.prefixes.join(',')]))
    // Forwarding is installed after the registration: count once the data plane holds all 100.
    const dpBindings = async (): Promise<number> => ((await controlRequest(sock, { cmd: 'status' })) as { dataplane: { state?: { bindings: number } } }).dataplane.state?.bindings ?? -1
    await waitFor('forwarding for 100', async () => (await dpBindings()) === N, 20_000)
    const kernelBefore = kernelObjects(`${LAB}-mag1`)
    // One uplink rule and one downlink route per MN, plus the daemon's own few.
    expect(kernelBefore.rules).toBeGreaterThanOrEqual(N)
    expect(kernelBefore.routes).toBeGreaterThanOrEqual(N)
    const lmaBindings = async (): Promise<{ mnId: string; prefixes: string[] }[]> => ((await controlRequest(lmaSock, { cmd: 'bindings' })) as { bindings: { mnId: string; prefixes: string[] }[] }).bindings
    expect(await lmaBindings()).toHaveLength(N)

    const pid = readState(LAB).pids['mag1']!
    process.kill(pid, 'SIGKILL')
    await waitFor('mag1 gone', () => {
      try {
        process.kill(pid, 0)
        return false
      } catch {
        return true
      }
    }, 5000)

    const newPid = await labRestart(LAB, 'mag1')
    expect(newPid).not.toBe(pid)
    const after = await waitFor('100 registered again', async () => {
      const r = await registered()
      return r.length === N ? r : null
    }, 30_000)
    // Same MNs, same prefixes: the LMA kept the bindings and renewed them.
    for (const b of after) expect({ mn: b.mnId, prefixes: b.prefixes.join(',') }).toEqual({ mn: b.mnId, prefixes: prefixOf.get(b.mnId) })
    expect(await lmaBindings()).toHaveLength(N)
    await waitFor('forwarding for 100 again', async () => (await dpBindings()) === N, 20_000)
    expect(kernelObjects(`${LAB}-mag1`)).toEqual(kernelBefore)
    const st = (await controlRequest(sock, { cmd: 'status' })) as { counters: Record<string, number> }
    // Rebuilt from the driver: one attach fact per station, no more.
    expect(st.counters['core.attach']).toBe(N)
  })
})
