'use strict'
// Soak (issue 9), root only, not part of CI or `npm run bench`; run `npm run build` first.
//   node test/bench/soak.js [minutes=30] [population=500]
// The netns lab with the data plane; mag1 serves a shared access link on which a population of
// synthetic MNs churns: every second a random tenth of them detaches or attaches (mock driver),
// so registrations, refreshes (60 s lifetime), de-registrations, RAs, forwarding set-up and
// teardown run all the time. Every 30 s it samples the MAG's RSS, heap after a full GC, armed
// timers, open file descriptors, bindings, the data plane's kernel objects and the rules and
// routes actually in the kernel. At the end every MN detaches and it checks that timers, kernel
// objects and descriptors are back where they started. Writes test/bench/results/soak.json.
const fs = require('node:fs')
const { spawnSync } = require('node:child_process')
const { controlRequest } = require('@pmip6/agent')
const { labUp, labDown } = require('../../packages/cli/dist/lab/lab')
const { writeResult } = require('./lib')

/** Memory and the population over the soak, as pictures (plot.js). */
function soakSeries(samples) {
  return {
    memory: { title: 'memory over the soak', x: 'minutes', y: 'MiB', lines: { RSS: samples.map((s) => [s.tS / 60, s.rssMiB]), 'heap after a full GC': samples.map((s) => [s.tS / 60, s.heapMiB]) } },
    population: { title: 'bindings and kernel objects over the soak', x: 'minutes', y: 'count', lines: { bindings: samples.map((s) => [s.tS / 60, s.bindings]), 'kernel rules + routes': samples.map((s) => [s.tS / 60, s.kernel.rules + s.kernel.routes]), 'armed timers': samples.map((s) => [s.tS / 60, s.timers]) } },
  }
}
module.exports = { soakSeries }

const MINUTES = Number(process.argv[2] || 30)
const POP = Number(process.argv[3] || 500)
const LAB = `sk${process.pid % 100000}`.slice(0, 12)
const LMA = '2001:db8:ffff::2'
const SAMPLE_MS = 30_000

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('soak: needs root (netns lab); skipped\n')
  process.exit(0)
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const id = (i) => `soak${i}@example.com`
const mac = (i) => `0a:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`

/** The MAG's own kernel objects: rules and routes carrying its protocol number (158), and links. */
function kernel(ns) {
  const lines = (args) => spawnSync('ip', ['netns', 'exec', ns, 'ip', ...args], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() !== '')
  const ours = (l) => / proto 158\b/.test(l)
  return { rules: lines(['-6', 'rule']).filter(ours).length, routes: lines(['-6', 'route', 'show', 'table', 'all']).filter(ours).length, links: lines(['-o', 'link']).length }
}
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length

