'use strict'
// Registration latency from packets on the wire, idle and under CPU load (issue 23), root
// only; run `npm run build` first.
//   node test/bench/load-latency.bench.js [registrations] [phases]
//     registrations: per phase, default 200 (the first after the daemons start is reported apart)
//     phases: comma-separated, default mock,handoff,hostapd
//   MAG_BENCH_LOADS=idle,hogs (default both)   MAG_BENCH_LOG_LEVEL=info (the daemons' default)
//   MAG_BENCH_HOSTAPD_STATIONS=2
//   MAG_BENCH_RT=10: mag.realtimePriority / the LMA's realtimePriority (results: load-latency-rt)
//   MAG_BENCH_CHRT_ALL=10: every thread of the lab daemons under SCHED_RR too (an experiment:
//     does the event loop wait on V8's helper threads?)
//   MAG_BENCH_NO_STATEFILE=1: the lab's mock link without its journal
// Each load runs its own labs: `hogs` starts `stress-ng --cpu 2` first and always stops it. The
// data plane is on (the lab's default: tunnels, routes and rules in the kernel).
//
// Phases:
//  - mock: the netns lab (mag1, mag2, lab LMA), one MN attached at mag1 through the control
//    socket and detached again, `registrations` times;
//  - handoff: the same lab, the MN handed between mag1 and mag2 (layer-2 move, detach at the
//    old MAG; then the attach at the new one is timed), `registrations` times;
//  - hostapd: real hostapd (driver=wired, 802.1X, EAP-MD5) on a shared access link and real
//    wpa_supplicant stations that log on and off in turn, our hostapd driver in the MAG.
//
// Timestamps come from packets captured in the namespaces (dumpcap, kernel timestamps, one
// clock): PBU and PBA on the MAG's uplink, the RA on its access link, PBU and PBA on the lab
// LMA's interface. The start of an attach is:
//  - hostapd: the EAP-Success frame hostapd sends the station, captured on the access link
//    (hostapd emits AP-STA-CONNECTED right after queueing it);
//  - mock: the control socket carries no packet; its start is this process's realtime clock
//    read right before the write() of the attach request on an open connection (calibrated to
//    the microsecond against CLOCK_REALTIME, the clock of the captures). It includes the
//    Unix-socket hop and the daemon's request parsing.
// The benchmark waits for each registration by watching the RA arrive on the MN's side (a
// streaming tshark in the lab's layer-2 namespace), never by asking the daemon while it works.
//
// Figures per phase and load: attach -> PBU on the uplink, PBA -> RA on the access link,
// attach -> RA, and at the lab LMA PBU -> PBA; p50/p90/p99 over all registrations but the
// first, and the first apart; the 1-minute load average (min/mean/max) over the phase.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { writeResult, percentile, sleep } = require('./lib')
const { distribution } = require('./plot')
const { calibrate, epochNow, ControlConn, dumpcap, raWatcher, stopChild, mobility, eapSuccesses, cpuHogs, hogsLeft, loadSampler } = require('./wire-clock')
const { startHostapd, dot1xStations } = require('./dot1x')

const N = Number(process.argv[2] || 200)
const PHASES = (process.argv[3] || 'mock,handoff,hostapd').split(',')
const LOADS = (process.env.MAG_BENCH_LOADS || 'idle,hogs').split(',')
const LOG_LEVEL = process.env.MAG_BENCH_LOG_LEVEL || 'info'
const STATIONS = Number(process.env.MAG_BENCH_HOSTAPD_STATIONS || 2)
// MAG_BENCH_RT=N: the MAGs and the lab LMA run their event loop at SCHED_RR priority N
// (mag.realtimePriority, realtimePriority in the LMA's config); results go to load-latency-rt.
const RT = process.env.MAG_BENCH_RT ? Number(process.env.MAG_BENCH_RT) : null
// MAG_BENCH_NO_STATEFILE=1: the lab's mock link keeps no journal (drivers.mock.stateFile).
const NO_STATEFILE = process.env.MAG_BENCH_NO_STATEFILE === '1'
const HOGS = 2
const MH_RA_FILTER = '(icmp6 and ip6[40] == 134) or ip6 proto 135'

