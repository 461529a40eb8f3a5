// `mag config check` and `mag ipsec-config` as an operator runs them (the built CLI).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '@pmip6/agent'
import { DEFAULT_DPD_DELAY_S, ipsecConfig, MH_POLICY_PRIORITY } from '../src/config-commands'

const BIN = join(__dirname, '..', 'bin', 'mag.js')
const run = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8', timeout: 30_000 })
const dir = mkdtempSync(join(tmpdir(), 'mag-cfg-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const good = 'mag:\n  address: 2001:db8:ffff::1\n  controlSocket: /tmp/x.sock\nlinks:\n  mn1: {}\nprofiles:\n  - { mnId: mn1@example.com, lma: 2001:db8:ffff::2, macs: ["02:00:00:00:01:01"] }\n'

describe('mag config check', () => {
  test('a valid file: exit 0 and a one-line summary', () => {
    writeFileSync(join(dir, 'good.yaml'), good)
    const r = run('config', 'check', join(dir, 'good.yaml'))
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/ok \(MAG 2001:db8:ffff::1, 1 profiles, links mn1, drivers .*LMAs 2001:db8:ffff::2, policy file\)/)
  })

  test('policy: radius: the summary names it; a secret file others can read, or none, is named by its path (exit 1)', () => {
    const secret = join(dir, 'radius.secret')
    writeFileSync(secret, 'testing123\n', { mode: 0o600 })
    const radius = (servers: string) => `mag:\n  address: 2001:db8:ffff::1\n  controlSocket: /tmp/x.sock\nlinks:\n  mn1: {}\npolicy:\n  source: radius\n  radius:\n    servers: ${servers}\n`
    writeFileSync(join(dir, 'radius.yaml'), radius(`[{ address: 2001:db8:aaa::2, secretFile: ${secret} }]`))
    const ok = run('config', 'check', join(dir, 'radius.yaml'))
    expect(ok.status).toBe(0)
    expect(ok.stdout).toMatch(/policy radius \(1 server\)\)/)
    const open = join(dir, 'open.secret')
    writeFileSync(open, 'testing123\n', { mode: 0o644 })
    writeFileSync(join(dir, 'radius-bad.yaml'), radius(`[{ address: 2001:db8:aaa::2, secretFile: ${open} }, { address: 2001:db8:aaa::3 }]`))
    const bad = run('config', 'check', join(dir, 'radius-bad.yaml'))
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('policy.radius.servers[0].secretFile: ')
    expect(bad.stderr).toContain('readable by group or others')
    expect(bad.stderr).toContain('policy.radius.servers[1].secretFile: is required')
  })

  test('every problem is listed with its path; exit non-zero', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'mag:\n  address: nope\n  lifetime: -3\nprofiles:\n  - mnId: 5\n')
    const r = run('config', 'check', join(dir, 'bad.yaml'))
    expect(r.status).not.toBe(0)
    for (const path of ['mag.address', 'mag.lifetime', 'profiles[0].mnId', 'profiles[0].lma']) expect(r.stderr).toContain(`${path}:`)
  })

  test('a file that is not YAML/JSON or does not exist: one clear error', () => {
    writeFileSync(join(dir, 'junk.yaml'), 'mag: [unclosed\n')
    expect(run('config', 'check', join(dir, 'junk.yaml')).status).not.toBe(0)
    const missing = run('config', 'check', join(dir, 'nope.yaml'))
    expect(missing.status).not.toBe(0)
    expect(missing.stderr).toMatch(/nope\.yaml/)
  })
})

