'use strict'
// The data plane on its own (issues 5 and 8), root only; run `npm run build` first.
//   node test/bench/dataplane.bench.js [count=10000]
// Four namespaces (MAG, LMA, MN, CN; 2001:db8::/32 inside them only). In the MAG namespace a
// child process installs forwarding for `count` MNs through @pmip6/dataplane (all at once, as
// a storm does), then removes it; the LMA end is installed the same way. Then the MN pings the
// CN from the first MN's prefix and from the last one's: with a policy rule per MN
// (uplinkSelect 'rule') the kernel walks its rule list for every packet, with source-specific
// routes ('subtree') it does not. Figures for both selections: set-ups and removals per second,
// and the ping round trip of the first and the last MN.
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { writeResult, percentile } = require('./lib')

const COUNT = Number(process.argv[2] || 10_000)
const P = `db${process.pid % 100000}`
const NS = { mag: `${P}-mag`, lma: `${P}-lma`, mn: `${P}-mn`, cn: `${P}-cn` }
const DIST = path.join(__dirname, '../../packages/dataplane/dist')

if (process.getuid && process.getuid() !== 0) {
  process.stdout.write('dataplane: needs root (network namespaces); skipped\n')
  process.exit(0)
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r.stdout
}
const ipn = (ns, ...args) => sh('ip', ['-n', ns, ...args])
const inNs = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args])
const prefix = (i) => `2001:db8:100:${i.toString(16)}::/64`

function setup() {
  for (const ns of Object.values(NS)) {
    sh('ip', ['netns', 'add', ns])
    ipn(ns, 'link', 'set', 'lo', 'up')
    inNs(ns, 'sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0'])
    inNs(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0'])
  }
  const veth = (a, ia, b, ib) => {
    ipn(a, 'link', 'add', ia, 'type', 'veth', 'peer', 'name', ib, 'netns', b)
    ipn(a, 'link', 'set', ia, 'up')
    ipn(b, 'link', 'set', ib, 'up')
  }
  veth(NS.mag, 'm0', NS.lma, 'l0')
  veth(NS.mag, 'a0', NS.mn, 'eth0')
  veth(NS.lma, 'c0', NS.cn, 'eth0')
  ipn(NS.mag, 'addr', 'add', '2001:db8:ffff::1/64', 'dev', 'm0', 'nodad')
  ipn(NS.lma, 'addr', 'add', '2001:db8:ffff::2/64', 'dev', 'l0', 'nodad')
  ipn(NS.lma, 'addr', 'add', '2001:db8:cccc::1/64', 'dev', 'c0', 'nodad')
  ipn(NS.cn, 'addr', 'add', '2001:db8:cccc::2/64', 'dev', 'eth0', 'nodad')
  ipn(NS.cn, '-6', 'route', 'add', 'default', 'via', '2001:db8:cccc::1')
  ipn(NS.mag, 'addr', 'add', 'fe80::1/64', 'dev', 'a0', 'nodad')
  ipn(NS.mn, 'addr', 'add', `${prefix(0).replace('::/64', '::10')}/64`, 'dev', 'eth0', 'nodad')
  ipn(NS.mn, 'addr', 'add', `${prefix(COUNT - 1).replace('::/64', '::10')}/64`, 'dev', 'eth0', 'nodad')
  ipn(NS.mn, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0')
}

function teardown() {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns])
}

/** Runs in a namespace: installs `count` MNs, optionally removes them, prints timings; keeps state with `hold`. */
const CHILD = `
const { DataPlane } = require(${JSON.stringify(DIST)})
const [role, self, peer, sel, count, mode] = process.argv.slice(1)
;(async () => {
  const dp = await DataPlane.open({ role, self, accessLinks: role === 'mag' ? ['a0'] : [], uplinkSelect: sel })
  const n = Number(count)
  let t = process.hrtime.bigint()
  await Promise.all(Array.from({ length: n }, (_, i) => dp.up({ id: 'mn' + i, link: 'a0', prefixes: ['2001:db8:100:' + i.toString(16) + '::/64'], peer })))
  const upMs = Number(process.hrtime.bigint() - t) / 1e6
  let downMs = null
  if (mode === 'cycle') {
    t = process.hrtime.bigint()
    await Promise.all(Array.from({ length: n }, (_, i) => dp.down('mn' + i)))
    downMs = Number(process.hrtime.bigint() - t) / 1e6
    await Promise.all(Array.from({ length: n }, (_, i) => dp.up({ id: 'mn' + i, link: 'a0', prefixes: ['2001:db8:100:' + i.toString(16) + '::/64'], peer })))
  }
  process.stdout.write(JSON.stringify({ upMs, downMs, objects: dp.snapshot().objects }) + '\\n')
  await dp.close({ keep: true })
})().catch((e) => { console.error(e); process.exit(1) })
`

function install(ns, role, self, peer, sel, mode) {
  return JSON.parse(inNs(ns, process.execPath, ['-e', CHILD, role, self, peer, sel, String(COUNT), mode]))
}

function rtts(src) {
  const out = inNs(NS.mn, 'ping', ['-n', '-c', '300', '-i', '0.002', '-I', src, '2001:db8:cccc::2'])
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000)
}

function main() {
  teardown()
  setup()
  const figures = []
  const extra = {}
  try {
    install(NS.lma, 'lma', '2001:db8:ffff::2', '2001:db8:ffff::1', 'rule', 'hold')
    for (const sel of ['rule', 'subtree']) {
      const r = install(NS.mag, 'mag', '2001:db8:ffff::1', '2001:db8:ffff::2', sel, 'cycle')
      const first = rtts(prefix(0).replace('::/64', '::10'))
      const last = rtts(prefix(COUNT - 1).replace('::/64', '::10'))
      extra[sel] = { ...r, replies: { first: first.length, last: last.length } }
      figures.push(
        { metric: `${sel}: ${COUNT} MNs set up at once`, value: (COUNT / r.upMs) * 1000, unit: 'MNs/s' },
        { metric: `${sel}: ${COUNT} MNs removed at once`, value: (COUNT / r.downMs) * 1000, unit: 'MNs/s' },
        { metric: `${sel}: ping RTT p50 via the MAG, first MN of ${COUNT}`, value: percentile(first, 50), unit: 'us' },
        { metric: `${sel}: ping RTT p50 via the MAG, last MN of ${COUNT}`, value: percentile(last, 50), unit: 'us' },
      )
    }
    writeResult('dataplane', figures, { count: COUNT, backend: 'seg6 (auto)', runs: extra })
  } finally {
    teardown()
  }
}

try {
  main()
} catch (e) {
  process.stderr.write(`dataplane: ${e.stack || e}\n`)
  teardown()
  process.exit(1)
}
