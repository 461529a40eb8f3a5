// Issue 17, item 9 (RFC 5847 §3, §5), end to end: the heartbeat interval is set for the lab LMA
// alone (`lmas:`, with the MAG-wide interval off), and when the LMA answers a Heartbeat with a
// Binding Error, status 2 (what a peer without heartbeat support sends, RFC 6275 §9.2), the
// MAG sends it no more Heartbeats: tshark at the LMA sees them stop, `mag status` says why,
// and the binding lives on. The Binding Error is sent from the LMA's namespace with its address.
import { controlRequest } from '@pmip6/agent'
import { labUp } from '../../packages/cli/src/lab/lab'
import { describeLab, labName, nsRun, RAW_SEND, waitFor, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'
import { MhWatch } from './mh-watch'

const LAB = labName('e17h')
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const MN = 'mn1@example.com'
/** Binding Error (MH type 7): payload proto 59, header length 2 (24 bytes), status 2, Home Address :: (RFC 6275 §6.1.9). */
const BE_STATUS_2 = '3b02070000000200' + '00'.repeat(16)
const HB_TYPE = '13'

interface LmaView {
  lma: string
  state: string
  reason: string
  intervalS: number
  requestsSent: number
}
interface Status {
  lmas: LmaView[]
  counters: Record<string, number>
}

describeLab('RFC 5847 §3: an LMA without heartbeat support gets no more Heartbeats', () => {
  jest.setTimeout(120_000)
  let sock = ''
  let watch: MhWatch | null = null

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({ name: LAB, mns: 1, quiet: true, magConfig: { mag: { heartbeatInterval: 0 }, lmas: { [LMA]: { heartbeatInterval: 1 } } } })
    sock = s.sockets['mag1']!
  }, 90_000)

  afterAll(async () => {
    watch?.kill()
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const status = async (): Promise<Status> => (await controlRequest(sock, { cmd: 'status' }, 5000)) as Status

  test('§5 per-LMA interval on the wire; §3 Binding Error status 2: Heartbeats stop, status shows unsupported, the binding is refreshed on', async () => {
    watch = await MhWatch.start(`${LAB}-lma`, 'p-mag1')
    const w = watch
    await controlRequest(sock, { cmd: 'attach', link: 'mn1', mn: MN, mac: '02:00:00:00:01:01', att: 'wifi', hint: 'new' })
    // The LMA's own interval (1 s) although the MAG-wide one is off: requests and responses pass.
    await waitFor('three heartbeat requests answered on the wire', () => w.rows.filter((r) => r.type === HB_TYPE && r.src === LMA).length >= 3, 20_000)
    expect((await status()).lmas[0]).toMatchObject({ lma: LMA, state: 'reachable', intervalS: 1 })

    const sent = nsRun(`${LAB}-lma`, [process.execPath, RAW_SEND, 'mh', MAG, BE_STATUS_2])
    expect(sent.code).toBe(0)
    const v = await waitFor('LMA heartbeat state unsupported', async () => {
      const l = (await status()).lmas.find((x) => x.lma === LMA)
      return l?.state === 'unsupported' ? l : null
    }, 10_000)
    expect(v.reason).toBe('binding-error:2')
    const requestsAtStop = v.requestsSent
    // Absence takes time to see: four intervals, then tshark has seen exactly the requests the
    // MAG counted up to the Binding Error, none after it.
    const until = Date.now() + 4000
    await waitFor('four heartbeat intervals', () => Date.now() > until, 10_000)
    expect(w.rows.filter((r) => r.type === HB_TYPE && r.src === MAG).length).toBe(requestsAtStop)
    const st = await status()
    expect(st.lmas[0]).toMatchObject({ state: 'unsupported', requestsSent: requestsAtStop })
    expect(st.counters['core.heartbeat-unsupported']).toBe(1)
    const b = ((await controlRequest(sock, { cmd: 'bindings' })) as { mnId: string; state: string }[]).find((x) => x.mnId === MN)
    expect(b?.state).toMatch(/^(registered|refreshing)$/)
  })
})