if (!Number.isInteger(N) || N < 2) throw new Error('registrations must be an integer >= 2')
for (const p of PHASES) if (!['mock', 'handoff', 'hostapd'].includes(p)) throw new Error(`unknown phase ${p}`)
for (const l of LOADS) if (!['idle', 'hogs'].includes(l)) throw new Error(`unknown load ${l}`)
if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('load-latency: needs root (network namespaces); skipped\n')
  process.exit(0)
}
for (const tool of ['dumpcap', 'tshark', 'stress-ng', ...(PHASES.includes('hostapd') ? ['hostapd', 'wpa_supplicant', 'wpa_cli'] : [])]) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    const msg = `load-latency: ${tool} is missing`
    if (process.env.CI === 'true') throw new Error(msg)
    process.stdout.write(`${msg}; skipped\n`)
    process.exit(0)
  }
}

const { labUp, labDown, labMoveL2 } = require('../../packages/cli/dist/lab/lab')
const { PLAN } = require('../../packages/cli/dist/lab/plan')

const ms = (a, b) => (b - a) * 1000

/** CPU ticks and context switches of a process, all its threads (/proc/PID/stat, /proc/PID/task/*). */
function procStats(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  let vol = 0
  let invol = 0
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8')
      vol += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)[1])
      invol += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)[1])
    } catch {
      // a thread that ended
    }
  }
  return { cpuTicks: Number(rest[11]) + Number(rest[12]), vol, invol }
}
/** Per registration: CPU (ms, from 10 ms ticks), voluntary and involuntary context switches. */
function perReg(a, b, n) {
  return { cpuMs: Number(((10 * (b.cpuTicks - a.cpuTicks)) / n).toFixed(3)), wakeUps: Number(((b.vol - a.vol) / n).toFixed(2)), preempted: Number(((b.invol - a.invol) / n).toFixed(2)) }
}

/**
 * Pairs each attach with its packets: the first registration PBU for the MN after the attach
 * on the MAG's uplink, the PBA accepting it, the first live RA on the access link after that
 * PBA, and the same PBU and PBA at the LMA. A registration whose packets the capture lacks is
 * counted as missing, never paired with the next one's.
 */
function pair(attaches, magCaps, lmaCap, lmaIface) {
  const out = []
  let missing = 0
  attaches.forEach((a, i) => {
    const end = i + 1 < attaches.length ? attaches[i + 1].t : Infinity
    const cap = magCaps[a.mag]
    const pbu = cap.mh.find((m) => m.kind === 'pbu' && m.ifc === 'up0' && m.mnId === a.mnId && m.lifetime > 0 && m.t >= a.t && m.t < end)
    const pba = pbu && cap.mh.find((m) => m.kind === 'pba' && m.ifc === 'up0' && m.seq === pbu.seq && m.status < 128 && m.lifetime > 0 && m.t >= pbu.t && m.t < end)
    // The RA that carries this MN's home prefix: on a shared link every station sees the RAs
    // (they go to ff02::1), and another station's periodic RA must not count.
    const ra = pba && cap.ras.find((r) => r.ifc === a.link && (a.prefix === null || r.prefixes.includes(a.prefix)) && r.t >= pba.t && r.t < end)
    if (!pbu || !pba || !ra) {
      missing++
      return
    }
    const magAddr = pbu.src
    const lpbu = lmaCap.mh.find((m) => m.kind === 'pbu' && m.ifc === lmaIface && m.src === magAddr && m.seq === pbu.seq && m.mnId === a.mnId && m.t >= a.t - 0.001 && m.t < end)
    const lpba = lpbu && lmaCap.mh.find((m) => m.kind === 'pba' && m.ifc === lmaIface && m.dst === magAddr && m.seq === pbu.seq && m.t >= lpbu.t && m.t < end)
    out.push({ i, attachToPbu: ms(a.t, pbu.t), pbaToRa: ms(pba.t, ra.t), attachToRa: ms(a.t, ra.t), lmaPbuToPba: lpba ? ms(lpbu.t, lpba.t) : null })
  })
  return { regs: out, missing }
}

const METRICS = [
  ['attachToPbu', 'attach -> PBU on the uplink'],
  ['pbaToRa', 'PBA -> RA on the access link'],
  ['attachToRa', 'attach -> RA'],
  ['lmaPbuToPba', 'lab LMA PBU -> PBA'],
]

function summarize(regs) {
  const first = regs.find((r) => r.i === 0) || null
  const rest = regs.filter((r) => r.i !== 0)
  const s = { n: rest.length, first: first && Object.fromEntries(METRICS.map(([k]) => [k, first[k]])) }
  for (const [k] of METRICS) {
    const v = rest.map((r) => r[k]).filter((x) => x !== null)
    s[k] = { p50: percentile(v, 50), p90: percentile(v, 90), p99: percentile(v, 99), max: v.length ? Math.max(...v) : NaN, n: v.length }
  }
  return s
}

