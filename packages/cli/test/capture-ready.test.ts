// `mag lab capture` / `mag lab demo --pcap` start capturing before the lab's first packet: the
// capture is ready when dumpcap has its interfaces open, not when it says 'Capturing on' (it
// prints that first). A real dumpcap behind a wrapper that stalls between the two (as a loaded
// machine does) must not lose the packet sent the moment the capture says it is ready.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readCapture } from '../src/pcap/pcapng'
import { ready, startDumpcap, stopAll } from '../src/lab/capture'
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
    execFileSync('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'])
    execFileSync('ip', ['-n', ns, 'link', 'set', 'v1', 'up'])
    execFileSync('ip', ['-n', ns, 'link', 'set', 'v0', 'up'])
    dir = mkdtempSync(join(tmpdir(), 'mag-capr-'))
  })
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns])
    rmSync(dir, { recursive: true, force: true })
  })

  test("a packet sent as soon as the capture is ready is in the file, though dumpcap said 'Capturing on' 1.5 s before it could see it", async () => {
    const wrapper = join(dir, 'slow-dumpcap')
    writeFileSync(wrapper, "#!/bin/sh\necho \"Capturing on 'v0'\" >&2\nsleep 1.5\nexec dumpcap \"$@\"\n")
    chmodSync(wrapper, 0o755)
    const file = join(dir, 'v0.pcapng')
    const r = startDumpcap({ node: 't', namespace: ns, links: [{ ifname: 'v0', description: 'test link' }] }, file, wrapper)
    try {
      await ready([r])
      // One frame out of v0 (an IPv6 echo request to all nodes: no address needed, nothing answers from outside).
      spawnSync('ip', ['netns', 'exec', ns, 'ping', '-6', '-c', '1', '-W', '1', 'ff02::1%v0'], { stdio: 'ignore', timeout: 10_000 })
    } finally {
      await stopAll([r])
    }
    const echoes = readCapture(readFileSync(file)).packets.filter((p) => p.data.length >= 14 + 41 && p.data.readUInt16BE(12) === 0x86dd && p.data[14 + 6] === 58 && p.data[14 + 40] === 128)
    expect(echoes.length).toBeGreaterThanOrEqual(1)
  }, 60_000)
})
