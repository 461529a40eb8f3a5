// The daemon's side of RFC 5213 §6.9.1.2 item 15 and §6.9.5: the LMA's link-local address is
// put on the access link (a LinkAddressOps stands in for rtnetlink) and no RA leaves before that
// is done; a Packet Too Big about our packets to the LMA lowers the MTU in the next RA, one from
// an access link does not.
import { mh, nd, parseIp6, PBA_FLAGS, type BindingUpdate, type MhMessage, type RouterAdvertisement } from '@pmip6/wire'
import type { AddressAdded, LinkAddressOps } from '@pmip6/dataplane'
import { validateConfig } from '../src/config'
import { MagDaemon } from '../src/daemon'
import type { MagIo, Packet } from '../src/io'
import { LinkAddressExecutor, type LinkAddressReport } from '../src/link-address'
import { Counters } from '../src/stats'

const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const LLA = 'fe80::4c4c:4131'
const settle = () => new Promise((r) => setImmediate(r))

interface Ra {
  readonly link: string
  readonly src: string
  readonly ra: RouterAdvertisement
}

function world(ops: LinkAddressOps | undefined) {
  const now = 1_700_000_000_000
  const clock = { now: () => now, setTimeout: () => ({}), clearTimeout: () => undefined }
  const pbus: BindingUpdate[] = []
  const ras: Ra[] = []
  let mhIn: (p: Packet) => void = () => undefined
  let ndIn: (p: Packet) => void = () => undefined
  const io: MagIo = {
    sendMh: (bytes) => {
      const m = mh.decode(bytes)
      if (m.kind === 'binding-update') pbus.push(m)
    },
    sendNd: (bytes, link, _dst, src) => {
      const m = nd.decode(bytes)
      if (m.kind === 'router-advertisement') ras.push({ link, src, ra: m })
    },
    sendIcmp() {},
    onMh: (fn) => void (mhIn = fn),
    onNd: (fn) => void (ndIn = fn),
    addLink() {},
    removeLink() {},
    close() {},
  }
  const noop = () => undefined
  const log = { debug: noop, info: noop, warn: noop, error: noop }
  const cfg = validateConfig({ mag: { address: MAG, fixedLinkLocal: '::', heartbeatInterval: 0 }, links: { mn1: null }, profiles: [{ mnId: 'mn1@example.com', lma: LMA }] })
  const d = new MagDaemon(cfg, { log, clock, io, drivers: new Map(), ...(ops ? { linkAddresses: ops } : {}) })
  const accept = (pbu: BindingUpdate) => {
    const msg: MhMessage = {
      kind: 'binding-ack',
      status: 0,
      flags: PBA_FLAGS,
      sequence: pbu.sequence,
      lifetime: pbu.lifetime,
      options: [
        ...pbu.options.filter((o) => o.type !== 'hnp' && o.type !== 'link-local-address'),
        { type: 'hnp', prefixLength: 64, prefix: parseIp6('2001:db8:1:1::') },
        { type: 'link-local-address', address: parseIp6(LLA) },
      ],
    }
    mhIn({ data: mh.encode(msg), src: LMA, dst: MAG, link: 'up0', hopLimit: 64 })
  }
  const ptb = (mtu: number, link: string) => {
    const b = Buffer.alloc(8 + 40)
    b[0] = 2 // RFC 4443 §3.2 Packet Too Big
    b.writeUInt32BE(mtu, 4)
    b[8] = 0x60
    b[8 + 6] = 41
    parseIp6(MAG).copy(b, 8 + 8)
    parseIp6(LMA).copy(b, 8 + 24)
    ndIn({ data: b, src: '2001:db8:ffff::fe', dst: MAG, link, hopLimit: 64 })
  }
  const attach = () => d.enqueue({ type: 'attached', at: now, link: 'mn1', mnId: 'mn1@example.com', att: 4 })
  return { d, pbus, ras, accept, ptb, attach }
}

/** A LinkAddressOps whose add() answers when the test says so. */
function controlledOps() {
  const calls: string[] = []
  let answer: ((r: AddressAdded) => void) | null = null
  let fail: ((e: Error) => void) | null = null
  const ops: LinkAddressOps = {
    add: (link, address) => {
      calls.push(`add ${link} ${address}`)
      return new Promise<AddressAdded>((res, rej) => {
        answer = res
        fail = rej
      })
    },
    del: async (link, address) => void calls.push(`del ${link} ${address}`),
    close: () => undefined,
  }
  return { ops, calls, ready: () => answer?.({ result: 'ready', added: true, dadOff: false }), duplicate: () => answer?.({ result: 'duplicate', added: true, dadOff: false }), fail: (e: Error) => fail?.(e) }
}

