// DataPlane's bookkeeping for RFC 5845 GRE bindings, without a kernel: an in-memory Rtnl holds
// the objects (by what they are, as the kernel would refuse a duplicate or a missing one), so
// the transactions, moves and key changes can be checked step by step here; the devices and the
// packets themselves are the real-kernel tier's (test/kernel/gre.ktest.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataPlane, FaultyRtnl, ForwardingError, NetlinkError, describe as describeObj, type GreLinkObj, type KObj, type LinkInfo, type RouteInfo, type RouteObj, type Rtnl, type RuleInfo } from '../src'

const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const HNP = '2001:db8:100:1::/64'
const HOA = '10.0.0.2'

/** Objects by identity: a link by name, a route without its MTU, a rule as written. */
const idOf = (o: KObj): string => (o.kind === 'link' || o.kind === 'gre-link' ? `link ${o.name}` : describeObj(o).replace(/ mtu \d+$/, ''))

class MemRtnl implements Rtnl {
  readonly objs = new Map<string, KObj>()
  constructor(readonly gre = true) {}
  async add(o: KObj): Promise<void> {
    await Promise.resolve()
    const id = idOf(o)
    if (this.objs.has(id)) throw new NetlinkError('add', id, 'EEXIST', 'exists')
    if (o.kind === 'route' && !this.has(o.dev)) throw new NetlinkError('add', id, 'ENODEV', 'no such device')
    this.objs.set(id, o)
  }
  async del(o: KObj): Promise<void> {
    await Promise.resolve()
    if (!this.objs.delete(idOf(o))) throw new NetlinkError('del', idOf(o), 'ENOENT', 'no such object')
  }
  private has(dev: string): boolean {
    return ['m0', 'a0', 'a1'].includes(dev) || this.objs.has(`link ${dev}`)
  }
  rules = (): Promise<RuleInfo[]> => Promise.resolve([])
  routes = (): Promise<RouteInfo[]> => Promise.resolve([])
  links = (): Promise<LinkInfo[]> => Promise.resolve([{ index: 2, name: 'm0', kind: 'veth', mtu: 1500 }])
  routeDev = (): Promise<string> => Promise.resolve('m0')
  addressDev = (): Promise<string | null> => Promise.resolve('m0')
  delRuleInfo = (): Promise<void> => Promise.resolve()
  delRouteInfo = (): Promise<void> => Promise.resolve()
  delLinkByName = (name: string): Promise<void> => {
    this.objs.delete(`link ${name}`)
    return Promise.resolve()
  }
  replaceRoute = (o: RouteObj): Promise<void> => {
    this.objs.set(idOf(o), o)
    return Promise.resolve()
  }
  setLinkMtu = (): Promise<void> => Promise.resolve()
  async changeGreLink(o: GreLinkObj): Promise<void> {
    await Promise.resolve()
    if (!this.objs.has(idOf(o))) throw new NetlinkError('add', idOf(o), 'ENODEV', 'no such device')
    this.objs.set(idOf(o), o)
  }
  probeGre = (): Promise<boolean> => Promise.resolve(this.gre)
  close = (): void => undefined
  /** What is installed, as text, sorted. */
  state(): string[] {
    return [...this.objs.values()].map(describeObj).sort()
  }
}

async function open(mem: MemRtnl, extra: object = {}): Promise<{ dp: DataPlane; faulty: FaultyRtnl }> {
  const faulty = new FaultyRtnl(mem, 0)
  const dp = await DataPlane.open({ role: 'mag', self: MAG, backend: 'ip6tnl', ipv4: true, accessLinks: ['a0', 'a1'], enableForwarding: false, rtnl: faulty, ...extra })
  return { dp, faulty }
}
const req = (extra: object = {}): Parameters<DataPlane['up']>[0] => ({ id: 'mn1', link: 'a0', prefixes: [HNP], ipv4: [HOA], peer: LMA, gre: { uplink: 1, downlink: 0x1001 }, ...extra })
const greLink = (mem: MemRtnl): GreLinkObj | undefined => [...mem.objs.values()].find((o): o is GreLinkObj => o.kind === 'gre-link')

