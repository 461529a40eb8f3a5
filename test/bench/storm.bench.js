'use strict'
// Attach and detach storms in the netns lab (issue 8), root only; run `npm run build` first.
//   node test/bench/storm.bench.js [count] [rule|subtree|none]   (default 10,000 MNs, rule)
// The third argument is the data plane's uplink selection (dataplane.uplinkSelect): 'rule' (a
// policy rule per MN prefix, the default), 'subtree' (source-specific routes, one rule per
// link), or 'none' (signalling only). Results go to storm.json, storm-subtree.json, storm-none.json.
// The MAG (mock driver, no namespace per MN: every MN is a station on one shared access link)
// registers `count` MNs at once with the lab LMA over real raw sockets, then de-registers them.
// Figures: time until every MN is bound with its forwarding installed, registrations per second, p50/p99 registration
// latency from the daemon's own recorder, the MAG's RSS and heap; the same for the detach storm.

/** CPU seconds (user + system) a process has used so far. */
function cpuS(pid) {
  const t = cpuTicks(pid)
  return (t.user + t.system) / 100
}
const { controlRequest } = require('@pmip6/agent')
const { labUp, labDown } = require('../../packages/cli/dist/lab/lab')
const { writeResult, until, cpuTicks } = require('./lib')

const COUNT = Number(process.argv[2] || 10_000)
const UPLINK = process.argv[3] || 'rule'
if (!['rule', 'subtree', 'none'].includes(UPLINK)) throw new Error(`uplink selection must be rule, subtree or none, not ${UPLINK}`)
const NAME = UPLINK === 'rule' ? 'storm' : `storm-${UPLINK}`
const LAB = `st${process.pid % 100000}`.slice(0, 12)
const LMA = '2001:db8:ffff::2'

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('storm: needs root (netns lab); skipped\n')
  process.exit(0)
}


async function main() {
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  const lab = await labUp({
    name: LAB,
    mns: 1,
    quiet: true,
    logLevel: 'warn',
    // Any MN is served by the lab LMA; the one access link is shared by all the stations.
    magConfig: { unknownMn: { lma: LMA }, links: { mn1: { shared: true } }, ...(process.env.MAG_BENCH_WINDOW ? { mag: { maxPbusInFlight: Number(process.env.MAG_BENCH_WINDOW) } } : {}), ...(UPLINK !== 'none' ? { dataplane: { uplinkSelect: UPLINK } } : {}) },
    lmaConfig: { lifetimeMax: 3600 },
    dataplane: UPLINK !== 'none',
  })
  const sock = lab.sockets.mag1
  const lmaSock = lab.sockets.lma
  try {
    await controlRequest(sock, { cmd: 'latency-reset' })
    const cpu0 = { mag: cpuS(lab.pids.mag1), lma: cpuS(lab.pids.lma) }
    const t0 = process.hrtime.bigint()
    await controlRequest(sock, { cmd: 'attach-range', link: 'mn1', count: COUNT, mnPrefix: 'storm', att: 'wifi' }, 60_000)
    const tAttached = process.hrtime.bigint()
    const progress = { registered: [[0, 0]], forwarding: [[0, 0]] }
    const st = await until('every MN registered, forwarding installed', async () => {
      const s = await controlRequest(sock, { cmd: 'status' }, 30_000, 100) // status lists every binding: polling often would load the MAG
      const fwd = UPLINK === 'none' ? COUNT : (s.dataplane.state?.bindings ?? 0)
      const tS = Number(process.hrtime.bigint() - t0) / 1e9
      progress.registered.push([tS, s.states.registered ?? 0])
      if (UPLINK !== 'none') progress.forwarding.push([tS, fwd])
      return (s.states.registered ?? 0) >= COUNT && fwd >= COUNT ? s : null
    }, 300_000, 100) // status lists every binding: polling it often would load the MAG we measure
    const tBound = process.hrtime.bigint()
    const cpu1 = { mag: cpuS(lab.pids.mag1), lma: cpuS(lab.pids.lma) }
    const boundS = Number(tBound - t0) / 1e9
    const lma = await controlRequest(lmaSock, { cmd: 'status' })

    const d0 = process.hrtime.bigint()
    await controlRequest(sock, { cmd: 'detach', link: 'mn1' }, 60_000)
    await until('every MN de-registered, forwarding removed', async () => {
      const s = await controlRequest(sock, { cmd: 'status' }, 30_000, 100) // status lists every binding: polling often would load the MAG
      return s.bindings === 0 && (UPLINK === 'none' || (s.dataplane.state.bindings === 0 && s.dataplane.state.tunnels.length === 0))
    }, 300_000, 100) // status lists every binding: polling it often would load the MAG we measure
    const detachS = Number(process.hrtime.bigint() - d0) / 1e9
    const after = await controlRequest(sock, { cmd: 'status' })
    const c = st.counters
    writeResult(
      NAME,
      [
        { metric: `attach storm: all ${COUNT} MNs bound${UPLINK === 'none' ? ' (signalling only)' : `, forwarding installed (${UPLINK})`}`, value: boundS * 1000, unit: 'ms', goal: COUNT === 10000 ? '< 2000' : undefined },
        { metric: 'attach storm: registrations per second', value: COUNT / boundS, unit: '/s', goal: '>= 5000' },
        { metric: 'attach storm: registration latency p50', value: st.registrationLatencyUs.p50, unit: 'us' },
        { metric: 'attach storm: registration latency p99', value: st.registrationLatencyUs.p99, unit: 'us' },
        { metric: 'attach storm: PBU retransmissions', value: c['core.pbu-retransmitted'] ?? 0, unit: 'PBUs' },
        { metric: `detach storm: all ${COUNT} de-registered${UPLINK === 'none' ? '' : ', every rule/route/tunnel removed'}`, value: detachS * 1000, unit: 'ms' },
        { metric: 'attach storm: CPU used by the MAG / by the lab LMA', value: `${(cpu1.mag - cpu0.mag).toFixed(2)} / ${(cpu1.lma - cpu0.lma).toFixed(2)}`, unit: 's' },
        { metric: `MAG RSS with ${COUNT} bindings`, value: st.memory.rssBytes / 2 ** 20, unit: 'MiB' },
      ],
      {
        count: COUNT,
        series: { progress: { title: `attach storm of ${COUNT} MNs (${UPLINK})`, x: 'seconds since the attach request', y: 'MNs', lines: UPLINK === 'none' ? { registered: progress.registered } : progress } },
        attachRequestMs: Number(tAttached - t0) / 1e6,
        dataplane: lab.dataplane,
        uplinkSelect: UPLINK,
        kernelObjectsAfterDetach: after.dataplane.state ? after.dataplane.state.objects : null,
        counters: { pbuSent: c['core.pbu-sent'], pbaReceived: c['core.pba-received'], mhTxError: c['mh.tx-error'] ?? 0, ndTxError: c['nd.tx-error'] ?? 0 },
        lma: lma.counters ?? lma,
        afterDetach: { bindings: after.bindings, timers: after.timers },
      },
    )
  } finally {
    await labDown(LAB, { quiet: true })
  }
}

main().catch(async (e) => {
  process.stderr.write(`storm: ${e.stack || e}\n`)
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  process.exit(1)
})
