// What can be checked without a Docker engine (test/docker/run.sh runs the lab on a real one):
// the compose file is consistent with the configs it mounts and is one that compose v1 and v2
// and engines 20.10 to 28 all take, every config passes the daemons' own validation, the
// Dockerfile copies what exists, and the entrypoint's interface renaming, fixed addresses and
// loud failures work for real, in a network namespace.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { BlockList, isIPv6 } from 'node:net'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { loadConfig } from '@pmip6/agent'
import { loadConfigFile } from '@pmip6/lab-lma'

const ROOT = resolve(__dirname, '../..')
const DOCKER = join(ROOT, 'docker')

interface Service {
  command?: string[]
  environment?: Record<string, string>
  networks?: Record<string, { ipv6_address?: string; ipv4_address?: string }>
  mac_address?: string
  sysctls?: Record<string, number>
}
interface Compose {
  name?: string
  services: Record<string, Service>
  networks: Record<string, { enable_ipv6?: boolean; internal?: boolean; ipam?: { config?: { subnet: string }[] } }>
}

const compose = parse(readFileSync(join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as Compose
const configOf = (s: Service): string | undefined => {
  const i = s.command?.indexOf('--config') ?? -1
  return i >= 0 ? s.command![i + 1]!.replace('/etc/mag/', join(DOCKER, 'config') + '/') : undefined
}
const inSubnet = (addr: string, subnet: string): boolean => {
  const [net, len] = subnet.split('/') as [string, string]
  const family = isIPv6(net) ? 'ipv6' : 'ipv4'
  const bl = new BlockList()
  bl.addSubnet(net, Number(len), family)
  return isIPv6(addr) === (family === 'ipv6') && bl.check(addr, family)
}

describe('docker lab files', () => {
  test('every service address lies in its network, and every network it names exists', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [net, a] of Object.entries(s.networks ?? {})) {
        const n = compose.networks[net]
        expect({ service: name, net, exists: n !== undefined }).toEqual({ service: name, net, exists: true })
        const subnets = (n!.ipam?.config ?? []).map((c) => c.subnet)
        for (const addr of [a.ipv6_address, a.ipv4_address].filter((x): x is string => x !== undefined)) {
          expect({ service: name, addr, ok: subnets.some((sn) => inSubnet(addr, sn)) }).toEqual({ service: name, addr, ok: true })
        }
      }
    }
  })

  test('the MAG configs pass validation and agree with the compose addresses', () => {
    const lmaAddr = compose.services['lma']!.networks!['transport']!.ipv6_address!
    for (const mag of ['mag1', 'mag2']) {
      const s = compose.services[mag]!
      const cfg = loadConfig(configOf(s)!)
      expect(cfg.address).toBe(s.networks!['transport']!.ipv6_address)
      // The access link the entrypoint creates is the one the config serves.
      expect(s.environment!['MAG_ACCESS']).toBe('mn1')
      expect(Object.keys(cfg.core.links ?? {})).toEqual(['mn1'])
      const mn = compose.services['mn1']!.environment!['MN_MAC']
      const prof = (cfg.core.profiles ?? []).find((p) => p.mnId === 'mn1@example.com')
      expect(prof?.lma).toBe(lmaAddr)
      expect(prof?.macs).toContain(mn)
    }
  })

  test('one file for compose v1 and v2 on engines 20.10 to 28', () => {
    // compose v1 (Debian 12's 1.29) rejects a top-level name; mac_address is dropped by some
    // compose and engine pairs, so the entrypoint sets the MN's MAC (MN_MAC).
    expect(compose.name).toBeUndefined()
    for (const [name, s] of Object.entries(compose.services)) expect({ name, mac: s.mac_address }).toEqual({ name, mac: undefined })
    // Docker 26+ disables IPv6 on the interfaces of IPv4-only networks, and 27+ drops bridged
    // IPv6 outside IPv6 networks (ip6tables FORWARD DROP): every network is IPv6 and internal.
    for (const [name, n] of Object.entries(compose.networks)) {
      expect({ name, ipv6: n.enable_ipv6, internal: n.internal }).toEqual({ name, ipv6: true, internal: true })
      // Documentation ranges only (the host's own 192.0.2.0/24 excepted).
      for (const c of n.ipam?.config ?? []) expect({ name, ok: /^(2001:db8:|198\.51\.100\.|203\.0\.113\.)/.test(c.subnet) }).toEqual({ name, ok: true })
    }
    // The lab hosts' PID 1 exits on SIGTERM (a fast down), instead of `sleep infinity`.
    for (const h of ['mn1', 'cn']) expect(compose.services[h]!.command).toEqual(['idle'])
  })

  test('the LMA config passes validation with the address compose gives it', () => {
    const s = compose.services['lma']!
    const cfg = loadConfigFile(configOf(s)!)
    expect(cfg.address).toBe(s.networks!['transport']!.ipv6_address)
  })

  test('the Dockerfile copies paths that exist and the entrypoint is valid sh', () => {
    const df = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8')
    for (const m of df.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) for (const p of m[1]!.split(/\s+/)) expect({ p, exists: existsSync(join(ROOT, p)) }).toEqual({ p, exists: true })
    expect(spawnSync('sh', ['-n', join(DOCKER, 'entrypoint.sh')]).status).toBe(0)
  })
})

