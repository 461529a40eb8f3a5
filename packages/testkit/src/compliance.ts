/**
 * The access-driver compliance suite (design.md, "Drivers report facts; the core decides"):
 * every driver's jest tests call `driverCompliance(name, makeHarness)`. The harness owns the
 * world outside the driver (a fake or real hostapd, pppd's hooks, the mock's own API) and
 * makes MNs come and go there; the suite checks only what the AccessDriver contract promises.
 */
import type { AccessDriver, AttachedFact, DetachedFact, LinkEvent } from '@pmip6/driver-api'

export interface DriverHarness {
  /** A driver built over this harness's world, not yet started. */
  readonly driver: AccessDriver
  /** Makes MN number `i` (0, 1, ...) attach in the world; resolves once the world has it. */
  attach(i: number): Promise<void>
  /** Makes MN `i` leave. */
  detach(i: number): Promise<void>
  /**
   * The driver's restart: stop `old` and return a started driver that learned the world anew
   * (a new instance for real links; the same one for a link that lives in the driver).
   */
  restart(old: AccessDriver): Promise<AccessDriver>
  /** Removes everything the harness made. */
  cleanup(): Promise<void>
  /** How long facts may take to arrive; default 3000 ms. */
  readonly factTimeoutMs?: number
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

/** Throws unless `ev` is a well-formed fact: link, normalised MAC, ATT, an identifier. */
export function assertWellFormed(ev: LinkEvent): void {
  if (typeof ev.link !== 'string' || ev.link.length === 0) throw new Error(`fact without a link: ${JSON.stringify(ev)}`)
  if (ev.mac !== undefined && !MAC_RE.test(ev.mac)) throw new Error(`MAC not in lower-case colon form: ${JSON.stringify(ev)}`)
  if (ev.mnId !== undefined && (typeof ev.mnId !== 'string' || ev.mnId.length === 0)) throw new Error(`empty mnId: ${JSON.stringify(ev)}`)
  if (ev.mac === undefined && ev.mnId === undefined) throw new Error(`fact names neither a MAC nor an MN identifier: ${JSON.stringify(ev)}`)
  if (ev.type === 'attached') {
    if (!Number.isInteger(ev.att) || ev.att < 0 || ev.att > 255) throw new Error(`access technology not an 8-bit number: ${JSON.stringify(ev)}`)
  } else if (ev.type === 'detached') {
    if (!['left', 'lost', 'admin'].includes(ev.cause)) throw new Error(`unknown detach cause: ${JSON.stringify(ev)}`)
  } else {
    throw new Error(`unknown fact type: ${JSON.stringify(ev)}`)
  }
}

/** Collects a driver's facts and waits, bounded, for one that matches. */
export class FactLog {
  readonly facts: LinkEvent[] = []
  private readonly waiters = new Set<() => void>()
  readonly unsubscribe: () => void

  constructor(driver: AccessDriver) {
    this.unsubscribe = driver.onEvent((ev) => {
      this.facts.push(ev)
      for (const w of [...this.waiters]) w()
    })
  }

  /** Facts before this index were consumed by next(). */
  private cursor = 0

  /**
   * The first unconsumed fact of `type` matching `pred`, waiting for it if needed (facts may
   * arrive synchronously, inside the call that caused them, so earlier ones count too).
   */
  async next<T extends LinkEvent['type']>(type: T, pred: (ev: Extract<LinkEvent, { type: T }>) => boolean = () => true, timeoutMs = 3000): Promise<Extract<LinkEvent, { type: T }>> {
    const find = (): Extract<LinkEvent, { type: T }> | undefined => {
      for (let i = this.cursor; i < this.facts.length; i++) {
        const f = this.facts[i]!
        if (f.type === type && pred(f as Extract<LinkEvent, { type: T }>)) {
          this.cursor = i + 1
          return f as Extract<LinkEvent, { type: T }>
        }
      }
      return undefined
    }
    return this.wait(find, `${type} fact`, timeoutMs)
  }

  /** Like next(), but also accepts facts that arrived before the call. */
  async seen<T extends LinkEvent['type']>(type: T, pred: (ev: Extract<LinkEvent, { type: T }>) => boolean, timeoutMs = 3000): Promise<Extract<LinkEvent, { type: T }>> {
    const find = (): Extract<LinkEvent, { type: T }> | undefined => this.facts.find((f): f is Extract<LinkEvent, { type: T }> => f.type === type && pred(f as Extract<LinkEvent, { type: T }>))
    return this.wait(find, `${type} fact`, timeoutMs)
  }

  /** Waits until `n` facts of `type` have arrived in all. */
  async count(type: LinkEvent['type'], n: number, timeoutMs = 3000): Promise<void> {
    await this.wait(() => (this.facts.filter((f) => f.type === type).length >= n ? true : undefined), `${n} ${type} facts`, timeoutMs)
  }

