// Issue 21 end to end in the netns lab (RFC 5844 §3.2-3.4): an IPv4-only MN (mn1) and a
// dual-stack MN (mn2) get their IPv4 home address from the MAG's DHCPv4 server with an
// unmodified busybox udhcpc, ping the CN over IPv4 through the tunnel (tshark sees IPv4-in-IPv6,
// next header 4, on the MAG-LMA link), keep the address across a handoff to mag2 and lose it on
// detach. One lab for the file, removed in afterAll whatever happened.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@pmip6/agent'
import { labUp } from '../../packages/cli/src/lab/lab'
import { installUdhcpcScript, Capture, describeLab, labName, mag, nsRun, waitFor, LAB_HOOK_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e21v4')
const LMA = '2001:db8:ffff::2'
const CN4 = '203.0.113.2'
const mnId = (i: number): string => `mn${i}@example.com`
const mac = (i: number): string => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`
const HOA = /^192\.0\.2\.\d+\/24$/

interface View {
  mnId: string
  state: string
  reason: string
  stack: string
  prefixes: string[]
  ipv4Address: string | null
  ipv4Router: string | null
}

describeLab('RFC 5844: IPv4 home addresses in the netns lab (udhcpc, IPv4-in-IPv6, handoff, detach)', () => {
  jest.setTimeout(300_000)
  let socks: Record<string, string> = {}
  const dir = mkdtempSync(join(tmpdir(), 'mag-e2e-v4-'))
  const script = join(dir, 'udhcpc.sh')

  beforeAll(async () => {
    // udhcpc runs a script with what it got; the demo's configures the MN as Debian's would.
    installUdhcpcScript(script)
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({
      name: LAB,
      mns: 2,
      quiet: true,
      magConfig: {
        profiles: [
          { mnId: mnId(1), lma: LMA, macs: [mac(1)], stack: 'ipv4' },
          { mnId: mnId(2), lma: LMA, macs: [mac(2)], stack: 'dual' },
        ],
        dataplane: { ipv4: true },
        dhcp4: { enabled: true },
      },
    })
    socks = s.sockets as Record<string, string>
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    await labDown(LAB)
    rmSync(dir, { recursive: true, force: true })
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const bindings = async (m: string): Promise<View[]> => (await controlRequest(socks[m]!, { cmd: 'bindings' }, 10_000)) as View[]
  const registered = (m: string, i: number): Promise<View> =>
    waitFor(`mn${i} registered with an IPv4 home address on ${m}`, async () => {
      const v = (await bindings(m)).find((b) => b.mnId === mnId(i))
      return v?.state === 'registered' && v.ipv4Address !== null ? v : null
    }, 60_000)
  const udhcpc = (i: number) => nsRun(`${LAB}-mn${i}`, ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-A', '1', '-s', script], 60_000)
  const mnIpv4 = (i: number): string | null => {
    const r = nsRun(`${LAB}-mn${i}`, ['ip', '-4', '-j', 'addr', 'show', 'dev', 'eth0'])
    const a = (JSON.parse(r.out || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[])[0]?.addr_info?.[0]
    return a ? `${a.local}/${a.prefixlen}` : null
  }
  const ping = (i: number) => waitFor(`mn${i} pings the CN over IPv4`, () => nsRun(`${LAB}-mn${i}`, ['ping', '-c', '1', '-W', '2', CN4], 10_000).code === 0, 60_000, 500)

  test('IPv4-only and dual-stack MNs: udhcpc gets the binding address and router; ping to the CN is IPv4-in-IPv6 (next header 4) on the MAG-LMA link', async () => {
    for (const i of [1, 2]) await controlRequest(socks['mag1']!, { cmd: 'attach', link: `mn${i}`, mn: mnId(i), mac: mac(i), att: 'wifi', hint: 'new' })
    const v1 = await registered('mag1', 1)
    const v2 = await registered('mag1', 2)
    expect(v1).toMatchObject({ stack: 'ipv4', prefixes: [], ipv4Router: '192.0.2.1' })
    expect(v1.ipv4Address).toMatch(HOA)
    expect(v2).toMatchObject({ stack: 'dual', ipv4Router: '192.0.2.1' })
    expect(v2.prefixes).toHaveLength(1)
    for (const [i, v] of [[1, v1], [2, v2]] as const) {
      expect(udhcpc(i).code).toBe(0)
      expect(mnIpv4(i)).toBe(v.ipv4Address)
    }
    const cap = await Capture.startSynced(`${LAB}-mag1`, 'up0', 'ip6 proto 4')
    try {
      await ping(1)
      await ping(2)
    } finally {
      const pkts = await cap.stopSynced()
      const v4in6 = pkts.filter((p) => p.v('ipv6.nxt') === '4')
      expect(v4in6.length).toBeGreaterThan(0)
      // Both directions, inner IPv4 between the home addresses and the CN.
      const inner = v4in6.map((p) => `${p.v('ip.src')}>${p.v('ip.dst')}`)
      expect(inner).toContain(`${v1.ipv4Address!.split('/')[0]}>${CN4}`)
      expect(inner).toContain(`${CN4}>${v1.ipv4Address!.split('/')[0]}`)
    }
  })

  test('handoff to mag2 keeps the IPv4 home address (the same lease renews there); detach takes it away', async () => {
    const before = (await bindings('mag1')).find((b) => b.mnId === mnId(1))!.ipv4Address
    expect(mag(['lab', 'move', '--name', LAB, 'mn1', '--to', 'mag2']).code).toBe(0)
    const after = await registered('mag2', 1)
    expect(after.ipv4Address).toBe(before)
    await waitFor('mn1 gone from mag1', async () => !(await bindings('mag1')).some((b) => b.mnId === mnId(1)), 30_000)
    // The MN's client asks again (as after a link change) and gets the same address from mag2.
    expect(udhcpc(1).code).toBe(0)
    expect(mnIpv4(1)).toBe(before)
    await ping(1)
    // Detach: the binding goes, and mag2's DHCPv4 server no longer answers for it.
    await controlRequest(socks['mag2']!, { cmd: 'detach', mn: mnId(1) })
    await waitFor('mn1 gone from mag2', async () => !(await bindings('mag2')).some((b) => b.mnId === mnId(1)), 30_000)
    expect(udhcpc(1).code).not.toBe(0)
    expect(nsRun(`${LAB}-mn1`, ['ping', '-c', '1', '-W', '2', CN4], 10_000).code).not.toBe(0)
  })
})
