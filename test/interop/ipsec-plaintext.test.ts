// Issue 17 item 1, IPsec side: where `mag ipsec-config` is loaded, the kernel itself refuses
// plaintext Mobility Headers between the MAG and its LMA, in both directions, even when
// strongSwan's bypass-lan plugin puts a passthrough policy on the shared transport subnet
// (which, before the fixed policy priority, let plaintext MH through both ways). A real charon
// installs the policies in a namespace; the packets are plain raw-socket MH built in Python.
// ESP itself is not negotiated: this kernel has no ESP for IPv6 (the real-kernel tier does it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const MAG_JS = resolve(__dirname, '../../packages/cli/bin/mag.js')
const MH_RAW = resolve(__dirname, 'fixtures/mh-raw.py')
const CHARON = '/usr/lib/ipsec/charon'
const haveSwan = existsSync(CHARON) && spawnSync('sh', ['-c', 'command -v swanctl'], { stdio: 'ignore' }).status === 0
const havePy = spawnSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }).status === 0
const IS_ROOT = process.getuid?.() === 0
const why = !IS_ROOT ? 'needs root (ip netns)' : !haveSwan ? 'strongSwan (strongswan-charon, strongswan-swanctl) is not installed' : !havePy ? 'python3 is missing' : null

if (why && process.env['CI'] === 'true') {
  test('IPsec plaintext-MH prerequisites', () => {
    throw new Error(`${why}; CI=true, so this is a failure, not a skip`)
  })
} else if (why) {
  console.warn(`SKIPPED IPsec plaintext MH: ${why}`)
}

const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const STRANGER = '2001:db8:ffff::9' // a host on the same subnet, outside every IPsec selector
const MAG_OTHER = '2001:db8:ffff::7' // another address of the MAG, outside the selectors
// A Heartbeat request (RFC 5847 §3.1), 16 octets: Payload Proto 59, Header Len 1, type 13.
const HEARTBEAT = '3b010d0000000000' + '0000000101040000'

/**
 * How long a python3 or swanctl start may take: a full test run beside two CPU hogs and a
 * kernel VM left a 10 s bound short (load 18).
 */
const STARVED_MS = 60_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, fn: () => T | null | undefined | false, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(100)
  }
}

