'use strict'
// SVG pictures of benchmark results, written next to their JSON by writeResult (lib.js) and by
// `npm run bench:plots` for the results already there. Two kinds: distributions (a result's
// `distributions`: name -> 101 percentiles p0..p100, drawn as cumulative distributions) and
// time series (a result's `series`: name -> { x: label, y: label, points: [[x, y], ...] }).
// No dependency: the pictures are plain SVG a browser, a README or `rsvg-convert` shows.
const fs = require('node:fs')
const path = require('node:path')

const W = 860
const H = 420
const M = { left: 70, right: 250, top: 44, bottom: 55 }
const COLORS = ['#1f5fbf', '#d0582a', '#2a9d4b', '#8a3fbf', '#b8860b', '#444']

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** 101 nearest-rank percentiles (p0..p100) of unsorted values: what a distribution plot needs. */
function distribution(values) {
  if (values.length === 0) return []
  const s = Float64Array.from(values).sort()
  const out = []
  for (let p = 0; p <= 100; p++) out.push(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))])
  return out
}

/** 1, 2, 5 times each power of ten in [lo, hi] (log axes). */
function logTicks(lo, hi) {
  const out = []
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const k of [1, 2, 5]) if (k * 10 ** e >= lo && k * 10 ** e <= hi) out.push(Number((k * 10 ** e).toPrecision(6)))
  return out
}

/** About five round tick values covering [lo, hi]. */
function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw
  const out = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function frame(title, xLabel, yLabel, xs, ys, xOf, yOf) {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="24" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ]
  for (const x of xs) parts.push(`<line x1="${xOf(x)}" y1="${M.top}" x2="${xOf(x)}" y2="${H - M.bottom}" stroke="#eee"/><text x="${xOf(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(x)}</text>`)
  for (const y of ys) parts.push(`<line x1="${M.left}" y1="${yOf(y)}" x2="${W - M.right}" y2="${yOf(y)}" stroke="#eee"/><text x="${M.left - 6}" y="${yOf(y) + 4}" text-anchor="end">${esc(y)}</text>`)
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`)
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(xLabel)}</text>`)
  parts.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`)
  return parts
}

function legend(parts, names) {
  names.forEach((n, i) => {
    const y = M.top + 10 + i * 20
    parts.push(`<line x1="${W - M.right + 12}" y1="${y}" x2="${W - M.right + 32}" y2="${y}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2.5"/><text x="${W - M.right + 38}" y="${y + 4}">${esc(n)}</text>`)
  })
}

/** Cumulative distributions: x the value, y the share of samples at or below it. */
function distributionSvg(title, unit, dists) {
  const names = Object.keys(dists).filter((k) => dists[k].length > 0)
  const all = names.flatMap((k) => dists[k])
  const hi = Math.max(...all) || 1
  const lo = Math.min(...all)
  // Latency tails span decades: a log axis when the spread is wide, so p50 and p99 both show.
  const log = lo > 0 && hi / lo > 30
  const x0 = log ? 10 ** Math.floor(Math.log10(lo)) : Math.min(0, lo)
  const x1 = log ? 10 ** Math.ceil(Math.log10(hi)) : hi
  const xOf = log ? (v) => M.left + ((Math.log10(Math.max(v, x0)) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * (W - M.left - M.right) : (v) => M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right)
  const yOf = (p) => H - M.bottom - (p / 100) * (H - M.top - M.bottom)
  const xTicks = log ? logTicks(x0, x1) : ticks(x0, x1)
  const parts = frame(title, log ? `${unit} (log scale)` : unit, 'share of samples at or below (%)', xTicks, [0, 25, 50, 75, 90, 100], xOf, yOf)
  names.forEach((k, i) => {
    const d = dists[k]
    const pts = d.map((v, i) => `${xOf(v).toFixed(1)},${yOf(d.length === 1 ? 100 : (100 * i) / (d.length - 1)).toFixed(1)}`).join(' ')
    parts.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${pts}"/>`)
  })
  // Percentile p of a distribution given as evenly spaced quantiles (101 of them normally).
  const q = (d, p) => d[Math.round((p / 100) * (d.length - 1))]
  legend(parts, names.map((k) => `${k} (p50 ${round(q(dists[k], 50))}, p99 ${round(q(dists[k], 99))})`))
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Number(v.toPrecision(3))
}

/** Lines over time (or any x): one per series, sharing axes. */
function seriesSvg(title, xLabel, yLabel, series) {
  const names = Object.keys(series).filter((k) => series[k].length > 0)
  const xs = names.flatMap((k) => series[k].map((p) => p[0]))
  const ys = names.flatMap((k) => series[k].map((p) => p[1]))
  const x0 = Math.min(...xs)
  const x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1
  const y1 = Math.max(...ys, 0) > 0 ? Math.max(...ys) * 1.05 : 1
  const xOf = (v) => M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right)
  const yOf = (v) => H - M.bottom - (v / y1) * (H - M.top - M.bottom)
  const parts = frame(title, xLabel, yLabel, ticks(x0, x1), ticks(0, y1), xOf, yOf)
  names.forEach((k, i) => {
    const pts = series[k].map(([x, y]) => `${xOf(x).toFixed(1)},${yOf(y).toFixed(1)}`).join(' ')
    parts.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${pts}"/>`)
  })
  legend(parts, names)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** The pictures of one result (its file name without .json -> SVG text); none if it has no data to draw. */
function plotsOf(result) {
  const out = {}
  if (result.distributions && Object.keys(result.distributions).length > 0) {
    out[result.name] = distributionSvg(`${result.name}: ${result.distributionOf ?? 'latency'}`, result.distributionUnit ?? 'us', result.distributions)
  }
  for (const [key, s] of Object.entries(result.series ?? {})) {
    out[`${result.name}-${key}`] = seriesSvg(`${result.name}: ${s.title ?? key}`, s.x, s.y, s.lines)
  }
  return out
}

/** Writes results/<name>.svg (and <name>-<series>.svg) for one result file's content. */
function writePlots(dir, result) {
  const written = []
  for (const [name, svg] of Object.entries(plotsOf(result))) {
    fs.writeFileSync(path.join(dir, `${name}.svg`), svg)
    written.push(`${name}.svg`)
  }
  return written
}

module.exports = { distribution, distributionSvg, seriesSvg, plotsOf, writePlots, ticks }

// `npm run bench:plots`: pictures for every result file already written.
if (require.main === module) {
  const dir = path.join(__dirname, 'results')
  let n = 0
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const written = writePlots(dir, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
    for (const w of written) process.stdout.write(`test/bench/results/${w}\n`)
    n += written.length
  }
  process.stdout.write(`${n} pictures\n`)
}
