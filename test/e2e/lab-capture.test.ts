// The lab engineer's view: `mag lab demo --pcap` captures every lab link into one pcapng that
// tshark (an independent decoder) opens with every interface named <node>:<link> and no
// malformed packet, `mag trace` draws its ladder in order, and `mag trace --lab` draws the
// exchanges of a running lab live.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeLab, labName, labUp, mag, MAG_JS, waitFor, LAB_UP_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS } from './lab-harness'

const LAB = labName('e9c')
const DIR = mkdtempSync(join(tmpdir(), 'mag-e2e-capture-'))
const PCAP = join(DIR, 'demo.pcapng')

const tshark = (args: string[]): string => execFileSync('tshark', ['-n', '-r', PCAP, ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 })

describeLab('lab captures and ladders', () => {
  afterAll(async () => {
    await labDown(LAB)
    rmSync(DIR, { recursive: true, force: true })
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('mag lab demo --pcap: one pcapng, every lab link named, tshark reads every packet', () => {
    // The demo brings a lab up, runs every step and takes it down: up to a lab start and then some.
    const r = mag(['lab', 'demo', '--name', LAB, '--pcap', PCAP], 2 * LAB_UP_TIMEOUT_MS)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/capture written .* packets on 7 interfaces/)
    const ifaces = tshark(['-T', 'fields', '-e', 'frame.interface_name']).trim().split('\n')
    // Every link that carried something is there; mag2's port to mn2 stays silent in the demo.
    expect(new Set(ifaces)).toEqual(new Set(['mag1:up0', 'mag1:mn1', 'mag1:mn2', 'mag2:up0', 'mag2:mn1', 'cn:eth0']))
    expect(tshark(['-Y', '_ws.malformed']).trim()).toBe('')
    // tshark sees the same signalling our ladder draws: PBUs and PBAs, RAs, tunnelled echoes.
    expect(Number(tshark(['-Y', 'mip6.mhtype == 5', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length)).toBeGreaterThanOrEqual(3)
    expect(tshark(['-Y', 'ipv6.nxt == 41 && icmpv6.type == 128', '-T', 'fields', '-e', 'frame.interface_name']).trim()).toMatch(/mag2:up0/)
  }, 3 * LAB_UP_TIMEOUT_MS)

  test('mag trace draws the demo in order: registration, handoff, Scenario B', () => {
    const r = mag(['trace', PCAP, '--svg', join(DIR, 'demo.svg')])
    expect(r.code).toBe(0)
    const lines = r.out.split('\n')
    // The dual-stack MN's DHCPv4 server answers from the IPv4 default router every MAG emulates.
    expect(lines[0]!.trim().split(/\s+/)).toEqual(['mn1', 'mn2', 'mag1', 'mag2', 'LMA', 'cn', 'ipv4-router'])
    const order = [/PBU mn1@example.com .*HI=1\(new\)/, /PBA .*status=0\(accepted\) lt=3600 HNP=2001:db8:100:/, /RA rtr-lt=1800 .*PIO=2001:db8:100:/, /PBU mn1@example.com .*lt=0\(dereg\)/, /PBU mn1@example.com .*HI=3\(mag-switch\)/, /RA rtr-lt=1800 .*PIO=2001:db8:100:/, /RA rtr-lt=1800 .*PIO=2001:db8:a1:/]
    let at = 0
    for (const re of order) {
      const i = lines.findIndex((l, k) => k >= at && re.test(l))
      if (i < 0) throw new Error(`no ${re} after line ${at}:\n${r.out}`)
      at = i + 1
    }
    expect(r.out).not.toMatch(/UNDECODABLE/)
    expect(readFileSync(join(DIR, 'demo.svg'), 'utf8')).toMatch(/<svg[\s\S]*PBU mn1@example.com[\s\S]*<\/svg>/)
  }, 60_000)

  test('mag trace --lab draws a registration live', async () => {
    labUp(LAB, ['--mns', '1'])
    const child = spawn(process.execPath, [MAG_JS, 'trace', '--lab', '--name', LAB], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    try {
      await waitFor('live trace ready', () => /tracing lab/.test(err) || child.exitCode !== null, 30_000)
      expect(child.exitCode).toBeNull()
      expect(mag(['attach', '--socket', `/run/mag-lab/${LAB}/mag1.sock`, '--mn', 'mn1@example.com', '--link', 'mn1', '--mac', '02:00:00:00:01:01']).code).toBe(0)
      await waitFor('PBU, PBA and RA drawn', () => /PBU mn1@example.com[\s\S]*PBA seq=[\s\S]*RA rtr-lt=1800/.test(out), 30_000)
      const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
      child.kill('SIGINT')
      expect(await exited).toBe(0)
      expect(out.split('\n')[0]!.trim().split(/\s+/)).toContain('mag1')
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      mag(['lab', 'down', '--name', LAB])
    }
  }, 120_000)
})