;(why ? describe.skip : describe)('issue 17 item 1: no plaintext MH between MAG and LMA once `mag ipsec-config` is loaded (RFC 5213 §4)', () => {
  jest.setTimeout(4 * STARVED_MS)
  const tag = process.pid % 100000
  const nsMag = `ipsm${tag}`
  const nsLma = `ipsl${tag}`
  const dir = mkdtempSync(join(tmpdir(), 'mag-ipsec-'))
  const env = { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') }
  const vici = `unix://${join(dir, 'charon.vici')}`
  let charon: ChildProcess | undefined
  const receivers: ChildProcess[] = []
  const swanctl = (...a: string[]) => spawnSync('ip', ['netns', 'exec', nsMag, 'swanctl', ...a, '-u', vici], { encoding: 'utf8', env, timeout: STARVED_MS })
  const ip = (...a: string[]) => {
    const r = spawnSync('ip', a, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const tmplMismatch = (): number => {
    const r = spawnSync('ip', ['netns', 'exec', nsMag, 'cat', '/proc/net/xfrm_stat'], { encoding: 'utf8' })
    const m = /XfrmInTmplMismatch\s+(\d+)/.exec(r.stdout)
    if (!m) throw new Error(`no XfrmInTmplMismatch in /proc/net/xfrm_stat: ${r.stdout}${r.stderr}`)
    return Number(m[1])
  }
  const send = (ns: string, src: string, dst: string): string => {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'python3', MH_RAW, 'send', src, dst, HEARTBEAT], { encoding: 'utf8', timeout: STARVED_MS })
    if (r.error || r.status !== 0) throw new Error(`send ${src} -> ${dst}: ${r.error?.message ?? `exit ${r.status}`} ${r.stderr}`)
    return r.stdout.trim()
  }

  /** A raw MH receiver in `ns`; `lines()` is what it has printed so far. */
  async function receiver(ns: string): Promise<{ lines: () => string[] }> {
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', MH_RAW, 'recv', String((2 * STARVED_MS) / 1000)], { stdio: ['ignore', 'pipe', 'pipe'] })
    receivers.push(child)
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c))
    await until('the receiver', () => out.includes('ready'), STARVED_MS)
    return { lines: () => out.split('\n').filter((l) => l.startsWith('from ')) }
  }

  beforeAll(async () => {
    for (const ns of [nsMag, nsLma]) {
      ip('netns', 'add', ns)
      ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    ip('link', 'add', `ipsa${tag}`, 'type', 'veth', 'peer', 'name', `ipsb${tag}`)
    ip('link', 'set', `ipsa${tag}`, 'netns', nsMag, 'name', 'up0')
    ip('link', 'set', `ipsb${tag}`, 'netns', nsLma, 'name', 'up0')
    for (const [ns, addrs] of [
      [nsMag, [MAG, MAG_OTHER]],
      [nsLma, [LMA, STRANGER]],
    ] as const) {
      for (const a of addrs) ip('-n', ns, 'addr', 'add', `${a}/64`, 'dev', 'up0', 'nodad')
      ip('-n', ns, 'link', 'set', 'up0', 'up')
    }
    writeFileSync(join(dir, 'strongswan.conf'), `charon {\n  install_routes = no\n  plugins {\n    vici { socket = ${vici} }\n  }\n}\n`)
    writeFileSync(join(dir, 'mag.yaml'), `mag:\n  address: ${MAG}\n  controlSocket: /tmp/unused.sock\nlinks:\n  mn1: {}\nprofiles:\n  - { mnId: mn1@example.com, lma: ${LMA} }\n`)
    // charon writes its pid file to /run: a mount namespace of its own keeps it apart.
    charon = spawn('ip', ['netns', 'exec', nsMag, 'unshare', '--mount', 'sh', '-c', `mount -t tmpfs tmpfs /run && exec ${CHARON}`], { env, stdio: 'ignore' })
    await until('charon', () => swanctl('--stats').status === 0, STARVED_MS)
    const gen = spawnSync(process.execPath, [MAG_JS, 'ipsec-config', '--config', join(dir, 'mag.yaml'), '--out', `${dir}/`], { encoding: 'utf8' })
    if (gen.status !== 0) throw new Error(`mag ipsec-config: ${gen.stderr}`)
    const load = swanctl('--load-all', '--file', join(dir, 'mag.conf'))
    if (!/successfully loaded 1 connections/.test(load.stdout)) throw new Error(`swanctl --load-all: ${load.stdout}${load.stderr}`)
  }, 3 * STARVED_MS)

  afterAll(() => {
    for (const r of receivers) if (r.exitCode === null) r.kill('SIGKILL')
    charon?.kill('SIGKILL')
    for (const ns of [nsMag, nsLma]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean)
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL')
        } catch {
          // gone
        }
      }
      spawnSync('ip', ['netns', 'del', ns])
    }
    rmSync(dir, { recursive: true, force: true })
  })

  test('the setting that let plaintext through is there: a passthrough policy for the shared subnet (bypass-lan)', async () => {
    const pol = await until(
      'the bypass-lan passthrough and the MH policies',
      () => {
        const p = ip('-n', nsMag, 'xfrm', 'policy')
        return /src 2001:db8:ffff::\/64 dst 2001:db8:ffff::\/64\s+dir in/.test(p) && /proto mobility-header\s+dir in/.test(p) ? p : null
      },
      STARVED_MS,
    )
    // The MH policies, both directions, ESP in transport mode, at the fixed priority.
    expect(pol).toMatch(/src 2001:db8:ffff::2\/128 dst 2001:db8:ffff::1\/128 proto mobility-header\s+dir in priority 1000 [^\n]*\n\s+tmpl src :: dst ::\s+proto esp reqid \d+ mode transport/)
    expect(pol).toMatch(/src 2001:db8:ffff::1\/128 dst 2001:db8:ffff::2\/128 proto mobility-header\s+dir out priority 1000 [^\n]*\n\s+tmpl src :: dst ::\s+proto esp reqid \d+ mode transport/)
  })

  test('in: a plaintext MH from the LMA address never reaches a socket on the MAG; one from outside the selectors does', async () => {
    const rx = await receiver(nsMag)
    const before = tmplMismatch()
    expect(send(nsLma, LMA, MAG)).toBe('sent')
    expect(send(nsLma, STRANGER, MAG)).toBe('sent')
    // Same link, sent in this order: once the second is in, the first would have been.
    await until('the control packet', () => rx.lines().some((l) => l.startsWith(`from ${STRANGER} `)), STARVED_MS)
    expect(rx.lines().filter((l) => l.startsWith(`from ${LMA} `))).toEqual([])
    expect(tmplMismatch()).toBe(before + 1)
  })

  test('out: a plaintext MH from the MAG to the LMA does not leave; one from another address does', async () => {
    const rx = await receiver(nsLma)
    // Trapped: charon is asked for an SA (there is no responder), the packet is not sent in clear.
    expect(send(nsMag, MAG, LMA)).toMatch(/^(sent|error \w+)$/)
    expect(send(nsMag, MAG_OTHER, LMA)).toBe('sent')
    await until('the control packet', () => rx.lines().some((l) => l.startsWith(`from ${MAG_OTHER} `)), STARVED_MS)
    expect(rx.lines().filter((l) => l.startsWith(`from ${MAG} `))).toEqual([])
  })
})
