// Issue 21 part 2 end to end in the netns lab (RFC 5844 §3.3.1, §3.4.1): an unmodified busybox
// udhcpc asks for an IPv4 address (`udhcpc -r ADDR`, option 50 in its DISCOVERs). While the lab
// LMA drops PBUs the MN is registering with 0.0.0.0; the MAG's DHCPv4 server hands the wish to
// the core, and once the LMA answers again the retransmitted PBU on the MAG-LMA link (tshark)
// names the address, the PBA grants it and udhcpc is bound to it. A dual-stack MN that asks for
// an address after the LMA assigned one keeps the assigned one (the DHCP server offers only
// that). One lab for the file, removed in afterAll whatever happened.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@pmip6/agent'
import { labUp } from '../../packages/cli/src/lab/lab'
import { installUdhcpcScript, Capture, describeLab, labName, mag, nsRun, waitFor, LAB_HOOK_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('ipv4req')
const LMA = '2001:db8:ffff::2'
const MAG1 = '2001:db8:ffff::1'
const WANT = '192.0.2.77'
const mnId = (i: number): string => `mn${i}@example.com`
const mac = (i: number): string => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`

interface View {
  mnId: string
  state: string
  ipv4Address: string | null
  ipv4Requested: { address: string; outcome: string } | null
}

describeLab('RFC 5844 §3.3.1: the IPv4 address an unmodified DHCPv4 client asks for goes into the PBU (netns lab, udhcpc -r)', () => {
  jest.setTimeout(300_000)
  let socks: Record<string, string> = {}
  const dir = mkdtempSync(join(tmpdir(), 'mag-e2e-v4rq-'))
  const script = join(dir, 'udhcpc.sh')
  const children: ChildProcess[] = []

  beforeAll(async () => {
    installUdhcpcScript(script)
    await labDown(LAB).catch(() => undefined)
    const s = await labUp({
      name: LAB,
      mns: 2,
      quiet: true,
      magConfig: {
        profiles: [
          { mnId: mnId(1), lma: LMA, macs: [mac(1)], stack: 'ipv4', ipv4Allowed: ['192.0.2.0/24'] },
          { mnId: mnId(2), lma: LMA, macs: [mac(2)], stack: 'dual', ipv4Allowed: ['192.0.2.0/24'] },
        ],
        dataplane: { ipv4: true },
        dhcp4: { enabled: true },
      },
    })
    socks = s.sockets as Record<string, string>
  }, LAB_HOOK_TIMEOUT_MS)

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    await labDown(LAB)
    rmSync(dir, { recursive: true, force: true })
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  const bindings = async (): Promise<View[]> => (await controlRequest(socks['mag1']!, { cmd: 'bindings' }, 10_000)) as View[]
  const view = async (i: number): Promise<View | undefined> => (await bindings()).find((b) => b.mnId === mnId(i))
  const counters = async (): Promise<Record<string, number>> => ((await controlRequest(socks['mag1']!, { cmd: 'status' }, 10_000)) as { counters: Record<string, number> }).counters
  const fault = (...args: string[]): void => {
    const r = mag(['lab', 'fault', '--name', LAB, ...args])
    if (r.code !== 0) throw new Error(`mag lab fault ${args.join(' ')}: ${r.err}`)
  }
  const mnIpv4 = (i: number): string | null => {
    const r = nsRun(`${LAB}-mn${i}`, ['ip', '-4', '-j', 'addr', 'show', 'dev', 'eth0'])
    const a = (JSON.parse(r.out || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[])[0]?.addr_info?.[0]
    return a ? `${a.local}/${a.prefixlen}` : null
  }
  /** udhcpc in the MN's namespace, in the background: resolves with its exit code. */
  const udhcpcAsking = (i: number, addr: string, tries: number): Promise<number> => {
    const c = spawn('ip', ['netns', 'exec', `${LAB}-mn${i}`, 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', String(tries), '-T', '2', '-A', '1', '-r', addr, '-s', script], { stdio: 'ignore' })
    children.push(c)
    return new Promise((res) => c.once('exit', (code) => res(code ?? -1)))
  }

  test('registering while the LMA drops PBUs: udhcpc -r names the address, the retransmitted PBU carries it, the PBA grants it, udhcpc is bound to it', async () => {
    fault('--clear', '--drop', 'all')
    const cap = await Capture.startSynced(`${LAB}-mag1`, 'up0', 'ip6 proto 135')
    let pkts
    try {
      await controlRequest(socks['mag1']!, { cmd: 'attach', link: 'mn1', mn: mnId(1), mac: mac(1), att: 'wifi', hint: 'new' })
      await waitFor('mn1 registering', async () => (await view(1))?.state === 'registering', 30_000)
      const bound = udhcpcAsking(1, WANT, 25)
      // The DHCPv4 server saw option 50 and the core took it for the next PBU.
      await waitFor('the core took the address mn1 asked for', async () => ((await counters())['core.ipv4-requested'] ?? 0) >= 1, 30_000, 200)
      expect((await view(1))?.ipv4Requested).toEqual({ address: WANT, outcome: 'pending' })
      fault('--clear')
      expect(await bound).toBe(0)
      expect(mnIpv4(1)).toBe(`${WANT}/24`)
      const v = await waitFor('mn1 registered', async () => {
        const b = await view(1)
        return b?.state === 'registered' ? b : null
      }, 30_000)
      expect(v).toMatchObject({ ipv4Address: `${WANT}/24`, ipv4Requested: { address: WANT, outcome: 'used' } })
    } finally {
      pkts = await cap.stopSynced()
    }
    const pbus = pkts.filter((p) => p.v('mip6.mhtype') === '5' && p.v('ipv6.src') === MAG1 && p.v('mip6.mnid.identifier') === mnId(1))
    const asked = pbus.map((p) => p.v('mip6.ipv4ha.ha'))
    // First 0.0.0.0 (nothing known yet), then the address the MN asked for, with a /32.
    expect(asked[0]).toBe('0.0.0.0')
    const named = pbus.filter((p) => p.v('mip6.ipv4ha.ha') === WANT)
    expect(named.length).toBeGreaterThan(0)
    expect(named[0]!.v('mip6.ipv4ha.preflen')).toBe('32')
    const pbas = pkts.filter((p) => p.v('mip6.mhtype') === '6' && p.v('ipv6.src') === LMA && p.v('mip6.ba.status') === '0')
    expect(pbas.some((p) => p.v('mip6.ipv4ha.ha') === WANT && p.v('mip6.ipv4aa.sts') === '0')).toBe(true)
    const c = await counters()
    expect(c).toMatchObject({ 'core.ipv4-requested': 1, 'core.ipv4-requested-used': 1, 'dhcp4.requested': expect.any(Number) })
  })

  test('an address the LMA already assigned stands: a dual-stack MN asking for another one gets the assigned one', async () => {
    await controlRequest(socks['mag1']!, { cmd: 'attach', link: 'mn2', mn: mnId(2), mac: mac(2), att: 'wifi', hint: 'new' })
    const v = await waitFor('mn2 registered with an IPv4 home address', async () => {
      const b = await view(2)
      return b?.state === 'registered' && b.ipv4Address !== null ? b : null
    }, 60_000)
    expect(v.ipv4Address).not.toBe('192.0.2.88/24')
    expect(await udhcpcAsking(2, '192.0.2.88', 5)).toBe(0)
    expect(mnIpv4(2)).toBe(v.ipv4Address)
    expect((await view(2))?.ipv4Requested ?? null).toBeNull()
  })
})
