'use strict'
// Attach latency with a real hostapd (issue 6), root only; run `npm run build` first.
//   node test/bench/hostapd-attach.bench.js [connects] [stations]
// hostapd 2.10 (driver=wired, 802.1X, internal EAP-MD5 server) on the MAG's shared access link
// wlan0, several wpa_supplicant stations behind a bridge, our hostapd driver in `mag run` with
// the MN-ID taken from the 802.1X identity, the lab LMA answering.
//
// What is measured, and why this way: from hostapd's AP-STA-CONNECTED to our PBU on the wire.
// hostapd does not timestamp its events, so the start is the EAP-Success frame hostapd sends
// to the station (use_pae_group_addr=0: unicast, so it names the station): hostapd authorizes
// the port and emits AP-STA-CONNECTED in the same call chain right after queueing that frame.
// The end is the first PBU with a non-zero lifetime for that MN (MN-ID option) after it, on
// the MAG's uplink. One tshark per interface in the MAG's namespace, both stamped by the same
// kernel clock, so the figure covers hostapd's event delivery, our control-socket client, the
// `STA <mac>` query for the identity, the daemon's queue and core, and the raw-socket send;
// nothing of this process's polling is inside it.
// Each station cycles `wpa_cli logoff` (detach, de-registration, the MAG tears the link down
// with DEAUTHENTICATE) then `wpa_cli logon` until the total of connects is reached.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { writeResult, percentile } = require('./lib')
const { distribution } = require('./plot')
const { stopChild, fields } = require('./wire-clock')

const CONNECTS = Number(process.argv[2] || 200)
const STATIONS = Number(process.argv[3] || 4)
const P = `hb${process.pid % 100000}`
const DIR = `/run/mag-test/${P}`
const LINK = 'wlan0'

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('hostapd-attach: needs root (network namespaces); skipped\n')
  process.exit(0)
}
for (const tool of ['hostapd', 'wpa_supplicant', 'wpa_cli', 'tshark']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    process.stdout.write(`hostapd-attach: ${tool} is missing; skipped\n`)
    process.exit(0)
  }
}

const { NsLab, NS_PLAN, waitUntil, sleep } = require('../../packages/testkit/dist')
const { startHostapd, dot1xStations } = require('./dot1x')

const identity = (i) => `mn${i}@example.org`

