// Real-kernel tests of the raw socket addon. All traffic stays inside two network namespaces
// (A and B, joined by veth pairs a0<->b0 and a1<->b1) that this suite creates and always deletes.
// The sockets live in children run with `ip netns exec`, using the real wrapper and addon.
import { killAllChildren, runChild, startChild } from './helpers/child'
import { inetCksum } from './helpers/checksum'
import type { Topology } from './helpers/netns'
import { TOPO, addrsOf, createTopology, listNetns, removeStaleNetns } from './helpers/netns'
import type { WireMessage } from './helpers/protocol'

const IS_ROOT = process.getuid?.() === 0
const IN_CI = process.env.CI === 'true'
const WHY = 'rawsock netns tests need root (raw sockets, ip netns); run the suite as root'

if (!IS_ROOT) {
  if (IN_CI) {
    test('rawsock netns tests run as root in CI', () => {
      throw new Error(`${WHY}; CI=true, so this is a failure, not a skip`)
    })
  } else {
    console.warn(`SKIPPED: ${WHY} (uid ${process.getuid?.()})`)
  }
}

const describeRoot = IS_ROOT ? describe : describe.skip
const T = 180_000 // per-test bound; every child wait below is bounded too (a child starts in 10+ s on a loaded machine)

// protocol-reference.md §10.3 (RA from fe80::1 to ff02::1) and §10.4 (Heartbeat, MAG -> LMA)
const RA_10_3 = [
  '86 00 98 a3 40 00 07 08 00 00 00 00 00 00 00 00',
  '01 01 02 00 00 00 00 fe 05 01 00 00 00 00 05 b4',
  '03 04 40 c0 00 00 0e 10 00 00 0e 10 00 00 00 00',
  '20 01 0d b8 00 01 00 01 00 00 00 00 00 00 00 00',
].join('').replace(/ /g, '')
const HEARTBEAT_10_4 = '3b010d005ae900000000000701020000'
const zeroCksum = (hex: string, offset: number): string => {
  const b = Buffer.from(hex, 'hex')
  b.writeUInt16BE(0, offset)
  return b.toString('hex')
}
const RS = '85000000' + '00000000' + '0101' + '0200000000b0' // RS + SLLA option
const ECHO_REQUEST = '80000000' + '12340001' + 'deadbeef'
const BARE_RA = '86000000' + '40000000' + '00000000' + '00000000' // router lifetime 0: not a default router

function byIf(msgs: WireMessage[], ifindex: number): WireMessage[] {
  return msgs.filter((m) => m.ifindex === ifindex)
}