// ------------------------------------------------------------------ mock lab: registrations, handoffs

async function mockLab(load, want) {
  const LAB = `ll${process.pid % 100000}`.slice(0, 12)
  const sock = (m) => `/run/mag-lab/${LAB}/${m}.sock`
  const MN = 'mn1@example.com'
  const MAC = '02:00:00:00:01:01'
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  const lab = await labUp({
    name: LAB,
    mns: 1,
    quiet: true,
    logLevel: LOG_LEVEL,
    magConfig: { ...(RT ? { mag: { realtimePriority: RT } } : {}), ...(NO_STATEFILE ? { drivers: { mock: { att: 4 } } } : {}) },
    lmaConfig: RT ? { realtimePriority: RT } : {},
  })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mag-ll-'))
  const procs = []
  const conns = {}
  const results = {}
  try {
    const caps = {}
    for (const m of ['mag1', 'mag2']) caps[m] = await dumpcap(`${LAB}-${m}`, ['mn1', 'up0'], MH_RA_FILTER, path.join(dir, `${m}.pcapng`))
    caps.lma = await dumpcap(`${LAB}-lma`, ['br0'], 'ip6 proto 135', path.join(dir, 'lma.pcapng'))
    procs.push(...Object.values(caps))
    const watch = await raWatcher(`${LAB}-air`, 'b1')
    procs.push(watch)
    for (const m of ['mag1', 'mag2']) {
      conns[m] = new ControlConn(sock(m))
      await conns[m].open()
    }
    const bound = async (m) => (await conns[m].request({ cmd: 'bindings' })).some((b) => b.mnId === MN && b.state === 'registered')
    const gone = async (m) => !(await conns[m].request({ cmd: 'bindings' })).some((b) => b.mnId === MN)
    const waitFor = async (what, fn, ms = 20_000) => {
      const end = Date.now() + ms
      while (!(await fn())) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`)
        await sleep(5)
      }
    }
    const attaches = { mock: [], handoff: [] }
    const loads = {}
    const daemons = {}
    const pids = { mag1: lab.pids.mag1, mag2: lab.pids.mag2, lma: lab.pids.lma }
    if (process.env.MAG_BENCH_CHRT_ALL) for (const pid of Object.values(pids)) spawnSync('chrt', ['-a', '-r', '-p', process.env.MAG_BENCH_CHRT_ALL, String(pid)], { stdio: 'inherit' })
    const before = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procStats(pid)]))
    const after = async (ph, b) => {
      const st = await conns.mag1.request({ cmd: 'status' })
      const n = attaches[ph].length
      daemons[ph] = { mag1: { registrationUs: st.registrationLatencyUs, lmaRoundTripUs: st.lmaRoundTripUs, magProcessingUs: st.magProcessingUs } }
      for (const [k, pid] of Object.entries(pids)) daemons[ph][k] = { ...daemons[ph][k], perRegistration: perReg(b[k], procStats(pid), n) }
      for (const m of ['mag1', 'mag2']) await conns[m].request({ cmd: 'latency-reset' })
    }
    // Registrations at mag1: attach, wait for the RA at the MN's side, detach, wait until gone.
    if (want.includes('mock')) {
      calibrate()
      const ls = loadSampler()
      const b = before()
      for (let i = 0; i < N; i++) {
        const [t, reply] = conns.mag1.send({ cmd: 'attach', mn: MN, link: 'mn1', mac: MAC, att: 'wifi', hint: 'new' })
        await reply
        await watch.next(t, null)
        attaches.mock.push({ t, mag: 'mag1', mnId: MN, link: 'mn1', prefix: null })
        await conns.mag1.request({ cmd: 'detach', mn: MN })
        await waitFor(`de-registration ${i}`, () => gone('mag1'))
        // A gap of 10-30 ms, so that the cycles do not fall into step with anything periodic.
        await sleep(10 + Math.random() * 20)
        if (i % 50 === 49) calibrate()
      }
      loads.mock = ls.stop()
      await after('mock', b)
    }
    // Handoffs: the MN moves (layer 2, then the old MAG's detach), then the new MAG's attach is timed.
    if (want.includes('handoff')) {
      calibrate()
      await conns.mag1.request({ cmd: 'attach', mn: MN, link: 'mn1', mac: MAC, att: 'wifi', hint: 'new' })
      await waitFor('registered on mag1', () => bound('mag1'))
      const ls = loadSampler()
      const b = before()
      let at = 'mag1'
      for (let i = 0; i < N; i++) {
        const to = at === 'mag1' ? 'mag2' : 'mag1'
        labMoveL2(LAB, 1, to)
        await conns[at].request({ cmd: 'detach', mn: MN })
        const [t, reply] = conns[to].send({ cmd: 'attach', mn: MN, link: 'mn1', mac: MAC, att: 'wifi', hint: 'same-interface' })
        await reply
        await watch.next(t, null)
        attaches.handoff.push({ t, mag: to, mnId: MN, link: 'mn1', prefix: null })
        await waitFor(`handoff ${i}`, async () => (await bound(to)) && (await gone(at)))
        at = to
        await sleep(10 + Math.random() * 20)
        if (i % 50 === 49) calibrate()
      }
      loads.handoff = ls.stop()
      await after('handoff', b)
    }
    await sleep(300)
    for (const c of Object.values(caps)) await c.stop()
    const mags = { mag1: mobility(caps.mag1.file), mag2: mobility(caps.mag2.file) }
    const lma = mobility(caps.lma.file)
    for (const ph of want) {
      const { regs, missing } = pair(attaches[ph], mags, lma, 'br0')
      results[ph] = { load, loadavg: loads[ph], missing, daemons: daemons[ph], ...summarize(regs), dataplane: lab.dataplane, series: regs }
    }
  } finally {
    for (const c of Object.values(conns)) c.close()
    for (const p of procs) await p.stop()
    fs.rmSync(dir, { recursive: true, force: true })
    await labDown(LAB, { quiet: true })
  }
  return results
}

// ------------------------------------------------------------------ hostapd: real 802.1X stations

async function hostapdLab(load) {
  const { NsLab, NS_PLAN, waitUntil } = require('../../packages/testkit/dist')
  const P = `hl${process.pid % 100000}`
  const DIR = `/run/mag-test/${P}`
  const LINK = 'wlan0'
  const identity = (i) => `mn${i}@example.org`
  fs.mkdirSync(DIR, { recursive: true, mode: 0o700 })
  const lab = NsLab.create({ prefix: P, mns: STATIONS, access: { kind: 'shared', name: LINK }, stateDir: path.join(DIR, 'lab') })
  const children = []
  const procs = []
  let conn = null
  try {
    const { ctrlDir } = await startHostapd(lab, { dir: DIR, link: LINK, stations: STATIONS, identity, children })
    // The lab's 5 s timestamp window (lab.ts): at load 25 a PBU waited in the LMA's socket past
    // RFC 5213's 300 ms, got status 156, and its MAG then waits for a clock sync that never comes.
    await lab.startLma({ dataplane: true, timestampWindowMs: 5000, ...(RT ? { realtimePriority: RT } : {}) })
    const profiles = Array.from({ length: STATIONS }, (_, k) => ({ mnId: identity(k + 1), lma: NS_PLAN.lma }))
    const mag = await lab.startMag(lab.magConfig({ mag: { logLevel: LOG_LEVEL, ...(RT ? { realtimePriority: RT } : {}) }, dataplane: {}, drivers: { hostapd: { interfaces: [{ name: LINK, identity: 'dot1x' }], ctrlDir } } }, profiles), LOG_LEVEL)
    const st = (await mag.request({ cmd: 'status' })).result
    const magCap = await dumpcap(lab.ns.mag, [LINK, 'up0'], `ether proto 0x888e or ${MH_RA_FILTER}`, path.join(DIR, 'mag.pcapng'))
    const lmaCap = await dumpcap(lab.ns.lma, ['t0'], 'ip6 proto 135', path.join(DIR, 'lma.pcapng'))
    procs.push(magCap, lmaCap)
    // On the bridge port towards the MAG: an RA unicast to one station never reaches b0 itself.
    const watch = await raWatcher(lab.ns.air, 'a0')
    procs.push(watch)
    conn = new ControlConn(String(lab.magConfig().mag.controlSocket))
    await conn.open()

    const { startSupplicant, nudge, cli, supp } = dot1xStations(lab, { dir: DIR, ctrlDir, link: LINK, identity, children })
    const state = async (i) => ((await conn.request({ cmd: 'bindings' })).find((b) => b.mnId === identity(i)) || {}).state
    calibrate()
    const ls = loadSampler()
    const t0 = epochNow()
    // Stations log on one at a time (a registration is measured alone), in turn; each
    // supplicant starts when its station's first turn comes.
    let connects = 0
    let nudges = 0
    const order = []
    const connected = new Set()
    const prefixOf = new Map()
    while (connects < N) {
      const i = (connects % STATIONS) + 1
      // From before the logon (or the supplicants' start): the RA may come before wpa_cli returns.
      let began = t0
      if (!supp.has(i)) {
        began = epochNow()
        startSupplicant(i)
      } else if (connected.has(i)) {
        cli(i, 'logoff')
        // A logoff hostapd missed (the wired EAPOL machine again): deauthenticate from its side.
        for (let k = 0; ; k++) {
          try {
            await waitUntil(`station ${i} binding to go`, async () => (await state(i)) === undefined, 5000, 20)
            break
          } catch (e) {
            if (k >= 3) throw e
            nudges++
            lab.exec(lab.ns.mag, ['hostapd_cli', '-p', ctrlDir, '-i', LINK, 'deauthenticate', NsLab.mnMac(i)])
            cli(i, 'logoff')
          }
        }
        connected.delete(i)
        await sleep(10 + Math.random() * 20)
        began = epochNow()
        cli(i, 'logon')
      }
      // Wait for its RA at the station's side, then for the binding (outside the measured path).
      let n = 0
      for (;;) {
        try {
          // Any live RA (they go to ff02::1): one station logs on at a time; the binding below confirms it.
          await watch.next(began, null, 4000 * (n + 1))
          await waitUntil(`station ${i} registered`, async () => (await state(i)) === 'registered', 2000, 20)
          break
        } catch (e) {
          if (++n > 6) throw new Error(`station ${i} did not connect: ${e.message}; bindings ${JSON.stringify(await conn.request({ cmd: 'bindings' }))}; RAs seen ${JSON.stringify(watch.seen.slice(-3))}`)
          nudges++
          await nudge(i, n)
        }
      }
      await waitUntil(`station ${i} registered`, async () => (await state(i)) === 'registered', 20_000, 20)
      if (!prefixOf.has(identity(i))) prefixOf.set(identity(i), ((await conn.request({ cmd: 'bindings' })).find((b) => b.mnId === identity(i)) || {}).prefixes?.[0]?.split('/')[0] ?? null)
      connected.add(i)
      order.push({ i, after: began })
      connects++
      if (connects % 50 === 0) process.stdout.write(`load-latency: hostapd ${load}: ${connects}/${N} connects\n`)
    }
    const loadavg = ls.stop()
    await sleep(300)
    await magCap.stop()
    await lmaCap.stop()
    // Attach = each EAP-Success to a station after t0 that a registration PBU follows (a success
    // while the station is already bound is a re-authentication after a nudge: no PBU).
    const mags = { mag: mobility(magCap.file) }
    const lma = mobility(lmaCap.file)
    const macOf = new Map(Array.from({ length: STATIONS }, (_, k) => [NsLab.mnMac(k + 1), identity(k + 1)]))
    const succ = eapSuccesses(magCap.file).filter((s) => s.t >= t0 && macOf.has(s.mac))
    const attaches = []
    for (const s of succ) {
      const mnId = macOf.get(s.mac)
      const nextPbu = mags.mag.mh.find((m) => m.kind === 'pbu' && m.mnId === mnId && m.t >= s.t)
      const nextSucc = succ.find((o) => o !== s && o.mac === s.mac && o.t > s.t)
      if (!nextPbu || nextPbu.lifetime === 0 || (nextSucc && nextSucc.t < nextPbu.t)) continue
      attaches.push({ t: s.t, mag: 'mag', mnId, link: LINK, prefix: prefixOf.get(mnId) ?? null })
    }
    attaches.sort((a, b) => a.t - b.t)
    const { regs, missing } = pair(attaches, mags, lma, 't0')
    return { hostapd: { load, loadavg, missing, eapSuccesses: succ.length, nudges, stations: STATIONS, ...summarize(regs), dataplane: st.dataplane && st.dataplane.name, series: regs } }
  } finally {
    if (conn) conn.close()
    for (const p of procs) await p.stop()
    for (const c of children.reverse()) await stopChild(c)
    await lab.down()
    fs.rmSync(DIR, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ main

const GOALS = {
  hogs: { attachToPbu: { p50: 0.5 }, pbaToRa: { p50: 0.3 }, attachToRa: { p90: 7 }, lmaPbuToPba: { p50: 0.8 } },
  idle: { attachToRa: { p50: 0.5 } },
}
const HANDOFF_GOAL = { attachToRa: { p99: 5 } }

function table(all) {
  const f = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(2))
  const lines = [
    '| phase | load (1-min avg, min-max) | n | attach -> PBU p50/p90/p99 | PBA -> RA p50/p90/p99 | attach -> RA p50/p90/p99 | LMA PBU -> PBA p50/p90/p99 | first: attach -> RA |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const [key, r] of Object.entries(all)) {
    const c = (k) => `${f(r[k].p50)} / ${f(r[k].p90)} / ${f(r[k].p99)}`
    lines.push(`| ${key} | ${r.loadavg.load1Mean} (${r.loadavg.load1Min}-${r.loadavg.load1Max}) | ${r.n} | ${c('attachToPbu')} | ${c('pbaToRa')} | ${c('attachToRa')} | ${c('lmaPbuToPba')} | ${f(r.first && r.first.attachToRa)} |`)
  }
  return lines.join('\n')
}

async function main() {
  const all = {}
  const failures = []
  const mockPhases = PHASES.filter((p) => p === 'mock' || p === 'handoff')
  for (const load of LOADS) {
    let hogs = null
    if (load === 'hogs') {
      hogs = cpuHogs(HOGS, 3600)
      await sleep(2000) // the hogs at full speed before the daemons start
    }
    try {
      // A phase that fails is reported as such; the others still give their figures.
      for (const [what, run] of [
        ['mock', () => (mockPhases.length ? mockLab(load, mockPhases) : {})],
        ['hostapd', () => (PHASES.includes('hostapd') ? hostapdLab(load) : {})],
      ]) {
        try {
          for (const [ph, r] of Object.entries(await run())) all[`${ph} ${load}`] = r
        } catch (e) {
          process.stderr.write(`load-latency: ${what} ${load} failed: ${e.stack || e}\n`)
          failures.push(`${what} ${load}: ${e.message}`)
        }
        // Saved after each lab: a run stopped later keeps what it measured (partial: true).
        save(all, failures, true)
      }
    } finally {
      if (hogs) {
        await hogs.stop()
        const left = await hogsLeft(hogs.pid)
        if (left) failures.push(`${left} stress-ng processes still running 10 s after stop()`)
      }
    }
  }
  save(all, failures, false)
  process.stdout.write(`\n${table(all)}\n`)
  if (failures.length) {
    process.stdout.write(`load-latency: failed phases: ${failures.join('; ')}\n`)
    process.exitCode = 1
  }
}

function save(all, failures, partial) {
  const figures = []
  for (const [key, r] of Object.entries(all)) {
    const [ph, load] = key.split(' ')
    for (const [k, label] of METRICS) {
      for (const p of ['p50', 'p90', 'p99']) {
        const g = (ph === 'handoff' ? HANDOFF_GOAL : GOALS[load])[k]?.[p]
        figures.push({ metric: `${key}: ${label} ${p}`, value: r[k][p], unit: 'ms', ...(g !== undefined ? { goal: `<= ${g}` } : {}) })
      }
    }
    if (r.first) figures.push({ metric: `${key}: first registration after start, attach -> RA`, value: r.first.attachToRa, unit: 'ms' })
    figures.push({ metric: `${key}: load average (1 min), mean over the phase`, value: r.loadavg.load1Mean, unit: '' })
  }
  const tbl = table(all)
  const distributions = {}
  for (const [key, r] of Object.entries(all)) distributions[`${key}: attach -> RA`] = distribution(r.series.map((s) => s.attachToRa))
  writeResult(RT ? 'load-latency-rt' : 'load-latency', figures, {
    registrations: N,
    phasesAsked: PHASES,
    loadsAsked: LOADS,
    realtimePriority: RT,
    mockStateFile: !NO_STATEFILE,
    logLevel: LOG_LEVEL,
    hogs: `stress-ng --cpu ${HOGS}`,
    phases: Object.fromEntries(Object.entries(all).map(([k, r]) => [k, { ...r, series: undefined }])),
    failures,
    registrationsMs: Object.fromEntries(Object.entries(all).map(([k, r]) => [k, r.series])),
    table: tbl,
    distributionOf: 'attach -> HNP RA on the access link (wire)',
    distributionUnit: 'ms',
    distributions,
    partial,
  })
}

main().catch((e) => {
  process.stderr.write(`load-latency: ${e.stack || e}\n`)
  process.exit(1)
})
