'use strict'
// Helpers for benchmarks that time registrations from packets on the wire (issue 23):
// dumpcap in a lab namespace (kernel timestamps, CLOCK_REALTIME), a streaming tshark that tells
// the benchmark when an RA reached the MN's side (so nothing polls the daemon while it
// registers), a persistent control-socket connection, the realtime clock read precisely enough
// to stand beside capture timestamps, CPU hogs that are always stopped, and the load average.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')

/**
 * Epoch seconds now, to the microsecond. performance.timeOrigin is read once at process start,
 * and CLOCK_REALTIME may be slewed (NTP) against the monotonic clock after that: the offset is
 * found again (calibrate()) at the edge of a Date.now() millisecond, before each phase.
 */
let offsetMs = performance.timeOrigin
function calibrate() {
  let best = Infinity
  for (let k = 0; k < 5; k++) {
    const d0 = Date.now()
    let d
    let p
    do {
      p = performance.now()
      d = Date.now()
    } while (d === d0)
    // Realtime at p is at most d (the edge came after p was read): the smallest d - p is closest.
    best = Math.min(best, d - p)
  }
  const drift = best - offsetMs
  offsetMs = best
  return drift
}
calibrate()
const epochNow = () => (offsetMs + performance.now()) / 1000

/** One control-socket connection kept open; the send time is read right before the write. */
class ControlConn {
  constructor(path) {
    this.path = path
    this.buf = ''
    this.waiting = []
  }
  open() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.path)
      this.sock.setEncoding('utf8')
      this.sock.once('connect', resolve)
      this.sock.once('error', reject)
      this.sock.on('data', (c) => {
        this.buf += c
        for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
          const line = this.buf.slice(0, nl)
          this.buf = this.buf.slice(nl + 1)
          const w = this.waiting.shift()
          if (!w) continue
          clearTimeout(w.timer)
          let rep
          try {
            rep = JSON.parse(line)
          } catch {
            w.reject(new Error(`not JSON from ${this.path}`))
            continue
          }
          if (rep.ok) w.resolve('result' in rep ? rep.result : rep)
          else w.reject(new Error(`${this.path}: ${rep.error}`))
        }
      })
    })
  }
  /** Sends; returns [epoch seconds just before the write, promise of the reply]. */
  send(req, timeoutMs = 30_000) {
    let w
    const reply = new Promise((resolve, reject) => {
      w = { resolve, reject, timer: setTimeout(() => reject(new Error(`no reply to ${req.cmd} within ${timeoutMs} ms`)), timeoutMs) }
    })
    this.waiting.push(w)
    const line = JSON.stringify(req) + '\n'
    const t = epochNow()
    this.sock.write(line)
    return [t, reply]
  }
  request(req, timeoutMs) {
    return this.send(req, timeoutMs)[1]
  }
  close() {
    if (this.sock) this.sock.destroy()
  }
}