describeRoot('rawsock in network namespaces', () => {
  let topo: Topology

  beforeAll(async () => {
    removeStaleNetns()
    topo = await createTopology(`${Math.floor(Math.random() * 1e4)}`)
  })

  afterAll(() => {
    killAllChildren()
    topo?.destroy()
    expect(listNetns().filter((n) => n === topo?.a || n === topo?.b)).toEqual([])
  })

  test(
    'ICMPv6 socket in A hears RSs sent by B to ff02::2: ifindex, hop limit 255, link-local src, dst',
    async () => {
      const listener = startChild(topo.a, {
        mode: 'listen',
        sockets: [{ id: 'rs', kind: 'icmp6', types: [133], join: [{ group: 'ff02::2', iface: 'a0' }, { group: 'ff02::2', iface: 'a1' }] }],
        expect: { rs: 2 },
        timeoutMs: 60_000, // ends as soon as the expected messages are in
      })
      const { ifindex } = await listener.next('ready', 60_000)
      const sent = await runChild(
        topo.b,
        {
          mode: 'send',
          kind: 'icmp6',
          packets: [
            { hex: RS, dst: 'ff02::2', iface: 'b0', hopLimit: 255, src: TOPO.b0.ll },
            { hex: RS, dst: 'ff02::2', iface: 'b1', hopLimit: 255 }, // kernel picks the source
          ],
        },
        'sent',
      )
      expect(sent.bytes).toEqual([16, 16])
      const res = await listener.next('result', 90_000)
      expect(res.timedOut).toBe(false)
      const msgs = res.messages.rs!
      expect(msgs).toHaveLength(2)

      const [onA0] = byIf(msgs, ifindex.a0!)
      expect(onA0).toMatchObject({ src: TOPO.b0.ll, dst: 'ff02::2', hopLimit: 255, scopeId: ifindex.a0 })
      const [onA1] = byIf(msgs, ifindex.a1!)
      expect(onA1).toMatchObject({ dst: 'ff02::2', hopLimit: 255, scopeId: ifindex.a1 })
      expect(onA1!.src).toMatch(/^fe80:/)
      for (const m of msgs) {
        const data = Buffer.from(m.data, 'hex')
        expect(data[0]).toBe(133)
        expect(data.readUInt16BE(2)).not.toBe(0) // kernel filled the ICMPv6 checksum ...
        expect(inetCksum(m.src, m.dst, 58, data)).toBe(0) // ... correctly
      }
    },
    T,
  )

  test(
    'RA sent by our socket out of a chosen ifindex with hop limit 255 reaches only that link, byte-exact (§10.3), and B\'s kernel does SLAAC from it',
    async () => {
      const listener = startChild(topo.b, {
        mode: 'listen',
        sockets: [{ id: 'ra', kind: 'icmp6', types: [134] }],
        expect: { ra: 1 },
        timeoutMs: 60_000, // ends as soon as the expected messages are in
        settleMs: 300,
      })
      const { ifindex } = await listener.next('ready', 60_000)
      await runChild(
        topo.a,
        {
          mode: 'send',
          kind: 'icmp6',
          packets: [{ hex: zeroCksum(RA_10_3, 2), dst: 'ff02::1', iface: 'a1', hopLimit: 255, src: TOPO.a1.ll }],
        },
        'sent',
      )
      const res = await listener.next('result', 90_000)
      expect(res.messages.ra).toHaveLength(1) // not also on b0
      const [ra] = res.messages.ra!
      expect(ra).toMatchObject({ ifindex: ifindex.b1, hopLimit: 255, src: 'fe80::1', dst: 'ff02::1', data: RA_10_3 })

      // B is a host (forwarding off, accept_ra on): its kernel autoconfigures 2001:db8:1:1::/64 on b1.
      const deadline = Date.now() + 20_000
      let slaac: string[] = []
      while (Date.now() < deadline) {
        slaac = addrsOf(topo.b, 'b1').filter((a) => a.startsWith('2001:db8:1:1:'))
        if (slaac.length > 0) break
        await new Promise((r) => setTimeout(r, 100))
      }
      expect(slaac).toHaveLength(1)
      expect(addrsOf(topo.b, 'b0').filter((a) => a.startsWith('2001:db8:1:1:'))).toEqual([])
    },
    T,
  )

  test(
    'MH (proto 135) from A reaches a raw MH socket in B with dst/src/ifindex and the kernel-computed checksum (§10.4)',
    async () => {
      const listener = startChild(topo.b, {
        mode: 'listen',
        sockets: [{ id: 'mh', kind: 'mh' }],
        expect: { mh: 2 },
        timeoutMs: 60_000, // ends as soon as the expected messages are in
      })
      const { ifindex } = await listener.next('ready', 60_000)
      const hb2 = Buffer.from(zeroCksum(HEARTBEAT_10_4, 4), 'hex')
      hb2.writeUInt32BE(8, 8) // sequence 8
      await runChild(
        topo.a,
        {
          mode: 'send',
          kind: 'mh',
          packets: [
            { hex: zeroCksum(HEARTBEAT_10_4, 4), dst: TOPO.b1.global, src: TOPO.a1.global },
            { hex: hb2.toString('hex'), dst: TOPO.b0.global }, // source picked by the kernel
          ],
        },
        'sent',
      )
      const res = await listener.next('result', 90_000)
      expect(res.timedOut).toBe(false)
      expect(res.checksumOpt).toEqual({ mh: 4 }) // IPV6_CHECKSUM offset 4 on the MH socket
      const msgs = res.messages.mh!
      const [viaB1] = byIf(msgs, ifindex.b1!)
      // MAG 2001:db8:ffff::1 -> LMA 2001:db8:ffff::2: the kernel wrote 0x5ae9, as in §10.4
      expect(viaB1).toMatchObject({ src: TOPO.a1.global, dst: TOPO.b1.global, hopLimit: 64, data: HEARTBEAT_10_4 })
      const [viaB0] = byIf(msgs, ifindex.b0!)
      expect(viaB0).toMatchObject({ src: TOPO.a0.global, dst: TOPO.b0.global, scopeId: 0 })
      for (const m of msgs) {
        const data = Buffer.from(m.data, 'hex')
        expect(data[0]).toBe(59) // payload proto IPPROTO_NONE
        expect(data.readUInt16BE(4)).not.toBe(0)
        expect(inetCksum(m.src, m.dst, 135, data)).toBe(0)
      }
    },
    T,
  )

  test(
    'ICMPv6 filter: a socket allowing [134] never sees an echo request; one allowing [128] does',
    async () => {
      const listener = startChild(topo.b, {
        mode: 'listen',
        sockets: [
          { id: 'ra', kind: 'icmp6', types: [134] },
          { id: 'echo', kind: 'icmp6', types: [128] },
        ],
        expect: { ra: 1, echo: 1 },
        timeoutMs: 60_000, // ends as soon as the expected messages are in
        settleMs: 300,
      })
      await listener.next('ready', 60_000)
      await runChild(
        topo.a,
        {
          mode: 'send',
          kind: 'icmp6',
          packets: [
            { hex: ECHO_REQUEST, dst: TOPO.b0.global },
            { hex: BARE_RA, dst: 'ff02::1', iface: 'a0', hopLimit: 255, src: TOPO.a0.ll },
          ],
        },
        'sent',
      )
      const res = await listener.next('result', 90_000)
      expect(res.timedOut).toBe(false)
      expect(res.messages.ra!.map((m) => m.data.slice(0, 2))).toEqual(['86'])
      expect(res.messages.echo!.map((m) => m.data.slice(0, 2))).toEqual(['80'])
      expect(res.messages.echo![0]).toMatchObject({ src: TOPO.a0.global, dst: TOPO.b0.global, hopLimit: 255 }) // IPV6_UNICAST_HOPS 255
    },
    T,
  )

  test(
    'bindToDevice: a socket bound to b0 does not receive what arrives on b1',
    async () => {
      const listener = startChild(topo.b, {
        mode: 'listen',
        sockets: [{ id: 'b0only', kind: 'icmp6', types: [134], bindToDevice: 'b0' }],
        expect: { b0only: 1 },
        timeoutMs: 60_000, // ends as soon as the expected messages are in
        settleMs: 300,
      })
      const { ifindex } = await listener.next('ready', 60_000)
      await runChild(
        topo.a,
        {
          mode: 'send',
          kind: 'icmp6',
          packets: [
            { hex: BARE_RA, dst: 'ff02::1', iface: 'a1', hopLimit: 255 },
            { hex: BARE_RA, dst: 'ff02::1', iface: 'a0', hopLimit: 255 },
          ],
        },
        'sent',
      )
      const res = await listener.next('result', 90_000)
      expect(res.messages.b0only!.map((m) => m.ifindex)).toEqual([ifindex.b0])
    },
    T,
  )

  test(
    'a flood is drained in bounded batches (maxBatch, recvmmsg) without losing, reordering or mixing up packets',
    async () => {
      const N = 100
      const listener = startChild(topo.b, {
        mode: 'listen',
        sockets: [{ id: 'mh', kind: 'mh', maxBatch: 16, rcvbuf: 4 << 20 }],
        expect: { mh: N },
        timeoutMs: 60_000, // ends as soon as the expected messages are in
        waitForGo: true, // let all N queue up before the first readiness callback
      })
      await listener.next('ready', 60_000)
      const sent = await runChild(
        topo.a,
        {
          mode: 'send',
          kind: 'mh',
          // Each with its own sequence number, every other one from another source address, so a
          // datagram delivered with another slot's payload or metadata shows.
          packets: Array.from({ length: N }, (_, i) => {
            const hb = Buffer.from(zeroCksum(HEARTBEAT_10_4, 4), 'hex')
            hb.writeUInt32BE(1000 + i, 8)
            return { hex: hb.toString('hex'), dst: TOPO.b0.global, ...(i % 2 === 1 ? { src: TOPO.a1.global } : {}) }
          }),
        },
        'sent',
      )
      expect(sent.bytes).toHaveLength(N)
      listener.go()
      const res = await listener.next('result', 90_000)
      expect(res.timedOut).toBe(false)
      expect(res.messages.mh).toHaveLength(N)
      res.messages.mh!.forEach((m, i) => {
        const data = Buffer.from(m.data, 'hex')
        expect(data.readUInt32BE(8)).toBe(1000 + i)
        expect(m).toMatchObject({ src: i % 2 === 1 ? TOPO.a1.global : TOPO.a0.global, dst: TOPO.b0.global, hopLimit: 64 })
        expect(inetCksum(m.src, m.dst, 135, data)).toBe(0)
      })
      const st = res.stats.mh!
      expect(st.received).toBe(N)
      expect(st.largestBatch).toBeLessThanOrEqual(16)
      expect(st.fullBatches).toBeGreaterThanOrEqual(Math.floor(N / 16) - 1)
      expect(st.batches).toBeGreaterThanOrEqual(Math.ceil(N / 16))
    },
    T,
  )

  test(
    'error paths: ENODEV for missing interfaces, EINVAL, EBADF after close, idempotent close',
    async () => {
      const { results: r } = await runChild(topo.a, { mode: 'errors' }, 'errors')
      expect(r.bindMissing).toEqual({ code: 'ENODEV', message: 'no such interface: wlan9 (ENODEV)' })
      expect(r.openBindMissing).toEqual({ code: 'ENODEV', message: 'no such interface: wlan9 (ENODEV)' })
      expect(r.bindLongName!.code).toBe('ENODEV')
      expect(r.bindExisting).toEqual({ ok: true })
      expect(r.unbind).toEqual({ ok: true })
      expect(r.joinMissingIfindex!.code).toBe('ENODEV')
      expect(r.joinMissingIfindex!.message).toMatch(/no such interface index: 4242/)
      expect(r.joinMissingName).toEqual({ code: 'ENODEV', message: 'no such interface: wlan9 (ENODEV)' })
      expect(r.joinUnicast!.code).toBe('EINVAL')
      expect(r.joinLeaveLo).toEqual({ ok: true, value: true })
      expect(r.sendBadAddr!.code).toBe('EINVAL')
      expect(r.sendBadAddr!.message).toMatch(/invalid IPv6 address for dst: 'not-an-address'/)
      expect(r.sendBadSrc!.code).toMatch(/^(EINVAL|EADDRNOTAVAIL)$/)
      expect(r.sendBadSrc!.message).toMatch(/source 2001:db8:dead::1 is not a usable address/)
      expect(r.sendMissingIfindex!.code).toBe('ENODEV')
      expect(r.sendBadHop!.code).toBe('ERR_OUT_OF_RANGE')
      expect(r.icmpChecksumOpt!.code).toBe('EINVAL') // §9.2: IPV6_CHECKSUM on ICMPv6 is EINVAL
      expect(r.mhChecksumOpt).toEqual({ ok: true, value: 4 })
      expect(r.mhFilter!.code).toMatch(/^(EOPNOTSUPP|ENOPROTOOPT|EINVAL)$/)
      expect(r.badFilterType!.code).toBe('ERR_OUT_OF_RANGE')
      expect(r.recvEmpty).toEqual({ ok: true, value: null })
      expect(r.badProto!.code).toBe('ERR_OUT_OF_RANGE')
      expect(r.closeTwice).toEqual({ ok: true, value: true })
      expect(r.sendAfterClose!.code).toBe('EBADF')
    },
    T,
  )

  test(
    'EPERM: an unprivileged user gets a clear error',
    async () => {
      const res = await runChild(topo.a, { mode: 'open', proto: 58 }, 'error', { asNobody: true })
      expect(res).toEqual({
        event: 'error',
        code: 'EPERM',
        syscall: 'socket',
        message: 'socket(AF_INET6, SOCK_RAW, 58): raw sockets need root or CAP_NET_RAW (EPERM)',
      })
    },
    T,
  )
})
