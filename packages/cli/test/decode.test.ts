// `mag decode`: JSON for good input, the typed error and exit 1 for malformed input.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runDecode } from '../src/decode'
import { PBA_10_2, RA_10_3, HB_10_4 } from '../../wire/test/vectors'

const BIN = join(__dirname, '..', 'bin', 'mag.js')
const DIST = join(__dirname, '..', 'dist', 'main.js')

describe('mag decode', () => {
  test('a PBA prints status, prefix and identifier as text', () => {
    const r = runDecode({ hex: PBA_10_2.toString('hex') })
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ message: 'proxy-binding-ack', status: 0, statusName: 'Binding Update accepted', sequence: 0x1234, lifetime: 3600 })
    expect(j.options).toEqual(
      expect.arrayContaining([
        { type: 8, name: 'mn-id', subtype: 1, subtypeName: 'nai', identifier: 'mn1@example.com' },
        { type: 22, name: 'home-network-prefix', prefix: '2001:db8:1:1::/64', prefixLength: 64 },
        { type: 23, name: 'handoff-indicator', value: 1, meaning: 'attachment over a new interface' },
        { type: 24, name: 'access-technology-type', value: 4, meaning: 'ieee 802.11a/b/g' },
        { type: 27, name: 'timestamp', seconds: 1704067200, fraction: 32768, time: '2024-01-01T00:00:00.500Z' },
        { type: 25, name: 'mn-link-layer-id', identifier: '00:11:22:33:44:55' },
      ]),
    )
  })

  test('an RA and a Heartbeat decode', () => {
    const ra = JSON.parse(runDecode({ hex: RA_10_3.toString('hex') }).stdout)
    expect(ra).toMatchObject({ message: 'router-advertisement', routerLifetime: 1800 })
    expect(ra.options).toContainEqual(expect.objectContaining({ name: 'prefix-information', prefix: '2001:db8:1:1::/64', onLink: true, autonomous: true }))
    const hb = JSON.parse(runDecode({ hex: HB_10_4.toString('hex') }).stdout)
    expect(hb).toMatchObject({ message: 'heartbeat-request', sequence: 7 })
  })

  test('hex with spaces, colons and 0x is accepted', () => {
    expect(runDecode({ hex: '0x3b:01 0d00 5ae9 0000 0000 0007 0102 0000' }).code).toBe(0)
  })

  test('malformed input: typed error with reason and offset, exit 1', () => {
    const r = runDecode({ hex: '3b0a05' })
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('truncated at offset 0')
    expect(JSON.parse(r.stderr.split('\n')[1]!)).toMatchObject({ error: 'WireError', reason: 'truncated', offset: 0 })
  })

  test('bad hex and missing input are usage errors (exit 2)', () => {
    expect(runDecode({ hex: 'zz' }).code).toBe(2)
    expect(runDecode({ hex: 'abc' }).code).toBe(2)
    expect(runDecode({}).code).toBe(2)
  })

  test('the installed `mag` binary decodes a file and fails on garbage', () => {
    if (!existsSync(DIST)) throw new Error('packages/cli is not built: run `npm run build` first')
    const dir = mkdtempSync(join(tmpdir(), 'mag-decode-'))
    try {
      const file = join(dir, 'pba.bin')
      writeFileSync(file, PBA_10_2)
      const ok = spawnSync(process.execPath, [BIN, 'decode', '--file', file], { encoding: 'utf8', timeout: 20_000 })
      expect(ok.status).toBe(0)
      expect(JSON.parse(ok.stdout).message).toBe('proxy-binding-ack')
      const bad = spawnSync(process.execPath, [BIN, 'decode', '--hex', '3c00060000000000'], { encoding: 'utf8', timeout: 20_000 })
      expect(bad.status).toBe(1)
      expect(bad.stderr).toContain('bad-payload-proto at offset 0')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
  test('RFC 5844 / RFC 5845 options show by name, IPv4 addresses as text', () => {
    // PBA: IPv4 HoA Reply 0 192.0.2.10/24, Default-Router 192.0.2.1, DHCP Support Mode S, GRE Key 77.
    const hex = '3b040600000000201234038425060060c000020a26060000c00002012702000121060000' + '0000004d'
    const r = runDecode({ hex })
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.options).toEqual([
      { type: 37, name: 'ipv4-home-address-reply', status: 0, statusName: 'Success', accepted: true, address: '192.0.2.10/24', prefixLength: 24 },
      { type: 38, name: 'ipv4-default-router-address', address: '192.0.2.1' },
      { type: 39, name: 'ipv4-dhcp-support-mode', server: true, mode: 'dhcp-server' },
      { type: 33, name: 'gre-key', key: 77 },
    ])
    // Prefix-len 40 in the Reply: the typed error, exit 1.
    const bad = runDecode({ hex: hex.slice(0, 30) + 'a0' + hex.slice(32) })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('bad-prefix-length at offset 12')
  })
})
