// The runner over the in-memory transport, with a real control socket (UNIX, in a temp dir).
import { createConnection, type Socket } from 'node:net'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mh } from '@pmip6/wire'
import { MemoryTransport, startLma, validateConfig, type BindingEvent, type LmaHandle } from '@pmip6/lab-lma'
import { LMA, MAG1, NAI, pbuBytes } from './helpers/pbu'

/** A control-socket client: one JSON line out, one JSON line back. */
class Client {
  readonly #sock: Socket
  #buf = ''
  readonly #waiting: Array<(line: string) => void> = []
  readonly #lines: string[] = []

  private constructor(sock: Socket) {
    this.#sock = sock
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      this.#buf += chunk
      let nl: number
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl)
        this.#buf = this.#buf.slice(nl + 1)
        const w = this.#waiting.shift()
        if (w !== undefined) w(line)
        else this.#lines.push(line)
      }
    })
  }

  static connect(path: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path)
      s.once('connect', () => resolve(new Client(s)))
      s.once('error', reject)
    })
  }

  /** Sends a raw line and waits for the reply line (bounded). */
  raw(line: string): Promise<Record<string, unknown>> {
    this.#sock.write(`${line}\n`)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${line}`)), 2_000)
      const done = (l: string): void => {
        clearTimeout(timer)
        resolve(JSON.parse(l) as Record<string, unknown>)
      }
      const queued = this.#lines.shift()
      if (queued !== undefined) done(queued)
      else this.#waiting.push(done)
    })
  }

  req(o: object): Promise<Record<string, unknown>> {
    return this.raw(JSON.stringify(o))
  }

  close(): void {
    this.#sock.destroy()
  }
}

function nextBinding(h: LmaHandle, type: BindingEvent['type'], timeoutMs = 2_000): Promise<BindingEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      h.events.off('binding', on)
      reject(new Error(`no ${type} within ${timeoutMs} ms`))
    }, timeoutMs)
    const on = (ev: BindingEvent): void => {
      if (ev.type !== type) return
      clearTimeout(timer)
      h.events.off('binding', on)
      resolve(ev)
    }
    h.events.on('binding', on)
  })
}

