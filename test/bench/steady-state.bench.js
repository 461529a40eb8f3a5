'use strict'
// Steady state at scale in the netns lab (issue 8), root only; run `npm run build` first.
//   node test/bench/steady-state.bench.js [bindings] [periods]   (default 100,000 and 1)
// `bindings` MNs registered with a 60 s binding lifetime, so every binding is refreshed every
// 48 s (refresh at 80% of the lifetime); then the MAG process is watched for `periods` whole
// refresh periods (a window of any other length would see some bindings refresh once and
// others not at all). The MNs arrive spread over one refresh period (see below). Figures:
// its CPU time from /proc (user + system), RSS, and heap per binding (heap with the bindings
// minus the heap before them). The lab LMA runs in its own process and is not counted.
// The lab runs without a kernel data plane (labUp dataplane: false): this is about signalling.
// MAG_BENCH_DHCP6=1 also runs the MAG's DHCPv6 relay (RFC 5213 §6.11), which follows every
// binding change; its result goes to steady-state-dhcp6.json.
const { controlRequest } = require('@pmip6/agent')
const { labUp, labDown } = require('../../packages/cli/dist/lab/lab')
const { writeResult, cpuTicks, wakeUps } = require('./lib')

const N = Number(process.argv[2] || 100_000)
const LIFETIME_S = 60
const REFRESH_FRACTION = 0.8 // the core's default (DEFAULT_REFRESH_FRACTION)
const WATCH_S = Math.max(1, Math.round(Number(process.argv[3] || 1))) * LIFETIME_S * REFRESH_FRACTION
const LAB = `ss${process.pid % 100000}`.slice(0, 12)
const LMA = '2001:db8:ffff::2'
const CLK_TCK = 100
const DHCP6 = process.env.MAG_BENCH_DHCP6 === '1'
const NAME = DHCP6 ? 'steady-state-dhcp6' : 'steady-state'

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('steady-state: needs root (netns lab); skipped\n')
  process.exit(0)
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))


