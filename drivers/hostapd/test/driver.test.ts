// The hostapd driver against a fake hostapd on real AF_UNIX datagram sockets: the compliance
// suite, then what is special to hostapd (802.1X identity, per-station interfaces, restart
// reconciliation, several interfaces, teardown).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AccessDriver, LinkEvent, Logger } from '@pmip6/driver-api'
import { driverCompliance, FactLog, sleep } from '@pmip6/testkit'
import { hostapd, type HostapdInit } from '../src'
import { FakeHostapd } from './fake-hostapd'

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }
const ctx = { log: quiet, clock: { now: () => Date.now() } }
const mac = (i: number): string => `02:00:00:00:0a:${(i + 1).toString(16).padStart(2, '0')}`

function world(init: Partial<HostapdInit> = {}, ifaces = ['wlan0']) {
  const dir = mkdtempSync(join(tmpdir(), 'hapd-test-'))
  const aps = ifaces.map((n) => new FakeHostapd(join(dir, 'ctrl'), n))
  aps.forEach((a) => a.start())
  const make = (): AccessDriver =>
    hostapd({ interfaces: ifaces.map((name) => ({ name })), ctrlDir: join(dir, 'ctrl'), clientDir: dir, pingIntervalMs: 100, requestTimeoutMs: 300, ...init }, ctx)
  return {
    dir,
    aps,
    make,
    cleanup: () => {
      aps.forEach((a) => a.stop())
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

driverCompliance('hostapd', async () => {
  const w = world()
  const ap = w.aps[0]!
  return {
    driver: w.make(),
    attach: async (i) => ap.connect(mac(i)),
    detach: async (i) => ap.disconnect(mac(i)),
    restart: async (old) => {
      await old.stop()
      const d = w.make()
      await d.start()
      return d
    },
    cleanup: async () => w.cleanup(),
  }
})

describe('hostapd driver', () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })
  const setup = async (init: Partial<HostapdInit> = {}, ifaces = ['wlan0']) => {
    const w = world(init, ifaces)
    const d = w.make()
    cleanups.push(w.cleanup, () => d.stop())
    await d.start()
    return { ...w, d, log: new FactLog(d) }
  }

  test('facts carry ATT 4, the interface as link, and the 802.1X identity when configured', async () => {
    const w = world({}, ['wlan0'])
    const d = hostapd({ interfaces: [{ name: 'wlan0', identity: 'dot1x' }], ctrlDir: join(w.dir, 'ctrl'), clientDir: w.dir, pingIntervalMs: 100 }, ctx)
    cleanups.push(w.cleanup, () => d.stop())
    await d.start()
    const log = new FactLog(d)
    w.aps[0]!.connect('02:00:00:00:0A:01', 'mn1@example.org')
    expect(await log.next('attached')).toEqual({ type: 'attached', link: 'wlan0', mac: '02:00:00:00:0a:01', att: 4, mnId: 'mn1@example.org' })
    w.aps[0]!.disconnect('02:00:00:00:0a:01')
    expect(await log.next('detached')).toEqual({ type: 'detached', link: 'wlan0', mac: '02:00:00:00:0a:01', mnId: 'mn1@example.org', cause: 'left' })
  })

  test('per_sta_vif: each station is on its own link <iface>.sta<aid>', async () => {
    const { aps, d, log } = await setup({ interfaces: [{ name: 'wlan0', perStaVif: true }] })
    aps[0]!.connect(mac(0))
    aps[0]!.connect(mac(1))
    await log.count('attached', 2)
    expect((log.facts as LinkEvent[]).map((f) => f.link)).toEqual(['wlan0.sta1', 'wlan0.sta2'])
    expect(await d.present({ link: 'wlan0.sta2', mac: mac(1) })).toBe(true)
    expect(await d.present({ link: 'wlan0.sta1', mac: mac(1) })).toBe(false)
  })

  test('hostapd restart: re-ATTACH, attach the new stations, detach the gone ones', async () => {
    const { aps, d, log } = await setup()
    const ap = aps[0]!
    ap.connect(mac(0))
    ap.connect(mac(1))
    await log.count('attached', 2)
    ap.stop()
    ap.disconnect(mac(0), true) // left while hostapd was down
    ap.connect(mac(2)) // came while hostapd was down (no monitor: no event)
    await sleep(250)
    ap.start()
    const lost = await log.next('detached', (f) => f.mac === mac(0), 3000)
    expect(lost.cause).toBe('lost')
    await log.seen('attached', (f) => f.mac === mac(2), 3000)
    expect((await d.attached()).map((f) => f.mac).sort()).toEqual([mac(1), mac(2)])
    // Events flow again on the new socket.
    ap.disconnect(mac(1))
    await log.next('detached', (f) => f.mac === mac(1))
    expect(ap.commands.filter((c) => c === 'ATTACH').length).toBeGreaterThanOrEqual(1)
  })

  test('a hostapd that is not there yet is picked up when it appears', async () => {
    const w = world()
    w.aps[0]!.stop()
    const d = w.make()
    cleanups.push(w.cleanup, () => d.stop())
    await d.start()
    const log = new FactLog(d)
    w.aps[0]!.start()
    w.aps[0]!.stations.set(mac(5), { aid: 9, authorized: true })
    w.aps[0]!.associateOnly(mac(6))
    const a = await log.next('attached', () => true, 3000)
    expect(a.mac).toBe(mac(5))
    await sleep(300)
    expect((await d.attached()).map((f) => f.mac)).toEqual([mac(5)]) // the unauthorized one is not attached
  })

  test('several interfaces at once', async () => {
    const { aps, log } = await setup({}, ['wlan0', 'wlan1'])
    aps[0]!.connect(mac(0))
    aps[1]!.connect(mac(1))
    await log.count('attached', 2)
    expect(log.facts.map((f) => `${f.link} ${f.mac}`).sort()).toEqual([`wlan0 ${mac(0)}`, `wlan1 ${mac(1)}`])
  })

  test('teardown deauthenticates (or disassociates) the station', async () => {
    const { aps, d, log } = await setup()
    aps[0]!.connect(mac(0))
    await log.next('attached')
    await d.teardown!({ link: 'wlan0', mac: mac(0) })
    await log.seen('detached', (f) => f.mac === mac(0))
    expect(aps[0]!.commands).toContain(`DEAUTHENTICATE ${mac(0)}`)

    const w = world({ teardown: 'disassociate' })
    const d2 = w.make()
    cleanups.push(w.cleanup, () => d2.stop())
    await d2.start()
    w.aps[0]!.connect(mac(1))
    await sleep(100)
    await d2.teardown!({ link: 'wlan0', mac: mac(1) })
    expect(w.aps[0]!.commands).toContain(`DISASSOCIATE ${mac(1)}`)
  })

  test('present() falls back to the last known state while hostapd does not answer', async () => {
    const { aps, d, log } = await setup({ pingIntervalMs: 60_000 })
    aps[0]!.connect(mac(0))
    await log.next('attached')
    aps[0]!.answering = false
    expect(await d.present({ link: 'wlan0', mac: mac(0) })).toBe(true)
    expect(await d.present({ link: 'wlan0', mac: mac(3) })).toBe(false)
  })
})
