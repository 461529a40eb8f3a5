// Issue 17, item 3 (RFC 5213 §6.7), end to end: with a 20 s binding lifetime, the MN's own
// kernel (SLAAC from our RAs) holds its home address for as long as the binding lives. Sampled
// every 200 ms for 2 min 10 s; before the fix the address was gone from +19.5 s to +33 s and
// from +36 s to +69 s. tshark, on the MN's link, reads the prefix lifetimes the RAs carried.
import { controlRequest } from '@pmip6/agent'
import { labUp } from '../../packages/cli/src/lab/lab'
import { Capture, describeLab, labName, nsRun, waitFor, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e17p')
const MN = 'mn1@example.com'
const MAC = '02:00:00:00:01:01'
const LIFETIME_S = 20
const SAMPLE_FOR_MS = 130_000
const SAMPLE_EVERY_MS = 200

interface View {
  mnId: string
  state: string
  prefixes: string[]
  grantedLifetime: number
}
interface Addr {
  local: string
  scope: string
  valid_life_time?: number
}

function mnGlobals(): Addr[] {
  const r = nsRun(`${LAB}-mn1`, ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'])
  if (r.code !== 0) throw new Error(`ip addr in the MN: ${r.err}`)
  const j = JSON.parse(r.out || '[]') as { addr_info?: Addr[] }[]
  return j[0]?.addr_info ?? []
}

describeLab('RFC 5213 §6.7: the MN keeps its home address while a 20 s binding lives', () => {
  jest.setTimeout(240_000)
  let sock = ''
  let cap: Capture | null = null

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({ name: LAB, mns: 1, quiet: true, magConfig: { mag: { lifetime: LIFETIME_S, heartbeatInterval: 0 } } })
    sock = s.sockets['mag1']!
  }, 90_000)

  afterAll(async () => {
    cap?.kill()
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('§6.7 sampled every 200 ms for 130 s: the SLAAC address from the HNP is there in every sample; every RA carries the granted 20 s', async () => {
    cap = await Capture.startSynced(`${LAB}-mn1`, 'eth0', 'icmp6 and ip6[40] == 134')
    await controlRequest(sock, { cmd: 'attach', link: 'mn1', mn: MN, mac: MAC, att: 'wifi', hint: 'new' })
    const b = await waitFor('mn1 registered', async () => {
      const v = ((await controlRequest(sock, { cmd: 'bindings' })) as View[]).find((x) => x.mnId === MN)
      return v?.state === 'registered' ? v : null
    }, 20_000)
    expect(b.grantedLifetime).toBe(LIFETIME_S)
    const prefix = b.prefixes[0]!.replace(/::\/64$/, ':')
    const has = (): Addr | undefined => mnGlobals().find((a) => a.local.startsWith(prefix))
    await waitFor('SLAAC address on mn1', () => has() ?? null, 15_000)

    const t0 = Date.now()
    const missing: string[] = []
    let samples = 0
    let minValid = Infinity
    while (Date.now() - t0 < SAMPLE_FOR_MS) {
      const a = has()
      samples++
      if (!a) missing.push(`+${((Date.now() - t0) / 1000).toFixed(1)} s`)
      else if (a.valid_life_time !== undefined) minValid = Math.min(minValid, a.valid_life_time)
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS))
    }
    const v = ((await controlRequest(sock, { cmd: 'bindings' })) as View[]).find((x) => x.mnId === MN)
    const st = (await controlRequest(sock, { cmd: 'status' })) as { counters: Record<string, number> }
    const ras = await cap.stopSynced()
    cap = null

    expect(missing).toEqual([])
    expect(samples).toBeGreaterThan(100)
    // The binding lived all along: refreshed (about every 16 s), never expired.
    expect(v?.state).toMatch(/^(registered|refreshing)$/)
    expect(st.counters['core.pbu-sent:refresh'] ?? 0).toBeGreaterThanOrEqual(5)
    expect(st.counters['core.binding-expired'] ?? 0).toBe(0)
    // On the wire (tshark): every RA with the home prefix carries the granted lifetime, and
    // they come often enough for it (at most a third of it apart, RAs lost included).
    const hnp = ras.filter((p) => p.all('icmpv6.opt.prefix').some((x) => x.startsWith(prefix.slice(0, -1))))
    expect(hnp.length).toBeGreaterThan(SAMPLE_FOR_MS / 1000 / (LIFETIME_S / 3) - 2)
    for (const p of hnp) expect(p.all('icmpv6.opt.prefix.valid_lifetime').map(Number)).toEqual([LIFETIME_S])
    const gaps = hnp.slice(1).map((p, i) => p.t - hnp[i]!.t)
    expect(Math.max(...gaps)).toBeLessThan(LIFETIME_S / 3 + 1)
    expect(minValid).toBeGreaterThan(0)
  })
})