  private wait<R>(find: () => R | undefined, what: string, timeoutMs: number): Promise<R> {
    const hit = find()
    if (hit !== undefined) return Promise.resolve(hit)
    return new Promise<R>((resolve, reject) => {
      const check = () => {
        const h = find()
        if (h === undefined) return
        this.waiters.delete(check)
        clearTimeout(timer)
        resolve(h)
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`no ${what} within ${timeoutMs} ms; facts so far: ${JSON.stringify(this.facts)}`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Registers the compliance tests for one driver. */
export function driverCompliance(name: string, makeHarness: () => Promise<DriverHarness>): void {
  describe(`${name}: access driver compliance`, () => {
    let h: DriverHarness | null = null
    const drivers: AccessDriver[] = []
    const fresh = async (): Promise<DriverHarness> => {
      h = await makeHarness()
      drivers.push(h.driver)
      return h
    }
    const timeout = (): number => h?.factTimeoutMs ?? 3000

    afterEach(async () => {
      for (const d of drivers.splice(0)) await d.stop().catch(() => undefined)
      await h?.cleanup()
      h = null
    })

    test('start and stop are idempotent', async () => {
      const { driver } = await fresh()
      expect(typeof driver.name).toBe('string')
      expect(driver.name.length).toBeGreaterThan(0)
      await driver.start()
      await driver.start()
      await driver.stop()
      await driver.stop()
      await driver.start()
      await driver.stop()
    })

    test('an attach and a detach become well-formed facts for the same MN', async () => {
      const hh = await fresh()
      await hh.driver.start()
      const log = new FactLog(hh.driver)
      await hh.attach(0)
      const a: AttachedFact = await log.next('attached', () => true, timeout())
      assertWellFormed(a)
      await hh.detach(0)
      const d: DetachedFact = await log.next('detached', (f) => f.link === a.link && f.mac === a.mac && (a.mac !== undefined || f.mnId === a.mnId), timeout())
      assertWellFormed(d)
      for (const f of log.facts) assertWellFormed(f)
      log.unsubscribe()
    })

    test('present() follows the MN', async () => {
      const hh = await fresh()
      await hh.driver.start()
      const log = new FactLog(hh.driver)
      await hh.attach(1)
      const a = await log.next('attached', () => true, timeout())
      const q = { link: a.link, ...(a.mac ? { mac: a.mac } : {}), ...(a.mnId ? { mnId: a.mnId } : {}) }
      expect(await hh.driver.present(q)).toBe(true)
      expect(await hh.driver.present({ link: `${a.link}-not-a-link`, ...(a.mac ? { mac: a.mac } : {}) })).toBe(false)
      await hh.detach(1)
      await log.next('detached', () => true, timeout())
      expect(await hh.driver.present(q)).toBe(false)
      log.unsubscribe()
    })

    test('attached() lists exactly who is attached', async () => {
      const hh = await fresh()
      await hh.driver.start()
      const log = new FactLog(hh.driver)
      await hh.attach(0)
      await hh.attach(1)
      await log.count('attached', 2, timeout())
      const now = await hh.driver.attached()
      expect(now.length).toBe(2)
      now.forEach(assertWellFormed)
      await hh.detach(0)
      await log.next('detached', () => true, timeout())
      expect((await hh.driver.attached()).length).toBe(1)
      log.unsubscribe()
    })

    test('no event reaches a listener after stop(), nor after unsubscribing', async () => {
      const hh = await fresh()
      await hh.driver.start()
      const log = new FactLog(hh.driver)
      const other = new FactLog(hh.driver)
      other.unsubscribe()
      await hh.attach(0)
      await log.next('attached', () => true, timeout())
      await hh.driver.stop()
      const before = log.facts.length
      // The world goes on without the driver; a link that lives in the driver may refuse.
      await hh.detach(0).catch(() => undefined)
      await hh.attach(1).catch(() => undefined)
      await sleep(400)
      expect(log.facts.length).toBe(before)
      expect(other.facts.length).toBe(0)
      log.unsubscribe()
    })

    test('after a restart, attached() reports the MNs still there', async () => {
      const hh = await fresh()
      await hh.driver.start()
      const log = new FactLog(hh.driver)
      await hh.attach(0)
      const a = await log.next('attached', () => true, timeout())
      log.unsubscribe()
      const again = await hh.restart(hh.driver)
      drivers.push(again)
      const now = await again.attached()
      now.forEach(assertWellFormed)
      expect(now.some((f) => f.link === a.link && f.mac === a.mac && (a.mac !== undefined || f.mnId === a.mnId))).toBe(true)
      expect(await again.present({ link: a.link, ...(a.mac ? { mac: a.mac } : {}), ...(a.mnId ? { mnId: a.mnId } : {}) })).toBe(true)
      // The restarted driver still reports what happens next.
      const log2 = new FactLog(again)
      await hh.detach(0)
      assertWellFormed(await log2.next('detached', (f) => f.link === a.link, timeout()))
      log2.unsubscribe()
    })
  })
}
