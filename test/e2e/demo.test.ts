// The README's main job, `mag lab demo`, runs to the end: registration, SLAAC in the MN,
// handoff to mag2 with the same prefix, address and router, Scenario B with a local prefix,
// detach, and the lab removed.
import { spawnSync } from 'node:child_process'
import { describeLab, labName, mag, LAB_UP_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e5d')

describeLab('mag lab demo', () => {
  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('the timeline ends well, and the lab is gone afterwards', () => {
    // The lab comes up inside the demo: its deadline, plus the steps (milliseconds each when idle).
    const r = mag(['lab', 'demo', '--name', LAB, '--json'], LAB_UP_TIMEOUT_MS + 120_000)
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const json = JSON.parse(r.out.slice(r.out.indexOf('\n{') + 1)) as { ok: boolean; steps: { what: string; ok: boolean; detail?: string }[] }
    expect(json.ok).toBe(true)
    const detail = (what: string) => json.steps.find((s) => s.what.startsWith(what))?.detail ?? ''
    expect(detail('mag1: PBU -> LMA')).toMatch(/^HNP 2001:db8:100:/)
    expect(detail('mag2: binding moved')).toMatch(/\(unchanged\)$/)
    expect(detail('mn1 keeps its address')).toMatch(/^2001:db8:100:.* via fe80::1$/)
    // RFC 5844: the dual-stack mn1's IPv4 home address by DHCPv4, IPv4 pings, kept across the handoff.
    expect(detail('mn1 (dual-stack): IPv4 home address')).toMatch(/^192\.0\.2\.\d+\/24, default router 192\.0\.2\.1$/)
    expect(detail('mn1 pings the CN over IPv4 (')).toMatch(/3\/3 replies$/)
    expect(detail('mn1 keeps its IPv4 address')).toMatch(/^192\.0\.2\.\d+\/24 \(unchanged\)$/)
    expect(detail('mn1 pings the CN over IPv4 from mag2')).toMatch(/3\/3 replies$/)
    expect(detail('mag1 advertises a local prefix')).toMatch(/^local prefix 2001:db8:a1:/)
    expect(detail('mn2 kernel')).toMatch(/^2001:db8:a1:/)
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`${LAB}-`)
  }, LAB_UP_TIMEOUT_MS + 150_000)
})
