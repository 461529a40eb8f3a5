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
let failed = 0
for (const f of files) {
  process.stdout.write(`\n== ${f}\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, f)], { stdio: 'inherit', timeout: 20 * 60_000 })
  if (r.status !== 0) {
    failed++
    process.stdout.write(`${f}: exited ${r.status ?? r.signal}\n`)
  }
}
process.stdout.write(`\n${files.length - failed} benchmarks ran, ${failed} failed; table in test/bench/results/README.md\n`)
process.exit(failed ? 1 : 0)
