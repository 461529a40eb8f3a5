'use strict'
// MAG core throughput and memory (packages/core, compiled: run `npx tsc -b` first).
//   node --expose-gc test/bench/core-step.bench.js
// 1. step() throughput: N attaches (each -> state-changed, send-pbu, arm-timer), then the N
//    matching PBAs (each -> accepted: forwarding-up, RA, refresh/expiry/RA timers). The PBAs are
//    built before timing starts; the clock only counts core.step().
// 2. Heap per binding with N = 100,000 accepted bindings (heap after GC, minus the heap of the
//    same core with its profiles loaded and no MN attached).
const { createMagCore } = require('@pmip6/core')
const { PBA_FLAGS, parsePrefix } = require('@pmip6/wire')
const { writeResult, percentile } = require('./lib')

const N = 100_000
const LMA = '2001:db8:ffff::2'
const T0 = Date.parse('2024-01-01T00:00:00Z')

function profiles(n) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = { mnId: `mn${i}@example.com`, lma: LMA }
  return JSON.parse(JSON.stringify(out))
}

function makeCore(profs) {
  // Every PBU goes out at once: this measures step(), not the pacing towards the LMA.
  return createMagCore({ profiles: profs, fixedLinkLocal: 'fe80::1', fixedLinkLayer: '02:00:00:00:00:fe', seed: 7, maxPbusInFlight: N })
}

function mac(i) {
  const b = Buffer.alloc(6)
  b[0] = 0x02
  b.writeUInt32BE(i, 2)
  return b
}

/** The PBA a conforming LMA sends back: MN-ID, HNP, HI, ATT, timestamp and LL-ID echoed. */
function pbaFor(pbu, i) {
  const p = parsePrefix(`2001:db8:${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::/64`)
  const options = []
  for (const o of pbu.options) {
    if (o.type === 'hnp') options.push({ type: 'hnp', prefixLength: 64, prefix: p.prefix })
    else options.push(o)
  }
  return { kind: 'binding-ack', status: 0, flags: PBA_FLAGS, sequence: pbu.sequence, lifetime: pbu.lifetime, options }
}

/** One round: N attaches then N PBAs on a fresh core; returns timings in ns and the core. */
function round(profs, keep) {
  const core = makeCore(profs)
  // Event strings arrive flat in the daemon (decoded from JSON or socket bytes); template
  // literals would hand the core ropes instead, which no real driver produces.
  const ids = JSON.parse(JSON.stringify(Array.from({ length: N }, (_, i) => [`mn${i}@example.com`, `ppp${i}`])))
  const attaches = new Array(N)
  for (let i = 0; i < N; i++) attaches[i] = { type: 'attached', at: T0 + i, link: ids[i][1], mnId: ids[i][0], llId: mac(i), att: 4, hint: 'new' }
  const pbus = new Array(N)
  const lat = []
  let t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const cmds = core.step(attaches[i])
    for (let k = 0; k < cmds.length; k++) if (cmds[k].type === 'send-pbu') pbus[i] = cmds[k].pbu
  }
  const attachNs = Number(process.hrtime.bigint() - t)
  const pbas = new Array(N)
  for (let i = 0; i < N; i++) pbas[i] = { type: 'pba', at: T0 + N + i, from: LMA, pba: pbaFor(pbus[i], i) }
  let accepted = 0
  t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const s = (i & 1023) === 0 ? process.hrtime.bigint() : 0n
    const cmds = core.step(pbas[i])
    for (let k = 0; k < cmds.length; k++) if (cmds[k].type === 'state-changed' && cmds[k].to === 'registered') accepted++
    if (s !== 0n) lat.push(Number(process.hrtime.bigint() - s))
  }
  const pbaNs = Number(process.hrtime.bigint() - t)
  if (accepted !== N) throw new Error(`only ${accepted} of ${N} PBAs accepted`)
  return { attachNs, pbaNs, lat, core: keep ? core : null }
}

function heapAfterGc() {
  for (let i = 0; i < 3; i++) global.gc()
  return process.memoryUsage().heapUsed
}

function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc')
  const profs = profiles(N)
  // Warm-up rounds for the JIT, then measured rounds.
  round(profs, false)
  round(profs, false)
  const rounds = []
  for (let r = 0; r < 5; r++) rounds.push(round(profs, false))
  const attachRate = rounds.map((r) => N / (r.attachNs / 1e9))
  const pbaRate = rounds.map((r) => N / (r.pbaNs / 1e9))
  const bothRate = rounds.map((r) => (2 * N) / ((r.attachNs + r.pbaNs) / 1e9))
  const lat = rounds.flatMap((r) => r.lat)

  // Memory: the same core with profiles and no MN, then with N accepted bindings.
  rounds.length = 0
  const base = heapAfterGc()
  const empty = makeCore(profs)
  const before = heapAfterGc()
  void empty
  const { core } = round(profs, true)
  const after = heapAfterGc()
  if (core.bindings().length !== N) throw new Error('bindings lost')
  const perBinding = (after - before) / N

  writeResult('core-step', [
    { metric: 'step() attach -> PBU', value: percentile(attachRate, 50), unit: 'events/s', goal: '>= 300000' },
    { metric: 'step() PBA -> accepted', value: percentile(pbaRate, 50), unit: 'events/s', goal: '>= 300000' },
    { metric: 'step() attach + PBA', value: percentile(bothRate, 50), unit: 'events/s', goal: '>= 300000' },
    { metric: 'step() PBA latency p99', value: percentile(lat, 99) / 1000, unit: 'us' },
    { metric: `heap per binding (${N} bindings)`, value: perBinding, unit: 'bytes', goal: '<= 1024' },
  ], { bindings: N, heapEmptyCoreMiB: (before - base) / 2 ** 20, heapWithBindingsMiB: (after - base) / 2 ** 20 })
}

main()
