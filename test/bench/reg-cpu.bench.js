'use strict'
// CPU per registration, both daemons in this process (issue 23); run `npm run build` first.
//   node --expose-gc test/bench/reg-cpu.bench.js [count=20000] [rounds=3]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof test/bench/reg-cpu.bench.js 20000 1   (a profile)
// The real MAG daemon (startMag: mock driver, core, wire codecs, timers, its kernel data plane
// code with `uplinkSelect: subtree`) and the real lab LMA runner (startLma: core, its data plane
// code), joined by an in-memory link (each packet on a later turn, as a socket would give it).
// Both data planes run their real rtnetlink code (@pmip6/dataplane: planning, message encoding,
// batching, ack matching) down to the netlink socket's send(): the kernel is replaced by an
// answer that acks each datagram on a later turn, so nothing reaches any routing table and no
// root or namespace is needed. What is not here: the kernel's own work (route inserts, the raw
// sockets' system calls) and the control socket's attach-range parsing.
// `count` MNs attach on one shared access link (the control socket's attach-range, in process),
// and the round ends when all are registered with forwarding up at both ends; then all detach
// and the round ends again when everything is gone. Figures: process CPU (user + system, from
// process.cpuUsage) per registration and per de-registration, each round, with the load average.
const os = require('node:os')
const { PassThrough } = require('node:stream')
const { startMag, validateConfig, controlHandlers, openKernelDataPlane: openMagDataPlane, Turns } = require('@pmip6/agent')
const { startLma, validateConfig: validateLmaConfig } = require('@pmip6/lab-lma')
const { DataPlane, NetlinkRtnl } = require('@pmip6/dataplane')
const { writeResult, percentile } = require('./lib')

const COUNT = Number(process.argv[2] || 20_000)
const ROUNDS = Number(process.argv[3] || 3)
const MAG = '2001:db8:ffff::1'
const LMA = '2001:db8:ffff::2'
const CHUNK = 5_000
const load = () => Number(os.loadavg()[0].toFixed(2))
const NLMSG_ERROR = 2

/**
 * An rtnetlink stand-in under the real NetlinkRtnl: the batched socket's send() is answered
 * with one ack for the datagram's last message on a later turn (what the kernel does when every
 * message succeeds); the rare typed requests (tunnel links, the `local` rule, dumps at start)
 * are answered here. Nothing reaches the kernel.
 */
function fakeRtnl(devs) {
  const real = new NetlinkRtnl()
  // No request may leave through the typed socket either.
  real.s.socket.close()
  const batch = real.batch
  const sock = batch.sock
  sock.close()
  batch.sock = {
    send(bufs, _opts, cb) {
      const last = bufs[bufs.length - 1]
      const seq = last.readUInt32LE(8)
      const ack = Buffer.alloc(36)
      ack.writeUInt32LE(36, 0)
      ack.writeUInt16LE(NLMSG_ERROR, 4)
      ack.writeUInt32LE(seq, 8)
      ack.writeInt32LE(0, 16)
      last.copy(ack, 20, 0, 16)
      setImmediate(() => {
        cb(null)
        batch.onMessage(ack)
      })
    },
    ref() {},
    unref() {},
    close() {},
  }
  devs.forEach((d, i) => real.ifindex.set(d, i + 2))
  let devIndex = devs.length + 2
  const ok = async () => undefined
  return {
    add(o) {
      if (o.kind === 'rule' || o.kind === 'route') {
        if (o.kind === 'route' && !real.ifindex.has(o.dev)) real.ifindex.set(o.dev, devIndex++)
        return real.add(o)
      }
      return ok()
    },
    del(o) {
      if (o.kind === 'rule' || o.kind === 'route') return real.del(o)
      return ok()
    },
    rules: async () => [],
    routes: async () => [],
    links: async () => devs.map((name, i) => ({ index: i + 2, name, kind: null, mtu: 1500 })),
    routeDev: async () => devs[0],
    addressDev: async () => devs[0],
    delRuleInfo: ok,
    delRouteInfo: ok,
    delLinkByName: ok,
    replaceRoute: ok,
    setLinkMtu: ok,
    changeGreLink: ok,
    probeGre: async () => false,
    close() {
      batch.close()
    },
  }
}

/** The MAG's packets to the LMA's transport and back, each on a later turn. */
function link() {
  let toMag = () => undefined
  let toLma = () => undefined
  const magIo = {
    sendMh(bytes, dst, src) {
      const b = Buffer.from(bytes)
      setImmediate(() => toLma(b, src, dst))
    },
    sendNd() {},
    sendIcmp() {},
    onMh(fn) {
      toMag = fn
    },
    onNd() {},
    addLink() {},
    removeLink() {},
    close() {},
  }
  const lmaTransport = {
    send(bytes, dst, src) {
      const b = Buffer.from(bytes)
      setImmediate(() => toMag({ data: b, src: src ?? LMA, dst, link: 'uplink0', hopLimit: 64 }))
    },
    onMessage(fn) {
      toLma = fn
    },
    close() {},
  }
  return { magIo, lmaTransport }
}

