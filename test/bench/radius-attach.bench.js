'use strict'
// Attach latency with the MN's profile from RADIUS (issue 22), root only; run `npm run build` first.
//   node test/bench/radius-attach.bench.js [cycles]
// One lab (NsLab: the lab LMA, a MAG, one MN) and a real FreeRADIUS 3.2 in its own namespace
// behind a veth, answering from a users file with PMIP6-Home-LMA-IPv6-Address. Attach/detach
// cycles of the same MN:
//  - file:          policy.source file, the profile in the config file (the baseline): half the
//                   cycles before the RADIUS phase and half after, each in a fresh `mag run`;
//  - radius cold:   policy.source radius, the cache dropped (`mag reload`) before the attach, so
//                   it waits for an Access-Request/Accept first;
//  - radius cached: the next attach, the profile now cached. Cold and cached alternate.
// Each daemon first runs WARMUP cycles that are not recorded (the JIT, the first RADIUS socket).
// The figure is the daemon's own registration latency: from the attach fact reaching it to the
// RA with the home prefix leaving (hrtime), which for a cold attach includes the RADIUS round
// trip and the profile going into the store; the PBU/PBA round trip to the lab LMA is in all
// three. The RADIUS server's own figure (request to verified answer) comes from `mag status`.
// The machine's load average is recorded with the figures: on a shared machine they move.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { controlRequest } = require('@pmip6/agent')
const { writeResult, percentile } = require('./lib')
const { distribution } = require('./plot')

const CYCLES = Number(process.argv[2] || 200)
const P = `rb${process.pid % 100000}`
const DIR = `/run/mag-test/${P}`
const AAA_NS = `${P}-aaa`
const MAG_AAA = '2001:db8:aaa::1'
const RADIUS = '2001:db8:aaa::2'
const SECRET = 'testing123'
const MN = 'mn1@example.org'
/** Unrecorded cycles at the start of each daemon: a fresh process runs its first attaches unoptimised. */
const WARMUP = 20

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('radius-attach: needs root (network namespaces); skipped\n')
  process.exit(0)
}
const { NsLab, NS_PLAN, waitUntil, FreeRadius, haveFreeRadius, writeFreeRadiusConfig } = require('../../packages/testkit/dist')
const missing = haveFreeRadius()
if (missing) {
  process.stdout.write(`radius-attach: ${missing}; skipped\n`)
  process.exit(0)
}

