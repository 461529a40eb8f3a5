// `mag lab capture` / `mag lab demo --pcap` hold every packet from the start to the stop: the
// capture is ready when dumpcap has its interfaces open (not when it says 'Capturing on', which
// it prints first) and has written a sync marker sent on each link; before the stop, a marker
// again (libpcap hands packets over a ring block at a time: the last ones were lost to an
// immediate stop). A real dumpcap behind a wrapper that stalls after 'Capturing on' (as a loaded
// machine does) must hold a packet sent the moment the capture is ready and stopped right after.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readCapture } from '../src/pcap/pcapng'
import { startCapture } from '../src/lab/capture'
import { listNetns } from '../src/lab/sh'

const root = process.getuid?.() === 0
const haveDumpcap = spawnSync('dumpcap', ['--version'], { stdio: 'ignore' }).status === 0
if (process.env['CI'] === 'true' && (!root || !haveDumpcap)) throw new Error('capture-ready test needs root and dumpcap (tshark package) in CI')
const maybe = root && haveDumpcap ? describe : describe.skip

maybe('lab capture readiness', () => {
  const ns = `capr${process.pid % 100000}`
  let dir: string
  beforeAll(() => {
    for (const n of listNetns().filter((x) => /^capr\d+$/.test(x))) spawnSync('ip', ['netns', 'del', n])
    execFileSync('ip', ['netns', 'add', ns])
    // No DAD: v0's link-local is usable at once, so the ping below leaves however loaded the machine.
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0'])
    execFileSync('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'])
    execFileSync('ip', ['-n', ns, 'link', 'set', 'v1', 'up'])
    execFileSync('ip', ['-n', ns, 'link', 'set', 'v0', 'up'])
    dir = mkdtempSync(join(tmpdir(), 'mag-capr-'))
  })
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns])
    rmSync(dir, { recursive: true, force: true })
  })

  test("a packet sent as soon as the capture is ready, and stopped right after, is in the merged file; the sync markers are not", async () => {
    const wrapper = join(dir, 'slow-dumpcap')
    writeFileSync(wrapper, "#!/bin/sh\necho \"Capturing on 'v0'\" >&2\nsleep 1.5\nexec dumpcap \"$@\"\n")
    chmodSync(wrapper, 0o755)
    const out = join(dir, 'merged.pcapng')
    const cap = await startCapture([{ node: 't', namespace: ns, links: [{ ifname: 'v0', description: 'test link' }] }], out, { dumpcap: wrapper })
    // One frame out of v0: an IPv6 echo request to all nodes on the link (v1 answers it).
    const p = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-6', '-n', '-c', '1', '-W', '1', 'ff02::1%v0'], { encoding: 'utf8', timeout: 10_000 })
    const sent = `${p.stdout}${p.stderr}`
    const r = await cap.stop()
    // The ping did send (else this test says nothing about the capture).
    expect(sent).toMatch(/1 packets transmitted/)
    const icmp = (type: number) => readCapture(readFileSync(out)).packets.filter((x) => x.data.length >= 14 + 41 && x.data.readUInt16BE(12) === 0x86dd && x.data[14 + 6] === 58 && x.data[14 + 40] === type)
    // Our ping and v1's answer, nothing of the markers (echo requests to ff02::1 at start and stop).
    expect({ requests: icmp(128).length, replies: icmp(129).length, ping: sent }).toEqual({ requests: 1, replies: 1, ping: sent })
    expect(r).toMatchObject({ file: out, interfaces: ['t:v0'] })
  }, 60_000)
})