/** dumpcap in `ns` on `ifaces`, writing pcapng; resolves once it captures. */
async function dumpcap(ns, ifaces, filter, file, ms = 120_000) {
  const args = ['netns', 'exec', ns, 'dumpcap', '-q', '-f', filter, ...ifaces.flatMap((i) => ['-i', i]), '-w', file]
  const c = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  c.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const end = Date.now() + ms
  while (!/Capturing on/.test(err)) {
    if (c.exitCode !== null) throw new Error(`dumpcap in ${ns} exited: ${err}`)
    if (Date.now() > end) throw new Error(`dumpcap in ${ns} did not start: ${err}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  return { child: c, file, stop: () => stopChild(c, 'SIGINT') }
}

/**
 * A streaming tshark on `iface` in `ns` that reports each RA with a prefix of non-zero valid
 * lifetime (time, destination MAC): the benchmark waits on these instead of asking the daemon.
 */
async function raWatcher(ns, iface, ms = 120_000) {
  const c = spawn('ip', ['netns', 'exec', ns, 'tshark', '-l', '-n', '-i', iface, '-f', 'icmp6 and ip6[40] == 134', '-Y', 'icmpv6.opt.prefix.valid_lifetime > 0', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'eth.dst', '-e', 'icmpv6.opt.prefix'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  let out = ''
  const seen = []
  let waiters = []
  c.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  c.stdout.setEncoding('utf8').on('data', (d) => {
    out += d
    let nl
    while ((nl = out.indexOf('\n')) >= 0) {
      const [t, mac, prefixes] = out.slice(0, nl).split('\t')
      out = out.slice(nl + 1)
      const ra = { t: Number(t), mac, prefixes: (prefixes || '').split(',') }
      seen.push(ra)
      const still = []
      for (const w of waiters) (w.match(ra) ? w.resolve(ra) : still.push(w))
      waiters = still
    }
  })
  const end = Date.now() + ms
  while (!/Capturing on/.test(err)) {
    if (c.exitCode !== null) throw new Error(`tshark in ${ns} exited: ${err}`)
    if (Date.now() > end) throw new Error(`tshark in ${ns} did not start: ${err}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    /** Resolves with the first RA after `after` (epoch s) to `mac` (any if null). */
    next(after, mac, timeoutMs = 20_000) {
      const match = (ra) => ra.t >= after && (mac === null || ra.mac === mac)
      const hit = seen.find(match)
      if (hit) return Promise.resolve(hit)
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (ra) => (clearTimeout(w.timer), resolve(ra)) }
        w.timer = setTimeout(() => {
          waiters = waiters.filter((x) => x !== w)
          reject(new Error(`no RA${mac ? ` to ${mac}` : ''} within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.push(w)
      })
    },
    stop: () => stopChild(c, 'SIGINT'),
    child: c,
    seen,
  }
}

async function stopChild(c, sig = 'SIGTERM') {
  if (!c || c.exitCode !== null || c.signalCode !== null) return
  const done = new Promise((r) => c.once('exit', r))
  c.kill(sig)
  let t
  await Promise.race([done, new Promise((r) => (t = setTimeout(r, 5000)))])
  clearTimeout(t)
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}

/** Fields of the packets in a capture, one array per packet (tshark -T fields). */
function fields(pcap, filter, names) {
  const r = spawnSync('tshark', ['-n', '-r', pcap, '-Y', filter, '-T', 'fields', '-E', 'separator=\t', ...names.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 256 << 20 })
  if (r.status !== 0) throw new Error(`tshark -r ${pcap}: ${r.stderr}`)
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'))
}

/**
 * The mobility and RA packets of a capture: PBUs and PBAs (time, interface, MN-ID, sequence,
 * lifetime, status, addresses) and RAs with a live prefix (time, interface, destination MAC).
 */
function mobility(pcap) {
  const mh = fields(pcap, 'mip6.mhtype == 5 || mip6.mhtype == 6', ['frame.time_epoch', 'frame.interface_name', 'mip6.mhtype', 'mip6.mnid.identifier', 'mip6.bu.seqnr', 'mip6.ba.seqnr', 'mip6.bu.lifetime', 'mip6.ba.lifetime', 'mip6.ba.status', 'ipv6.src', 'ipv6.dst']).map(([t, ifc, type, mnId, buSeq, baSeq, buLt, baLt, status, src, dst]) => ({
    t: Number(t),
    ifc,
    kind: type === '5' ? 'pbu' : 'pba',
    mnId,
    seq: Number(type === '5' ? buSeq : baSeq),
    lifetime: Number(type === '5' ? buLt : baLt),
    status: type === '6' ? Number(status) : null,
    src,
    dst,
  }))
  const ras = fields(pcap, 'icmpv6.type == 134 && icmpv6.opt.prefix.valid_lifetime > 0', ['frame.time_epoch', 'frame.interface_name', 'eth.dst', 'icmpv6.opt.prefix']).map(([t, ifc, mac, p]) => ({ t: Number(t), ifc, mac, prefixes: (p || '').split(',') }))
  return { mh, ras }
}

/** EAP-Success frames (code 3) in a capture: time and destination MAC. */
function eapSuccesses(pcap) {
  return fields(pcap, 'eap.code == 3', ['frame.time_epoch', 'eth.dst']).map(([t, mac]) => ({ t: Number(t), mac }))
}

/**
 * `stress-ng --cpu n`, in its own process group so that every worker goes with it; stopped on
 * stop(), on this process's exit and on SIGINT/SIGTERM, and by its own --timeout if we are
 * killed outright.
 */
function cpuHogs(n, maxSeconds) {
  const c = spawn('stress-ng', ['--cpu', String(n), '--timeout', `${Math.ceil(maxSeconds)}s`, '--quiet'], { stdio: 'ignore', detached: true })
  const kill = () => {
    try {
      process.kill(-c.pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  const onSignal = (sig) => {
    kill()
    process.exit(sig === 'SIGINT' ? 130 : 143)
  }
  process.on('exit', kill)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    pid: c.pid,
    async stop() {
      process.off('exit', kill)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      kill()
      await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r)))
    },
  }
}

/**
 * Live processes of the hogs' group, waited for up to `ms`: workers killed with their group
 * take a moment to go, and zombies waiting for their reaper are not running.
 */
async function hogsLeft(pid, ms = 10_000) {
  const end = Date.now() + ms
  for (;;) {
    const r = spawnSync('ps', ['-o', 'stat=', '-g', String(pid)], { encoding: 'utf8' })
    const live = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('Z')).length
    if (live === 0 || Date.now() > end) return live
    await new Promise((res) => setTimeout(res, 100))
  }
}

/** The 1-minute load average and the runnable tasks right now (/proc/loadavg). */
function load() {
  const [l1, l5, , running] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')
  return { load1: Number(l1), load5: Number(l5), runnable: Number(running.split('/')[0]) }
}

/** Samples the load every `ms` until stop(); returns min/mean/max of the 1-minute average. */
function loadSampler(ms = 2000) {
  const s = [load()]
  const t = setInterval(() => s.push(load()), ms)
  t.unref()
  return {
    stop() {
      clearInterval(t)
      s.push(load())
      const l = s.map((x) => x.load1)
      const r = s.map((x) => x.runnable)
      return { load1Min: Math.min(...l), load1Mean: Number((l.reduce((a, b) => a + b, 0) / l.length).toFixed(2)), load1Max: Math.max(...l), runnableMean: Number((r.reduce((a, b) => a + b, 0) / r.length).toFixed(1)), samples: s.length }
    },
  }
}

module.exports = { calibrate, epochNow, ControlConn, dumpcap, raWatcher, stopChild, fields, mobility, eapSuccesses, cpuHogs, hogsLeft, load, loadSampler }