const cpuMs = (u) => (u.user + u.system) / 1000
async function until(what, cond, state, ms = 120_000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what} (${JSON.stringify(state())})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function main() {
  const { magIo, lmaTransport } = link()
  const lmaCfg = validateLmaConfig({ address: LMA, pool: '2001:db8:1000::/36', lifetimeMax: 3600, timestampWindowMs: 5000, dataplane: { backend: 'seg6' } })
  const lma = await startLma(lmaCfg, {
    transport: lmaTransport,
    controlSocket: null,
    openDataplane: async () => {
      const dp = await DataPlane.open({ role: 'lma', self: LMA, backend: 'seg6', rtnl: fakeRtnl(['lma0']), enableForwarding: false })
      return { backend: dp.backend, gre: dp.gre, up: (r) => dp.up(r), down: (id) => dp.down(id), idle: () => dp.idle(), close: () => dp.close(), snapshot: () => dp.snapshot() }
    },
  })
  const cfg = validateConfig({
    mag: { address: MAG, controlSocket: `/tmp/reg-cpu-${process.pid}.sock`, fixedLinkLocal: 'fe80::1', heartbeatInterval: 0, lifetime: 3600, logLevel: process.env.MAG_BENCH_LOG_LEVEL || 'warn' },
    links: { acc0: { shared: true } },
    ra: { maxIntervalMs: 1_800_000, minIntervalMs: 600_000 },
    drivers: { mock: { att: 4 } },
    unknownMn: { lma: LMA },
    dataplane: { backend: 'seg6', uplinkSelect: 'subtree', enableForwarding: false },
  })
  const silent = { debug() {}, info() {}, warn() {}, error() {} }
  const magDp = await openMagDataPlane(cfg, cfg.dataplane, silent, fakeRtnl(['up0', 'acc0']))
  const mag = await startMag(cfg, null, { io: magIo, dataplane: magDp, logStream: new PassThrough(), clockSynced: () => true })
  const handlers = controlHandlers(mag.daemon, () => ({}))
  const attachRange = handlers.get('attach-range')
  const detach = handlers.get('detach')
  const registered = () => mag.daemon.core.stateCounts().registered ?? 0
  const magFwd = () => magDp.status().bindings // the data plane's snapshot: O(1)
  const lmaFwd = () => lma.status().dataplane?.state?.bindings ?? 0
  const state = () => ({ mag: mag.daemon.status().states, magFwd: magFwd(), lmaFwd: lmaFwd(), lmaBindings: lma.bindings().length, magBindings: mag.daemon.bindingCount(), magCounters: Object.fromEntries(Object.entries(mag.daemon.status().counters).filter(([k]) => /pbu|pba|dereg|dataplane/.test(k))), lma: lma.status().counters })
  const rounds = []
  try {
    for (let r = 0; r < ROUNDS; r++) {
      if (global.gc) global.gc()
      const heap0 = process.memoryUsage().heapUsed
      const load0 = load()
      let c0 = process.cpuUsage()
      let t0 = process.hrtime.bigint()
      for (let start = 1; start <= COUNT; start += CHUNK) attachRange({ cmd: 'attach-range', link: 'acc0', count: Math.min(CHUNK, COUNT - start + 1), start, mnPrefix: 'rc', att: 'wifi' }, new Turns())
      await until('all registered', () => registered() >= COUNT && magFwd() >= COUNT && lmaFwd() >= COUNT, state)
      const upCpu = cpuMs(process.cpuUsage(c0))
      const upMs = Number(process.hrtime.bigint() - t0) / 1e6
      let heapPerBinding = null
      if (global.gc) {
        global.gc()
        heapPerBinding = (process.memoryUsage().heapUsed - heap0) / COUNT
      }
      c0 = process.cpuUsage()
      t0 = process.hrtime.bigint()
      detach({ cmd: 'detach', link: 'acc0' }, new Turns())
      await until('all gone', () => mag.daemon.bindingCount() === 0 && magFwd() === 0 && lmaFwd() === 0, state)
      const downCpu = cpuMs(process.cpuUsage(c0))
      const downMs = Number(process.hrtime.bigint() - t0) / 1e6
      const row = { load: load0, upCpuUsPerReg: (upCpu * 1000) / COUNT, upMs, downCpuUsPerReg: (downCpu * 1000) / COUNT, downMs, heapPerBinding }
      rounds.push(row)
      process.stderr.write(`reg-cpu: round ${r + 1}: ${row.upCpuUsPerReg.toFixed(1)} µs CPU per registration (${Math.round(upMs)} ms), ${row.downCpuUsPerReg.toFixed(1)} µs per de-registration, heap ${heapPerBinding === null ? '-' : heapPerBinding.toFixed(0)} B/binding, load ${load0}\n`)
    }
  } finally {
    await mag.stop(false)
    await lma.stop()
  }
  const med = (k) => percentile(rounds.map((x) => x[k]), 50)
  writeResult(`reg-cpu-${COUNT}`, [
    { metric: 'CPU per registration, MAG + lab LMA in one process, no kernel (median of rounds)', value: med('upCpuUsPerReg'), unit: 'µs' },
    { metric: 'CPU per de-registration, same', value: med('downCpuUsPerReg'), unit: 'µs' },
    { metric: 'heap per binding, MAG + LMA', value: med('heapPerBinding'), unit: 'bytes' },
  ], { count: COUNT, rounds })
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e.stack}\n`)
    process.exit(1)
  },
)
