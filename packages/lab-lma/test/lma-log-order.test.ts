// Issue 23: at info level the lab LMA's lines about a registration (the binding's own and the
// data plane's, such as 'tunnel up' for a new MAG) are written after the PBA leaves, never in
// front of it: winston formats and writes each line synchronously, and a PBA held behind its
// route once waited for two of them.
import { MemoryTransport, startLma, validateConfig, type LmaDataPlane, type LmaHandle, type Logger } from '@pmip6/lab-lma'
import type { ForwardingRequest } from '@pmip6/dataplane'
import { LMA, MAG1, NAI, pbuBytes } from './helpers/pbu'

/** A data plane that finishes each change on a later turn and logs as the kernel's does. */
class LoggingDataPlane implements LmaDataPlane {
  readonly backend = 'scripted'
  constructor(private readonly log: Logger) {}
  up(req: ForwardingRequest): Promise<void> {
    return new Promise((resolve) =>
      setImmediate(() => {
        // The kernel data plane logs a new peer's tunnel when its ack comes, before resolving.
        this.log.info('tunnel up', { peer: req.peer })
        resolve()
      }),
    )
  }
  down(): Promise<void> {
    return Promise.resolve()
  }
  async idle(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('lab LMA log lines and the PBA (issue 23)', () => {
  let lma: LmaHandle | undefined
  afterEach(async () => {
    await lma?.stop()
    lma = undefined
  })

  test('the binding line and the data plane line of a registration come after its PBA', async () => {
    const net = new MemoryTransport()
    /** Each line with how many packets the LMA had sent when it was written. */
    const written: { msg: string; sentBefore: number }[] = []
    const put = (msg: string): void => {
      written.push({ msg, sentBefore: net.sent.length })
    }
    const log: Logger = { error: put, warn: put, info: put, debug: () => undefined, isLevelEnabled: (l) => l !== 'debug' }
    lma = await startLma(validateConfig({ address: LMA, pool: '2001:db8:100::/48', dataplane: true }), {
      transport: net,
      controlSocket: null,
      log,
      openDataplane: async (_c, l) => new LoggingDataPlane(l),
    })
    const pba = net.nextSent()
    net.deliver(pbuBytes({ seq: 1 }, Date.now()), MAG1, LMA)
    await pba
    // Bounded: the lines follow on the PBA's own turn.
    const end = Date.now() + 2_000
    while (!(written.some((w) => w.msg === 'binding-created') && written.some((w) => w.msg === 'tunnel up')) && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
    const created = written.find((w) => w.msg === 'binding-created')
    const tunnel = written.find((w) => w.msg === 'tunnel up')
    expect(created).toBeDefined()
    expect(tunnel).toBeDefined()
    expect(created!.sentBefore).toBe(1)
    expect(tunnel!.sentBefore).toBe(1)
    expect(lma.bindings()).toEqual([expect.objectContaining({ mnId: NAI })])
  })
})
