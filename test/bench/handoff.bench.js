'use strict'
// Handoff between MAGs in the netns lab with the data plane (issue 5), root only; run
// `npm run build` first.   node test/bench/handoff.bench.js [handoffs]
// One MN pings the correspondent every 10 ms while it is handed over between mag1 and mag2
// 100 times (layer-2 move, detach at the old MAG, attach at the new one, as `mag lab move`).
// Figures:
//  - attach at the new MAG -> RA with the HNP on its access link: tshark on both access links,
//    paired with the time this process sent the attach request (same clock);
//  - the same inside the new MAG's daemon (attach fact -> RA handed to the kernel);
//  - the ping gap the MN sees: the longest time between two echo replies around each handoff
//    (ping -D timestamps), and the pings lost over the whole run.
// Each handoff is waited for by watching the RA arrive on the MN's side (a streaming tshark in
// the MN's namespace), never by asking the new MAG while it registers: a control request
// polled every millisecond was answered by the daemon in the middle of the registration it
// timed, and pushed the tail.
const { spawnSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { controlRequest } = require('@pmip6/agent')
const { writeResult, percentile, sleep, until } = require('./lib')
const { distribution } = require('./plot')
const { raWatcher } = require('./wire-clock')

const HANDOFFS = Number(process.argv[2] || 100)
const LAB = `ho${process.pid % 100000}`.slice(0, 12)
const MAG_JS = path.join(__dirname, '../../packages/cli/bin/mag.js')
const { labMoveL2 } = require(path.join(__dirname, '../../packages/cli/dist/lab/lab.js'))
const MN = 'mn1@example.com'
const MAC = '02:00:00:00:01:01'
const CN = '2001:db8:cccc::2'
const PING_INTERVAL_S = 0.01

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('handoff: needs root (netns lab); skipped\n')
  process.exit(0)
}

const mag = (args) => spawnSync(process.execPath, [MAG_JS, ...args], { encoding: 'utf8', timeout: 60_000 })
const nowEpoch = () => (performance.timeOrigin + performance.now()) / 1000
const sock = (m) => `/run/mag-lab/${LAB}/${m}.sock`

const registered = async (m) => (await controlRequest(sock(m), { cmd: 'bindings' })).some((b) => b.mnId === MN && b.state === 'registered')

