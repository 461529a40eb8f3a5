// RFC 5213 §6.9.5 with RFC 8201 §4: the path MTU towards each LMA from the uplink's MTU and
// Packet Too Big messages, and the tunnel MTUs the core is told.
import { PathMtuTable, PMTU_RAISE_MS, tunnelMtuOf } from '../src/path-mtu'

const LMA = '2001:db8:ffff::2'
const LMA2 = '2001:db8:ffff::4'

describe('RFC 5213 §6.9.5 path MTU table', () => {
  test('§6.9.5: tunnel MTU = path MTU - 40 (RFC 2473 §6.7), never below 1280 (RFC 8200 §5)', () => {
    expect(tunnelMtuOf(1500)).toBe(1460)
    expect(tunnelMtuOf(1300)).toBe(1280)
  })

  test('§6.9.5: the uplink MTU sets every tunnel; an unchanged report changes nothing', () => {
    const t = new PathMtuTable()
    expect(t.setUplink(1500)).toEqual([{ mtu: 1460 }])
    expect(t.setUplink(1500)).toEqual([])
    expect(t.setUplink(1400)).toEqual([{ mtu: 1360 }])
  })

  test('RFC 8201 §4: a PTB lowers one LMA\'s path only; never raises it; one below 1280 is discarded', () => {
    const t = new PathMtuTable()
    t.setUplink(1500)
    expect(t.packetTooBig(LMA, 1400, 0)).toEqual({ lma: LMA, mtu: 1360 })
    expect(t.pathMtu(LMA2)).toBe(1500)
    expect(t.packetTooBig(LMA, 1450, 0)).toBeNull()
    expect(t.packetTooBig(LMA, 1400, 0)).toBeNull()
    expect(t.packetTooBig(LMA, 1279, 0)).toBeNull()
    expect(t.pathMtu(LMA)).toBe(1400)
  })

  test('§6.9.5: an uplink change re-derives the LMA paths it caps; a lowered path stays lower', () => {
    const t = new PathMtuTable()
    t.setUplink(1500)
    t.packetTooBig(LMA, 1400, 0)
    expect(t.setUplink(1350)).toEqual([{ mtu: 1310 }, { lma: LMA, mtu: 1310 }])
    expect(t.setUplink(9000)).toEqual([{ mtu: 8960 }, { lma: LMA, mtu: 1360 }])
  })

  test('RFC 8201 §4: after PMTU_RAISE_MS the lowered value expires back to the uplink\'s', () => {
    const t = new PathMtuTable()
    t.setUplink(1500)
    t.packetTooBig(LMA, 1400, 1000)
    expect(t.nextExpiry()).toBe(1000 + PMTU_RAISE_MS)
    expect(t.expire(PMTU_RAISE_MS)).toEqual([])
    expect(t.expire(1000 + PMTU_RAISE_MS)).toEqual([{ lma: LMA, mtu: 1460 }])
    expect(t.nextExpiry()).toBeNull()
  })

  test('§6.9.5: a configured tunnel MTU caps every LMA without its own', () => {
    const t = new PathMtuTable(null, new Map([[LMA2, 1450]]), 1400)
    expect(t.setUplink(9000)).toEqual([{ mtu: 1400 }, { lma: LMA2, mtu: 1450 }])
    expect(t.packetTooBig(LMA, 1300, 0)).toEqual({ lma: LMA, mtu: 1280 })
    expect(t.packetTooBig(LMA, 1280, 0)).toEqual({ lma: LMA, mtu: 1280 })
  })

  test('§6.9.5: a configured path MTU and per-LMA tunnel MTUs are caps', () => {
    const t = new PathMtuTable(1400, new Map([[LMA2, 1300]]))
    expect(t.setUplink(1500)).toEqual([{ mtu: 1360 }, { lma: LMA2, mtu: 1300 }])
    expect(t.setUplink(1320)).toEqual([{ mtu: 1280 }, { lma: LMA2, mtu: 1280 }])
  })
})
