// The relay on its real UDP socket (rawsock openUdp6Socket), in a namespace this test creates:
// three access links over veth pairs, one UDP socket for all of them. Each client message must
// be attributed to the link it arrived on (its MN's prefix in link-address, the link's name in
// Interface-Id), go to the server from the MAG's address, and the answer must come back on the
// same link from the router link-local fe80::1, port 547 -> 546. No binding on a link: no relay.
// Root only; with CI=true a missing prerequisite fails.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

const ROOT = resolve(__dirname, '../../..')
const NS = `d6r-${process.pid}`
const CHILD = join(__dirname, 'fixtures', 'relay-io-child.js')

function why(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespace, UDP 547)'
  if (!existsSync(join(ROOT, 'packages/dhcp6-relay/dist/index.js'))) return 'not built (npx tsc -b packages/dhcp6-relay)'
  if (!existsSync(join(ROOT, 'packages/rawsock/build/Release/rawsock.node'))) return 'the rawsock addon is not built'
  return null
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

const reason = why()
const run = reason === null || process.env['CI'] === 'true' ? describe : describe.skip
if (reason !== null) console.warn(`dhcp6-relay relay-io: ${reason}`)

interface Seen {
  atServer: { from: string; port: number; kind: string; hopCount: number; linkAddress: string; peerAddress: string; interfaceId: string | null; options: number[]; inner: string }[]
  atClients: Record<string, { from: string; port: number; msg: string }[]>
  status: { links: string[]; counters: Record<string, number> }
}

run('relay on a real UDP socket in a namespace', () => {
  beforeAll(() => {
    if (reason !== null) throw new Error(`${reason}; CI=true, so this is a failure, not a skip`)
    ip('netns', 'add', NS)
    ip('-n', NS, 'link', 'set', 'lo', 'up')
    ip('-n', NS, 'addr', 'add', '2001:db8:ffff::1/128', 'dev', 'lo')
    ip('-n', NS, 'addr', 'add', '2001:db8:ffff::2/128', 'dev', 'lo')
    for (const i of [1, 2, 3]) {
      ip('-n', NS, 'link', 'add', `acc${i}`, 'type', 'veth', 'peer', 'name', `cli${i}`)
      for (const [dev, addr] of [[`acc${i}`, 'fe80::1'], [`cli${i}`, `fe80::${i + 1}`]] as const) {
        spawnSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', `net.ipv6.conf.${dev}.addr_gen_mode=1`])
        ip('-n', NS, 'link', 'set', dev, 'up')
        ip('-n', NS, 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad')
      }
    }
  })

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS], { timeout: 10_000 })
  })

  test('each link attributed, relayed to the server and answered on the same link', () => {
    const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, CHILD], { encoding: 'utf8', timeout: 20_000 })
    if (r.status !== 0) throw new Error(`child exited ${String(r.status)}: ${r.stderr}`)
    const seen = JSON.parse(r.stdout.trim().split('\n').pop()!) as Seen
    const byLink = Object.fromEntries(seen.atServer.map((s) => [s.interfaceId, s]))
    expect(seen.atServer).toHaveLength(2)
    for (const i of [1, 2]) {
      expect(byLink[`acc${i}`]).toMatchObject({
        from: '2001:db8:ffff::1',
        port: 547,
        kind: 'relay-forward',
        hopCount: 0,
        linkAddress: `2001:db8:100:${i}::1`,
        peerAddress: `fe80::${i + 1}`,
        options: [79],
      })
      expect(byLink[`acc${i}`]!.inner.slice(0, 8)).toBe(`01000${(0x100 + i).toString(16)}`)
      const got = seen.atClients[String(i)]!
      expect(got).toHaveLength(1)
      expect(got[0]).toMatchObject({ from: `fe80::1%cli${i}`, port: 547 })
      expect(got[0]!.msg.slice(0, 8)).toBe(`02000${(0x100 + i).toString(16)}`)
    }
    expect(seen.atClients['3']).toEqual([])
    expect(seen.status.links.sort()).toEqual(['acc1', 'acc2', 'acc3'])
    expect(seen.status.counters).toMatchObject({ 'rx.client': 3, 'tx.relay-forward': 2, 'drop.no-binding': 1, 'rx.server': 2, 'tx.to-client': 2 })
  })
})
