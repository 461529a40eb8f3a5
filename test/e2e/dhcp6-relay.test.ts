// End to end (issue 7): stateful address configuration through the MAG's DHCPv6 relay
// (RFC 5213 §6.11). Real peers: ISC Kea (kea-dhcp6-server) in the lab LMA's namespace, reached
// over the transport network (the data plane's tunnel is not needed: the relay sends from the
// MAG's own address), and ISC dhclient -6 in the MN's namespace. The MN gets an address from
// its home network prefix; after a handoff to mag2 its Renew goes through mag2's relay and keeps
// the address. One lab for the file, torn down in afterAll whatever happened.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatIp6, parseIp6 } from '@pmip6/wire'
import { LiveFields, MAG_JS, ROOT, waitFor, labDown, LAB_DOWN_HOOK_TIMEOUT_MS, labBindings, labStatus } from './lab-harness'

// Everything goes through the built `mag` CLI and lab module in child processes, as a user
// would run them (importing @pmip6/agent under jest would load every driver too).
const LAB_JS = join(ROOT, 'packages/cli/dist/lab/lab.js')
const LAB = `dh${process.pid % 100000}`.slice(0, 12)
const NS = { lma: `${LAB}-lma`, mn: (i: number) => `${LAB}-mn${i}` }
const LMA = '2001:db8:ffff::2'
const mnId = (i: number): string => `mn${i}@example.com`
const mac = (i: number): string => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`
/** Kea serves the first 16 /64s of the lab's home pool (2001:db8:100::/48), one subnet each. */
const SUBNETS = Array.from({ length: 16 }, (_, k) => `2001:db8:100:${k.toString(16)}:`)
const canonical = (a: string): string => formatIp6(parseIp6(a))
/** True when `addr` lies in the /64 `prefix`. */
const in64 = (addr: string, prefix: string): boolean => parseIp6(addr).subarray(0, 8).equals(parseIp6(prefix.replace(/\/64$/, '')).subarray(0, 8))

// Absolute paths: /usr/sbin need not be on a CI runner's PATH.
const KEA = '/usr/sbin/kea-dhcp6'
const DHCLIENT = existsSync('/sbin/dhclient') ? '/sbin/dhclient' : '/usr/sbin/dhclient'

function prereqs(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, raw sockets, UDP 547)'
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'iproute2 (ip) is missing'
  if (!existsSync(KEA)) return 'kea-dhcp6-server is missing (apt-get install kea-dhcp6-server)'
  if (!existsSync('/sbin/dhclient') && !existsSync('/usr/sbin/dhclient')) return 'isc-dhcp-client is missing (apt-get install isc-dhcp-client)'
  if (!existsSync(join(ROOT, 'packages/cli/dist/main.js')) || !existsSync(join(ROOT, 'packages/dhcp6-relay/dist/index.js'))) return 'the project is not built (npm run build)'
  if (!existsSync(join(ROOT, 'packages/rawsock/build/Release/rawsock.node'))) return 'the rawsock addon is not built (npm ci)'
  return null
}

interface View {
  mnId: string
  link: string
  state: string
  prefixes: string[]
}
interface Status {
  counters: Record<string, number>
}

const why = prereqs()
const maybe = why === null ? describe : process.env['CI'] === 'true' ? describe : describe.skip
if (why !== null) console.warn(`dhcp6-relay e2e: ${why}${process.env['CI'] === 'true' ? ' (CI=true: failing)' : ' (skipped)'}`)

maybe('DHCPv6 relay in the netns lab: kea behind the MAG, dhclient on the MN', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mag-dhcp6-e2e-'))
  const children: ChildProcess[] = []
  const lives: LiveFields[] = []
  let up = false
  let prefix = ''
  let address = ''

  const mag = (args: readonly string[]): string => {
    const r = spawnSync(process.execPath, [MAG_JS, ...args], { encoding: 'utf8', timeout: 90_000 })
    if (r.status !== 0) throw new Error(`mag ${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`)
    return r.stdout
  }
  const ctl = (node: string, ...args: string[]): string => mag(['lab', 'ctl', '--name', LAB, node, '--', ...args])
  const status = (node: string): Promise<Status> => labStatus<Status>(LAB, node)
  const counter = async (node: string, name: string): Promise<number> => (await status(node)).counters[name] ?? 0
  const binding = async (node: string, i: number): Promise<View | undefined> => (await labBindings<View>(LAB, node)).find((b) => b.mnId === mnId(i))
  const attach = (node: string, i: number, hint?: string): string => ctl(node, 'attach', '--mn', mnId(i), '--link', `mn${i}`, '--mac', mac(i), '--att', 'wifi', ...(hint ? ['--hint', hint] : []))

  const outputs = new Map<string, string>()

  function startChild(name: string, ns: string, cmd: string[], env: Record<string, string> = {}): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    outputs.set(name, '')
    const keep = (d: Buffer): void => {
      outputs.set(name, (outputs.get(name) ?? '') + d.toString('utf8'))
    }
    c.stdout?.on('data', keep)
    c.stderr?.on('data', keep)
    children.push(c)
    return c
  }

  function tail(name: string): string {
    return (outputs.get(name) ?? '(no output)').split('\n').slice(-25).join('\n')
  }

  /** dhclient -6 in the foreground with its own config, lease, pid and hook script. */
  function dhclient(i: number): { events: () => string[][] } {
    const events = join(dir, `mn${i}.events`)
    const script = join(dir, `mn${i}-script.sh`)
    // Logs what dhclient-script would act on and installs the address inside the MN namespace.
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `echo "$reason $new_ip6_address $new_ip6_prefixlen" >> ${events}`,
        'case "$reason" in BOUND6|RENEW6|REBIND6|REBOOT6)',
        '  [ -n "$new_ip6_address" ] && ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad ;;',
        'esac',
        'exit 0',
        '',
      ].join('\n'),
    )
    chmodSync(script, 0o755)
    writeFileSync(join(dir, `mn${i}-dhclient.conf`), '')
    startChild(`dhclient${i}`, NS.mn(i), [DHCLIENT, '-6', '-d', '-v', '-cf', join(dir, `mn${i}-dhclient.conf`), '-lf', join(dir, `mn${i}.leases`), '-pf', join(dir, `mn${i}.pid`), '-sf', script, 'eth0'])
    return {
      events: () => {
        try {
          return readFileSync(events, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' '))
        } catch {
          return []
        }
      },
    }
  }

  beforeAll(async () => {
    if (why !== null) throw new Error(`${why}; CI=true, so this is a failure, not a skip`)
    const profiles = [
      { mnId: mnId(1), lma: LMA, macs: [mac(1)], addressConfig: 'stateful' },
      { mnId: mnId(2), lma: LMA, macs: [mac(2)], addressConfig: 'stateless' },
    ]
    up = true
    const opts = { name: LAB, mns: 2, quiet: true, logLevel: 'debug', magConfig: { profiles, dhcp6Relay: { enabled: true, servers: [LMA] } } }
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(LAB_JS)}).labUp(${JSON.stringify(opts)}).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1) })`], { encoding: 'utf8', timeout: 240_000 }) // a loaded machine: see LAB_UP_TIMEOUT_MS in lab-harness.ts
    if (r.status !== 0) throw new Error(`lab up failed: ${r.stderr || r.error?.message}`)

    // Kea: one subnet per home prefix, selected by the relay's link-address (the prefix's ::1,
    // from the fixed router link-local fe80::1); short timers so a Renew comes within seconds.
    const kea = {
      Dhcp6: {
        'interfaces-config': { interfaces: [`br0/${LMA}`] },
        'data-directory': dir,
        'server-id': { type: 'LL', persist: false },
        'lease-database': { type: 'memfile', persist: true, name: join(dir, 'leases6.csv'), 'lfc-interval': 0 },
        'renew-timer': 3,
        'rebind-timer': 5,
        'preferred-lifetime': 20,
        'valid-lifetime': 30,
        subnet6: SUBNETS.map((p, k) => ({
          id: k + 1,
          subnet: `${p}:/64`,
          relay: { 'ip-addresses': [`${p}:1`] },
          pools: [{ pool: `${p}:1000-${p}:1fff` }],
        })),
        loggers: [{ name: 'kea-dhcp6', output_options: [{ output: join(dir, 'kea.log') }], severity: 'DEBUG', debuglevel: 40 }],
      },
    }
    writeFileSync(join(dir, 'kea.json'), JSON.stringify(kea, null, 2))
    const k = startChild('kea', NS.lma, [KEA, '-c', join(dir, 'kea.json')], { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir })
    await waitFor(
      'kea listening on UDP 547',
      () => {
        if (k.exitCode !== null) throw new Error(`kea exited ${k.exitCode}:\n${tail('kea')}`)
        const r = spawnSync('ip', ['netns', 'exec', NS.lma, 'ss', '-H', '-u', '-l', '-n', 'sport = :547'], { encoding: 'utf8' })
        return r.stdout.includes(LMA)
      },
      60_000,
    )
  }, 330_000)

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    for (const l of lives) l.kill()
    if (up) await labDown(LAB)
    rmSync(dir, { recursive: true, force: true })
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('the MN gets an address from its home network prefix through the relay on mag1', async () => {
    // The home-link RA must tell the MN to use DHCPv6: M (and O) set for a stateful profile.
    const ra = await LiveFields.start(NS.mn(1), 'eth0', 'icmp6 and ip6[40] == 134', ['icmpv6.nd.ra.flag.m', 'icmpv6.nd.ra.flag.o', 'icmpv6.opt.prefix'])
    lives.push(ra)
    attach('mag1', 1)
    const b = await waitFor('mn1 registered at mag1', async () => {
      const v = await binding('mag1', 1)
      return v?.state === 'registered' ? v : null
    }, 30_000)
    prefix = b.prefixes[0]!
    expect(prefix).toMatch(/^2001:db8:100:[0-9a-f]{0,4}:?:\/64$/)
    const p = SUBNETS.find((s) => `${canonical(`${s}:`)}/64` === prefix)
    expect(p).toBeDefined()
    const [m, o, pio] = await waitFor('the first RA on the MN link', () => ra.rows[0] ?? null, 90_000, 50)
    expect({ m, o, pio }).toEqual({ m: '1', o: '1', pio: prefix.replace(/\/64$/, '') })

    const c = dhclient(1)
    const bound = await waitFor('dhclient BOUND6', () => c.events().find((e) => e[0] === 'BOUND6' && e[1]) ?? null, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- dhclient\n${tail('dhclient1')}\n--- kea\n${tail('kea')}`)
    })
    address = bound[1]!
    // The address is from the MN's own home network prefix, from kea's pool for that subnet.
    expect(in64(address, prefix)).toBe(true)
    expect(address).toMatch(/:1[0-9a-f]{3}$/)
    const addrs = spawnSync('ip', ['netns', 'exec', NS.mn(1), 'ip', '-6', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout
    expect(addrs).toContain(address)
    // Solicit + Request went up as Relay-forward, Advertise + Reply came back down.
    const s = (await status('mag1')).counters
    expect(s['dhcp6.tx.relay-forward']).toBeGreaterThanOrEqual(2)
    expect(s['dhcp6.tx.to-client']).toBeGreaterThanOrEqual(2)
    expect(s['dhcp6.relay-forward.client']).toBeGreaterThanOrEqual(2)
  }, 240_000)

  test('after a handoff to mag2 a Renew through mag2 keeps the same address', async () => {
    expect(address).not.toBe('')
    const events0 = readFileSync(join(dir, 'mn1.events'), 'utf8').trim().split('\n').length
    // L2 move first, then the signalling: detach at mag1, attach at mag2 (handoff, HI 3).
    mag(['lab', 'move', '--name', LAB, 'mn1', '--to', 'mag2'])
    const b = await waitFor('mn1 registered at mag2', async () => {
      const v = await binding('mag2', 1)
      return v?.state === 'registered' ? v : null
    }, 30_000)
    expect(b.prefixes).toEqual([prefix])
    const before = await counter('mag2', 'dhcp6.tx.to-client')
    // Kea's renew timer is 3 s; a Renew lost in the move is retransmitted (REN_TIMEOUT 10 s).
    const renewed = await waitFor(
      'a Renew answered through mag2',
      async () => {
        const lines = readFileSync(join(dir, 'mn1.events'), 'utf8').trim().split('\n').slice(events0)
        const hit = lines.map((l) => l.split(' ')).find((e) => (e[0] === 'RENEW6' || e[0] === 'REBIND6') && e[1])
        return hit && (await counter('mag2', 'dhcp6.tx.to-client')) > before ? hit : null
      },
      60_000,
      200,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- dhclient\n${tail('dhclient1')}\n--- kea\n${tail('kea')}`)
    })
    expect(renewed[1]).toBe(address)
    const s = (await status('mag2')).counters
    expect(s['dhcp6.tx.relay-forward']).toBeGreaterThanOrEqual(1)
  }, 240_000)

  test('an MN whose profile allows only stateless configuration is not relayed', async () => {
    attach('mag1', 2)
    await waitFor('mn2 registered at mag1', async () => (await binding('mag1', 2))?.state === 'registered', 30_000)
    const forwarded = await counter('mag1', 'dhcp6.tx.relay-forward')
    dhclient(2)
    await waitFor('a Solicit from mn2 dropped as not-stateful', async () => (await counter('mag1', 'dhcp6.drop.not-stateful')) > 0, 45_000)
    expect(await counter('mag1', 'dhcp6.tx.relay-forward')).toBe(forwarded)
  }, 180_000)
})
