'use strict'
// Registration latency in the netns lab (issue 4), root only; run `npm run build` first.
//   node test/bench/registration-latency.bench.js [cycles]
// 1,000 attach/detach cycles of one MN against the lab LMA over real raw sockets, no data plane.
// Two figures per cycle:
//  - in the daemon: from the attach fact reaching it (control socket -> mock driver) to the
//    sendmsg() of the RA carrying the HNP returning (the daemon's own registration-latency
//    recorder, hrtime; includes the PBU/PBA round trip to the LMA over the lab's veths);
//  - on the wire: from this process writing the attach request to the RA with the HNP as
//    tshark timestamps it on the MAG's access link (same clock), so it adds the control
//    socket, our own process and the capture path.
// The LMA must answer each registration, and each detach waits for the de-registration PBA.
// The bench looks at the daemon only a few ms after each command, so its polling does not
// compete with the registration it measures.
const { spawnSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { controlRequest } = require('@pmip6/agent')
const { writeResult, percentile } = require('./lib')

const CYCLES = Number(process.argv[2] || 1000)
const LAB = `rl${process.pid % 100000}`.slice(0, 12)
const MAG_JS = path.join(__dirname, '../../packages/cli/bin/mag.js')
const SOCK = `/run/mag-lab/${LAB}/mag1.sock`
const MN = 'mn1@example.com'

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('registration-latency: needs root (netns lab); skipped\n')
  process.exit(0)
}

const mag = (args) => spawnSync(process.execPath, [MAG_JS, ...args], { encoding: 'utf8', timeout: 60_000 })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const nowEpoch = () => (performance.timeOrigin + performance.now()) / 1000

async function until(what, fn, ms = 10_000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(1)
  }
}

async function main() {
  mag(['lab', 'down', '--name', LAB])
  const up = mag(['lab', 'up', '--name', LAB, '--mns', '1', '--log-level', 'warn'])
  if (up.status !== 0) throw new Error(`lab up: ${up.stderr}`)
  // MAG_BENCH_CPU=N pins the MAG, the LMA and this process to one CPU: in a VM, waking a
  // process on another vCPU costs an inter-processor interrupt, which this shows apart.
  const pin = process.env.MAG_BENCH_CPU
  if (pin !== undefined) {
    const st = JSON.parse(fs.readFileSync(`/run/mag-lab/${LAB}/state.json`, 'utf8'))
    for (const pid of [st.pids.mag1, st.pids.lma, process.pid]) spawnSync('taskset', ['-a', '-p', '-c', pin, String(pid)], { stdio: 'ignore' })
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mag-bench-'))
  const pcap = path.join(dir, 'ra.pcap')
  const cap = spawn('ip', ['netns', 'exec', `${LAB}-mag1`, 'tshark', '-n', '-q', '-i', 'mn1', '-f', 'icmp6 and ip6[40] == 134', '-w', pcap], { stdio: ['ignore', 'ignore', 'pipe'] })
  let capErr = ''
  cap.stderr.on('data', (c) => (capErr += c))
  try {
    await until('tshark', () => capErr.includes('Capturing on'), 15_000)
    await controlRequest(SOCK, { cmd: 'latency-reset' })
    const sent = []
    for (let i = 0; i < CYCLES; i++) {
      const before = (await controlRequest(SOCK, { cmd: 'status' })).registrationLatencyUs.count
      sent.push(nowEpoch())
      await controlRequest(SOCK, { cmd: 'attach', mn: MN, link: 'mn1', mac: '02:00:00:00:01:01', att: 'wifi' })
      // Polling the daemon while it registers would add to what we measure: look later.
      await sleep(5)
      await until(`registration ${i}`, async () => (await controlRequest(SOCK, { cmd: 'status' })).registrationLatencyUs.count > before)
      await controlRequest(SOCK, { cmd: 'detach', mn: MN })
      await sleep(3)
      await until(`de-registration ${i}`, async () => (await controlRequest(SOCK, { cmd: 'bindings' })).length === 0)
    }
    const st = await controlRequest(SOCK, { cmd: 'status' })
    await sleep(300)
    cap.kill('SIGINT')
    await new Promise((r) => (cap.exitCode !== null ? r() : cap.once('exit', r)))
    // RA times with a non-zero prefix lifetime, in order; the k-th follows the k-th attach.
    const out = spawnSync('tshark', ['-n', '-r', pcap, '-Y', 'icmpv6.opt.prefix.valid_lifetime > 0', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 64 << 20 })
    const raTimes = out.stdout.split('\n').filter(Boolean).map(Number)
    if (process.env.MAG_BENCH_DEBUG) process.stdout.write(JSON.stringify({ sent: sent.slice(0, 5), ra: raTimes.slice(0, 8) }) + "\n")
    const wire = []
    let k = 0
    // Each attach is paired with the first HNP RA after it and before the next attach; a cycle
    // whose RA the capture missed is left out rather than paired with the next cycle's.
    for (let i = 0; i < sent.length; i++) {
      const t0 = sent[i]
      const next = i + 1 < sent.length ? sent[i + 1] : Infinity
      while (k < raTimes.length && raTimes[k] < t0) k++
      if (k < raTimes.length && raTimes[k] < next) wire.push((raTimes[k++] - t0) * 1e6)
    }
    const lat = st.registrationLatencyUs
    const lma = st.lmaRoundTripUs
    const own = st.magProcessingUs
    writeResult(
      'registration-latency',
      [
        { metric: 'in-daemon p50 (attach fact -> HNP RA sent)', value: lat.p50, unit: 'us', goal: '<= 300' },
        { metric: 'in-daemon p99', value: lat.p99, unit: 'us', goal: '<= 2000' },
        { metric: 'of which LMA round trip p50 (PBU sent -> PBA read)', value: lma.p50, unit: 'us' },
        { metric: 'of which LMA round trip p99', value: lma.p99, unit: 'us' },
        { metric: 'MAG share p50 (registration minus LMA round trip)', value: own.p50, unit: 'us' },
        { metric: 'MAG share p99', value: own.p99, unit: 'us' },
        { metric: 'on the wire p50 (attach request -> HNP RA captured)', value: percentile(wire, 50), unit: 'us' },
        { metric: 'on the wire p99', value: percentile(wire, 99), unit: 'us' },
      ],
      { cycles: CYCLES, samples: { daemon: lat.count, wire: wire.length }, dataplane: 'none', logLevel: 'warn', pinnedCpu: pin ?? null },
    )
  } finally {
    if (cap.exitCode === null) cap.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
    mag(['lab', 'down', '--name', LAB])
  }
}

main().catch((e) => {
  process.stderr.write(`registration-latency: ${e.stack || e}\n`)
  mag(['lab', 'down', '--name', LAB])
  process.exit(1)
})