async function capture(lab, iface, filter, file) {
  const c = spawn('ip', ['netns', 'exec', lab.ns.mag, 'tshark', '-n', '-q', '-i', iface, '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  c.stderr.setEncoding('utf8')
  c.stderr.on('data', (d) => (err += d))
  await waitUntil(`tshark on ${iface}`, () => {
    if (c.exitCode !== null) throw new Error(`tshark exited: ${err}`)
    return err.includes('Capturing on')
  }, 15_000, 50)
  return c
}

async function main() {
  fs.mkdirSync(DIR, { recursive: true, mode: 0o700 })
  const lab = NsLab.create({ prefix: P, mns: STATIONS, access: { kind: 'shared', name: LINK }, stateDir: path.join(DIR, 'lab') })
  const children = []
  try {
    const { ctrlDir } = await startHostapd(lab, { dir: DIR, link: LINK, stations: STATIONS, identity, children })
    const lma = await lab.startLma()
    const profiles = Array.from({ length: STATIONS }, (_, k) => ({ mnId: identity(k + 1), lma: NS_PLAN.lma }))
    const mag = await lab.startMag(lab.magConfig({ mag: { logLevel: 'warn' }, drivers: { hostapd: { interfaces: [{ name: LINK, identity: 'dot1x' }], ctrlDir } } }, profiles), 'warn')
    const eapPcap = path.join(DIR, 'eapol.pcap')
    const mhPcap = path.join(DIR, 'mh.pcap')
    children.push(await capture(lab, LINK, 'ether proto 0x888e', eapPcap))
    children.push(await capture(lab, 'up0', 'ip6 proto 135', mhPcap))

    const { startSupplicant, nudge, cli } = dot1xStations(lab, { dir: DIR, ctrlDir, link: LINK, identity, children })
    for (let i = 1; i <= STATIONS; i++) startSupplicant(i)
    const bindings = async () => (await mag.request({ cmd: 'bindings' })).result
    const state = async (i) => ((await bindings()).find((b) => b.mnId === identity(i)) || {}).state

    let connects = 0
    let stuck = 0
    const t0 = Date.now()
    const station = async (i) => {
      while (connects < CONNECTS) {
        // Connected (registered), then logoff and wait for the binding to go.
        const reg = Date.now()
        let nudged = 0
        while ((await state(i)) !== 'registered') {
          if (Date.now() - reg > 4000 * (nudged + 1)) {
            nudged++
            stuck++
            await nudge(i, nudged)
          }
          if (Date.now() - reg > 120_000) throw new Error(`station ${i} did not connect within 120 s`)
          await sleep(50)
        }
        connects++
        if (connects % 20 === 0) process.stdout.write(`hostapd-attach: ${connects}/${CONNECTS} connects, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
        if (connects >= CONNECTS) return
        cli(i, 'logoff')
        await waitUntil(`station ${i} binding to go`, async () => (await state(i)) === undefined, 15_000, 50)
        cli(i, 'logon')
      }
    }
    await Promise.all(Array.from({ length: STATIONS }, (_, k) => station(k + 1)))
    const elapsedS = (Date.now() - t0) / 1000
    await sleep(300)
    for (const c of children.slice(1, 3)) await stopChild(c, 'SIGINT')

    // Match each EAP-Success (to a station's MAC) with the next registration PBU of that MN.
    const macOf = new Map(Array.from({ length: STATIONS }, (_, k) => [NsLab.mnMac(k + 1), identity(k + 1)]))
    const successes = fields(eapPcap, 'eap.code == 3', ['frame.time_epoch', 'eth.dst']).map(([t, dst]) => ({ t: Number(t), mnId: macOf.get(dst) })).filter((s) => s.mnId)
    const pbus = fields(mhPcap, 'mip6.mhtype == 5', ['frame.time_epoch', 'mip6.mnid.identifier', 'mip6.bu.lifetime']).map(([t, id, lt]) => ({ t: Number(t), mnId: id, lifetime: Number(lt) }))
    const lat = []
    // A success while the MN is registered is a re-authentication (a nudge hit a station that
    // was already authorized): hostapd emits no AP-STA-CONNECTED for it, so no PBU follows.
    let reauth = 0
    let unexplained = 0
    for (const s of successes) {
      const next = pbus.find((p) => p.mnId === s.mnId && p.t >= s.t)
      const nextSuccess = successes.find((o) => o !== s && o.mnId === s.mnId && o.t > s.t)
      if (!next || next.lifetime === 0 || (nextSuccess && nextSuccess.t < next.t)) {
        const before = pbus.filter((p) => p.mnId === s.mnId && p.t < s.t).pop()
        if (before && before.lifetime > 0) reauth++
        else unexplained++
        continue
      }
      lat.push((next.t - s.t) * 1000)
    }
    const counters = (await mag.request({ cmd: 'status' })).result.counters
    const figures = [
      { metric: 'attach latency p50 (EAP-Success/AP-STA-CONNECTED -> PBU on the wire)', value: percentile(lat, 50), unit: 'ms' },
      { metric: 'attach latency p99', value: percentile(lat, 99), unit: 'ms' },
      { metric: 'attach latency max', value: Math.max(...lat), unit: 'ms' },
      { metric: 'station connects measured', value: lat.length, unit: 'connects' },
    ]
    writeResult('hostapd-attach', figures, {
      distributionOf: 'EAP-Success -> PBU on the wire',
      distributionUnit: 'ms',
      distributions: { 'hostapd attach': distribution(lat) },
      method: 'tshark in the MAG namespace: EAP-Success to the station on wlan0 (hostapd emits AP-STA-CONNECTED right after it) vs the first PBU with lifetime > 0 for that MN-ID on up0',
      stations: STATIONS,
      connects,
      eapSuccesses: successes.length,
      registrationPbus: pbus.filter((p) => p.lifetime > 0).length,
      reauthSuccesses: reauth,
      unexplainedSuccesses: unexplained,
      driverAttachedFacts: counters['driver.hostapd.attached'],
      driverDetachedFacts: counters['driver.hostapd.detached'],
      nudges: stuck,
      elapsedS,
      lma: lma.name,
    })
  } finally {
    for (const c of children.reverse()) await stopChild(c)
    await lab.down()
    fs.rmSync(DIR, { recursive: true, force: true })
  }
}

main().catch((e) => {
  process.stderr.write(`hostapd-attach: ${e.stack || e}\n`)
  process.exitCode = 1
})
