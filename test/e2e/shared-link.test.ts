// A shared access link (one MAG interface, many stations: a Wi-Fi BSS, a switch port): RFC 5213
// §6.2 gives each MN its own home network prefix, advertised to that MN alone. A raw IPv6 socket
// cannot do that: it sends an RA to ff02::1 in a multicast frame every station hears, and a
// second station would configure the first one's prefix. The MAG sends each MN's RAs in a frame
// to that MN's MAC (RFC 6085). Here the lab's mn1 and a second station share mag1's link mn1
// (the lab's "air" bridge); tshark in both stations is the judge.
import { spawnSync } from 'node:child_process'
import { controlRequest } from '@pmip6/agent'
import { labDown, labUp } from '../../packages/cli/src/lab/lab'
import { accessLink, mnId, mnMac, names } from '../../packages/cli/src/lab/plan'
import { Capture, describeLab, labName, nsRun, waitFor, LAB_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('shl')
const N = names(LAB)
const STATION = `${LAB}-sb`
const STATION_MAC = '02:00:00:00:0b:01'
const RA_FILTER = 'icmp6 and ip6[40] == 134'

function ip(ns: string, ...args: string[]): void {
  const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`ip -n ${ns} ${args.join(' ')}: ${r.stderr}`)
}

function globals(ns: string, dev: string): string[] {
  const out = nsRun(ns, ['ip', '-6', '-j', 'addr', 'show', 'dev', dev, 'scope', 'global']).out
  return ((JSON.parse(out || '[]') as { addr_info?: { local: string }[] }[])[0]?.addr_info ?? []).map((a) => a.local)
}

describeLab(
  'shared access link: an MN prefix is advertised to that MN only',
  () => {
    jest.setTimeout(240_000)
    let sock = ''

    beforeAll(async () => {
      await labDown(LAB, { quiet: true }).catch(() => undefined)
      const s = await labUp({ name: LAB, mns: 1, quiet: true, magConfig: { links: { [accessLink(1)]: { shared: true } } } })
      sock = s.sockets['mag1']!
      // A second station on mn1's bridge in "air": it hears whatever mag1 sends on link mn1.
      spawnSync('ip', ['netns', 'add', STATION], { timeout: 30_000 })
      ip(STATION, 'link', 'set', 'lo', 'up')
      nsRun(STATION, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
      ip(N.air, 'link', 'add', 'sbp', 'type', 'veth', 'peer', 'name', 'sb0', 'netns', STATION)
      ip(STATION, 'link', 'set', 'sb0', 'address', STATION_MAC, 'up')
      ip(N.air, 'link', 'set', 'sbp', 'master', 'b1', 'up')
    }, LAB_HOOK_TIMEOUT_MS)

    afterAll(async () => {
      // The station's namespace carries the lab's name: `lab down` removes it with the rest.
      await labDown(LAB, { quiet: true })
      expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`${LAB}-`)
    }, 120_000)

    test('§6.2 + RFC 6085: mn1 configures its prefix from RAs in frames to its MAC; the other station never sees one', async () => {
      const atMn = await Capture.startSynced(N.mn(1), 'eth0', RA_FILTER)
      const atStation = await Capture.startSynced(STATION, 'sb0', RA_FILTER)
      try {
        await controlRequest(sock, { cmd: 'attach', mn: mnId(1), link: accessLink(1), mac: mnMac(1), att: 'wifi', hint: 'new' })
        const addr = await waitFor('mn1 configures an address from its home prefix', () => globals(N.mn(1), 'eth0').find((a) => a.startsWith('2001:db8:')) ?? null, 60_000)
        const prefix = addr.split(':').slice(0, 4).join(':')

        const seenByMn = await atMn.stopSynced()
        const ras = seenByMn.filter((p) => p.all('icmpv6.opt.prefix').some((x) => x.startsWith(prefix)))
        expect(ras.length).toBeGreaterThan(0)
        for (const p of ras) {
          expect(p.v('eth.dst')).toBe(mnMac(1))
          expect(p.v('ipv6.dst')).toBe('ff02::1')
          expect(p.v('ipv6.src')).toMatch(/^fe80::/)
          expect(p.v('ipv6.hlim')).toBe('255')
          expect(p.v('icmpv6.checksum.status')).toBe('1') // tshark checked our checksum: good
        }

        // The second station's capture covers the whole exchange (started first, stopped last).
        const seenByStation = await atStation.stopSynced()
        expect(seenByStation.filter((p) => p.all('icmpv6.opt.prefix').some((x) => x.startsWith(prefix)))).toEqual([])
        expect(globals(STATION, 'sb0').filter((a) => a.startsWith(prefix))).toEqual([])
      } finally {
        atMn.kill()
        atStation.kill()
      }
    })
  },
)
