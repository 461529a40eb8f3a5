'use strict'
// `mag bindings` and `mag status` at size (issue 23); run `npm run build` first.
//   node --expose-gc test/bench/listing.bench.js [count=20000]      (result: listing-<count>.json)
// The MAG daemon runs in this process (startMag, mock driver, no data plane) on an in-memory
// link to the lab LMA's core (@pmip6/lab-lma), so every MN is really registered, with its home
// prefix, and no root or namespace is needed. `count` MNs attach on one shared access link
// (attach-range, 5,000 a request) with a 3600 s lifetime. Then:
//   - the whole list as `mag bindings --json` prints it: the real CLI in a child process paging
//     over the control socket; its wall time, the rows it printed, and meanwhile in the daemon
//     the longest event-loop turn (perf_hooks monitorEventLoopDelay, 1 ms resolution: the worst
//     lateness of a timer is the longest turn that held it back), the longest turn the control
//     server saw one request hold (status.control.longestReplyMs), and `status` round trips
//     from another connection;
//   - the same listing through a second control socket whose `bindings` answers the old way
//     (views, then JSON.stringify of the page, one turn a page): the baseline, same load;
//   - `status` alone: round trips over the socket, and the daemon's status() in process;
//   - per row, in process, the whole list walked in pages of 1,000: the old way (views, then
//     JSON.stringify of the page: one turn per page) against listing.ts's (rows as text in
//     slices, hand-written JSON); and in slices of 32, the views, JSON.stringify of them, and
//     bindingViewJson of them.
// The machine is shared: the load average is written beside the figures.
const os = require('node:os')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { PassThrough } = require('node:stream')
const { monitorEventLoopDelay, PerformanceObserver, constants: perfConstants } = require('node:perf_hooks')
const { startMag, validateConfig, controlRequest, controlHandlers, ControlServer, writeRows, Turns, SLICE_ROWS } = require('@pmip6/agent')
const { LmaCore } = require('@pmip6/lab-lma')
const { bindingViewJson } = require('@pmip6/core')
const { writeResult, percentile, sleep } = require('./lib')

const COUNT = Number(process.argv[2] || 20_000)
const CHUNK = 5_000
const PAGE = 1000
const ROUNDS = Number(process.env.MAG_BENCH_ROUNDS || 3)
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const CLI = path.join(__dirname, '../../packages/cli/bin/mag.js')
const load = () => Number(os.loadavg()[0].toFixed(2))
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

/** The MAG's packets to the LMA core and its answers back, on the next turn (a link, not a call stack). */
function loopIo(lma) {
  let onMh = () => undefined
  return {
    sendMh(bytes, dst, src) {
      const cmds = lma.step({ type: 'mh', at: Date.now(), from: src, to: dst, data: bytes })
      for (const c of cmds) if (c.type === 'send') setImmediate(() => onMh({ data: c.bytes, src: c.from, dst: c.to, link: 'uplink0', hopLimit: 64 }))
    },
    sendNd() {},
    sendIcmp() {},
    onMh(fn) {
      onMh = fn
    },
    onNd() {},
    addLink() {},
    removeLink() {},
    close() {},
  }
}

/** Garbage-collection pauses while `fn` runs: what a turn of the loop cannot avoid, apart from the listing's own work. */
async function withGcWatch(fn) {
  const pauses = []
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ ms: e.duration, kind: e.detail ? e.detail.kind : e.kind })
  })
  obs.observe({ entryTypes: ['gc'] })
  try {
    const r = await fn()
    // The observer reports on a later turn.
    await sleep(50)
    return { r, pauses }
  } finally {
    obs.disconnect()
  }
}
const GC_KIND = { [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' }
function gcSummary(pauses) {
  const out = { count: pauses.length, totalMs: 0, maxMs: 0, byKind: {} }
  for (const p of pauses) {
    out.totalMs += p.ms
    out.maxMs = Math.max(out.maxMs, p.ms)
    const k = GC_KIND[p.kind] || String(p.kind)
    const b = (out.byKind[k] ??= { count: 0, maxMs: 0 })
    b.count++
    b.maxMs = Math.max(b.maxMs, p.ms)
  }
  return out
}

/** `mag bindings --json` in a child process: wall time and the rows it printed (one a line). */
function cliList(sock) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const c = spawn(process.execPath, [CLI, 'bindings', '--json', '--socket', sock], { stdio: ['ignore', 'pipe', 'pipe'] })
    let lines = 0
    let bytes = 0
    let err = ''
    c.stdout.on('data', (d) => {
      bytes += d.length
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++
    })
    c.stderr.on('data', (d) => (err += d))
    c.on('error', reject)
    c.on('close', (code) => (code === 0 ? resolve({ wallMs: ms(t0), rows: lines - 2, bytes }) : reject(new Error(`mag bindings exited ${code}: ${err}`))))
  })
}