function must(...args) {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`)
}

/** One attach/detach cycle; returns the daemon's registration latency of it (us). */
async function cycle(sock) {
  await controlRequest(sock, { cmd: 'latency-reset' })
  await controlRequest(sock, { cmd: 'attach', link: 'mn1', mn: MN, mac: NsLab.mnMac(1), att: 'wifi' })
  await waitUntil('registered', async () => (await controlRequest(sock, { cmd: 'bindings' })).some((b) => b.mnId === MN && b.state === 'registered'), 120_000, 2)
  const s = await controlRequest(sock, { cmd: 'status' })
  await controlRequest(sock, { cmd: 'detach', mn: MN })
  await waitUntil('gone', async () => !(await controlRequest(sock, { cmd: 'bindings' })).some((b) => b.mnId === MN), 120_000, 2)
  if (s.registrationLatencyUs.count !== 1) throw new Error(`expected one registration sample, got ${s.registrationLatencyUs.count}`)
  return s.registrationLatencyUs.p50
}

async function main() {
  fs.mkdirSync(DIR, { recursive: true, mode: 0o700 })
  const secretFile = path.join(DIR, 'secret')
  fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 })
  const load0 = os.loadavg()
  const lab = NsLab.create({ prefix: P, mns: 1, access: { kind: 'per-mn', name: (i) => `mn${i}` }, stateDir: path.join(DIR, 'lab') })
  let radius = null
  try {
    must('ip', 'netns', 'add', AAA_NS)
    must('ip', '-n', AAA_NS, 'link', 'set', 'lo', 'up')
    must('ip', 'link', 'add', `${P}a`, 'type', 'veth', 'peer', 'name', `${P}b`)
    must('ip', 'link', 'set', `${P}a`, 'netns', lab.ns.mag, 'name', 'aaa0')
    must('ip', 'link', 'set', `${P}b`, 'netns', AAA_NS, 'name', 'eth0')
    must('ip', '-n', lab.ns.mag, 'addr', 'add', `${MAG_AAA}/64`, 'dev', 'aaa0', 'nodad')
    must('ip', '-n', AAA_NS, 'addr', 'add', `${RADIUS}/64`, 'dev', 'eth0', 'nodad')
    must('ip', '-n', lab.ns.mag, 'link', 'set', 'aaa0', 'up')
    must('ip', '-n', AAA_NS, 'link', 'set', 'eth0', 'up')
    const opts = { dir: path.join(DIR, 'raddb'), listen: RADIUS, clients: [{ address: MAG_AAA, secret: SECRET }], users: `${MN} Auth-Type := Accept\n\tPMIP6-Home-LMA-IPv6-Address = ${NS_PLAN.lma}\nDEFAULT Auth-Type := Reject\n`, debug: false }
    writeFreeRadiusConfig(opts)
    radius = new FreeRadius(AAA_NS, opts)
    await radius.start()
    await lab.startLma()

    const run = async (cfg, fn) => {
      const mag = await lab.startMag(cfg)
      try {
        return await fn(mag.socket)
      } catch (e) {
        const b = await controlRequest(mag.socket, { cmd: 'bindings' }).catch(() => null)
        process.stderr.write(`radius-attach: bindings ${JSON.stringify(b)}\nlast lines of the MAG's log:\n${mag.logText().split('\n').slice(-40).join('\n')}\n`)
        throw e
      } finally {
        await mag.stop()
      }
    }
    // The load moves under us: the file phase runs before and after, and cold and cached
    // attaches alternate in one daemon, so each pair saw the same machine.
    const fileCfg = lab.magConfig({ drivers: { mock: {} } }, [{ mnId: MN, lma: NS_PLAN.lma }])
    const fileRun = (n) =>
      run(fileCfg, async (sock) => {
        for (let i = 0; i < WARMUP; i++) await cycle(sock)
        const out = []
        for (let i = 0; i < n; i++) out.push(await cycle(sock))
        return out
      })
    const fileA = await fileRun(Math.ceil(CYCLES / 2))
    const radiusCfg = lab.magConfig({ drivers: { mock: {} }, policy: { source: 'radius', radius: { servers: [{ address: RADIUS, secretFile }], timeoutMs: 1000, retries: 2 } } }, [])
    const { cold, cached, rtt, requests } = await run(radiusCfg, async (sock) => {
      const r = { cold: [], cached: [] }
      for (let i = 0; i < WARMUP; i++) {
        await controlRequest(sock, { cmd: 'reload' })
        await cycle(sock)
        await cycle(sock)
      }
      for (let i = 0; i < CYCLES; i++) {
        await controlRequest(sock, { cmd: 'reload' }) // drops the cache: a cold attach
        r.cold.push(await cycle(sock))
        r.cached.push(await cycle(sock))
      }
      const s = await controlRequest(sock, { cmd: 'status' })
      return { ...r, rtt: s.aaa.servers[0].latencyUs, requests: s.counters['aaa.requests'] ?? 0 }
    })
    const fileC = await fileRun(Math.floor(CYCLES / 2))
    const file = [...fileA, ...fileC]
    const load1 = os.loadavg()
    const ms = (us) => us / 1000
    const figures = [
      { metric: 'file profile: attach -> HNP RA p50 (in the MAG)', value: ms(percentile(file, 50)), unit: 'ms' },
      { metric: 'file profile: attach -> HNP RA p99', value: ms(percentile(file, 99)), unit: 'ms' },
      { metric: 'radius cold: attach -> HNP RA p50 (in the MAG, Access-Request included)', value: ms(percentile(cold, 50)), unit: 'ms' },
      { metric: 'radius cold: attach -> HNP RA p99', value: ms(percentile(cold, 99)), unit: 'ms' },
      { metric: 'radius cold: Access-Request -> verified Accept p50', value: ms(rtt.p50), unit: 'ms' },
      { metric: 'radius cold: Access-Request -> verified Accept p99', value: ms(rtt.p99), unit: 'ms' },
      { metric: 'radius cached: attach -> HNP RA p50 (in the MAG)', value: ms(percentile(cached, 50)), unit: 'ms' },
      { metric: 'radius cached: attach -> HNP RA p99', value: ms(percentile(cached, 99)), unit: 'ms' },
      { metric: 'load average (1 min) at the start', value: load0[0], unit: '' },
      { metric: 'load average (1 min) at the end', value: load1[0], unit: '' },
    ]
    writeResult('radius-attach', figures, {
      cycles: CYCLES,
      warmup: WARMUP,
      samples: { file: file.length, cold: cold.length, cached: cached.length },
      fileBeforeAfterP50Ms: [ms(percentile(fileA, 50)), ms(percentile(fileC, 50))],
      radiusRequests: requests,
      loadavg: { before: load0, after: load1 },
      distributionOf: 'attach -> HNP RA in the MAG',
      distributionUnit: 'ms',
      distributions: { 'file profile': distribution(file.map(ms)), 'radius cold': distribution(cold.map(ms)), 'radius cached': distribution(cached.map(ms)) },
    })
  } finally {
    await radius?.stop('SIGKILL')
    await lab.down()
    spawnSync('rm', ['-rf', DIR])
  }
}

main().catch((e) => {
  process.stderr.write(`radius-attach: ${e.stack || e}\n`)
  process.exit(1)
})
