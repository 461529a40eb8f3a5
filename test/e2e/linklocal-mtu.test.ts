// The MAG's router address and the MTU option end to end in the netns lab (issue 17, items 2
// and 6): the MAG daemons on real sockets and rtnetlink, the lab LMA, mobile nodes whose own
// kernels take their default router and MTU from our RAs, tshark on the wire.
//  1. ALL_ZERO FixedMAGLinkLocalAddressOnAllAccessLinks (RFC 5213 §6.8, §6.9.1.2 item 15): the
//     LMA supplies the link-local address; the MAG puts it on the access link (with DAD) before
//     its first RA, the MN routes through it and reaches the correspondent, a handoff to the
//     other MAG keeps it, detach takes it off the link; an MN already using it gets another.
//  2. RFC 5213 §6.9.5: the uplink's MTU shrinks, then a Packet Too Big for the path to the LMA:
//     the next RAs carry the new MTU and the MN's kernel takes it.
//  3. A fixed link-local address (the RFC's other mode): the same story with fe80::1.
// One lab per mode, removed in afterAll whatever happened.
import { controlRequest, type ControlRequest } from '@pmip6/agent'
import { formatIp6, parseIp6 } from '@pmip6/wire'
import { linkLocalFor } from '@pmip6/lab-lma'
import { labUp } from '../../packages/cli/src/lab/lab'
import { accessLink, mnId, mnMac, PLAN } from '../../packages/cli/src/lab/plan'
import { Capture, describeLab, labName, mag, nsRun, RAW_SEND, waitFor, type Packet, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const MAG1 = PLAN.mags.mag1
const LMA = PLAN.lma
const CN = PLAN.cn

interface View {
  mnId: string
  link: string
  state: string
  reason: string
  prefixes: string[]
  routerAddress: string
}
interface Status {
  counters: Record<string, number>
}
interface LmaBinding {
  mnId: string
  mag: string
  linkLocal?: string
}
interface Addr {
  local: string
  prefixlen: number
  scope: string
  tentative?: boolean
  dadfailed?: boolean
}

const isRa = (p: Packet): boolean => p.v('icmpv6.type') === '134'
const isPbu = (p: Packet): boolean => p.v('mip6.mhtype') === '5'
const isPba = (p: Packet): boolean => p.v('mip6.mhtype') === '6'
/**
 * RFC 4443 §3.2 Packet Too Big (type 2, code 0, checksum left to the kernel, MTU) carrying the
 * start of a tunnelled packet of MAG1's to the LMA: IPv6 header with next header 41, then 40
 * bytes of the inner packet.
 */
function packetTooBig(mtu: number): string {
  const mtuHex = mtu.toString(16).padStart(8, '0')
  const outer = '60000000' + '0500' + '29' + '40' + Buffer.from(parseIp6(MAG1)).toString('hex') + Buffer.from(parseIp6(LMA)).toString('hex')
  return '02000000' + mtuHex + outer + '00'.repeat(40)
}
const raMtu = (p: Packet): number | undefined => (p.v('icmpv6.opt.mtu') === undefined ? undefined : Number(p.v('icmpv6.opt.mtu')))

/** One lab and the helpers every scenario uses. */
function labKit(prefix: string) {
  const LAB = labName(prefix)
  const ns = { mag1: `${LAB}-mag1`, mag2: `${LAB}-mag2`, lma: `${LAB}-lma`, mn: (i: number) => `${LAB}-mn${i}` }
  const sockets: Record<string, string> = {}
  const captures: Capture[] = []
  const kit = {
    LAB,
    ns,
    sockets,
    async up(mns: number, magConfig: Record<string, unknown>): Promise<void> {
      await labDown(LAB).catch(() => undefined)
      const s = await labUp({ name: LAB, mns, quiet: true, logLevel: 'debug', magConfig })
      Object.assign(sockets, s.sockets)
    },
    async down(): Promise<void> {
      for (const c of captures.splice(0)) c.kill()
      await labDown(LAB)
    },
    async capture(n: string, iface: string, filter: string): Promise<Capture> {
      const c = await Capture.startSynced(n, iface, filter)
      captures.push(c)
      return c
    },
    async stop(c: Capture): Promise<Packet[]> {
      captures.splice(captures.indexOf(c), 1)
      return c.stopSynced()
    },
    ctl: (node: 'mag1' | 'mag2' | 'lma', req: ControlRequest): Promise<unknown> => controlRequest(sockets[node]!, req, 5000),
    async bindings(node: 'mag1' | 'mag2'): Promise<View[]> {
      return (await kit.ctl(node, { cmd: 'bindings' })) as View[]
    },
    async registered(node: 'mag1' | 'mag2', i: number): Promise<View> {
      return waitFor(`mn${i} registered on ${node}`, async () => (await kit.bindings(node)).find((b) => b.mnId === mnId(i) && b.state === 'registered') ?? null, 15_000, 100)
    },
    async counters(node: 'mag1' | 'mag2'): Promise<Record<string, number>> {
      return ((await kit.ctl(node, { cmd: 'status' })) as Status).counters
    },
    attach: (node: 'mag1' | 'mag2', i: number): Promise<unknown> => kit.ctl(node, { cmd: 'attach', mn: mnId(i), link: accessLink(i), mac: mnMac(i), att: 'wifi', hint: 'new' }),
    detach: (node: 'mag1' | 'mag2', i: number): Promise<unknown> => kit.ctl(node, { cmd: 'detach', mn: mnId(i) }),
    move(i: number, to: 'mag1' | 'mag2'): void {
      const r = mag(['lab', 'move', '--name', LAB, `mn${i}`, '--to', to])
      if (r.code !== 0) throw new Error(`lab move: ${r.err}`)
    },
    /** IPv6 addresses on a MAG's access link towards MN i. */
    linkAddrs(node: 'mag1' | 'mag2', i: number): Addr[] {
      const r = nsRun(ns[node], ['ip', '-6', '-j', 'addr', 'show', 'dev', accessLink(i)])
      return (JSON.parse(r.out || '[]') as { addr_info?: Addr[] }[])[0]?.addr_info ?? []
    },
    mnRouter(i: number): string | null {
      const r = nsRun(ns.mn(i), ['ip', '-6', '-j', 'route', 'show', 'default'])
      return (JSON.parse(r.out || '[]') as { gateway?: string }[])[0]?.gateway ?? null
    },
    mnGlobal(i: number, prefix: string): string | null {
      const r = nsRun(ns.mn(i), ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'])
      const p = prefix.replace(/::\/64$/, ':')
      return ((JSON.parse(r.out || '[]') as { addr_info?: Addr[] }[])[0]?.addr_info ?? []).find((a) => a.local.startsWith(p))?.local ?? null
    },
    /** The MN pings the correspondent through its MAG, the tunnel and the LMA. */
    async pingsCn(i: number): Promise<void> {
      await waitFor(`mn${i} pings the CN`, () => nsRun(ns.mn(i), ['ping', '-6', '-c', '1', '-W', '1', CN], 5_000).code === 0, 20_000, 200)
    },
    sysctl(n: string, key: string, value: number): void {
      const r = nsRun(n, ['sysctl', '-qw', `${key}=${value}`])
      if (r.code !== 0) throw new Error(`sysctl ${key} in ${n}: ${r.err}`)
    },
  }
  return kit
}

describeLab('RFC 5213 §6.8, §6.9.1.2 item 15: the LMA-supplied link-local address (ALL_ZERO), and §6.9.5 MTU, in the netns lab', () => {
  jest.setTimeout(120_000)
  const k = labKit('ell')
  const llOf = (i: number): string => formatIp6(linkLocalFor(mnId(i)))

  beforeAll(async () => {
    // fixedLinkLocal '::' is ALL_ZERO: the MAGs ask the LMA for the address (§6.9.1.1 item 9).
    await k.up(2, { mag: { fixedLinkLocal: '::' } })
    // The lab turns DAD off everywhere to save a second per address; item 15 needs it on the
    // MAGs' access links, where the MAG puts the LMA's address.
    for (const node of ['mag1', 'mag2'] as const) for (const i of [1, 2]) k.sysctl(k.ns[node], `net.ipv6.conf.${accessLink(i)}.accept_dad`, 1)
  }, 90_000)

  afterAll(() => k.down(), LAB_DOWN_HOOK_TIMEOUT_MS)

  test('§6.9.1.2 item 15: the address goes on the access link before the first RA; the MN routes through it and reaches the CN', async () => {
    const up0 = await k.capture(k.ns.mag1, 'up0', 'ip6 proto 135')
    const acc = await k.capture(k.ns.mag1, accessLink(1), 'icmp6 and ip6[40] == 134')
    await k.attach('mag1', 1)
    const b = await k.registered('mag1', 1)
    expect(b.routerAddress).toBe(llOf(1))
    // The MN's own kernel: its default router is the LMA's address, learnt from our RA.
    await waitFor('mn1 default router', () => k.mnRouter(1) === llOf(1), 15_000, 100)
    await waitFor('mn1 home address', () => k.mnGlobal(1, b.prefixes[0]!), 10_000, 100)
    await k.pingsCn(1)
    const onLink = k.linkAddrs('mag1', 1).find((a) => a.local === llOf(1))
    expect(onLink).toMatchObject({ prefixlen: 64, scope: 'link' })
    expect(onLink?.tentative).toBeUndefined()

    const mh = await k.stop(up0)
    const ras = (await k.stop(acc)).filter(isRa)
    const pbu = mh.find((p) => isPbu(p) && p.v('mip6.mnid.identifier') === mnId(1))
    const pba = mh.find((p) => isPba(p) && p.v('mip6.mnid.identifier') === mnId(1))
    if (!pbu || !pba) throw new Error(`no PBU/PBA for mn1: ${mh.length} packets`)
    // §6.9.1.1 item 9: the initial PBU asks with ALL_ZERO; §6.8: the PBA names the address.
    expect(pbu.v('mip6.lila_lla')).toBe('::')
    expect(pba.v('mip6.lila_lla')).toBe(llOf(1))
    expect(ras.length).toBeGreaterThan(0)
    // Every RA comes from that address, none before the PBA (none failed, none from elsewhere).
    for (const ra of ras) {
      expect(ra.v('ipv6.src')).toBe(llOf(1))
      expect(ra.t).toBeGreaterThanOrEqual(pba.t)
    }
    const c = await k.counters('mag1')
    expect(c['nd.tx-error'] ?? 0).toBe(0)
    expect(c['link-address.ready']).toBeGreaterThanOrEqual(1)
  })

  test('§6.9.5: the uplink MTU shrinks, then a Packet Too Big for the path to the LMA: the next RAs carry it, the MN takes it', async () => {
    const acc = await k.capture(k.ns.mag1, accessLink(1), 'icmp6 and ip6[40] == 134')
    const up0 = await k.capture(k.ns.mag1, 'up0', 'icmp6 and ip6[40] == 2')
    const mnMtu = (): number => Number(nsRun(k.ns.mn(1), ['cat', '/proc/sys/net/ipv6/conf/eth0/mtu']).out.trim())
    // The data plane's table for its first tunnel peer (T + 2, T = 100 by default).
    const tunnelRouteMtu = (): number | null => {
      const m = /\bmtu (\d+)/.exec(nsRun(k.ns.mag1, ['ip', '-6', 'route', 'show', 'table', '102']).out)
      return m ? Number(m[1]) : null
    }
    expect(tunnelRouteMtu()).toBe(1500)
    expect(mnMtu()).toBe(1460)
    // The uplink (the interface holding the Proxy-CoA) goes down to 1400: tunnel MTU 1360.
    expect(nsRun(k.ns.mag1, ['ip', 'link', 'set', 'up0', 'mtu', '1400']).code).toBe(0)
    await waitFor('mn1 MTU 1360 from the RA', () => mnMtu() === 1360, 10_000, 100)
    // The tunnel itself (seg6: the route into it carries the outer path MTU).
    await waitFor('tunnel route mtu 1400', () => tunnelRouteMtu() === 1400, 10_000, 100)
    // A router on the path says 1350 for a tunnelled packet of ours to the LMA (RFC 4443 §3.2):
    // tunnel MTU 1310.
    const ptb = packetTooBig(1350)
    const sent = nsRun(k.ns.lma, [process.execPath, RAW_SEND, 'icmp6', MAG1, ptb])
    expect(sent.code).toBe(0)
    await waitFor('mn1 MTU 1310 after the Packet Too Big', () => mnMtu() === 1310, 10_000, 100)
    await waitFor('tunnel route mtu 1350', () => tunnelRouteMtu() === 1350, 10_000, 100)
    // The same message from an access link changes nothing (an MN must not shrink the path).
    const before = await k.counters('mag1')
    const fromMn = packetTooBig(1290)
    expect(nsRun(k.ns.mn(1), [process.execPath, RAW_SEND, 'icmp6', 'ff02::2', fromMn, 'eth0', '255']).code).toBe(0)
    await waitFor('the PTB from the access link counted and dropped', async () => ((await k.counters('mag1'))['icmp.ptb.dropped.from-access-link'] ?? 0) > (before['icmp.ptb.dropped.from-access-link'] ?? 0), 5_000, 100)
    expect(mnMtu()).toBe(1310)

    const ras = (await k.stop(acc)).filter(isRa)
    const ptbs = (await k.stop(up0)).filter((p) => p.v('icmpv6.type') === '2')
    expect(ptbs.map((p) => p.v('icmpv6.mtu'))).toEqual(['1350'])
    const mtus = ras.map(raMtu)
    expect(mtus).toContain(1360)
    expect(mtus[mtus.length - 1]).toBe(1310)
    // In that order: 1460 (if an RA went before the change), then 1360, then 1310.
    const firstOf = (m: number) => mtus.indexOf(m)
    expect(firstOf(1360)).toBeLessThan(firstOf(1310))
    const c = await k.counters('mag1')
    expect(c['icmp.ptb.accepted']).toBe(1)
    expect(c['pmtu.uplink-change']).toBeGreaterThanOrEqual(2) // the baseline, then 1400
  })

  test('§6.8: a handoff to the other MAG keeps the router address; detach takes it off the access link', async () => {
    const before = k.mnRouter(1)
    expect(before).toBe(llOf(1))
    const up0 = await k.capture(k.ns.mag2, 'up0', 'ip6 proto 135')
    k.move(1, 'mag2')
    const b = await k.registered('mag2', 1)
    expect(b.routerAddress).toBe(llOf(1))
    // The old MAG took the address off its link with the MN's departure.
    await waitFor('address gone from mag1', () => !k.linkAddrs('mag1', 1).some((a) => a.local === llOf(1)), 10_000, 100)
    await waitFor('address on mag2', () => k.linkAddrs('mag2', 1).some((a) => a.local === llOf(1) && !a.tentative), 10_000, 100)
    await k.pingsCn(1)
    // The MN never saw another router: the same default router all along.
    expect(k.mnRouter(1)).toBe(llOf(1))
    const mh = await k.stop(up0)
    const pbu = mh.find((p) => isPbu(p) && p.v('mip6.mnid.identifier') === mnId(1))
    const pba = mh.find((p) => isPba(p) && p.v('mip6.mnid.identifier') === mnId(1))
    expect(pbu?.v('mip6.lila_lla')).toBe('::')
    expect(pba?.v('mip6.lila_lla')).toBe(llOf(1))

    await k.detach('mag2', 1)
    await waitFor('address gone from mag2 after detach', () => !k.linkAddrs('mag2', 1).some((a) => a.local === llOf(1)), 10_000, 100)
  })

  test('§6.9.1.2 item 15: the MN already uses the LMA\'s address: DAD catches it, the MAG advertises another one and uploads it to the LMA', async () => {
    // mn2 holds the very address the LMA will name for it.
    expect(nsRun(k.ns.mn(2), ['ip', 'addr', 'add', `${llOf(2)}/64`, 'dev', 'eth0', 'nodad']).code).toBe(0)
    const up0 = await k.capture(k.ns.mag1, 'up0', 'ip6 proto 135')
    await k.attach('mag1', 2)
    const b = await waitFor('mn2 registered with a replacement router address', async () => {
      const v = (await k.bindings('mag1')).find((x) => x.mnId === mnId(2))
      return v?.state === 'registered' && v.routerAddress !== llOf(2) ? v : null
    }, 20_000, 100)
    const fresh = b.routerAddress
    expect(fresh).toMatch(/^fe80::/)
    await waitFor('mn2 default router is the replacement', () => k.mnRouter(2) === fresh, 15_000, 100)
    await k.pingsCn(2)
    // The address in use is not on the MAG's link (DAD failed, removed); the replacement is.
    const addrs = k.linkAddrs('mag1', 2)
    expect(addrs.some((a) => a.local === llOf(2))).toBe(false)
    expect(addrs.find((a) => a.local === fresh)?.tentative).toBeUndefined()
    // Uploaded at once in a PBU, and the LMA keeps it for the next MAG (§6.8).
    const mh = await k.stop(up0)
    const uploads = mh.filter((p) => isPbu(p) && p.v('mip6.mnid.identifier') === mnId(2) && p.v('mip6.lila_lla') === fresh)
    expect(uploads.length).toBeGreaterThanOrEqual(1)
    const lma = (await k.ctl('lma', { cmd: 'bindings' })) as { bindings: LmaBinding[] }
    expect(lma.bindings.find((x) => x.mnId === mnId(2))?.linkLocal).toBe(fresh)
    const c = await k.counters('mag1')
    expect(c['link-address.duplicate']).toBe(1)
    expect(c['core.link-local-replaced']).toBe(1)
  })
})

describeLab('RFC 5213 §6.9.3: a fixed link-local address on every access link, in the netns lab', () => {
  jest.setTimeout(120_000)
  const k = labKit('elf')

  beforeAll(() => k.up(1, {}), 90_000)
  afterAll(() => k.down(), LAB_DOWN_HOOK_TIMEOUT_MS)

  test('§6.9.3: the MN routes through fe80::1 on either MAG, reaches the CN; no Link-local Address option in the PBU (§6.9.1.1 item 9)', async () => {
    const up0 = await k.capture(k.ns.mag1, 'up0', 'ip6 proto 135')
    await k.attach('mag1', 1)
    const b = await k.registered('mag1', 1)
    expect(b.routerAddress).toBe(PLAN.fixedLinkLocal)
    await waitFor('mn1 default router fe80::1', () => k.mnRouter(1) === PLAN.fixedLinkLocal, 15_000, 100)
    await k.pingsCn(1)
    const mh = await k.stop(up0)
    const pbu = mh.find((p) => isPbu(p) && p.v('mip6.mnid.identifier') === mnId(1))
    expect(pbu).toBeDefined()
    expect(pbu!.v('mip6.lila_lla')).toBeUndefined()

    k.move(1, 'mag2')
    expect((await k.registered('mag2', 1)).routerAddress).toBe(PLAN.fixedLinkLocal)
    await k.pingsCn(1)
    expect(k.mnRouter(1)).toBe(PLAN.fixedLinkLocal)
    await k.detach('mag2', 1)
    // The operator's fixed address stays on the link: the MAG only manages what the LMA supplies.
    expect(k.linkAddrs('mag2', 1).some((a) => a.local === PLAN.fixedLinkLocal)).toBe(true)
    expect((await k.counters('mag1'))['link-address.up'] ?? 0).toBe(0)
  })
})