describe('mag ipsec-config', () => {
  test('one IKEv2 connection per LMA, MH-only transport-mode selectors, the same key on both sides', () => {
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: '/tmp/x.sock' },
      links: { mn1: {} },
      profiles: [
        { mnId: 'a@example.com', lma: '2001:db8:ffff::2' },
        { mnId: 'b@example.com', lma: '2001:db8:ffff::2' },
        { mnId: 'c@example.com', lma: '2001:db8:ffff::4' },
      ],
    })
    let n = 0
    const files = ipsecConfig(cfg, { auth: 'psk', espProposals: 'aes256gcm16', ikeProposals: 'aes256-sha256-modp2048', random: (k) => Buffer.alloc(k, ++n) })
    expect(Object.keys(files.lmas)).toEqual(['2001:db8:ffff::2', '2001:db8:ffff::4'])
    expect(files.mag.match(/mode = transport/g)).toHaveLength(2)
    expect(files.mag).toContain('local_ts = 2001:db8:ffff::1/128[135]')
    expect(files.mag).toContain('remote_ts = 2001:db8:ffff::4/128[135]')
    const key = (t: string) => /secret = (0s\S+)/.exec(t)?.[1]
    expect(key(files.lmas['2001:db8:ffff::2']!)).toBe(key(files.mag))
    expect(key(files.lmas['2001:db8:ffff::4']!)).not.toBe(key(files.lmas['2001:db8:ffff::2']!))
    expect(files.lmas['2001:db8:ffff::4']).toContain('remote_ts = 2001:db8:ffff::1/128[135]')
  })

  test('issue 17 item 1: ESP required for MH in both directions, at a fixed priority above any passthrough policy (RFC 5213 §4)', () => {
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: '/tmp/x.sock' },
      links: { mn1: {} },
      profiles: [{ mnId: 'a@example.com', lma: '2001:db8:ffff::2' }],
      unknownMn: { lma: '2001:db8:ffff::6' },
    })
    const files = ipsecConfig(cfg, { auth: 'psk', espProposals: 'aes256gcm16', ikeProposals: 'aes256-sha256-modp2048', random: (k) => Buffer.alloc(k, 7) })
    // The unknown-MN default's LMA is protected as well as the profiles' one.
    expect(Object.keys(files.lmas)).toEqual(['2001:db8:ffff::2', '2001:db8:ffff::6'])
    const children = (t: string) => [...t.matchAll(/pmip6-mh \{([^}]*)\}/g)].map((m) => m[1]!)
    for (const text of [files.mag, ...Object.values(files.lmas)]) {
      const cs = children(text)
      expect(cs.length).toBeGreaterThan(0)
      for (const c of cs) {
        // Transport-mode ESP, the kernel policies installed (in: plaintext dropped; out: trapped)
        // and kept after a DPD timeout or a peer's close, at a priority no computed one beats.
        expect(c).toMatch(/^\s*mode = transport$/m)
        expect(c).toMatch(/^\s*policies = yes$/m)
        expect(c).toMatch(/^\s*start_action = trap$/m)
        expect(c).toMatch(/^\s*dpd_action = trap$/m)
        expect(c).toMatch(/^\s*close_action = trap$/m)
        expect(c).toMatch(new RegExp(`^\\s*priority = ${MH_POLICY_PRIORITY}$`, 'm'))
        expect(c).toMatch(/local_ts = \S+\/128\[135\]/)
        expect(c).toMatch(/remote_ts = \S+\/128\[135\]/)
      }
    }
    // dpd_action needs a DPD interval, or it never fires (a restarted peer went unnoticed).
    for (const text of [files.mag, ...Object.values(files.lmas)]) expect(text).toMatch(new RegExp(`^\\s*dpd_delay = ${DEFAULT_DPD_DELAY_S}s$`, 'm'))
    // Both directions: the MAG's selectors mirror the LMA's.
    expect(children(files.mag)[0]).toContain('local_ts = 2001:db8:ffff::1/128[135]')
    expect(children(files.mag)[0]).toContain('remote_ts = 2001:db8:ffff::2/128[135]')
    expect(children(files.lmas['2001:db8:ffff::2']!)[0]).toContain('local_ts = 2001:db8:ffff::2/128[135]')
    expect(children(files.lmas['2001:db8:ffff::2']!)[0]).toContain('remote_ts = 2001:db8:ffff::1/128[135]')
    // Below the automatic priorities of strongSwan 5.9 (trap ~268,000, bypass-lan ~134,000).
    expect(MH_POLICY_PRIORITY).toBeLessThan(100_000)
  })

  test('--out writes root-only files (they hold keys)', () => {
    writeFileSync(join(dir, 'good.yaml'), good)
    const r = run('ipsec-config', '--config', join(dir, 'good.yaml'), '--out', `${dir}/`)
    expect(r.status).toBe(0)
    expect(statSync(join(dir, 'mag.conf')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, 'lma-2001_db8_ffff__2.conf'), 'utf8')).toContain('local_addrs = 2001:db8:ffff::2')
  })

  test('--dpd-delay sets the DPD interval; a bad value names the option and exits non-zero', () => {
    writeFileSync(join(dir, 'good.yaml'), good)
    const r = run('ipsec-config', '--config', join(dir, 'good.yaml'), '--dpd-delay', '5')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^\s*dpd_delay = 5s$/m)
    const bad = run('ipsec-config', '--config', join(dir, 'good.yaml'), '--dpd-delay', '0')
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toMatch(/--dpd-delay/)
  })
})
