'use strict'
// Registration latency in the netns lab (issue 4), root only; run `npm run build` first.
//   node test/bench/registration-latency.bench.js [cycles]
//   MAG_BENCH_POPULATION=100000 node test/bench/registration-latency.bench.js [cycles]
// 1,000 attach/detach cycles of one MN against the lab LMA over real raw sockets, no data plane
// (the lab is brought up with dataplane: false; the lab's default now installs one).
// Latency at scale (issue 8, "no degradation with the number of bindings"): with
// MAG_BENCH_POPULATION=N, N synthetic MNs are first attached on the same shared access link
// (attach-range, 10,000 at a time) and the cycles start once all N are registered; they stay
// bound and refresh in the background (binding lifetime MAG_BENCH_LIFETIME s, default 3600,
// the MAG's default). The result then goes to registration-latency-<N>.json (100000 -> 100k),
// and every population run uses the same lab configuration, so N=10 and N=100000 compare.
// Two figures per cycle:
//  - in the daemon: from the attach fact reaching it (control socket -> mock driver) to the
//    sendmsg() of the RA carrying the HNP returning (the daemon's own registration-latency
//    recorder, hrtime; includes the PBU/PBA round trip to the LMA over the lab's veths);
//  - on the wire: from this process writing the attach request to the RA with the HNP as
//    tshark timestamps it on the MAG's access link (same clock), so it adds the control
//    socket, our own process and the capture path.
// MAG_BENCH_IPV4=ipv4|dual (RFC 5844): the MN's profile is IPv4-only or dual-stack and the lab
// LMA assigns from 192.0.2.0/24; the in-daemon figure then ends at the IPv4 lease handed to the
// access link (IPv4-only: no RA) or the HNP RA, whichever is first (dual), and the result goes to
// registration-latency-ipv4.json / -dual.json. The wire figure needs an RA: IPv6 and dual only.
// The LMA must answer each registration, and each detach waits for the de-registration PBA.
// The bench looks at the daemon only a few ms after each command, so its polling does not
// compete with the registration it measures.
const { spawnSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { controlRequest } = require('@pmip6/agent')
const { labUp, labDown } = require('../../packages/cli/dist/lab/lab')
const { writeResult, percentile, sleep, until } = require('./lib')
const { distribution } = require('./plot')

const CYCLES = Number(process.argv[2] || 1000)
const LAB = `rl${process.pid % 100000}`.slice(0, 12)
let SOCK = `/run/mag-lab/${LAB}/mag1.sock`
const MN = 'mn1@example.com'
const POPULATION = process.env.MAG_BENCH_POPULATION === undefined ? null : Number(process.env.MAG_BENCH_POPULATION)
const LIFETIME_S = Number(process.env.MAG_BENCH_LIFETIME || 3600)
const LMA = '2001:db8:ffff::2'
const POLL_DELAY_MS = Number(process.env.MAG_BENCH_POLL_DELAY_MS || 5)
if (POPULATION !== null && !(Number.isInteger(POPULATION) && POPULATION >= 0 && POPULATION <= 1_000_000)) throw new Error('MAG_BENCH_POPULATION must be an integer 0..1000000')
const STACK = process.env.MAG_BENCH_IPV4 ?? 'ipv6'
if (!['ipv6', 'ipv4', 'dual'].includes(STACK)) throw new Error('MAG_BENCH_IPV4 must be ipv4 or dual')
if (STACK !== 'ipv6' && POPULATION !== null) throw new Error('MAG_BENCH_IPV4 and MAG_BENCH_POPULATION do not go together')
const RESULT =
  STACK !== 'ipv6'
    ? `registration-latency-${STACK}`
    : POPULATION === null
      ? 'registration-latency'
      : `registration-latency-${POPULATION >= 1000 && POPULATION % 1000 === 0 ? `${POPULATION / 1000}k` : POPULATION}`

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('registration-latency: needs root (netns lab); skipped\n')
  process.exit(0)
}