describe('lab LMA runner (in-memory transport, real control socket)', () => {
  let dir: string
  let sockPath: string
  let net: MemoryTransport
  let lma: LmaHandle
  let client: Client

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lma-ctl-'))
    sockPath = join(dir, 'lma.sock')
    net = new MemoryTransport()
    const config = validateConfig({ address: LMA, pool: '2001:db8:100::/48', minDelayBeforeBceDeleteMs: 50, controlSocket: sockPath })
    lma = await startLma(config, { transport: net })
    client = await Client.connect(sockPath)
  })

  afterAll(async () => {
    client?.close()
    await lma?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('the control socket is mode 0600', () => {
    expect(statSync(sockPath).mode & 0o777).toBe(0o600)
  })

  test('a PBU gets a PBA from the LMA address, the binding is reported, and status/bindings show it', async () => {
    const created = nextBinding(lma, 'binding-created')
    const sent = net.nextSent()
    net.deliver(pbuBytes({ seq: 1 }, Date.now()), MAG1, LMA)
    const s = await sent
    expect(s.dst).toBe(MAG1)
    expect(s.src).toBe(LMA)
    expect(mh.decode(s.bytes)).toMatchObject({ kind: 'binding-ack', status: 0, sequence: 1 })
    expect(await created).toMatchObject({ mnId: NAI, mag: MAG1, prefixes: ['2001:db8:100::/64'] })

    const st = await client.req({ cmd: 'status', id: 7 })
    expect(st).toMatchObject({ ok: true, id: 7, status: { address: LMA, bindings: 1, restartCounter: 0, timestampMode: 'auto', controlSocket: sockPath } })
    const b = await client.req({ cmd: 'bindings' })
    expect(b).toMatchObject({ ok: true, bindings: [{ mnId: NAI, mag: MAG1, prefixes: ['2001:db8:100::/64'], state: 'active' }] })
  })

  test('fault: drop the next PBU, then answer the retransmission', async () => {
    expect(await client.req({ cmd: 'fault', drop: 1 })).toMatchObject({ ok: true, faults: { dropNext: 1 } })
    const before = net.sent.length
    net.deliver(pbuBytes({ seq: 2, hi: 5 }, Date.now()), MAG1, LMA)
    expect(net.sent.length).toBe(before)
    const sent = net.nextSent()
    net.deliver(pbuBytes({ seq: 3, hi: 5 }, Date.now()), MAG1, LMA)
    expect(mh.decode((await sent).bytes)).toMatchObject({ kind: 'binding-ack', status: 0, sequence: 3 })
  })

  test('fault: answer late, and force a status once', async () => {
    await client.req({ cmd: 'fault', delayMs: 150, status: { status: 130, once: true } })
    const t0 = Date.now()
    const sent = net.nextSent()
    net.deliver(pbuBytes({ seq: 4, hi: 5 }, Date.now()), MAG1, LMA)
    const s = await sent
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
    expect(mh.decode(s.bytes)).toMatchObject({ kind: 'binding-ack', status: 130, sequence: 4 })
    expect(await client.req({ cmd: 'fault', clear: true })).toEqual({
      ok: true,
      faults: { dropAll: false, dropNext: 0, delayMs: 0, silent: false, statusRules: [] },
    })
  })

  test('gc: a full collection when node runs with --expose-gc (benchmarks), a plain refusal otherwise', async () => {
    const g = globalThis as { gc?: () => void }
    const had = g.gc
    try {
      g.gc = undefined
      expect(await client.req({ cmd: 'gc', id: 1 })).toEqual({ ok: false, id: 1, error: 'start the LMA with node --expose-gc to allow this' })
      let runs = 0
      g.gc = () => void runs++
      expect(await client.req({ cmd: 'gc' })).toEqual({ ok: true, heapUsedBytes: expect.any(Number) })
      expect(runs).toBe(1)
    } finally {
      g.gc = had
    }
  })

  test('bad requests get {ok:false} and the server keeps serving, on the same connection', async () => {
    expect(await client.raw('{not json')).toMatchObject({ ok: false, error: expect.stringMatching(/^bad JSON/) })
    expect(await client.raw('[1,2]')).toMatchObject({ ok: false })
    expect(await client.req({ cmd: 'reboot' })).toMatchObject({ ok: false, error: expect.stringContaining('unknown cmd "reboot"') })
    expect(await client.req({ cmd: 'fault', delayMs: -1 })).toEqual({ ok: false, error: 'fault.delayMs: not a non-negative integer' })
    expect(await client.req({ cmd: 'fault', drop: 'some' })).toEqual({ ok: false, error: "fault.drop: not 'all', 'none' or a count" })
    expect(await client.req({ cmd: 'fault', status: { status: 300 } })).toMatchObject({ ok: false, error: 'fault.status.status: not a status code (0-255)' })
    expect(await client.req({ cmd: 'fault', colour: 'red' })).toMatchObject({ ok: false, error: expect.stringContaining('fault.colour: unknown field') })
    expect(await client.req({ cmd: 'status' })).toMatchObject({ ok: true })
    const other = await Client.connect(sockPath)
    expect(await other.req({ cmd: 'bindings' })).toMatchObject({ ok: true })
    other.close()
  })

  test('de-registration: the BCE goes after MinDelayBeforeBCEDelete on a real timer', async () => {
    const deleted = nextBinding(lma, 'binding-deleted')
    net.deliver(pbuBytes({ seq: 5, hi: 5, lifetime: 0 }, Date.now()), MAG1, LMA)
    expect(await deleted).toMatchObject({ mnId: NAI, reason: 'deregistered' })
    expect(await client.req({ cmd: 'bindings' })).toEqual({ ok: true, bindings: [] })
  })

  test('fault reset over the control socket bumps the Restart Counter', async () => {
    expect(await client.req({ cmd: 'fault', reset: true })).toMatchObject({ ok: true })
    expect(await client.req({ cmd: 'status' })).toMatchObject({ status: { restartCounter: 1, counters: { resets: 1 } } })
  })

  test('a second LMA on the same control socket is refused; a stopped LMA removes its socket', async () => {
    const cfg = validateConfig({ address: LMA, pool: '2001:db8:100::/48', controlSocket: sockPath })
    await expect(startLma(cfg, { transport: new MemoryTransport() })).rejects.toThrow(/in use/)
    const path2 = join(dir, 'second.sock')
    const t = new MemoryTransport()
    const h = await startLma(cfg, { transport: t, controlSocket: path2 })
    expect(existsSync(path2)).toBe(true)
    await h.stop()
    await h.stop()
    expect(existsSync(path2)).toBe(false)
    expect(t.closed).toBe(true)
  })
})
