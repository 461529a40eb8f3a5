'use strict'
// DHCPv6 relay throughput (packages/dhcp6-relay, compiled: run `npx tsc -b` first).
//   node test/bench/dhcp6-relay.bench.js
// 1. Codec only, one core: Relay-forward encode/s and Relay-reply decode/s, and the relay
//    logic's whole per-message work each way (client message in -> Relay-forward bytes out;
//    Relay-reply in -> client bytes out).
// 2. On the wire (root only; skipped with a reason otherwise): the relay on its real UDP socket
//    in a network namespace this benchmark creates and deletes. A load process plays the client
//    (Solicit to ff02::1:2 over a veth access link) and the server (answers each Relay-forward
//    with a Relay-reply); every completed round trip is two messages through the relay. The
//    relay runs in its own process, so the figure is what one relay process can carry.
const { spawn, spawnSync } = require('node:child_process')
const dgram = require('node:dgram')
const { writeResult, opsPerSecond } = require('./lib')

const LINK_ADDR = '2001:db8:100:1::1'
const CLIENT_LL = 'fe80::2'
const MAG = '2001:db8:ffff::1'
const SERVER = '2001:db8:ffff::2'
const SERVER_PORT = 5547 // the fake server's port; the relay itself is on 547
const WIRE_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5)
const WINDOW = 64

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const SOLICIT = hex('01 123456 0001 000a 0003 0001 020000000101 0008 0002 0000 0006 0004 0017 0018 0003 000c 00000001 00000000 00000000')
const ADVERTISE = hex('02 123456 0002 000a 0003 0001 0200000000fe 0001 000a 0003 0001 020000000101')
const binding = { mnId: 'mn1@example.com', link: 'acc0', mac: '02:00:00:00:01:01', mode: 'network', state: 'registered', prefixes: ['2001:db8:100:1::/64'], stateful: true, routerAddress: 'fe80::1' }

function codecOnly() {
  const { dhcp6, RelayLogic } = require('@pmip6/dhcp6-relay')
  const rf = { kind: 'relay-forward', hopCount: 0, linkAddress: LINK_ADDR, peerAddress: 'fe80::ff:fe00:101', interfaceId: Buffer.from('mn1'), options: [], relayMessage: SOLICIT }
  const rr = dhcp6.encode({ ...rf, kind: 'relay-reply', relayMessage: ADVERTISE })
  const logic = new RelayLogic({ servers: [SERVER] })
  logic.setBindings([{ ...binding, link: 'mn1' }])
  let sink = 0
  const encodeRf = opsPerSecond(() => (sink += dhcp6.encode(rf).length))
  const decodeRr = opsPerSecond(() => (sink += dhcp6.decode(rr).hopCount))
  const up = opsPerSecond(() => (sink += logic.fromClient({ data: SOLICIT, src: 'fe80::ff:fe00:101', link: 'mn1' }).length))
  const down = opsPerSecond(() => (sink += logic.fromServer({ data: rr, src: SERVER }).length))
  if (sink === 0) throw new Error('nothing ran')
  return [
    { metric: 'Relay-forward encode', value: encodeRf, unit: 'msg/s' },
    { metric: 'Relay-reply decode', value: decodeRr, unit: 'msg/s' },
    { metric: 'relay logic, client -> Relay-forward', value: up, unit: 'msg/s' },
    { metric: 'relay logic, Relay-reply -> client', value: down, unit: 'msg/s' },
  ]
}

// ------------------------------------------------------------------ on the wire