const nowEpoch = () => (performance.timeOrigin + performance.now()) / 1000


/** N synthetic MNs on the measured MN's link, 10,000 at a time, each wave bound before the next. */
async function populate(n) {
  const t0 = Date.now()
  for (let start = 1; start <= n; start += 10_000) {
    const upTo = Math.min(n, start + 9_999)
    await controlRequest(SOCK, { cmd: 'attach-range', link: 'mn1', count: upTo - start + 1, start, mnPrefix: 'pop', att: 'wifi' }, 120_000)
    for (;;) {
      const st = await controlRequest(SOCK, { cmd: 'status' }, 60_000)
      if ((st.states.registered ?? 0) + (st.states.refreshing ?? 0) >= upTo) break
      if (Date.now() - t0 > 300_000) throw new Error(`population: only ${st.states.registered} of ${upTo} registered after 300 s`)
      await sleep(200)
    }
  }
  return (Date.now() - t0) / 1000
}

async function main() {
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  const lab = await labUp({
    name: LAB,
    mns: 1,
    quiet: true,
    logLevel: 'warn',
    dataplane: false,
    ...(STACK !== 'ipv6'
      ? {
          magConfig: { profiles: [{ mnId: MN, lma: LMA, macs: ['02:00:00:00:01:01'], stack: STACK }] },
          lmaConfig: { ipv4Pool: '192.0.2.0/24' },
        }
      : {}),
    ...(POPULATION === null
      ? {}
      : {
          // As steady-state.bench.js: a shared link for the crowd (the measured MN keeps its own
          // profile and MAC), RFC 4861's default RA intervals, room for the prefixes at the LMA.
          magConfig: {
            mag: { lifetime: LIFETIME_S },
            ra: { maxIntervalMs: 600_000, minIntervalMs: 200_000 },
            unknownMn: { lma: LMA },
            links: { mn1: { shared: true } },
            // The lab's mock link rewrites its whole station file after each burst of attaches or
            // detaches (~50-70 ms at 100,000 stations, in the turn after the PBU went out);
            // MAG_BENCH_NO_STATEFILE=1 leaves it out to see the signalling alone.
            ...(process.env.MAG_BENCH_NO_STATEFILE === '1' ? { drivers: { mock: { att: 4 } } } : {}),
          },
          lmaConfig: { pool: '2001:db8:1000::/36', lifetimeMax: Math.max(3600, LIFETIME_S) },
        }),
  })
  SOCK = lab.sockets.mag1
  let populateS = null
  if (POPULATION) {
    populateS = await populate(POPULATION)
    // Past the initial RAs of the crowd (3, up to 16 s apart, RFC 4861 §6.2.4): the cycles then
    // see the population as it stays, not its arrival.
    await sleep(Number(process.env.MAG_BENCH_SETTLE_MS || 50_000))
  }
  const c0 = POPULATION ? (await controlRequest(SOCK, { cmd: 'status' }, 60_000)).counters : null
  const w0 = Date.now()
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
    await until('tshark', () => capErr.includes('Capturing on'), 60_000)
    await controlRequest(SOCK, { cmd: 'latency-reset' })
    const sent = []
    for (let i = 0; i < CYCLES; i++) {
      const before = (await controlRequest(SOCK, { cmd: 'status' }, 60_000)).registrationLatencyUs.count
      sent.push(nowEpoch())
      await controlRequest(SOCK, { cmd: 'attach', mn: MN, link: 'mn1', mac: '02:00:00:00:01:01', att: 'wifi' })
      // Polling the daemon while it registers would add to what we measure: look later. At
      // 100,000 bindings a status costs the daemon ~100 ms and leaves garbage for the collector,
      // so population runs may wait longer (MAG_BENCH_POLL_DELAY_MS) before the first look.
      await sleep(POLL_DELAY_MS)
      await until(`registration ${i}`, async () => (await controlRequest(SOCK, { cmd: 'status' }, 60_000)).registrationLatencyUs.count > before)
      await controlRequest(SOCK, { cmd: 'detach', mn: MN })
      await sleep(3)
      // With a population, only the count tells (the list would be 100,000 entries long).
      if (POPULATION) await until(`de-registration ${i}`, async () => (await controlRequest(SOCK, { cmd: 'status' }, 60_000)).bindings <= POPULATION)
      else await until(`de-registration ${i}`, async () => (await controlRequest(SOCK, { cmd: 'bindings' })).length === 0)
    }
    const st = await controlRequest(SOCK, { cmd: 'status' }, 60_000)
    const secs = (Date.now() - w0) / 1000
    const bgRate = (k) => (c0 ? ((st.counters[k] ?? 0) - (c0[k] ?? 0)) / secs : 0)
    await sleep(300)
    cap.kill('SIGINT')
    await new Promise((r) => (cap.exitCode !== null ? r() : cap.once('exit', r)))
    // RA times with a non-zero prefix lifetime, in order; the k-th follows the k-th attach.
    // A population run's link also carries the population's periodic RAs (all to ff02::1); the
    // measured MN's first RA follows its PBA by a millisecond, so it advertises the whole
    // binding lifetime, where a periodic RA advertises what is left of a binding (§6.7).
    const filter = POPULATION ? `icmpv6.opt.prefix.valid_lifetime >= ${LIFETIME_S - 1}` : 'icmpv6.opt.prefix.valid_lifetime > 0'
    const out = spawnSync('tshark', ['-n', '-r', pcap, '-Y', filter, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 64 << 20 })
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
      RESULT,
      [
        { metric: `in-daemon p50 (attach fact -> ${STACK === 'ipv4' ? 'IPv4 lease to the access link' : STACK === 'dual' ? 'IPv4 lease or HNP RA, the first' : 'HNP RA sent'})`, value: lat.p50, unit: 'us', goal: '<= 300' },
        { metric: 'in-daemon p99', value: lat.p99, unit: 'us', goal: '<= 2000' },
        { metric: 'of which LMA round trip p50 (PBU sent -> PBA read)', value: lma.p50, unit: 'us' },
        { metric: 'of which LMA round trip p99', value: lma.p99, unit: 'us' },
        { metric: 'MAG share p50 (registration minus LMA round trip)', value: own.p50, unit: 'us' },
        { metric: 'MAG share p99', value: own.p99, unit: 'us' },
        { metric: 'on the wire p50 (attach request -> HNP RA captured)', value: percentile(wire, 50), unit: 'us' },
        { metric: 'on the wire p99', value: percentile(wire, 99), unit: 'us' },
      ],
      {
        cycles: CYCLES,
        stack: STACK,
        loadavg: os.loadavg(),
        samples: { daemon: lat.count, wire: wire.length },
        distributionOf: 'attach request -> HNP RA on the access link (wire)',
        distributionUnit: 'us',
        distributions: { wire: distribution(wire) },
        dataplane: lab.dataplane,
        logLevel: 'warn',
        pinnedCpu: pin ?? null,
        pollDelayMs: POLL_DELAY_MS,
        mockStateFile: process.env.MAG_BENCH_NO_STATEFILE !== '1',
        ...(POPULATION === null
          ? {}
          : {
              population: POPULATION,
              bindingsDuringCycles: st.bindings,
              lifetimeS: LIFETIME_S,
              populateSeconds: populateS,
              backgroundRefreshesPerSecond: bgRate('core.pbu-sent:refresh'),
              backgroundRasPerSecond: bgRate('nd.tx.ra'),
              timers: st.timers,
            }),
      },
    )
  } finally {
    if (cap.exitCode === null) cap.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
    await labDown(LAB, { quiet: true })
  }
}

main().catch(async (e) => {
  process.stderr.write(`registration-latency: ${e.stack || e}\n`)
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  process.exit(1)
})
