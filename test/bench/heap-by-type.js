'use strict'
// Where a heap goes: self size by constructor (objects) or by kind (strings, arrays, code...)
// from a V8 .heapsnapshot, largest first. Used with scale.bench.js (MAG_BENCH_HEAP_SNAPSHOT).
//   node test/bench/heap-by-type.js <file.heapsnapshot> [per=<bindings>] [top=25]
const fs = require('node:fs')

const file = process.argv[2]
if (!file) throw new Error('usage: heap-by-type.js <file.heapsnapshot> [bindings] [top]')
const per = Number(process.argv[3] || 0)
const top = Number(process.argv[4] || 25)
const snap = JSON.parse(fs.readFileSync(file, 'utf8'))
const meta = snap.snapshot.meta
const F = meta.node_fields
const types = meta.node_types[0]
const width = F.length
const iType = F.indexOf('type')
const iName = F.indexOf('name')
const iSize = F.indexOf('self_size')
const by = new Map()
let total = 0
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + iType]]
  const size = snap.nodes[i + iSize]
  const key = type === 'object' || type === 'closure' ? `${type} ${snap.strings[snap.nodes[i + iName]]}` : type === 'native' ? `native ${snap.strings[snap.nodes[i + iName]].slice(0, 40)}` : type
  const v = by.get(key) ?? { size: 0, count: 0 }
  v.size += size
  v.count++
  by.set(key, v)
  total += size
}
const rows = [...by].sort((a, b) => b[1].size - a[1].size).slice(0, top)
process.stdout.write(`total ${(total / 2 ** 20).toFixed(1)} MiB${per ? `, ${(total / per).toFixed(0)} bytes per binding` : ''}\n`)
for (const [k, v] of rows) process.stdout.write(`${(v.size / 2 ** 20).toFixed(2).padStart(9)} MiB ${String(v.count).padStart(9)}${per ? ` ${(v.size / per).toFixed(0).padStart(6)} B/binding ${(v.count / per).toFixed(2).padStart(6)}/binding` : ''}  ${k}\n`)
