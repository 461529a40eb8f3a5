// The benchmark pictures: percentiles for a distribution, and SVG that draws every series it
// is given on shared axes, next to the JSON result.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const plot = require('./plot.js') as {
  distribution(v: number[]): number[]
  ticks(lo: number, hi: number): number[]
  distributionSvg(title: string, unit: string, d: Record<string, number[]>): string
  seriesSvg(title: string, x: string, y: string, s: Record<string, [number, number][]>): string
  writePlots(dir: string, result: unknown): string[]
}

describe('benchmark pictures', () => {
  test('a distribution is 101 nearest-rank percentiles', () => {
    const d = plot.distribution([5, 1, 4, 2, 3])
    expect(d).toHaveLength(101)
    expect(d[0]).toBe(1)
    expect(d[50]).toBe(3)
    expect(d[100]).toBe(5)
    expect(plot.distribution([])).toEqual([])
  })

  test('ticks are round and cover the range', () => {
    expect(plot.ticks(0, 100)).toEqual([0, 20, 40, 60, 80, 100])
    expect(plot.ticks(0, 0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8])
  })

  test('one polyline per series, its legend with p50 and p99, escaped text', () => {
    const svg = plot.distributionSvg('latency <wire>', 'us', { a: plot.distribution([1, 2, 3]), b: plot.distribution([10, 20]) })
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(svg.match(/<polyline /g)).toHaveLength(2)
    expect(svg).toContain('latency &lt;wire&gt;')
    expect(svg).toContain('a (p50 2, p99 3)')
    const s = plot.seriesSvg('storm', 's', 'MNs', { registered: [[0, 0], [1, 500], [2, 1000]], forwarding: [[0, 0], [2, 1000]] })
    expect(s.match(/<polyline /g)).toHaveLength(2)
    expect(s.trimEnd().endsWith('</svg>')).toBe(true)
  })

  test('writePlots draws what a result has: distributions, then each series', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mag-plot-'))
    try {
      const written = plot.writePlots(dir, {
        name: 'x',
        distributions: { wire: [1, 2, 3] },
        series: { progress: { x: 's', y: 'MNs', lines: { registered: [[0, 0], [1, 2]] } } },
      })
      expect(written).toEqual(['x.svg', 'x-progress.svg'])
      expect(readdirSync(dir).sort()).toEqual(['x-progress.svg', 'x.svg'])
      expect(readFileSync(join(dir, 'x-progress.svg'), 'utf8')).toContain('registered')
      expect(plot.writePlots(dir, { name: 'nothing', figures: [] })).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