async function main() {
  // The daemons inherit this, so the heap can be read after a full GC (the 'gc' control request).
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim()
  await labDown(LAB, { quiet: true }).catch(() => undefined)
  const lab = await labUp({
    name: LAB,
    mns: 1,
    quiet: true,
    logLevel: 'warn',
    magConfig: { mag: { lifetime: 60 }, unknownMn: { lma: LMA }, links: { mn1: { shared: true } } },
    lmaConfig: { lifetimeMax: 60 },
  })
  const sock = lab.sockets.mag1
  const pid = lab.pids.mag1
  const ns = `${LAB}-mag1`
  const status = () => controlRequest(sock, { cmd: 'status' }, 30_000)
  const samples = []
  const sample = async (t) => {
    // Heap after a full GC: the leak signal (RSS also moves with the allocator's own choices).
    const heap = (await controlRequest(sock, { cmd: 'gc' }, 30_000)).heapUsedBytes
    const s = await status()
    samples.push({ tS: Math.round(t / 1000), rssMiB: s.memory.rssBytes / 2 ** 20, heapMiB: heap / 2 ** 20, timers: s.timers, fds: fds(pid), bindings: s.bindings, dpObjects: s.dataplane.state.objects, kernel: kernel(ns) })
    const x = samples[samples.length - 1]
    process.stdout.write(`soak ${String(x.tS).padStart(5)} s: rss ${x.rssMiB.toFixed(1)} MiB, heap ${x.heapMiB.toFixed(1)} MiB, timers ${x.timers}, fds ${x.fds}, bindings ${x.bindings}, dp objects ${x.dpObjects}, rules ${x.kernel.rules}, routes ${x.kernel.routes}\n`)
  }
  try {
    const base = { timers: (await status()).timers, fds: fds(pid), kernel: kernel(ns), dpObjects: (await status()).dataplane.state.objects }
    const attached = new Set()
    const t0 = Date.now()
    let next = 0
    let ops = 0
    while (Date.now() - t0 < MINUTES * 60_000) {
      for (let k = 0; k < POP / 10; k++) {
        const i = 1 + Math.floor(Math.random() * POP)
        if (attached.has(i)) {
          await controlRequest(sock, { cmd: 'detach', mn: id(i) })
          attached.delete(i)
        } else {
          await controlRequest(sock, { cmd: 'attach', link: 'mn1', mn: id(i), mac: mac(i), att: 'wifi', hint: 'new' })
          attached.add(i)
        }
        ops++
      }
      if (Date.now() - t0 >= next) {
        await sample(Date.now() - t0)
        next += SAMPLE_MS
      }
      await sleep(1000)
    }
    for (const i of attached) await controlRequest(sock, { cmd: 'detach', mn: id(i) })
    const end = Date.now() + 30_000
    for (;;) {
      const s = await status()
      if ((s.bindings === 0 && s.dataplane.state.bindings === 0) || Date.now() > end) break
      await sleep(200)
    }
    await sleep(2000)
    await sample(Date.now() - t0)
    const last = samples[samples.length - 1]
    const firstFull = samples[Math.min(2, samples.length - 1)]
    const maxRss = Math.max(...samples.map((x) => x.rssMiB))
    // Heap once the population has settled (5 min), at the last sample of the churn, and after
    // everyone left: a leak shows as growth between the first two and as a rest in the third.
    const settled = samples.find((x) => x.tS >= 300) ?? firstFull
    const churnEnd = samples[Math.max(0, samples.length - 2)]
    writeResult(
      'soak',
      [
        { metric: `soak ${MINUTES} min, ${POP} MNs churning: attach/detach operations`, value: ops, unit: 'ops' },
        { metric: 'RSS at 1 min / at the end / highest', value: `${firstFull.rssMiB.toFixed(1)} / ${last.rssMiB.toFixed(1)} / ${maxRss.toFixed(1)}`, unit: 'MiB' },
        { metric: 'heap after a full GC at 5 min / at the end of the churn / after everyone left', value: `${settled.heapMiB.toFixed(1)} / ${churnEnd.heapMiB.toFixed(1)} / ${last.heapMiB.toFixed(1)}`, unit: 'MiB' },
        { metric: 'armed timers before / after everyone left', value: `${base.timers} / ${last.timers}`, unit: 'timers' },
        { metric: 'open descriptors before / after', value: `${base.fds} / ${last.fds}`, unit: 'fds' },
        { metric: 'kernel rules+routes before / after', value: `${base.kernel.rules + base.kernel.routes} / ${last.kernel.rules + last.kernel.routes}`, unit: 'objects' },
        { metric: 'data plane objects before / after', value: `${base.dpObjects} / ${last.dpObjects}`, unit: 'objects' },
      ],
      { minutes: MINUTES, population: POP, base, samples, series: soakSeries(samples) },
    )
  } finally {
    await labDown(LAB, { quiet: true })
  }
}

if (require.main === module) {
  main().catch(async (e) => {
    process.stderr.write(`soak: ${e.stack || e}\n`)
    await labDown(LAB, { quiet: true }).catch(() => undefined)
    process.exit(1)
  })
}
