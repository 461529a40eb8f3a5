// Issue 17, item 8 (RFC 6275 §11.7.3), end to end: the lab LMA orders PBUs by sequence number
// (timestampMode: 'sequence'). The MAG is killed with SIGKILL and started again; it finds the
// MN in its link's state file and registers it again with sequence numbers the LMA still holds
// from the first run (the same initialSequence, so the case comes every time, not one run in
// two as with the random start). The LMA answers 135, the MAG resynchronises, the MN is
// registered and never denied. tshark on the LMA's side reads the exchange.
import { readFileSync } from 'node:fs'
import { controlRequest } from '@pmip6/agent'
import { labRestart, labUp, readState } from '../../packages/cli/src/lab/lab'
import { describeLab, labName, waitFor, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'
import { MhWatch } from './mh-watch'

const LAB = labName('e17s')
const MN = 'mn1@example.com'
const MAC = '02:00:00:00:01:01'

interface View {
  mnId: string
  state: string
  reason: string
  prefixes: string[]
}

describeLab('RFC 6275 §11.7.3: status 135 after a MAG restart resynchronises, never denies', () => {
  jest.setTimeout(180_000)
  let sock = ''
  let log = ''
  let cap: MhWatch | null = null

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({ name: LAB, mns: 1, quiet: true, lmaConfig: { timestampMode: 'sequence' }, magConfig: { mag: { initialSequence: 100, heartbeatInterval: 0 } } })
    sock = s.sockets['mag1']!
    log = s.logs['mag1']!
  }, 90_000)

  afterAll(async () => {
    cap?.kill()
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const binding = async (): Promise<View | undefined> => ((await controlRequest(sock, { cmd: 'bindings' }, 5000)) as View[]).find((b) => b.mnId === MN)

  test('kill -9 the MAG, start it again: the LMA answers 135, the MAG goes above the number and the MN is registered with its prefix', async () => {
    await controlRequest(sock, { cmd: 'attach', link: 'mn1', mn: MN, mac: MAC, att: 'wifi', hint: 'new' })
    const first = await waitFor('mn1 registered', async () => {
      const b = await binding()
      return b?.state === 'registered' ? b : null
    }, 20_000)

    cap = await MhWatch.start(`${LAB}-lma`, 'p-mag1')
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
    const logFrom = readFileSync(log, 'utf8').length
    await labRestart(LAB, 'mag1')
    const again = await waitFor('mn1 registered after the restart', async () => {
      const b = await binding()
      return b?.state === 'registered' ? b : null
    }, 30_000)
    expect(again.prefixes).toEqual(first.prefixes)
    const st = (await controlRequest(sock, { cmd: 'status' })) as { counters: Record<string, number> }
    expect(st.counters['core.sequence-resync']).toBeGreaterThanOrEqual(1)
    expect(st.counters['core.denied'] ?? 0).toBe(0)
    // No state change of the new run ever denied the MN.
    const states = readFileSync(log, 'utf8')
      .slice(logFrom)
      .split('\n')
      .filter((l) => l.includes('"state changed"'))
      .map((l) => JSON.parse(l) as { to: string; reason: string })
    expect(states.filter((s) => s.to === 'denied')).toEqual([])
    expect(states.at(-1)).toMatchObject({ to: 'registered', reason: 'pba-accepted' })

    // On the wire, as tshark reads it at the LMA: PBU, 135, PBU above the number it carried, accepted.
    const w = cap
    const rows = await waitFor('a 135 and then an acceptance on the wire', () => {
      const i = w.rows.findIndex((r) => r.type === '6' && r.status === '135')
      const j = w.rows.findIndex((r, k) => k > i && r.type === '6' && r.status === '0')
      return i >= 0 && j > i ? { held: w.rows[i]!.seq, accepted: w.rows[j]!.seq, pbus: w.rows.slice(0, j).filter((r) => r.type === '5').length } : null
    }, 10_000)
    cap.kill()
    cap = null
    // RFC 6275 §9.5.1: the accepted PBU's number is newer than the one the 135 carried.
    const d = (rows.accepted - rows.held + 0x10000) % 0x10000
    expect(d > 0 && d < 0x8000).toBe(true)
    expect(rows.pbus).toBeGreaterThanOrEqual(2)
  })
})
