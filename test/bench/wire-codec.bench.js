'use strict'
// PBU encode+decode round trips per second on one core (issue goal: >= 1,000,000/s),
// plus the PBA decode and RA encode that sit on the MAG's hot paths.
const { mh, nd, PBU_FLAGS, parseIp6, parseMac, timestampFromMs, ALL_ZERO_ADDR } = require('@pmip6/wire')
const { writeResult, opsPerSecond } = require('./lib')

const pbu = {
  kind: 'binding-update',
  sequence: 0x1234,
  flags: PBU_FLAGS,
  lifetime: 3600,
  options: [
    { type: 'mn-id', subtype: 1, id: Buffer.from('mn1@example.com') },
    { type: 'hnp', prefixLength: 0, prefix: ALL_ZERO_ADDR },
    { type: 'handoff-indicator', value: 1 },
    { type: 'access-tech-type', value: 4 },
    { type: 'timestamp', ...timestampFromMs(Date.parse('2024-01-01T00:00:00.5Z')) },
    { type: 'mn-ll-id', id: parseMac('00:11:22:33:44:55') },
  ],
}
const buf = Buffer.alloc(256)
let sink = 0
const roundTrip = () => {
  const out = mh.encode(pbu, buf, 0)
  sink += mh.decode(out).sequence
}
const pba = mh.encode({ ...pbu, kind: 'binding-ack', status: 0, flags: { k: false, r: false, p: true, t: false, b: false } })
const ra = {
  kind: 'router-advertisement',
  curHopLimit: 64,
  flags: { managed: false, other: false, homeAgent: false, preference: 'medium', proxy: false },
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  options: [
    { type: 'source-ll-addr', address: parseMac('02:00:00:00:00:fe') },
    { type: 'mtu', mtu: 1460 },
    { type: 'prefix-info', prefixLength: 64, onLink: true, autonomous: true, routerAddress: false, validLifetime: 3600, preferredLifetime: 3600, prefix: parseIp6('2001:db8:1:1::') },
  ],
}

const rt = opsPerSecond(roundTrip, 3000)
const enc = opsPerSecond(() => mh.encode(pbu, buf, 0), 2000)
const dec = opsPerSecond(() => { sink += mh.decode(pba).sequence }, 2000)
const raEnc = opsPerSecond(() => nd.encode(ra, buf, 0), 2000)
if (sink === -1) console.log(sink)
writeResult('wire-codec', [
  { metric: 'PBU encode+decode round trips', value: rt, unit: 'ops/s', goal: '>= 1000000' },
  { metric: 'PBU encode', value: enc, unit: 'ops/s' },
  { metric: 'PBA decode', value: dec, unit: 'ops/s' },
  { metric: 'RA encode', value: raEnc, unit: 'ops/s' },
])
