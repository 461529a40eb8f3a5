// `mag ipsec-config` output, loaded by a real strongSwan (charon + swanctl) inside a network
// namespace: the configuration parses, the CHILD_SA selects the Mobility Header (protocol 135)
// between MAG and LMA in transport mode (RFC 5213 §4), and charon installs the matching trap
// policies in the kernel. Negotiating ESP itself is not tried: this kernel has no ESP for IPv6.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const MAG_JS = resolve(__dirname, '../../packages/cli/bin/mag.js')
const CHARON = '/usr/lib/ipsec/charon'
const haveSwan = existsSync(CHARON) && spawnSync('sh', ['-c', 'command -v swanctl'], { stdio: 'ignore' }).status === 0
const IS_ROOT = process.getuid?.() === 0
const why = !IS_ROOT ? 'needs root (ip netns)' : !haveSwan ? 'strongSwan (strongswan-charon, strongswan-swanctl) is not installed' : null

if (why && process.env['CI'] === 'true') {
  test('strongSwan interop prerequisites', () => {
    throw new Error(`${why}; CI=true, so this is a failure, not a skip`)
  })
} else if (why) {
  console.warn(`SKIPPED strongSwan interop: ${why}`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

;(why ? describe.skip : describe)('mag ipsec-config with a real strongSwan', () => {
  const ns = `swan${process.pid % 100000}`
  const dir = mkdtempSync(join(tmpdir(), 'mag-swan-'))
  let charon: ChildProcess | undefined
  const env = { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') }
  const vici = `unix://${join(dir, 'charon.vici')}`
  const swanctl = (...a: string[]) => spawnSync('ip', ['netns', 'exec', ns, 'swanctl', ...a, '-u', vici], { encoding: 'utf8', env, timeout: 20_000 })

  beforeAll(async () => {
    spawnSync('ip', ['netns', 'add', ns])
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    writeFileSync(join(dir, 'strongswan.conf'), `charon {\n  install_routes = no\n  plugins {\n    vici { socket = ${vici} }\n  }\n}\n`)
    writeFileSync(
      join(dir, 'mag.yaml'),
      'mag:\n  address: 2001:db8:ffff::1\n  controlSocket: /tmp/unused.sock\nlinks:\n  mn1: {}\nprofiles:\n  - { mnId: mn1@example.com, lma: 2001:db8:ffff::2 }\n  - { mnId: mn2@example.com, lma: 2001:db8:ffff::4 }\n',
    )
    // charon writes its pid file to /run: a mount namespace of its own keeps it apart.
    charon = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', 'sh', '-c', `mount -t tmpfs tmpfs /run && exec ${CHARON}`], { env, stdio: 'ignore' })
    for (let i = 0; i < 100 && swanctl('--stats').status !== 0; i++) await sleep(100)
  }, 30_000)

  afterAll(() => {
    charon?.kill('SIGKILL')
    spawnSync('ip', ['netns', 'del', ns])
    rmSync(dir, { recursive: true, force: true })
  })

  test('the MAG file loads: one connection per LMA, MH selectors, transport mode, trap policies in the kernel', () => {
    const gen = spawnSync(process.execPath, [MAG_JS, 'ipsec-config', '--config', join(dir, 'mag.yaml'), '--out', `${dir}/`], { encoding: 'utf8' })
    expect(gen.status).toBe(0)
    const load = swanctl('--load-all', '--file', join(dir, 'mag.conf'))
    // charon's plugin loader and the empty credential folders are noise; anything else is not.
    const complaints = load.stderr.split('\n').filter((l) => l.trim() !== '' && !/^plugin '|^opening directory/.test(l.trim()))
    expect(complaints).toEqual([])
    expect(load.stdout).toMatch(/successfully loaded 2 connections/)
    expect(load.stdout).toMatch(/loaded ike secret/)
    const conns = swanctl('--list-conns').stdout
    expect(conns.match(/TRANSPORT/g)).toHaveLength(2)
    expect(conns).toContain('local:  2001:db8:ffff::1/128[mobility-header]')
    expect(conns).toContain('remote: 2001:db8:ffff::2/128[mobility-header]')
    expect(conns).toContain('remote: 2001:db8:ffff::4/128[mobility-header]')
    // start_action = trap: the kernel now sends MH to the LMAs only through ESP.
    const pol = spawnSync('ip', ['-n', ns, 'xfrm', 'policy'], { encoding: 'utf8' }).stdout
    expect(pol).toMatch(/src 2001:db8:ffff::1\/128 dst 2001:db8:ffff::2\/128 proto mobility-header\s+dir out[\s\S]*?proto esp reqid \d+ mode transport/)
    expect(pol).toMatch(/src 2001:db8:ffff::4\/128 dst 2001:db8:ffff::1\/128 proto mobility-header\s+dir in/)
  })

  test('the LMA side loads with the same key and mirrored selectors', () => {
    swanctl('--load-all', '--file', join(dir, 'mag.conf')) // unloads nothing it does not know
    const load = swanctl('--load-all', '--file', join(dir, 'lma-2001_db8_ffff__2.conf'))
    expect(load.stdout).toMatch(/successfully loaded 1 connections/)
    const conns = swanctl('--list-conns').stdout
    expect(conns).toContain('local:  2001:db8:ffff::2/128[mobility-header]')
    expect(conns).toContain('remote: 2001:db8:ffff::1/128[mobility-header]')
  })
})