async function main() {
  if (!global.gc) process.stderr.write('listing: run with node --expose-gc for the heap figure\n')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mag-listing-bench-'))
  const sock = path.join(dir, 'mag.sock')
  const lma = new LmaCore({ address: LMA, pool: '2001:db8:1000::/36', lifetimeMax: 3600 })
  const cfg = validateConfig({
    mag: { address: MAG, controlSocket: sock, fixedLinkLocal: 'fe80::1', heartbeatInterval: 0, lifetime: 3600 },
    links: { acc0: { shared: true } },
    ra: { maxIntervalMs: 1_800_000, minIntervalMs: 600_000 },
    drivers: { mock: { att: 4 } },
    unknownMn: { lma: LMA },
  })
  const mag = await startMag(cfg, null, { io: loopIo(lma), logStream: new PassThrough(), clockSynced: () => true })
  const figures = []
  const extra = { count: COUNT, loads: {} }
  try {
    // ---- bind them all
    const tb = process.hrtime.bigint()
    for (let start = 1; start <= COUNT; start += CHUNK) {
      await controlRequest(sock, { cmd: 'attach-range', link: 'acc0', count: Math.min(CHUNK, COUNT - start + 1), start, mnPrefix: 'ls' }, 120_000)
    }
    for (;;) {
      const s = await controlRequest(sock, { cmd: 'status' }, 60_000)
      if ((s.states.registered ?? 0) >= COUNT) break
      if (ms(tb) > 600_000) throw new Error(`not bound in time: ${JSON.stringify(s.states)}`)
      await sleep(200)
    }
    extra.boundMs = ms(tb)
    if (global.gc) global.gc()
    extra.heapUsedMiB = process.memoryUsage().heapUsed / 2 ** 20
    extra.loads.idle = load()
    process.stderr.write(`listing: ${COUNT} bound in ${Math.round(extra.boundMs)} ms (load ${load()})\n`)

    // ---- status alone
    const statusMs = []
    for (let i = 0; i < 200; i++) {
      const t0 = process.hrtime.bigint()
      await controlRequest(sock, { cmd: 'status' })
      statusMs.push(ms(t0))
    }
    const inProc = []
    for (let i = 0; i < 200; i++) {
      const t0 = process.hrtime.bigint()
      mag.daemon.status()
      inProc.push(ms(t0) * 1000)
    }
    const st = await controlRequest(sock, { cmd: 'status' })
    extra.statusBytes = JSON.stringify(st).length

    // ---- the whole list through the CLI, the loop watched; the same through a second control
    // socket answering pages the old way (views, then JSON.stringify of the page, one turn a
    // page) for a baseline under the same load. ROUNDS rounds, old and new alternating.
    const oldSock = path.join(dir, 'old.sock')
    let oldServer = null
    const oldHandlers = controlHandlers(mag.daemon, () => ({}), () => true, () => oldServer)
    oldHandlers.set('bindings', (req) => mag.daemon.bindingsPage(Number(req.after ?? 0), Number(req.limit ?? 500)))
    oldServer = new ControlServer(oldSock, oldHandlers)
    await oldServer.start()
    const rounds = { new: [], old: [] }
    const listOnce = async (way) => {
      const s = way === 'new' ? sock : oldSock
      await controlRequest(s, { cmd: 'latency-reset' })
      const h = monitorEventLoopDelay({ resolution: 1 })
      const statusMs = []
      let listing = true
      const statusLoop = (async () => {
        while (listing) {
          const t0 = process.hrtime.bigint()
          await controlRequest(s, { cmd: 'status' }, 60_000)
          statusMs.push(ms(t0))
          await sleep(20)
        }
      })()
      const loadAt = load()
      h.enable()
      const { r: cli, pauses } = await withGcWatch(() => cliList(s))
      h.disable()
      listing = false
      await statusLoop
      const st = await controlRequest(s, { cmd: 'status' })
      if (cli.rows !== COUNT) throw new Error(`mag bindings --json (${way}) printed ${cli.rows} rows, not ${COUNT}`)
      const r = { load: loadAt, wallMs: cli.wallMs, bytes: cli.bytes, loopMaxMs: h.max / 1e6, loopP99Ms: h.percentile(99) / 1e6, longestReplyMs: st.control.longestReplyMs, gc: gcSummary(pauses), statusP50Ms: percentile(statusMs, 50), statusMaxMs: Math.max(...statusMs) }
      rounds[way].push(r)
      process.stderr.write(`listing: ${way} way, mag bindings --json ${Math.round(cli.wallMs)} ms, longest turn ${r.loopMaxMs.toFixed(1)} ms, GC max ${r.gc.maxMs.toFixed(1)} ms (load ${loadAt})\n`)
    }
    for (let i = 0; i < ROUNDS; i++) {
      await listOnce('old')
      await listOnce('new')
    }
    await oldServer.stop()
    extra.rounds = rounds
    extra.loads.listing = percentile(rounds.new.map((r) => r.load), 50)

    // ---- per row, in process: old (views + JSON.stringify per page) and new (listing.ts)
    const d = mag.daemon
    const walkOld = () => {
      let longest = 0
      const t0 = process.hrtime.bigint()
      for (let after = 0; after !== null; ) {
        const p0 = process.hrtime.bigint()
        const page = d.bindingsPage(after, PAGE)
        JSON.stringify(page)
        longest = Math.max(longest, ms(p0))
        after = page.next
      }
      return { totalMs: ms(t0), longestMs: longest }
    }
    // The parts, a slice (SLICE_ROWS) at a time as the listing takes them: a view per row, then
    // JSON.stringify of the slice, or bindingViewJson of each row joined.
    const walkParts = () => {
      let views = 0
      let stringify = 0
      let handJson = 0
      for (let after = 0; after !== null; ) {
        let t0 = process.hrtime.bigint()
        const page = d.bindingsPage(after, SLICE_ROWS)
        views += ms(t0)
        t0 = process.hrtime.bigint()
        JSON.stringify(page.bindings)
        stringify += ms(t0)
        t0 = process.hrtime.bigint()
        page.bindings.map(bindingViewJson).join(',')
        handJson += ms(t0)
        after = page.next
      }
      return { views, stringify, handJson }
    }
    const walkNew = async (turnMs) => {
      const t0 = process.hrtime.bigint()
      let longest = 0
      for (let after = 0; after !== null; ) {
        const turns = new Turns(turnMs)
        // As the control socket does: the text handed on as it is made (here, dropped).
        const r = await writeRows(d.listing, after, PAGE, turns, () => undefined)
        turns.done()
        longest = Math.max(longest, turns.longestMs)
        after = r.next
      }
      return { totalMs: ms(t0), longestMs: longest }
    }
    // Warm-up, then the median of 3 of each.
    walkOld()
    await walkNew(Infinity)
    const med = (xs, k) => percentile(xs.map((x) => x[k]), 50)
    const olds = [walkOld(), walkOld(), walkOld()]
    const news = [await walkNew(Infinity), await walkNew(Infinity), await walkNew(Infinity)]
    const slicedGc = await withGcWatch(async () => [await walkNew(2), await walkNew(2), await walkNew(2)])
    const sliced = slicedGc.r
    extra.gcWhileSliced = gcSummary(slicedGc.pauses)
    const parts = [walkParts(), walkParts(), walkParts()]
    extra.loads.perRow = load()
    // The rows one page request can cover (at most PAGE_SLOTS_MAX slots): the cap, checked.
    const capRun = await writeRows(d.listing, 0, Infinity, new Turns(), () => undefined)
    const perRow = (x) => (x * 1000) / COUNT

    // Over the rounds: the median of each round's figure, and the worst of them.
    const mid = (way, f) => percentile(rounds[way].map(f), 50)
    const worst = (way, f) => Math.max(...rounds[way].map(f))
    const cli = { wallMs: mid('new', (r) => r.wallMs) }
    figures.push(
      { metric: `mag bindings --json, ${COUNT} bindings (CLI wall time, median of ${ROUNDS})`, value: cli.wallMs, unit: 'ms' },
      { metric: 'longest event-loop turn while listing (monitorEventLoopDelay max), median of rounds', value: mid('new', (r) => r.loopMaxMs), unit: 'ms', goal: '<= 10' },
      { metric: 'longest event-loop turn while listing, worst round', value: worst('new', (r) => r.loopMaxMs), unit: 'ms', goal: '<= 10' },
      { metric: 'event-loop delay p99 while listing, median of rounds', value: mid('new', (r) => r.loopP99Ms), unit: 'ms' },
      { metric: 'longest GC pause while listing, median of rounds', value: mid('new', (r) => r.gc.maxMs), unit: 'ms' },
      { metric: 'longest turn one control request held (status.control.longestReplyMs), median of rounds', value: mid('new', (r) => r.longestReplyMs), unit: 'ms', goal: '<= 10' },
      { metric: 'status round trip during the listing, p50', value: mid('new', (r) => r.statusP50Ms), unit: 'ms' },
      { metric: 'status round trip during the listing, worst', value: worst('new', (r) => r.statusMaxMs), unit: 'ms' },
      { metric: 'old way (one turn a page): mag bindings --json wall time, median', value: mid('old', (r) => r.wallMs), unit: 'ms' },
      { metric: 'old way: longest event-loop turn while listing, median of rounds', value: mid('old', (r) => r.loopMaxMs), unit: 'ms' },
      { metric: 'old way: longest event-loop turn while listing, worst round', value: worst('old', (r) => r.loopMaxMs), unit: 'ms' },
      { metric: 'old way: event-loop delay p99 while listing, median of rounds', value: mid('old', (r) => r.loopP99Ms), unit: 'ms' },
      { metric: 'old way: longest GC pause while listing, median of rounds', value: mid('old', (r) => r.gc.maxMs), unit: 'ms' },
      { metric: 'old way: longest turn one control request held, median of rounds', value: mid('old', (r) => r.longestReplyMs), unit: 'ms' },
      { metric: 'status round trip (socket), p50', value: percentile(statusMs, 50), unit: 'ms' },
      { metric: 'status round trip (socket), max', value: Math.max(...statusMs), unit: 'ms' },
      { metric: 'daemon.status() in process, p50', value: percentile(inProc, 50), unit: 'µs' },
      { metric: 'per row, old: views + JSON.stringify per page of 1000', value: perRow(med(olds, 'totalMs')), unit: 'µs' },
      { metric: 'per row, in slices of 32: the views alone', value: perRow(med(parts, 'views')), unit: 'µs' },
      { metric: 'per row, in slices of 32: JSON.stringify of the views alone', value: perRow(med(parts, 'stringify')), unit: 'µs' },
      { metric: 'per row, in slices of 32: bindingViewJson of the views alone', value: perRow(med(parts, 'handJson')), unit: 'µs' },
      { metric: 'per row, new: listing.ts pages of 1000, no yield', value: perRow(med(news, 'totalMs')), unit: 'µs' },
      { metric: 'per row, new: listing.ts pages of 1000, yielding every 2 ms', value: perRow(med(sliced, 'totalMs')), unit: 'µs' },
      { metric: 'old: longest page of 1000 (one turn)', value: med(olds, 'longestMs'), unit: 'ms' },
      { metric: 'new: longest turn, yielding every 2 ms', value: med(sliced, 'longestMs'), unit: 'ms', goal: '<= 10' },
      { metric: 'new: longest GC pause in those walks', value: extra.gcWhileSliced.maxMs, unit: 'ms' },
    )
    extra.statusAtSize = { links: st.links.length, linkCount: st.linkCount, bindings: st.bindings }
    extra.capRows = capRun.rows
    extra.loadNote = 'load average (1 min) at each phase: the machine is shared with other work'
    writeResult(`listing-${COUNT}`, figures, extra)
    process.stdout.write(`listing: load average (1 min) bound ${extra.loads.idle}, listing (median of rounds) ${extra.loads.listing}, per-row walks ${extra.loads.perRow}\n`)
  } finally {
    await mag.stop(false)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  process.stderr.write(`listing: ${e.stack || e}\n`)
  process.exit(1)
})
