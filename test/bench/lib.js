'use strict'
// Shared helpers for benchmarks. A benchmark measures and reports; it never asserts on time.
// Each result file is test/bench/results/<name>.json with the machine and the date, and
// results/README.md is rebuilt from all result files as one markdown table.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const RESULTS = path.join(__dirname, 'results')

function machine() {
  const cpus = os.cpus()
  return { cores: cpus.length, cpu: cpus[0] ? cpus[0].model : 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, memGiB: Math.round(os.totalmem() / 2 ** 30) }
}

/** Percentile (0..100) of an unsorted numeric array, nearest-rank. */
function percentile(values, p) {
  if (values.length === 0) return NaN
  const s = Float64Array.from(values).sort()
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  return s[idx]
}

/**
 * Writes one result. `figures` is a list of { metric, value, unit, goal? } rows;
 * `goal` is text such as '>= 1000000' and only reported, never enforced.
 */
function writeResult(name, figures, extra = {}) {
  // MAG_BENCH_TAG=busy (say) keeps a run on a loaded machine apart from the quiet figures.
  if (process.env.MAG_BENCH_TAG) name = `${name}-${process.env.MAG_BENCH_TAG.replace(/[^a-z0-9-]/gi, '')}`
  fs.mkdirSync(RESULTS, { recursive: true })
  const result = { name, date: new Date().toISOString(), machine: machine(), figures, ...extra }
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), JSON.stringify(result, null, 2) + '\n')
  // Pictures of its distributions and series, next to the JSON (plot.js).
  for (const w of require('./plot').writePlots(RESULTS, result)) process.stdout.write(`${name}: picture test/bench/results/${w}\n`)
  for (const f of figures) {
    const v = typeof f.value === 'number' ? round(f.value) : f.value
    process.stdout.write(`${name}: ${f.metric} = ${v} ${f.unit}${f.goal ? ` (goal ${f.goal})` : ''}\n`)
  }
  writeTable()
  return result
}

function round(v) {
  if (!Number.isFinite(v)) return v
  if (Math.abs(v) >= 1000) return Math.round(v)
  return Number(v.toPrecision(4))
}

function writeTable() {
  const files = fs.existsSync(RESULTS) ? fs.readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort() : []
  const lines = ['# Benchmark results', '', 'Written by `npm run bench`; each row comes from one `results/*.json` file.', '', '| benchmark | metric | value | unit | goal | date | machine |', '|---|---|---|---|---|---|---|']
  for (const f of files) {
    let r
    try {
      r = JSON.parse(fs.readFileSync(path.join(RESULTS, f), 'utf8'))
    } catch {
      continue
    }
    const m = r.machine || {}
    for (const fig of r.figures || []) {
      lines.push(`| ${r.name} | ${fig.metric} | ${round(fig.value)} | ${fig.unit} | ${fig.goal || ''} | ${String(r.date).slice(0, 10)} | ${m.cores} cores, Node ${m.node} |`)
    }
  }
  fs.writeFileSync(path.join(RESULTS, 'README.md'), lines.join('\n') + '\n')
}

/**
 * Runs fn repeatedly for about `ms` milliseconds in `trials` equal slices and returns the median
 * operations per second: a slice that another process interrupted does not move the figure.
 */
function opsPerSecond(fn, ms = 2000, batch = 1000, trials = 5) {
  for (let i = 0; i < batch * 10; i++) fn() // warm-up for the JIT
  const rates = []
  const limit = BigInt(Math.max(1, Math.round(ms / trials))) * 1_000_000n
  for (let t = 0; t < trials; t++) {
    let ops = 0
    const start = process.hrtime.bigint()
    let elapsed = 0n
    while (elapsed < limit) {
      for (let i = 0; i < batch; i++) fn()
      ops += batch
      elapsed = process.hrtime.bigint() - start
    }
    rates.push((ops * 1e9) / Number(elapsed))
  }
  return percentile(rates, 50)
}

/** utime and stime of a process (fields 14 and 15 of /proc/PID/stat), in clock ticks (USER_HZ, 100/s). */
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return { user: Number(rest[11]), system: Number(rest[12]) }
}

/** Times the process's main thread went to sleep and was woken (voluntary context switches). */
function wakeUps(pid) {
  const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` every `everyMs` until it returns something truthy; throws after `ms`. */
async function until(what, fn, ms = 10_000, everyMs = 1) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(everyMs)
  }
}

module.exports = { machine, percentile, writeResult, writeTable, opsPerSecond, RESULTS, sleep, until, cpuTicks, wakeUps }
