// Two MNs holding THE SAME IPv4 home address at one MAG (RFC 5845: two LMAs' private pools,
// told apart by GRE keys), each on its own access link: each MN's own busybox udhcpc must get
// its own lease. The MAG has no route to the shared address (a GRE-keyed MN's address is only in
// its binding's tables): a reply through the UDP socket goes nowhere ('socket', shown first, so
// the test can fail), a reply as a frame on the lease's link to the MN's MAC ('link', the
// agent's) reaches exactly that MN. The leases differ in their lease time, so each client's log
// says whose reply it got. Namespaces dh4s-<pid>-*, created and deleted here; 192.0.2.0/24 only
// inside them. Needs root, iproute2, udhcpc and the built package: skipped without them, a
// failure with CI=true.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NsFixture } from '@pmip6/testkit'

const IN_CI = process.env['CI'] === 'true'
const FIXTURE = join(__dirname, 'fixtures', 'dhcp4-ctl.js')
const HOA = '192.0.2.2'
const ROUTER = '192.0.2.1'
const MN = [
  { i: 1, link: 'a0', mac: '02:00:00:00:00:01', leaseSeconds: 8 },
  { i: 2, link: 'a1', mac: '02:00:00:00:00:02', leaseSeconds: 9 },
] as const
const lease = (m: (typeof MN)[number]) => ({ mnId: `mn${m.i}@example.com`, link: m.link, mac: m.mac, address: HOA, prefixLength: 24, router: ROUTER, leaseSeconds: m.leaseSeconds })

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root'
  for (const t of ['ip', 'udhcpc']) if (spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0) return `${t} is missing`
  if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) return 'packages/dhcp4 is not built (npm run build)'
  return undefined
}
const why = missing()
if (why !== undefined) {
  if (IN_CI) test('shared-address DHCPv4 tests have what they need in CI', () => { throw new Error(`${why}; CI=true`) })
  else console.warn(`SKIPPED shared-address DHCPv4 tests: ${why}`)
}
const describeIf = why === undefined ? describe : describe.skip

const ns = { mag: `dh4s-${process.pid}-mag`, mn1: `dh4s-${process.pid}-mn1`, mn2: `dh4s-${process.pid}-mn2` }
const ip = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000 })
type Reply = { ok: boolean; counters?: Record<string, number>; error?: string }

describeIf('DHCPv4: two MNs with one home address on two access links of one MAG', () => {
  jest.setTimeout(120_000)
  let dir = ''
  let ctl: NsFixture<Reply>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dh4s-'))
    for (const n of Object.values(ns)) {
      ip(['netns', 'add', n])
      ip(['-n', n, 'link', 'set', 'lo', 'up'])
    }
    for (const m of MN) {
      const mnNs = m.i === 1 ? ns.mn1 : ns.mn2
      ip(['-n', ns.mag, 'link', 'add', m.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', mnNs])
      ip(['-n', mnNs, 'link', 'set', 'eth0', 'address', m.mac])
      ip(['-n', ns.mag, 'link', 'set', m.link, 'up'])
      ip(['-n', mnNs, 'link', 'set', 'eth0', 'up'])
      writeFileSync(join(dir, `udhcpc${m.i}.sh`), `#!/bin/sh\necho "$1 ip=$ip subnet=$subnet router=$router lease=$lease serverid=$serverid" >> ${dir}/udhcpc${m.i}.log\n`)
      chmodSync(join(dir, `udhcpc${m.i}.sh`), 0o755)
    }
    ctl = new NsFixture(ns.mag, FIXTURE, { replyTimeoutMs: 15_000, stopTimeoutMs: 5_000 })
    await ctl.next()
  })

  afterAll(async () => {
    await ctl?.stop()
    for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n])
    rmSync(dir, { recursive: true, force: true })
  })

  const udhcpc = (i: 1 | 2): { code: number; out: string } => {
    const r = spawnSync('ip', ['netns', 'exec', i === 1 ? ns.mn1 : ns.mn2, 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '3', '-T', '1', '-A', '1', '-s', join(dir, `udhcpc${i}.sh`)], { encoding: 'utf8', timeout: 30_000 })
    return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` }
  }
  const log = (i: 1 | 2): string => (existsSync(join(dir, `udhcpc${i}.log`)) ? readFileSync(join(dir, `udhcpc${i}.log`), 'utf8') : '')
  const v4routes = (): unknown[] => JSON.parse(ip(['-n', ns.mag, '-4', '-j', 'route', 'show', 'table', 'all'])) as unknown[]

  test("through the UDP socket ('socket'): the server answers, but the MAG has no route to the shared address and the reply goes nowhere", async () => {
    for (const m of MN) await ctl.ok({ op: 'lease', lease: lease(m) })
    // Only the router's local routes: nothing leads to 192.0.2.2 (as at a MAG with GRE-keyed MNs).
    expect(v4routes().filter((r) => (r as { dst?: string }).dst === HOA)).toEqual([])
    expect(udhcpc(1).code).not.toBe(0)
    expect(log(1)).not.toMatch(/bound/)
    expect((await ctl.ok({ op: 'counters' })).counters!['tx.offer']).toBeGreaterThan(0)
  })

  test("as frames on the lease's link ('link'): each MN's udhcpc binds the shared address with its own lease (8 s on a0, 9 s on a1)", async () => {
    await ctl.ok({ op: 'reopen', replyVia: 'link' })
    for (const m of MN) await ctl.ok({ op: 'lease', lease: lease(m) })
    for (const i of [1, 2] as const) {
      const r = udhcpc(i)
      expect([r.code, r.out]).toEqual([0, expect.any(String)])
    }
    expect(log(1)).toMatch(new RegExp(`bound ip=192\\.0\\.2\\.2 subnet=255\\.255\\.255\\.0 router=192\\.0\\.2\\.1 lease=8 serverid=${ROUTER.replace(/\./g, '\\.')}`))
    expect(log(2)).toMatch(/bound ip=192\.0\.2\.2 subnet=255\.255\.255\.0 router=192\.0\.2\.1 lease=9 serverid=192\.0\.2\.1/)
    expect(log(1)).not.toMatch(/lease=9/)
    expect(log(2)).not.toMatch(/lease=8/)
    const c = (await ctl.ok({ op: 'counters' })).counters!
    expect(c['tx.offer']).toBeGreaterThanOrEqual(2)
    expect(c['tx.ack']).toBeGreaterThanOrEqual(2)
  })
})