describe('DataPlane with GRE keys (RFC 5845), bookkeeping', () => {
  test('a binding with keys: its own device and tables, keys by role, nothing of the shared tunnel; down() removes all of it', async () => {
    const mem = new MemRtnl()
    const { dp } = await open(mem)
    const base = mem.state()
    await dp.up(req())
    expect(greLink(mem)).toMatchObject({ name: 'pmip6g0', remote: LMA, ikey: 0x1001, okey: 1, mtu: 1452 })
    expect(mem.state().filter((d) => !base.includes(d))).toHaveLength(11)
    expect(mem.state().some((d) => d.includes('pmip6t'))).toBe(false)
    expect(dp.snapshot()).toMatchObject({ gre: true, greBindings: 1, bindings: 1, tunnels: [] })
    // Partial down: the IPv4 address goes, the device stays.
    await dp.down('mn1', [HOA])
    expect(greLink(mem)).toBeDefined()
    await dp.down('mn1')
    await dp.idle()
    expect(mem.state()).toEqual(base)
    expect(dp.snapshot()).toMatchObject({ greBindings: 0, bindings: 0, objects: base.length })
    await dp.close()
    expect(mem.state()).toEqual([])
  })

  test('a new uplink key is set in place; keys lost move the binding with all its addresses to the shared tunnel, keys gained move it back', async () => {
    const mem = new MemRtnl()
    const { dp, faulty } = await open(mem)
    await dp.up(req())
    faulty.calls = 0
    await dp.up(req({ prefixes: [], ipv4: [], gre: { uplink: 9, downlink: 0x1001 } }))
    expect(faulty.calls).toBe(1)
    expect(greLink(mem)).toMatchObject({ name: 'pmip6g0', ikey: 0x1001, okey: 9 })
    // Keys lost (a refresh PBA with status 2): the caller names no address; they all move.
    await dp.up(req({ prefixes: [], ipv4: [], gre: undefined }))
    expect(greLink(mem)).toBeUndefined()
    expect(dp.snapshot()).toMatchObject({ greBindings: 0, bindings: 1, tunnels: [{ peer: LMA, users: 1, device: 'pmip6t0' }] })
    expect(mem.state()).toEqual(expect.arrayContaining([`route ${HNP} dev a0 table 100`, `-4 route ${HOA}/32 dev a0 table 100`]))
    // Keys again, with another downlink key (a new receive key): a new device, the addresses with it.
    await dp.up(req({ prefixes: [], ipv4: [], gre: { uplink: 9, downlink: 0x2002 } }))
    expect(greLink(mem)).toMatchObject({ ikey: 0x2002, okey: 9 })
    expect(dp.snapshot()).toMatchObject({ greBindings: 1, tunnels: [] })
    expect(mem.state()).toEqual(expect.arrayContaining([`route ${HNP} dev a0 table 10000`, `-4 route ${HOA}/32 dev a0 table 10000`]))
    await dp.close()
    expect(mem.state()).toEqual([])
  })

  test('two MNs with the same IPv4 address on two links, each with its own LMA and keys: no object shared, both installed', async () => {
    const mem = new MemRtnl()
    const { dp } = await open(mem)
    await dp.up(req({ prefixes: [] }))
    await dp.up({ id: 'mn2', link: 'a1', prefixes: [], ipv4: [HOA], peer: '2001:db8:ffff::3', gre: { uplink: 1, downlink: 0x1002 } })
    expect([...mem.objs.values()].filter((o) => o.kind === 'gre-link').map((o) => (o as GreLinkObj).name)).toEqual(['pmip6g0', 'pmip6g1'])
    expect(mem.state().filter((d) => d.startsWith(`-4 route ${HOA}`))).toEqual([`-4 route ${HOA}/32 dev a0 table 10000`, `-4 route ${HOA}/32 dev a1 table 10002`])
    await dp.close()
  })

  test('a failure at each step of a GRE up(), and of a key change, leaves the state as before the call', async () => {
    const mem = new MemRtnl()
    const { dp, faulty } = await open(mem)
    const base = mem.state()
    faulty.calls = 0
    await dp.up(req())
    const n = faulty.calls
    expect(n).toBe(11)
    await dp.down('mn1')
    await dp.idle()
    for (let k = 1; k <= n; k++) {
      faulty.calls = 0
      faulty.failAt = k
      await expect(dp.up(req())).rejects.toBeInstanceOf(ForwardingError)
      await dp.idle()
      expect({ k, state: mem.state(), greBindings: dp.snapshot().greBindings }).toEqual({ k, state: base, greBindings: 0 })
    }
    faulty.failAt = 0
    await dp.up(req())
    const held = mem.state()
    // The key change fails: the device keeps its key.
    faulty.calls = 0
    faulty.failAt = 1
    await expect(dp.up(req({ gre: { uplink: 5, downlink: 0x1001 } }))).rejects.toBeInstanceOf(ForwardingError)
    expect(mem.state()).toEqual(held)
    // The key change works, a new address in the same call fails: the key goes back too.
    faulty.calls = 0
    faulty.failAt = 2
    await expect(dp.up(req({ prefixes: ['2001:db8:100:2::/64'], gre: { uplink: 5, downlink: 0x1001 } }))).rejects.toBeInstanceOf(ForwardingError)
    expect(greLink(mem)).toMatchObject({ okey: 1 })
    expect(mem.state()).toEqual(held)
    faulty.failAt = 0
    await dp.close()
    expect(mem.state()).toEqual([])
  })

  test('refusals: no ip6gre in the kernel, a key past 32 bits, keys without a tunnel peer; nothing installed, the reason named', async () => {
    const mem = new MemRtnl(false)
    const { dp } = await open(mem)
    const base = mem.state()
    expect(dp.snapshot().gre).toBe(false)
    await expect(dp.up(req())).rejects.toThrow(/ip6gre/)
    const ok = await open(new MemRtnl())
    await expect(ok.dp.up(req({ gre: { uplink: 2 ** 32, downlink: 1 } }))).rejects.toThrow('not a GRE key')
    await expect(ok.dp.up(req({ peer: null }))).rejects.toThrow('need a tunnel peer')
    expect(mem.state()).toEqual(base)
    expect(dp.snapshot()).toMatchObject({ bindings: 0, failures: 1 })
    expect(ok.dp.snapshot()).toMatchObject({ bindings: 0, greBindings: 0, failures: 2 })
    await dp.close()
    await ok.dp.close()
  })

  test('reverse path filtering on an access link (the larger of `all` and its own) is said once per link, with the fix; an IPv6-only GRE binding or a filter-free link says nothing', async () => {
    const sys = mkdtempSync(join(tmpdir(), 'dp-procsys-'))
    try {
      const set = (dev: string, v: number): void => {
        mkdirSync(join(sys, 'net/ipv4/conf', dev), { recursive: true })
        writeFileSync(join(sys, 'net/ipv4/conf', dev, 'rp_filter'), `${v}\n`)
      }
      set('all', 0)
      set('a0', 1)
      set('a1', 0)
      const lines: { level: string; msg: string; f: Record<string, unknown> }[] = []
      const { dp } = await open(new MemRtnl(), { procSys: sys, log: (level: string, msg: string, f: Record<string, unknown> = {}) => lines.push({ level, msg, f }) })
      const warned = (): unknown[] => lines.filter((l) => l.level === 'warn' && l.msg.startsWith('reverse path filtering')).map((l) => l.f)
      await dp.up(req({ ipv4: [] }))
      expect(warned()).toEqual([])
      await dp.up(req({ id: 'mn2', link: 'a1', gre: { uplink: 2, downlink: 0x1002 } }))
      expect(warned()).toEqual([])
      await dp.up(req({ id: 'mn3', gre: { uplink: 3, downlink: 0x1003 } }))
      await dp.up(req({ id: 'mn4', ipv4: ['10.0.0.3'], gre: { uplink: 4, downlink: 0x1004 } }))
      expect(warned()).toEqual([{ link: 'a0', rpFilter: 1, fix: 'sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.a0.rp_filter=0' }])
      expect(dp.snapshot().reversePathFiltered).toEqual(['a0'])
      expect(dp.snapshot().reversePathFix).toBe('sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.a0.rp_filter=0')
      // `all` wins over a link's own 0 (loose mode, 2).
      set('all', 2)
      await dp.up(req({ id: 'mn5', link: 'a1', gre: { uplink: 5, downlink: 0x1005 } }))
      expect(warned()).toHaveLength(2)
      expect(dp.snapshot().reversePathFiltered).toEqual(['a0', 'a1'])
      await dp.close()
    } finally {
      rmSync(sys, { recursive: true, force: true })
    }
  })
})
