'use strict'
// `npm run bench`: runs every test/bench/*.bench.js in its own process, one after another,
// against the compiled packages (run `npm run build` first). Root-only benchmarks that need
// the network-namespace lab say so and are skipped when not root, with a line saying why.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const only = process.argv.slice(2)
const files = fs
  .readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
// Some benchmarks run more than once, with arguments or environment (the storm with each uplink
// selection, the steady state with and without the DHCPv6 relay).
const RUNS = {
  'storm.bench.js': [{ args: ['10000', 'rule'] }, { args: ['10000', 'subtree'] }, { args: ['10000', 'none'] }],
  'steady-state.bench.js': [{}, { env: { MAG_BENCH_DHCP6: '1' } }],
  // Issue 23: the daemons as ordinary tasks, then with their event loop under SCHED_RR.
  'load-latency.bench.js': [{}, { env: { MAG_BENCH_RT: '10' } }],
}
let failed = 0
let ran = 0
for (const f of files) {
  for (const { args = [], env = {} } of RUNS[f] || [{}]) {
    const label = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), f, ...args].join(' ')
    process.stdout.write(`\n== ${label}\n`)
    const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, f), ...args], { stdio: 'inherit', timeout: 20 * 60_000, env: { ...process.env, ...env } })
    ran++
    if (r.status !== 0) {
      failed++
      process.stdout.write(`${label}: exited ${r.status ?? r.signal}\n`)
    }
  }
}
process.stdout.write(`\n${ran - failed} benchmark runs, ${failed} failed; table in test/bench/results/README.md\n`)
process.exit(failed ? 1 : 0)
