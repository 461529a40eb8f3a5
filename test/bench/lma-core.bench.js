'use strict'
// Lab LMA core throughput on one core: PBUs processed per second (decode, RFC 5213 §5.3.1
// validation, binding cache update, PBA encode), for initial registrations of many MNs from a
// /48 pool and for refreshes of existing bindings; plus heartbeat answers. Measures only.
const { LmaCore } = require('@pmip6/lab-lma')
const { mh, PBU_FLAGS, ALL_ZERO_ADDR, parseMac, timestampFromMs } = require('@pmip6/wire')
const { writeResult, opsPerSecond } = require('./lib')

const LMA = '2001:db8:ffff::2'
const MAG = '2001:db8:ffff::1'
const N = 50_000
const at = Date.parse('2024-01-01T00:00:00Z')
const ts = timestampFromMs(at)

function pbu(i, hi, seq) {
  return mh.encode({
    kind: 'binding-update',
    sequence: seq & 0xffff,
    flags: PBU_FLAGS,
    lifetime: 3600,
    options: [
      { type: 'mn-id', subtype: 1, id: Buffer.from(`mn${i}@example.com`) },
      { type: 'hnp', prefixLength: 0, prefix: ALL_ZERO_ADDR },
      { type: 'handoff-indicator', value: hi },
      { type: 'access-tech-type', value: 4 },
      { type: 'timestamp', ...ts },
      { type: 'mn-ll-id', id: parseMac('00:11:22:33:44:55') },
    ],
  })
}

const initial = Array.from({ length: N }, (_, i) => pbu(i, 1, 1))
const refresh = Array.from({ length: N }, (_, i) => pbu(i, 5, 2))
let sink = 0

// Initial registrations: a fresh core per pass so every PBU creates a binding.
const t0 = process.hrtime.bigint()
let regs = 0
while (process.hrtime.bigint() - t0 < 3_000_000_000n) {
  const core = new LmaCore({ address: LMA, pool: '2001:db8:100::/48' })
  for (const data of initial) sink += core.step({ type: 'mh', at, from: MAG, to: LMA, data }).length
  regs += N
}
const regRate = (regs * 1e9) / Number(process.hrtime.bigint() - t0)

const core = new LmaCore({ address: LMA, pool: '2001:db8:100::/48' })
for (const data of initial) core.step({ type: 'mh', at, from: MAG, to: LMA, data })
let i = 0
const refRate = opsPerSecond(() => {
  sink += core.step({ type: 'mh', at, from: MAG, to: LMA, data: refresh[i++ % N] }).length
}, 3000)

const hb = mh.encode({ kind: 'heartbeat', flags: { u: false, r: false }, sequence: 1, options: [] })
const hbRate = opsPerSecond(() => {
  sink += core.step({ type: 'mh', at, from: MAG, to: LMA, data: hb }).length
}, 2000)
if (sink === -1) console.log(sink)

writeResult('lma-core', [
  { metric: 'initial registrations (PBU in, PBA out, BCE + /64 from pool)', value: regRate, unit: 'PBU/s' },
  { metric: `refreshes of ${N} bindings`, value: refRate, unit: 'PBU/s' },
  { metric: 'heartbeat answers', value: hbRate, unit: 'msg/s' },
])
