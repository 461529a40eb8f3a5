// The Grafana dashboard in docs/grafana asks only for what the daemon exports: every metric a
// panel's query names is a family formatMetrics writes, with the labels the query groups by,
// and every panel reads the datasource the user picks at import.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Histogram, formatMetrics, type DaemonStatus } from '../src'

const DASHBOARD = join(__dirname, '../../../docs/grafana/pmip6-mag-dashboard.json')

interface Panel {
  title: string
  datasource?: { uid?: string }
  targets?: { expr: string; datasource?: { uid?: string } }[]
}

/** A status in which every family has at least one series. */
function fullStatus(): DaemonStatus {
  const h = new Histogram([0.001, 0.01])
  h.observe(0.002)
  return {
    uptimeS: 5,
    address: '2001:db8:ffff::1',
    drivers: ['mock'],
    links: ['mn1'],
    bindings: 1,
    states: { registered: 1 },
    counters: {
      'core.pbu-sent:registration': 1,
      'core.pbu-sent:hi:1': 1,
      'core.pba-status:0': 1,
      'core.pba-dropped:no-match': 1,
      'core.rs-dropped:bad-hop-limit': 1,
      'mh.malformed.truncated': 1,
      'mh.drop.from-access-link': 1,
      'nd.tx.ra': 1,
    },
    registrationLatencyUs: { count: 1, p50: 2000, p99: 2000 },
    lmaRoundTripUs: { count: 1, p50: 1000, p99: 1000 },
    magProcessingUs: { count: 1, p50: 1000, p99: 1000 },
    registrationLatencyHistogram: h.snapshot(),
    countersSince: 1_700_000_000_000,
    timers: 1,
    lmas: [{ lma: '2001:db8:ffff::2', state: 'reachable', reason: 'first-response', bindings: 1, requestsSent: 1, responses: 1, misses: 0, consecutiveMisses: 0, restartCounter: null, restarts: 0, lastResponseAt: 0 }],
  } as unknown as DaemonStatus
}

/** Family -> label names seen on its series. */
function exported(text: string): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    const x = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line)
    if (!x) continue
    const labels = new Set([...(x[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((l) => l[1]!))
    const s = m.get(x[1]!) ?? new Set<string>()
    for (const l of labels) s.add(l)
    m.set(x[1]!, s)
  }
  return m
}

describe('Grafana dashboard', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; __inputs: { name: string }[]; templating: { list: { query: { query: string } }[] } }
  const families = exported(formatMetrics(fullStatus()))

  test('every panel query names metrics the daemon exports, grouped by labels they carry', () => {
    expect(dash.panels.length).toBeGreaterThanOrEqual(8)
    const problems: string[] = []
    for (const p of dash.panels) {
      expect(p.targets?.length ?? 0).toBeGreaterThan(0)
      for (const t of p.targets ?? []) {
        const names = [...t.expr.matchAll(/\b(mag_[a-z0-9_]+)\b/g)].map((m) => m[1]!)
        if (names.length === 0) problems.push(`${p.title}: no mag_ metric in ${t.expr}`)
        for (const n of names) {
          const labels = families.get(n)
          if (!labels) {
            problems.push(`${p.title}: ${n} is not exported`)
            continue
          }
          for (const by of t.expr.matchAll(/by \(([^)]*)\)/g)) {
            for (const l of by[1]!.split(',').map((s) => s.trim())) if (l !== 'le' && l !== 'instance' && !labels.has(l)) problems.push(`${p.title}: ${n} has no label ${l}`)
          }
          if (n.endsWith('_bucket') && !labels.has('le')) problems.push(`${p.title}: ${n} is not a histogram`)
        }
      }
    }
    expect(problems).toEqual([])
  })

  test('the datasource is chosen at import; the instance variable reads an exported metric', () => {
    expect(dash.__inputs.map((i) => i.name)).toEqual(['DS_PROMETHEUS'])
    for (const p of dash.panels) {
      expect(p.datasource?.uid).toBe('${DS_PROMETHEUS}')
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${DS_PROMETHEUS}')
    }
    const v = dash.templating.list[0]!.query.query
    const m = /label_values\((mag_[a-z_]+), instance\)/.exec(v)
    expect(m && families.has(m[1]!)).toBe(true)
  })
})
