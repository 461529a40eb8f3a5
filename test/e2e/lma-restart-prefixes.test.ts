// An LMA that restarts has lost its bindings (RFC 5847 §3.2) and hands its prefix pool out
// afresh, in the order PBUs reach it: the prefix one MN still holds at the MAG can go to
// another. RFC 5213 §2.2 supports only the Per-MN-Prefix model, so the MAG takes the LMA's word:
// the new holder is served, the old one is withdrawn and registers again. Before this was
// handled, the kernel refused the new holder's route (the old holder's was there) and that MN
// ended 'failed' while the LMA held its binding (seen once in the heartbeat e2e test under load).
// Here the order is made certain: heartbeats off (mn1 never hears of the restart), the LMA
// killed, mn2 detached and attached again, so its PBU is the first the new LMA sees.
import { labRestart, labUp } from '../../packages/cli/src/lab/lab'
import { accessLink, mnId, mnMac } from '../../packages/cli/src/lab/plan'
import { controlRequest } from '@pmip6/agent'
import { describeLab, labDown, labName, nsRun, waitFor, LAB_DOWN_HOOK_TIMEOUT_MS, LAB_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('elrp')

interface View {
  mnId: string
  state: string
  reason?: string
  prefixes: string[]
}

describeLab('LMA restart: its pool handed out afresh, a prefix moves between MNs at the MAG', () => {
  jest.setTimeout(180_000)
  let sock = ''
  let lmaPid = 0

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({ name: LAB, mns: 2, quiet: true, magConfig: { mag: { heartbeatInterval: 0 } } })
    sock = s.sockets['mag1']!
    lmaPid = s.pids['lma']!
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const bindings = async (): Promise<View[]> => (await controlRequest(sock, { cmd: 'bindings' }, 5000)) as View[]
  const registered = async (mn: string): Promise<View | null> => (await bindings()).find((b) => b.mnId === mn && b.state === 'registered' && b.prefixes.length > 0) ?? null
  const attach = (i: number): Promise<unknown> => controlRequest(sock, { cmd: 'attach', link: accessLink(i), mn: mnId(i), mac: mnMac(i), att: 'wifi' }, 5000)
  const downRoutes = (): string => nsRun(`${LAB}-mag1`, ['ip', '-6', 'route', 'show', 'table', '100']).out
  const explain = async (): Promise<string> => `mag1 bindings: ${JSON.stringify(await bindings())}\nmag1 down table:\n${downRoutes()}`

  test('the new holder of a prefix is served; its old holder is withdrawn and gets another; the kernel routes each once', async () => {
    await attach(1)
    const p0 = (await waitFor('mn1 registered', () => registered(mnId(1)))).prefixes[0]!
    await attach(2)
    const p1 = (await waitFor('mn2 registered', () => registered(mnId(2)))).prefixes[0]!
    expect(p1).not.toBe(p0)

    process.kill(lmaPid, 'SIGKILL')
    await controlRequest(sock, { cmd: 'detach', mn: mnId(2) }, 5000)
    // Its de-registration goes unanswered (§6.9.1.4: no retransmission) and the entry goes.
    await waitFor('mn2 gone from mag1', async () => ((await bindings()).some((b) => b.mnId === mnId(2)) ? null : true))
    await attach(2)
    await labRestart(LAB, 'lma')

    // mn2's PBU, retransmitted until the new LMA answers, is the first it sees: it gets p0.
    const m2 = await waitFor('mn2 registered again', async () => {
      const b = await registered(mnId(2))
      return b && b.prefixes.includes(p0) ? b : null
    }, 30_000, 100, explain)
    expect(m2.prefixes).toEqual([p0])
    // mn1 no longer holds p0 and registered again for a prefix of the LMA's choosing.
    const m1 = await waitFor('mn1 registered with another prefix', async () => {
      const b = await registered(mnId(1))
      return b && !b.prefixes.includes(p0) ? b : null
    }, 30_000, 100, explain)
    expect(m1.prefixes).toHaveLength(1)
    const st = (await controlRequest(sock, { cmd: 'status' }, 5000)) as { counters: Record<string, number>; dataplane?: { state?: { bindings?: number; failures?: number } } }
    expect(st.counters['core.prefix-reassigned']).toBe(1)
    expect(st.counters['dataplane.error'] ?? 0).toBe(0)
    expect(st.dataplane?.state?.bindings).toBe(2)
    // The MAG's down table (RFC 5213 §6.10.5): each prefix once, on its holder's access link.
    const routes = await waitFor('the down table to follow', () => {
      const r = downRoutes()
      return r.includes(`${p0} dev ${accessLink(2)}`) && r.includes(`${m1.prefixes[0]!} dev ${accessLink(1)}`) ? r : null
    }, 30_000, 100, explain)
    expect(routes.split('\n').filter((l) => l.startsWith(`${p0} `))).toHaveLength(1)
  })
})