function ip(...args) {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

/** Child, in the namespace: the relay on UDP 547, told the one binding on acc0. */
function relayRole() {
  const { Dhcp6Relay } = require('@pmip6/dhcp6-relay')
  const relay = new Dhcp6Relay({ servers: [SERVER], source: MAG, serverPort: SERVER_PORT, links: ['acc0'] })
  relay.start()
  relay.setBindings([binding])
  process.stdout.write('ready\n')
  process.on('SIGTERM', () => {
    const cpu = process.cpuUsage()
    process.stderr.write(JSON.stringify({ ...relay.status().counters, cpuUs: cpu.user + cpu.system }) + '\n')
    relay.stop()
    process.exit(0)
  })
}

/** Child, in the namespace: client on cli0 and server on lo; prints the figures as JSON. */
async function loadRole() {
  const { dhcp6 } = require('@pmip6/dhcp6-relay')
  const server = dgram.createSocket({ type: 'udp6' })
  const client = dgram.createSocket({ type: 'udp6' })
  await new Promise((r) => server.bind(SERVER_PORT, SERVER, r))
  await new Promise((r) => client.bind(546, `${CLIENT_LL}%cli0`, r))
  server.on('message', (msg, rinfo) => {
    const m = dhcp6.decode(msg)
    const adv = Buffer.from(ADVERTISE)
    m.relayMessage.copy(adv, 1, 1, 4) // echo the transaction id
    server.send(dhcp6.encode({ kind: 'relay-reply', hopCount: 0, linkAddress: m.linkAddress, peerAddress: m.peerAddress, interfaceId: m.interfaceId, options: [], relayMessage: adv }), rinfo.port, rinfo.address)
  })
  let done = 0
  let sent = 0
  let inflight = 0
  let running = true
  const send = () => {
    const s = Buffer.from(SOLICIT)
    s.writeUIntBE(sent & 0xffffff, 1, 3)
    sent++
    inflight++
    client.send(s, 547, 'ff02::1:2%cli0')
  }
  client.on('message', () => {
    done++
    inflight--
    if (running) send()
  })
  // Warm-up, then the measured window.
  for (let i = 0; i < WINDOW; i++) send()
  let lastDone = -1
  let refills = 0
  const watchdog = setInterval(() => {
    if (done === lastDone && running) {
      refills++
      inflight = 0
      for (let i = 0; i < WINDOW; i++) send()
    }
    lastDone = done
  }, 200)
  await new Promise((r) => setTimeout(r, 1000))
  const d0 = done
  const t0 = process.hrtime.bigint()
  await new Promise((r) => setTimeout(r, WIRE_SECONDS * 1000))
  const dt = Number(process.hrtime.bigint() - t0) / 1e9
  const rt = (done - d0) / dt
  running = false
  clearInterval(watchdog)
  process.stdout.write(JSON.stringify({ roundTrips: rt, sent, done, refills, window: WINDOW, seconds: dt }) + '\n')
  client.close()
  server.close()
}

async function onTheWire() {
  if (process.getuid?.() !== 0) return { skipped: 'not root: the on-the-wire figure needs a network namespace' }
  const ns = `dhb${process.pid % 100000}`
  const exec = (role) => spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, role], { stdio: ['ignore', 'pipe', 'pipe'] })
  let relay = null
  try {
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('-n', ns, 'addr', 'add', `${MAG}/128`, 'dev', 'lo')
    ip('-n', ns, 'addr', 'add', `${SERVER}/128`, 'dev', 'lo')
    ip('-n', ns, 'link', 'add', 'acc0', 'type', 'veth', 'peer', 'name', 'cli0')
    for (const [dev, addr] of [['acc0', 'fe80::1'], ['cli0', CLIENT_LL]]) {
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.addr_gen_mode=1`])
      ip('-n', ns, 'link', 'set', dev, 'up')
      ip('-n', ns, 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad')
    }
    relay = exec('--relay')
    let relayErr = ''
    relay.stderr.on('data', (d) => (relayErr += d))
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`relay did not start: ${relayErr}`)), 10_000)
      relay.stdout.on('data', (d) => String(d).includes('ready') && (clearTimeout(t), resolve()))
      relay.on('exit', (c) => reject(new Error(`relay exited ${c}: ${relayErr}`)))
    })
    const load = exec('--load')
    let out = ''
    let err = ''
    load.stdout.on('data', (d) => (out += d))
    load.stderr.on('data', (d) => (err += d))
    const code = await new Promise((r) => {
      const t = setTimeout(() => load.kill('SIGKILL'), (WIRE_SECONDS + 20) * 1000)
      load.on('exit', (c) => (clearTimeout(t), r(c)))
    })
    if (code !== 0) throw new Error(`load generator exited ${code}: ${err}`)
    const r = JSON.parse(out.trim().split('\n').pop())
    relay.kill('SIGTERM')
    await new Promise((res) => relay.on('exit', res))
    const counters = JSON.parse(relayErr.trim().split('\n').pop() || '{}')
    // CPU the relay process spent per relayed message (both directions): how close to saturation it ran.
    const relayed = (counters['tx.relay-forward'] ?? 0) + (counters['tx.to-client'] ?? 0)
    return { ...r, counters, relayCpuUsPerMessage: relayed ? counters.cpuUs / relayed : null }
  } finally {
    if (relay && relay.exitCode === null) relay.kill('SIGKILL')
    spawnSync('ip', ['netns', 'del', ns])
  }
}

async function main() {
  if (process.argv[2] === '--relay') return relayRole()
  if (process.argv[2] === '--load') return loadRole()
  const figures = codecOnly()
  const wire = await onTheWire()
  const extra = { wire }
  if (!wire.skipped) {
    figures.push(
      { metric: 'on the wire: client round trips through the relay', value: wire.roundTrips, unit: 'round trips/s' },
      { metric: 'on the wire: messages through the relay (both ways)', value: 2 * wire.roundTrips, unit: 'msg/s' },
      { metric: 'on the wire: relay process CPU per message', value: wire.relayCpuUsPerMessage, unit: 'us' },
    )
  } else {
    process.stdout.write(`dhcp6-relay: on-the-wire figure skipped: ${wire.skipped}\n`)
  }
  writeResult('dhcp6-relay', figures, extra)
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`)
  process.exit(1)
})
