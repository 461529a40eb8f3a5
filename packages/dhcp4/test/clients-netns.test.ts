// The MAG's DHCPv4 server against unmodified clients (RFC 5844 §3.4): busybox udhcpc and ISC
// dhclient -4 in an MN namespace get the IPv4 home address, mask and default router of the MN's
// binding; nothing without a binding; renewal (dhclient) and release reach the server; after the
// binding is gone the MN gets nothing and the router address is off the link. Namespaces
// dh4-<pid>-*, created and deleted here; addresses 192.0.2.0/24 only inside them. Needs root,
// iproute2, udhcpc, dhclient and the built package: skipped without them, a failure with CI=true.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NsFixture } from '@pmip6/testkit'

const IN_CI = process.env['CI'] === 'true'
const FIXTURE = join(__dirname, 'fixtures', 'dhcp4-ctl.js')
const MAC = '02:00:00:00:00:01'
const LEASE = { mnId: 'mn1@example.com', link: 'a0', mac: MAC, address: '192.0.2.2', prefixLength: 24, router: '192.0.2.1', leaseSeconds: 8 }

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root'
  for (const t of ['ip', 'udhcpc', 'dhclient']) if (spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0) return `${t} is missing`
  if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) return 'packages/dhcp4 is not built (npm run build)'
  return undefined
}
const why = missing()
if (why !== undefined) {
  if (IN_CI) test('DHCPv4 client tests have what they need in CI', () => { throw new Error(`${why}; CI=true`) })
  else console.warn(`SKIPPED DHCPv4 client tests: ${why}`)
}
const describeIf = why === undefined ? describe : describe.skip

