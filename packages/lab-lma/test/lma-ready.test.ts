// The runner's start order and readiness (first-contact issue): the data plane opens before the
// LMA reads a single PBU, a PBA leaves only once its binding's route is in place, and
// `status().ready` says when the LMA is ready for traffic. A scripted data plane stands in for
// the kernel's; lma-ready-netns.test.ts checks the same on real sockets and rtnetlink.
import { mh } from '@pmip6/wire'
import { MemoryTransport, startLma, validateConfig, type LmaDataPlane, type LmaHandle } from '@pmip6/lab-lma'
import type { ForwardingRequest } from '@pmip6/dataplane'
import { LMA, MAG1, NAI, pbuBytes } from './helpers/pbu'

/** Resolves when `fn` returns true, polling every 5 ms; fails after `ms`. */
async function until(what: string, fn: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** A data plane whose open and whose changes finish when the test says so. */
class ScriptedDataPlane implements LmaDataPlane {
  readonly backend = 'scripted'
  readonly ups: ForwardingRequest[] = []
  readonly downs: string[] = []
  closed = false
  #release: Array<() => void> = []

  up(req: ForwardingRequest): Promise<void> {
    this.ups.push(req)
    return new Promise((r) => this.#release.push(r))
  }
  down(id: string): Promise<void> {
    this.downs.push(id)
    return Promise.resolve()
  }
  /** Lets every change asked so far finish. */
  finish(): void {
    for (const r of this.#release.splice(0)) r()
  }
  async idle(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true
  }
  snapshot(): unknown {
    return { ups: this.ups.length }
  }
}

describe('lab LMA start order and readiness (RFC 5213 §5.6: no binding without its route)', () => {
  const config = validateConfig({ address: LMA, pool: '2001:db8:100::/48', dataplane: true })
  let lma: LmaHandle | undefined
  let dp: ScriptedDataPlane

  beforeEach(() => {
    dp = new ScriptedDataPlane()
  })

  afterEach(async () => {
    dp.finish()
    await lma?.stop()
    lma = undefined
  })

  test('§5.6 no PBU is read before the data plane is open; the first one after gets its route before its PBA', async () => {
    const net = new MemoryTransport()
    let open!: (d: LmaDataPlane) => void
    const starting = startLma(config, { transport: net, controlSocket: null, openDataplane: () => new Promise((r) => (open = r)) })
    // A MAG that does not wait: its PBU arrives while the data plane is still opening.
    await until('the data plane to be asked for', () => open !== undefined)
    net.deliver(pbuBytes({ seq: 1 }, Date.now()), MAG1, LMA)
    expect(net.sent).toEqual([]) // not read, not answered: the MAG retransmits (§6.9.4)
    open(dp)
    lma = await starting
    expect(lma.core.bindings()).toEqual([]) // the early PBU made no binding without a route
    expect(lma.status()).toMatchObject({ ready: true, dataplane: { backend: 'scripted', failures: 0 } })

    // The retransmission: the binding is made, its route asked for, and the PBA waits for it.
    net.deliver(pbuBytes({ seq: 2 }, Date.now()), MAG1, LMA)
    expect(dp.ups).toEqual([{ id: NAI, link: '', prefixes: ['2001:db8:100::/64'], peer: MAG1 }])
    await new Promise((r) => setImmediate(r)) // every pending promise step has run
    expect(net.sent).toEqual([])
    const pba = net.nextSent()
    dp.finish()
    expect(mh.decode((await pba).bytes)).toMatchObject({ kind: 'binding-ack', status: 0, sequence: 2 })
  })

  test('a Heartbeat is answered at once (no route to wait for); a refresh PBA waits for its change', async () => {
    const net = new MemoryTransport()
    lma = await startLma(config, { transport: net, controlSocket: null, openDataplane: async () => dp })
    net.deliver(pbuBytes({ seq: 1 }, Date.now()), MAG1, LMA)
    dp.finish()
    await until('the first PBA', () => net.sent.length === 1)
    net.deliver(mh.encode({ kind: 'heartbeat', flags: { u: false, r: false }, sequence: 9, options: [] }), MAG1, LMA)
    expect(net.sent.length).toBe(2)
    net.deliver(pbuBytes({ seq: 2, hi: 5, hnp: '2001:db8:100::/64' }, Date.now()), MAG1, LMA)
    expect(dp.ups).toHaveLength(2)
    expect(net.sent.length).toBe(2)
    dp.finish()
    await until('the refresh PBA', () => net.sent.length === 3)
  })

  test('stop: not ready any more, the data plane closed', async () => {
    lma = await startLma(config, { transport: new MemoryTransport(), controlSocket: null, openDataplane: async () => dp })
    expect(lma.status().ready).toBe(true)
    await lma.stop()
    expect(lma.status().ready).toBe(false)
    expect(dp.closed).toBe(true)
  })

  test('a data plane that cannot open: the start fails and no MH socket is left', async () => {
    const net = new MemoryTransport()
    await expect(startLma(config, { transport: net, controlSocket: null, openDataplane: () => Promise.reject(new Error('no seg6')) })).rejects.toThrow('no seg6')
    net.deliver(pbuBytes({ seq: 1 }, Date.now()), MAG1, LMA)
    expect(net.sent).toEqual([])
  })

  test('RFC 5845: greKeys on a data plane without ip6gre stops the start naming greKeys; with ip6gre, a keyed binding asks for its keys', async () => {
    const keyed = validateConfig({ address: LMA, pool: '2001:db8:100::/48', dataplane: true, greKeys: 'on' })
    const noGre = Object.assign(new ScriptedDataPlane(), { gre: false })
    await expect(startLma(keyed, { transport: new MemoryTransport(), controlSocket: null, openDataplane: async () => noGre })).rejects.toThrow(/^greKeys: on needs ip6gre/)
    expect(noGre.closed).toBe(true)
    const net = new MemoryTransport()
    const withGre = Object.assign(dp, { gre: true })
    lma = await startLma(keyed, { transport: net, controlSocket: null, openDataplane: async () => withGre })
    net.deliver(pbuBytes({ seq: 1, extra: [{ type: 'gre-key', key: 0x1001 }] }, Date.now()), MAG1, LMA)
    expect(dp.ups).toEqual([expect.objectContaining({ id: NAI, peer: MAG1, gre: { uplink: expect.any(Number), downlink: 0x1001 } })])
  })
})
