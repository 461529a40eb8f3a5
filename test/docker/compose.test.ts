// The docker lab cannot run here (no Docker engine), so these tests check what can be checked
// without one: the compose file is consistent with the configs it mounts, every config passes
// the daemons' own validation, the Dockerfile copies what exists, and the entrypoint's interface
// renaming and fixed addresses work for real, in a network namespace.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
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
}
interface Compose {
  services: Record<string, Service>
  networks: Record<string, { enable_ipv6?: boolean; ipam?: { config?: { subnet: string }[] } }>
}

const compose = parse(readFileSync(join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as Compose
const configOf = (s: Service): string | undefined => {
  const i = s.command?.indexOf('--config') ?? -1
  return i >= 0 ? s.command![i + 1]!.replace('/etc/mag/', join(DOCKER, 'config') + '/') : undefined
}
const inSubnet = (addr: string, subnet: string): boolean => addr.startsWith(subnet.split('/')[0]!.replace(/::$/, ':').replace(/\.0$/, '.'))

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
      const mn = compose.services['mn1']!.mac_address
      const prof = (cfg.core.profiles ?? []).find((p) => p.mnId === 'mn1@example.com')
      expect(prof?.lma).toBe(lmaAddr)
      expect(prof?.macs).toContain(mn)
    }
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
  afterAll(() => {
    ip('netns', 'del', ns)
    ip('netns', 'del', `${ns}p`)
  })

  test('interfaces are found by subnet and renamed; access links get the fixed MAC and fe80::1', () => {
    expect(ip('netns', 'add', ns).status).toBe(0)
    expect(ip('netns', 'add', `${ns}p`).status).toBe(0)
    // Docker would name them eth0/eth1 in any order: make the access link eth0 on purpose.
    expect(ip('link', 'add', `${ns}a`, 'type', 'veth', 'peer', 'name', `${ns}b`).status).toBe(0)
    expect(ip('link', 'add', `${ns}c`, 'type', 'veth', 'peer', 'name', `${ns}d`).status).toBe(0)
    ip('link', 'set', `${ns}a`, 'netns', ns, 'name', 'eth0')
    ip('link', 'set', `${ns}c`, 'netns', ns, 'name', 'eth1')
    ip('link', 'set', `${ns}b`, 'netns', `${ns}p`)
    ip('link', 'set', `${ns}d`, 'netns', `${ns}p`)
    ip('-n', ns, 'addr', 'add', '172.30.1.2/24', 'dev', 'eth0')
    ip('-n', ns, 'addr', 'add', '2001:db8:ffff::1/64', 'dev', 'eth1', 'nodad')
    ip('-n', ns, 'link', 'set', 'eth0', 'up')
    ip('-n', ns, 'link', 'set', 'eth1', 'up')
    const r = spawnSync('ip', ['netns', 'exec', ns, join(DOCKER, 'entrypoint.sh'), 'true'], {
      encoding: 'utf8',
      env: { ...process.env, MAG_IFACES: 'up0=2001:db8:ffff: mn1=172.30.1.', MAG_ACCESS: 'mn1' },
      timeout: 20_000,
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const links = JSON.parse(ip('-n', ns, '-j', 'addr', 'show').stdout) as { ifname: string; address: string; addr_info: { local: string }[] }[]
    const byName = new Map(links.map((l) => [l.ifname, l]))
    expect(byName.get('up0')?.addr_info.map((a) => a.local)).toContain('2001:db8:ffff::1')
    expect(byName.get('mn1')?.address).toBe('02:00:00:00:00:fe')
    expect(byName.get('mn1')?.addr_info.map((a) => a.local)).toContain('fe80::1')
    expect(byName.has('eth0') || byName.has('eth1')).toBe(false)
  })
})