const ns = { mag: `dh4-${process.pid}-mag`, mn: `dh4-${process.pid}-mn` }
const ip = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000 })
const inMn = (cmd: string[], timeoutMs = 30_000): { code: number; out: string } => {
  const r = spawnSync('ip', ['netns', 'exec', ns.mn, ...cmd], { encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}

/** The DHCPv4 server (fixtures/dhcp4-ctl.js) in the MAG's namespace, driven by JSON lines. */
const newCtl = (): NsFixture<{ ok: boolean; counters?: Record<string, number>; requested?: { mac: string; address: string; via: string }[]; error?: string }> => new NsFixture(ns.mag, FIXTURE, { replyTimeoutMs: 15_000, stopTimeoutMs: 5_000 })

describeIf('DHCPv4 server vs udhcpc and dhclient in network namespaces', () => {
  jest.setTimeout(120_000)
  let dir = ''
  let ctl: ReturnType<typeof newCtl>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dh4-'))
    for (const n of [ns.mag, ns.mn]) {
      ip(['netns', 'add', n])
      ip(['-n', n, 'link', 'set', 'lo', 'up'])
    }
    ip(['-n', ns.mag, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.mn])
    ip(['-n', ns.mn, 'link', 'set', 'eth0', 'address', MAC])
    ip(['-n', ns.mag, 'link', 'set', 'a0', 'up'])
    ip(['-n', ns.mn, 'link', 'set', 'eth0', 'up'])
    // The MAG's route to the MN's home address on its access link (the data plane's, RFC 5844).
    ip(['-n', ns.mag, '-4', 'route', 'add', `${LEASE.address}/32`, 'dev', 'a0'])
    // Client scripts that write down what they were given.
    writeFileSync(join(dir, 'udhcpc.sh'), `#!/bin/sh\necho "$1 ip=$ip subnet=$subnet router=$router lease=$lease serverid=$serverid" >> ${dir}/udhcpc.log\n`)
    writeFileSync(join(dir, 'dhclient.sh'), `#!/bin/sh\necho "$reason ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers lease=$new_dhcp_lease_time" >> ${dir}/dhclient.log\n`)
    chmodSync(join(dir, 'udhcpc.sh'), 0o755)
    chmodSync(join(dir, 'dhclient.sh'), 0o755)
    ctl = newCtl()
    await ctl.next()
  })

  afterAll(async () => {
    await ctl?.stop()
    inMn(['sh', '-c', `[ -f ${dir}/dhclient.pid ] && kill $(cat ${dir}/dhclient.pid) 2>/dev/null; true`])
    for (const n of [ns.mag, ns.mn]) spawnSync('ip', ['netns', 'del', n])
    rmSync(dir, { recursive: true, force: true })
  })

  const udhcpc = (): { code: number; out: string } => inMn(['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '3', '-T', '1', '-A', '1', '-s', join(dir, 'udhcpc.sh')], 30_000)
  const routerAddresses = (): string[] =>
    (JSON.parse(ip(['-n', ns.mag, '-4', '-j', 'addr', 'show', 'dev', 'a0'])) as { addr_info?: { local: string; prefixlen: number }[] }[]).flatMap((i) => (i.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`))
  const log = (f: string): string => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '')

  test('without an accepted IPv4 binding the MN gets no answer', async () => {
    expect(udhcpc().code).not.toBe(0)
    expect(log('udhcpc.log')).not.toMatch(/bound/)
    const c = (await ctl.ok({ op: 'counters' })).counters!
    expect(c['drop.no-binding']).toBeGreaterThan(0)
  })

  test('udhcpc -r ADDR without a binding: no answer, and option 50 of its DISCOVERs is handed on (RFC 5844 §3.4.1)', async () => {
    const r = inMn(['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '2', '-T', '1', '-A', '1', '-r', '192.0.2.77', '-s', join(dir, 'udhcpc.sh')], 30_000)
    expect(r.code).not.toBe(0)
    const got = (await ctl.ok({ op: 'counters' })).requested!
    expect(got.length).toBeGreaterThan(0)
    expect(new Set(got.map((x) => JSON.stringify(x)))).toEqual(new Set([JSON.stringify({ mac: MAC, address: '192.0.2.77', via: 'option-50' })]))
  })

  test('udhcpc gets the home address, mask and default router of the binding', async () => {
    await ctl.ok({ op: 'lease', lease: LEASE })
    const r = udhcpc()
    expect([r.code, r.out]).toEqual([0, expect.any(String)])
    expect(log('udhcpc.log')).toMatch(/bound ip=192\.0\.2\.2 subnet=255\.255\.255\.0 router=192\.0\.2\.1 lease=8 serverid=192\.0\.2\.1/)
    const c = (await ctl.ok({ op: 'counters' })).counters!
    expect(c).toMatchObject({ 'tx.offer': expect.any(Number), 'tx.ack': expect.any(Number) })
  })

  test('dhclient -4 binds, renews by unicast, and releases', async () => {
    const pf = join(dir, 'dhclient.pid')
    const lf = join(dir, 'dhclient.leases')
    const r = inMn(['dhclient', '-4', '-1', '-v', '-sf', join(dir, 'dhclient.sh'), '-lf', lf, '-pf', pf, 'eth0'], 40_000)
    expect([r.code, r.out]).toEqual([0, expect.stringContaining('bound to 192.0.2.2')])
    expect(log('dhclient.log')).toMatch(/BOUND ip=192\.0\.2\.2 mask=255\.255\.255\.0 routers=192\.0\.2\.1 lease=8/)
    // The script only writes down what it was given; configure the address so a renewal can be unicast.
    inMn(['ip', '-4', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0'])
    // T1 is half of the 8 s lease: wait (bounded) for a RENEW.
    const until = Date.now() + 30_000
    while (!/RENEW/.test(log('dhclient.log')) && Date.now() < until) await new Promise((x) => setTimeout(x, 250))
    expect(log('dhclient.log')).toMatch(/RENEW ip=192\.0\.2\.2/)
    const rel = inMn(['dhclient', '-4', '-r', '-v', '-sf', join(dir, 'dhclient.sh'), '-lf', lf, '-pf', pf, 'eth0'], 30_000)
    expect(rel.code).toBe(0)
    const deadline = Date.now() + 10_000
    let c = (await ctl.ok({ op: 'counters' })).counters!
    while ((c['release'] ?? 0) === 0 && Date.now() < deadline) {
      await new Promise((x) => setTimeout(x, 200))
      c = (await ctl.ok({ op: 'counters' })).counters!
    }
    expect(c['release']).toBeGreaterThan(0)
    inMn(['ip', '-4', 'addr', 'flush', 'dev', 'eth0'])
  })

  test('once the binding is gone (de-registration, detach) the MN gets nothing again', async () => {
    expect(routerAddresses()).toEqual([`${LEASE.router}/32`])
    await ctl.ok({ op: 'clear', mnId: LEASE.mnId })
    // The router address went with the last lease that named it: nothing left on the link.
    expect(routerAddresses()).toEqual([])
    writeFileSync(join(dir, 'udhcpc.log'), '')
    expect(udhcpc().code).not.toBe(0)
    expect(log('udhcpc.log')).not.toMatch(/bound/)
  })
})