const IS_ROOT = process.getuid?.() === 0
if (!IS_ROOT && process.env['CI'] === 'true') {
  test('entrypoint test runs as root in CI', () => {
    throw new Error('needs root (ip netns); CI=true, so this is a failure, not a skip')
  })
}
;(IS_ROOT ? describe : describe.skip)('docker entrypoint in a network namespace', () => {
  const ns = `dkr${process.pid % 100000}`
  const ip = (...a: string[]) => spawnSync('ip', a, { encoding: 'utf8' })
  // Two namespaces: `ns` is the container, `${ns}p` holds the far ends of its veths.
  const container = (): void => {
    expect(ip('netns', 'add', ns).status).toBe(0)
    expect(ip('netns', 'add', `${ns}p`).status).toBe(0)
    // Docker would name them eth0/eth1 in any order: make the access link eth0 on purpose.
    expect(ip('link', 'add', `${ns}a`, 'type', 'veth', 'peer', 'name', `${ns}b`).status).toBe(0)
    expect(ip('link', 'add', `${ns}c`, 'type', 'veth', 'peer', 'name', `${ns}d`).status).toBe(0)
    ip('link', 'set', `${ns}a`, 'netns', ns, 'name', 'eth0')
    ip('link', 'set', `${ns}c`, 'netns', ns, 'name', 'eth1')
    ip('link', 'set', `${ns}b`, 'netns', `${ns}p`)
    ip('link', 'set', `${ns}d`, 'netns', `${ns}p`)
    ip('-n', ns, 'addr', 'add', '198.51.100.34/28', 'dev', 'eth0')
    ip('-n', ns, 'addr', 'add', '2001:db8:ffff::1/64', 'dev', 'eth1', 'nodad')
    ip('-n', ns, 'link', 'set', 'eth0', 'up')
    ip('-n', ns, 'link', 'set', 'eth1', 'up')
    // Carrier on both, as on a Docker bridge: the kernel configures IPv6 only on a link with one.
    ip('-n', `${ns}p`, 'link', 'set', `${ns}b`, 'up')
    ip('-n', `${ns}p`, 'link', 'set', `${ns}d`, 'up')
  }
  const env = { ...process.env, MAG_IFACES: 'up0=2001:db8:ffff: mn1=198.51.100.34/', MAG_ACCESS: 'mn1' }
  const links = () => new Map((JSON.parse(ip('-n', ns, '-j', 'addr', 'show').stdout) as { ifname: string; address: string; addr_info: { local: string; family: string }[] }[]).map((l) => [l.ifname, l]))
  // The entrypoint as in an unprivileged container: /proc/sys read-only (in a mount namespace
  // of its own), the interfaces in the container's network namespace.
  const entrypointRo = (e: NodeJS.ProcessEnv) =>
    spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind /proc/sys /proc/sys && mount -o remount,ro,bind /proc/sys && exec ip netns exec ${ns} ${join(DOCKER, 'entrypoint.sh')} true`], {
      encoding: 'utf8',
      env: e,
      timeout: 20_000,
    })
  afterEach(() => {
    ip('netns', 'del', ns)
    ip('netns', 'del', `${ns}p`)
  })

  test('§6.8 interfaces are found by address and renamed; access links get the fixed MAC and fe80::1 only', () => {
    container()
    // What compose's sysctls set; the rest of /proc/sys is read-only, as in a container.
    ip('netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1')
    const r = entrypointRo(env)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const byName = links()
    expect(byName.get('up0')?.addr_info.map((a) => a.local)).toContain('2001:db8:ffff::1')
    expect(byName.get('mn1')?.address).toBe('02:00:00:00:00:fe')
    // No EUI-64 link-local (fe80::ff:fe00:fe) next to the fixed one: every MAG is the same router.
    expect(byName.get('mn1')?.addr_info.filter((a) => a.family === 'inet6').map((a) => a.local)).toEqual(['fe80::1'])
    expect(byName.has('eth0') || byName.has('eth1')).toBe(false)
  })

  test('the entrypoint exits non-zero, saying why, when /proc/sys is read-only and IPv6 forwarding is off', () => {
    container()
    ip('netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0')
    const r = entrypointRo(env)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/net\.ipv6\.conf\.all\.forwarding is 0, the lab needs 1, and \/proc\/sys is read-only here: set it with compose sysctls/)
  })

  test('an MN host gets its own MAC on every access interface (compose mac_address is not relied on)', () => {
    container()
    const r = entrypointRo({ ...process.env, MN_MAC: '02:00:00:00:01:01' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const byName = links()
    expect([byName.get('eth0')?.address, byName.get('eth1')?.address]).toEqual(['02:00:00:00:01:01', '02:00:00:00:01:01'])
  })
})