async function main() {
  // The daemons inherit this: the bench can ask for a full GC before reading the heap.
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim()
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  const lab = await labUp({
    name: LAB,
    mns: 1,
    quiet: true,
    logLevel: 'warn',
    // Signalling only: the refreshes this measures change no forwarding state, and 100,000
    // kernel routes would only slow the lab's set-up (the result says dataplane: none).
    dataplane: false,
    // RFC 4861's default RA intervals (MaxRtrAdvInterval 600 s): at this scale the RAs, not the
    // refreshes, would otherwise dominate (the core's own default is 60 s for quick recovery).
    magConfig: { ...(DHCP6 ? { dhcp6Relay: { enabled: true, servers: [LMA] } } : {}), mag: { lifetime: LIFETIME_S }, ra: { maxIntervalMs: 600_000, minIntervalMs: 200_000 }, unknownMn: { lma: LMA }, links: { mn1: { shared: true } } },
    // Room for 100,000 /64s.
    lmaConfig: { pool: '2001:db8:1000::/36', lifetimeMax: 3600 },
  })
  const sock = lab.sockets.mag1
  try {
    await controlRequest(sock, { cmd: 'gc' })
    const before = await controlRequest(sock, { cmd: 'status' })
    const pid = before.pid
    const t0 = Date.now()
    // MNs arrive in 100 even waves spread over one refresh period, so their refreshes are spread
    // over the period too, as on a MAG whose MNs came over hours. Arrivals within a few seconds
    // would refresh in one burst every period and leave the MAG idle in between, and V8's memory
    // reducer then runs a full GC in every idle gap: a cost of the bench, not of the MAG.
    const WAVES = Math.min(100, N)
    const periodMs = LIFETIME_S * REFRESH_FRACTION * 1000
    let st
    for (let w = 0; w < WAVES; w++) {
      const start = 1 + Math.floor((w * N) / WAVES)
      const end = Math.floor(((w + 1) * N) / WAVES)
      await controlRequest(sock, { cmd: 'attach-range', link: 'mn1', count: end - start + 1, start, mnPrefix: 'ss', att: 'wifi' }, 120_000)
      const wait = t0 + ((w + 1) * periodMs) / WAVES - Date.now()
      if (wait > 0) await sleep(wait)
    }
    for (;;) {
      st = await controlRequest(sock, { cmd: 'status' }, 60_000)
      if ((st.states.registered ?? 0) + (st.states.refreshing ?? 0) >= N) break
      if (Date.now() - t0 > 300_000) throw new Error(`only ${st.states.registered} of ${N} registered after 300 s: ${JSON.stringify(st.states)}`)
      await sleep(200)
    }
    const boundS = (Date.now() - t0) / 1000
    // Past the initial RAs of the last registrations (3 at up to 16 s apart, RFC 4861 §6.2.4),
    // so the window sees only what every binding costs for as long as it lives.
    await sleep(50_000)
    // A full GC first: the garbage of registering 100,000 MNs belongs to their arrival, not to
    // the steady state.
    await controlRequest(sock, { cmd: 'gc' }, 60_000)
    const c0 = (await controlRequest(sock, { cmd: 'status' }, 60_000)).counters
    const k0 = cpuTicks(pid)
    const v0 = wakeUps(pid)
    const w0 = Date.now()
    await sleep(WATCH_S * 1000)
    const k1 = cpuTicks(pid)
    const v1 = wakeUps(pid)
    const w1 = Date.now()
    await controlRequest(sock, { cmd: 'gc' }, 60_000)
    const end = await controlRequest(sock, { cmd: 'status' }, 60_000)
    const c1 = end.counters
    const secs = (w1 - w0) / 1000
    const cpuShare = ((k1.user + k1.system - k0.user - k0.system) / CLK_TCK) / secs
    // On veth, sendmsg() also runs the LMA namespace's receive path in our system time.
    const userShare = ((k1.user - k0.user) / CLK_TCK) / secs
    const rate = (k) => ((c1[k] ?? 0) - (c0[k] ?? 0)) / ((w1 - w0) / 1000)
    writeResult(
      NAME,
      [
        { metric: `CPU share of one core, ${N} bindings, ${LIFETIME_S} s lifetime`, value: cpuShare * 100, unit: '%', goal: '<= 5' },
        { metric: 'of which user space (the rest is kernel, incl. the veth peer\'s receive path)', value: userShare * 100, unit: '%' },
        { metric: 'heap per binding (after a full GC, whole daemon)', value: (end.memory.heapUsedBytes - before.memory.heapUsedBytes) / N, unit: 'bytes', goal: '<= 1024' },
        { metric: `MAG RSS with ${N} bindings`, value: end.memory.rssBytes / 2 ** 20, unit: 'MiB' },
        { metric: 'refresh PBUs per second', value: rate('core.pbu-sent:refresh'), unit: '/s' },
        { metric: 'RAs per second', value: rate('nd.tx.ra'), unit: '/s' },
        { metric: 'MAG wake-ups per second (main thread, voluntary context switches)', value: (v1 - v0) / secs, unit: '/s' },
        { metric: `time to bind ${N} (arrivals spread over one refresh period)`, value: boundS, unit: 's' },
      ],
      {
        bindings: N,
        watchSeconds: (w1 - w0) / 1000,
        stillRegistered: (end.states.registered ?? 0) + (end.states.refreshing ?? 0),
        retransmissionsPerSecond: rate('core.pbu-retransmitted'),
        ndTxErrorsPerSecond: rate('nd.tx-error'),
        timers: end.timers,
        dataplane: lab.dataplane,
        dhcp6Relay: DHCP6,
      },
    )
  } finally {
    await labDown(LAB, { quiet: true })
  }
}

main().catch(async (e) => {
  process.stderr.write(`steady-state: ${e.stack || e}\n`)
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  process.exit(1)
})