function raCapture(dir, m) {
  const file = path.join(dir, `${m}.pcap`)
  const child = spawn('ip', ['netns', 'exec', `${LAB}-${m}`, 'tshark', '-n', '-q', '-i', 'mn1', '-f', 'icmp6 and ip6[40] == 134', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (c) => (err += c))
  return { child, file, ready: () => err.includes('Capturing on') }
}
function raTimes(file) {
  const out = spawnSync('tshark', ['-n', '-r', file, '-Y', 'icmpv6.opt.prefix.valid_lifetime > 0', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 64 << 20 })
  return out.stdout.split('\n').filter(Boolean).map(Number)
}

async function main() {
  mag(['lab', 'down', '--name', LAB])
  const up = mag(['lab', 'up', '--name', LAB, '--mns', '1', '--log-level', 'warn'])
  if (up.status !== 0) throw new Error(`lab up: ${up.stderr}`)
  const dataplane = JSON.parse(fs.readFileSync(`/run/mag-lab/${LAB}/state.json`, 'utf8')).dataplane
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mag-bench-'))
  const caps = { mag1: raCapture(dir, 'mag1'), mag2: raCapture(dir, 'mag2') }
  let pinger
  let mnRas
  try {
    await until('tshark', () => caps.mag1.ready() && caps.mag2.ready(), 15_000)
    mnRas = await raWatcher(`${LAB}-mn1`, 'eth0')
    await controlRequest(sock('mag1'), { cmd: 'attach', mn: MN, link: 'mn1', mac: MAC, att: 'wifi', hint: 'new' })
    await until('registered on mag1', () => registered('mag1'))
    // Wait for the MN's address, then start pinging.
    await until('mn1 address', () => /2001:db8:100:/.test(spawnSync('ip', ['netns', 'exec', `${LAB}-mn1`, 'ip', '-6', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout))
    await sleep(500)
    for (const m of ['mag1', 'mag2']) await controlRequest(sock(m), { cmd: 'latency-reset' })
    let pingOut = ''
    pinger = spawn('ip', ['netns', 'exec', `${LAB}-mn1`, 'ping', '-D', '-n', '-i', String(PING_INTERVAL_S), CN], { stdio: ['ignore', 'pipe', 'ignore'] })
    pinger.stdout.setEncoding('utf8').on('data', (c) => (pingOut += c))
    await sleep(500)
    const moves = []
    let at = 'mag1'
    for (let i = 0; i < HANDOFFS; i++) {
      const to = at === 'mag1' ? 'mag2' : 'mag1'
      const tMove = nowEpoch()
      labMoveL2(LAB, 1, to)
      await controlRequest(sock(at), { cmd: 'detach', mn: MN })
      const tAttach = nowEpoch()
      await controlRequest(sock(to), { cmd: 'attach', mn: MN, link: 'mn1', mac: MAC, att: 'wifi', hint: 'same-interface' })
      await mnRas.next(tAttach, null, 10_000)
      if (!(await registered(to))) throw new Error(`handoff ${i}: RA seen but ${MN} is not registered on ${to}`)
      moves.push({ to, tMove, tAttach })
      at = to
      await sleep(300) // pings flow on the new path before the next move
    }
    await sleep(200)
    pinger.kill('SIGINT')
    await until('ping summary', () => /packets transmitted/.test(pingOut), 5000)
    const daemon = {}
    for (const m of ['mag1', 'mag2']) daemon[m] = (await controlRequest(sock(m), { cmd: 'status' })).registrationLatencyUs
    for (const c of Object.values(caps)) c.child.kill('SIGINT')
    await Promise.all(Object.values(caps).map((c) => new Promise((r) => (c.child.exitCode !== null ? r() : c.child.once('exit', r)))))
    const ras = { mag1: raTimes(caps.mag1.file), mag2: raTimes(caps.mag2.file) }
    // attach -> first HNP RA on the new MAG's access link before the next move.
    const toRa = []
    moves.forEach((mv, i) => {
      const next = i + 1 < moves.length ? moves[i + 1].tMove : Infinity
      const t = ras[mv.to].find((x) => x >= mv.tAttach && x < next)
      if (t !== undefined) toRa.push((t - mv.tAttach) * 1e3)
    })
    // Ping gap per handoff: longest silence between two replies from just before the move to 1 s after.
    const replies = [...pingOut.matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=\d+/gm)].map((m) => Number(m[1]))
    const gaps = moves.map((mv) => {
      const w = replies.filter((t) => t >= mv.tMove - 0.1 && t <= mv.tMove + 1)
      let g = 0
      for (let k = 1; k < w.length; k++) g = Math.max(g, w[k] - w[k - 1])
      return g * 1e3
    })
    const sum = /(\d+) packets transmitted, (\d+) received/.exec(pingOut)
    const sent = Number(sum[1])
    const got = Number(sum[2])
    writeResult(
      'handoff',
      [
        { metric: 'attach at new MAG -> HNP RA on its access link p50 (wire)', value: percentile(toRa, 50), unit: 'ms', goal: '< 5' },
        { metric: 'attach at new MAG -> HNP RA p99 (wire)', value: percentile(toRa, 99), unit: 'ms' },
        { metric: 'in the new MAG p50 (attach fact -> RA sent), mag2', value: daemon.mag2.p50 / 1000, unit: 'ms' },
        { metric: 'in the new MAG p99, mag2', value: daemon.mag2.p99 / 1000, unit: 'ms' },
        { metric: 'ping gap seen by the MN p50 (10 ms pings)', value: percentile(gaps, 50), unit: 'ms' },
        { metric: 'ping gap p99', value: percentile(gaps, 99), unit: 'ms' },
        { metric: 'ping gap max', value: Math.max(...gaps), unit: 'ms' },
        { metric: 'pings lost over the run', value: sent - got, unit: `of ${sent}` },
      ],
      { handoffs: HANDOFFS, samples: { wire: toRa.length, gaps: gaps.length }, dataplane, pingIntervalS: PING_INTERVAL_S, order: 'detach-first', distributionOf: 'handoff: attach at the new MAG -> HNP RA, and the ping gap the MN sees', distributionUnit: 'ms', distributions: { 'attach -> RA (wire)': distribution(toRa), 'ping gap': distribution(gaps) } },
    )
  } finally {
    if (pinger && pinger.exitCode === null) pinger.kill('SIGKILL')
    for (const c of Object.values(caps)) if (c.child.exitCode === null) c.child.kill('SIGKILL')
    if (mnRas) await mnRas.stop()
    fs.rmSync(dir, { recursive: true, force: true })
    mag(['lab', 'down', '--name', LAB])
  }
}

main().catch((e) => {
  process.stderr.write(`handoff: ${e.stack || e}\n`)
  mag(['lab', 'down', '--name', LAB])
  process.exit(1)
})