const mtuOf = (r: Ra): number | undefined => {
  const o = r.ra.options.find((x) => x.type === 'mtu')
  return o?.type === 'mtu' ? o.mtu : undefined
}

describe('daemon: the LMA-supplied router address (RFC 5213 §6.9.1.2 item 15)', () => {
  test('§6.9.1.2 item 15: the first RA waits until the address add has completed, then comes from it', async () => {
    const c = controlledOps()
    const w = world(c.ops)
    await w.d.start()
    w.attach()
    w.accept(w.pbus[0]!)
    await settle()
    expect(c.calls).toEqual([`add mn1 ${LLA}`])
    expect(w.ras).toEqual([])
    c.ready()
    await settle()
    expect(w.ras.map((r) => [r.link, r.src])).toEqual([['mn1', LLA]])
    w.d.enqueue({ type: 'detached', at: Date.now(), link: 'mn1', mnId: 'mn1@example.com', cause: 'left' })
    await settle()
    expect(c.calls).toEqual([`add mn1 ${LLA}`, `del mn1 ${LLA}`])
    await w.d.stop(false)
  })

  test('§6.9.1.2 item 15: a kernel refusal sends no RA and ends the binding with the reason', async () => {
    const c = controlledOps()
    const w = world(c.ops)
    await w.d.start()
    w.attach()
    w.accept(w.pbus[0]!)
    await settle()
    c.fail(new Error('add address on mn1: ENODEV'))
    await settle()
    expect(w.ras).toEqual([])
    expect(w.pbus[w.pbus.length - 1]!.lifetime).toBe(0)
    expect(w.d.bindings()[0]).toMatchObject({ state: 'deregistering', reason: 'router-address-failed: add address on mn1: ENODEV' })
    await w.d.stop(false)
  })
})

describe('daemon: Packet Too Big (RFC 5213 §6.9.5, RFC 8201 §4)', () => {
  test('§6.9.5: a PTB about our packets to the LMA lowers the MTU of the next RA (one from an access link is dropped); uplink and access link MTU changes follow', async () => {
    const w = world(undefined)
    await w.d.start()
    w.d.setUplink('up0', 1500)
    w.attach()
    w.accept(w.pbus[0]!)
    expect(w.ras.map(mtuOf)).toEqual([1460])
    w.ptb(1300, 'mn1')
    expect(w.ras).toHaveLength(1)
    w.ptb(1400, 'up0')
    expect(w.ras.map(mtuOf)).toEqual([1460, 1360])
    w.ptb(1200, 'up0')
    w.ptb(1450, 'up0')
    expect(w.ras).toHaveLength(2)
    const c = w.d.status().counters
    expect(c).toMatchObject({ 'icmp.ptb.accepted': 1, 'icmp.ptb.dropped.from-access-link': 1, 'icmp.ptb.dropped.below-minimum': 1, 'icmp.ptb.dropped.not-lower': 1 })
    w.d.linkMtu('up0', 1380)
    expect(w.ras.map(mtuOf)).toEqual([1460, 1360, 1340])
    // An access link's MTU: the first report is the baseline, a change caps the MN's MTU option.
    w.d.linkMtu('mn1', 1500)
    expect(w.ras).toHaveLength(3)
    w.d.linkMtu('mn1', 1300)
    expect(w.ras.map(mtuOf)).toEqual([1460, 1360, 1340, 1300])
    await w.d.stop(false)
  })
})

describe('link-address executor: commands for one address run in order', () => {
  test('§6.9.1.2 item 15: up, down, up again while DAD runs: only the last up reports, after the down ran', async () => {
    const steps: string[] = []
    const pending: (() => void)[] = []
    const ops: LinkAddressOps = {
      add: (link, address) => {
        steps.push(`add ${link} ${address}`)
        return new Promise<AddressAdded>((res) => pending.push(() => res({ result: 'ready', added: true, dadOff: false })))
      },
      del: async (link, address) => void steps.push(`del ${link} ${address}`),
      close: () => undefined,
    }
    const reports: LinkAddressReport[] = []
    const noop = () => undefined
    const x = new LinkAddressExecutor(ops, (r) => reports.push(r), { debug: noop, info: noop, warn: noop, error: noop }, new Counters())
    x.up('mn1', LLA)
    x.down('mn1', LLA)
    x.up('mn1', LLA)
    await settle()
    pending.shift()!()
    await settle()
    expect(steps).toEqual([`add mn1 ${LLA}`, `del mn1 ${LLA}`, `add mn1 ${LLA}`])
    expect(reports).toEqual([])
    pending.shift()!()
    await x.idle()
    expect(reports).toEqual([{ link: 'mn1', address: LLA, result: 'ready' }])
    await x.close()
  })
})
