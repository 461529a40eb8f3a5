// The lab engineer's metrics: the RFC 6475-mapped families (PBUs by Handoff Indicator, the
// registration latency histogram, the counter discontinuity time), and the read-only HTTP views
// /bindings and /status, which answer what the control socket answers.
import { request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { Histogram, controlRequest, formatMetrics, startMag, startMetricsServer, validateConfig, type DaemonStatus, type MagIo } from '../src'

const base: DaemonStatus = {
  uptimeS: 1,
  address: '2001:db8:ffff::1',
  drivers: [],
  links: [],
  bindings: 0,
  states: {},
  counters: { 'core.pbu-sent:hi:1': 3, 'core.pbu-sent:hi:3': 1, 'core.pbu-sent:hi:5': 9 },
  registrationLatencyUs: { count: 0, p50: null, p99: null },
  lmaRoundTripUs: { count: 0, p50: null, p99: null },
  magProcessingUs: { count: 0, p50: null, p99: null },
  timers: 0,
  countersSince: 1_700_000_000_999,
} as unknown as DaemonStatus

const line = (text: string, series: string): number | undefined => {
  const l = text.split('\n').find((x) => x.startsWith(series + ' '))
  return l === undefined ? undefined : Number(l.slice(series.length + 1))
}

describe('RFC 6475 metric families', () => {
  test('PBUs by Handoff Indicator, every value present, named', () => {
    const t = formatMetrics(base)
    expect(line(t, 'mag_pbu_sent_by_hi_total{hi="1",handoff="new-interface"}')).toBe(3)
    expect(line(t, 'mag_pbu_sent_by_hi_total{hi="3",handoff="mag-switch"}')).toBe(1)
    expect(line(t, 'mag_pbu_sent_by_hi_total{hi="5",handoff="not-changed"}')).toBe(9)
    expect(line(t, 'mag_pbu_sent_by_hi_total{hi="2",handoff="interface-switch"}')).toBe(0)
    expect(line(t, 'mag_counters_since_timestamp_seconds')).toBe(1_700_000_000)
  })

  test('the registration latency is a Prometheus histogram: cumulative buckets, +Inf, sum, count', () => {
    const h = new Histogram([0.001, 0.01, 0.1])
    for (const v of [0.0005, 0.002, 0.003, 0.05, 3]) h.observe(v)
    const t = formatMetrics({ ...base, registrationLatencyHistogram: h.snapshot() })
    expect(line(t, 'mag_registration_latency_seconds_bucket{le="0.001"}')).toBe(1)
    expect(line(t, 'mag_registration_latency_seconds_bucket{le="0.01"}')).toBe(3)
    expect(line(t, 'mag_registration_latency_seconds_bucket{le="0.1"}')).toBe(4)
    expect(line(t, 'mag_registration_latency_seconds_bucket{le="+Inf"}')).toBe(5)
    expect(line(t, 'mag_registration_latency_seconds_count')).toBe(5)
    expect(line(t, 'mag_registration_latency_seconds_sum')).toBeCloseTo(3.0555, 6)
    expect(t.match(/^# TYPE mag_registration_latency_seconds histogram$/gm)).toHaveLength(1)
    expect(t).not.toMatch(/# TYPE mag_registration_latency_seconds_bucket/)
  })
})

describe('read-only HTTP views', () => {
  const get = (port: number, path: string) =>
    new Promise<{ code: number; type: string; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ code: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
      })
      req.on('error', reject)
      req.end()
    })

  test('off unless metrics.views is true: /bindings and /status are 404 then', async () => {
    const srv = await startMetricsServer({ listen: '127.0.0.1:0' }, () => base, { '/bindings': () => [], '/status': () => ({}) })
    try {
      expect((await get(srv.address.port, '/bindings')).code).toBe(404)
      expect((await get(srv.address.port, '/status')).code).toBe(404)
      expect((await get(srv.address.port, '/metrics')).code).toBe(200)
    } finally {
      await srv.close()
    }
  })

  test('metrics.views is validated: a boolean, off by default', () => {
    const cfg = { mag: { address: '2001:db8:ffff::1', controlSocket: '/tmp/x.sock' }, links: { mn1: {} }, profiles: [] }
    expect(validateConfig({ ...cfg, metrics: { listen: '127.0.0.1:1' } }).metrics).toEqual({ listen: '127.0.0.1:1' })
    expect(validateConfig({ ...cfg, metrics: { listen: '127.0.0.1:1', views: true } }).metrics).toEqual({ listen: '127.0.0.1:1', views: true })
    expect(() => validateConfig({ ...cfg, metrics: { listen: '127.0.0.1:1', views: 'yes' } })).toThrow(/metrics\.views/)
  })

  test('a running daemon: GET /bindings and /status return what the control socket returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mag-views-'))
    // The world stops at the daemon's sockets: PBUs go nowhere, so the MN stays registering.
    const io: MagIo = { sendMh() {}, sendNd() {}, sendIcmp() {}, onMh() {}, onNd() {}, addLink() {}, removeLink() {}, close() {} }
    const now = 1_700_000_000_000
    const clock = { now: () => now, setTimeout: () => ({}), clearTimeout() {} }
    const sock = join(dir, 'mag.sock')
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: sock, fixedLinkLocal: 'fe80::1', heartbeatInterval: 0 },
      links: { mn1: {} },
      drivers: { mock: {} },
      profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2', macs: ['02:00:00:00:01:01'] }],
      metrics: { listen: '127.0.0.1:0', views: true },
    })
    const mag = await startMag(cfg, null, { io, clock, logStream: new PassThrough() })
    try {
      await controlRequest(sock, { cmd: 'attach', mn: 'mn1@example.com', link: 'mn1', mac: '02:00:00:00:01:01' })
      const port = mag.metricsAddress!.port
      let viaHttp: unknown[] = []
      for (let i = 0; i < 100 && viaHttp.length === 0; i++) {
        viaHttp = JSON.parse((await get(port, '/bindings')).body) as unknown[]
        if (viaHttp.length === 0) await new Promise((r) => setTimeout(r, 20))
      }
      const b = await get(port, '/bindings')
      expect(b.code).toBe(200)
      expect(b.type).toBe('application/json')
      expect(JSON.parse(b.body)).toEqual(await controlRequest(sock, { cmd: 'bindings' }))
      expect(JSON.parse(b.body)).toEqual([expect.objectContaining({ mnId: 'mn1@example.com', link: 'mn1' })])
      const s = await get(port, '/status')
      expect(s.code).toBe(200)
      const { memory: m1, ...httpStatus } = JSON.parse(s.body) as Record<string, unknown>
      const { memory: m2, ...sockStatus } = (await controlRequest(sock, { cmd: 'status' })) as Record<string, unknown>
      expect(m1).toBeDefined()
      expect(m2).toBeDefined()
      // The socket's own counters count the socket request itself, and only that.
      const noControl = (st: Record<string, unknown>) => ({ ...st, control: undefined, counters: Object.fromEntries(Object.entries(st['counters'] as Record<string, number>).filter(([k]) => !k.startsWith('control.'))) })
      expect(noControl(httpStatus)).toEqual(noControl(sockStatus))
      expect(httpStatus['bindings']).toBe(1)
      // An attach with no handoff hint: HI 4, handoff state unknown (RFC 5213 §5.4.1).
      expect((httpStatus['counters'] as Record<string, number>)['core.pbu-sent:hi:4']).toBe(1)
    } finally {
      await mag.stop(false)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('the list in pages (issue 23): over the control socket and over HTTP every binding exactly once, next: null at the end; a bad page request is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mag-pages-'))
    const io: MagIo = { sendMh() {}, sendNd() {}, sendIcmp() {}, onMh() {}, onNd() {}, addLink() {}, removeLink() {}, close() {} }
    const clock = { now: () => 1_700_000_000_000, setTimeout: () => ({}), clearTimeout() {} }
    const sock = join(dir, 'mag.sock')
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: sock, fixedLinkLocal: 'fe80::1', heartbeatInterval: 0 },
      links: { mn1: { shared: true } },
      drivers: { mock: {} },
      unknownMn: { lma: '2001:db8:ffff::2' },
      metrics: { listen: '127.0.0.1:0', views: true },
    })
    const mag = await startMag(cfg, null, { io, clock, logStream: new PassThrough() })
    try {
      await controlRequest(sock, { cmd: 'attach-range', link: 'mn1', count: 25, mnPrefix: 'pg' })
      const want = Array.from({ length: 25 }, (_, i) => `pg${i + 1}@example.com`).sort()
      const walk = async (page: (after: number) => Promise<{ bindings: { mnId: string }[]; next: number | null }>): Promise<string[]> => {
        const ids: string[] = []
        for (let after: number | null = 0, n = 0; after !== null; n++) {
          const p = await page(after)
          expect(p.bindings.length).toBeLessThanOrEqual(10)
          ids.push(...p.bindings.map((b) => b.mnId))
          after = p.next
          expect(n).toBeLessThan(10)
        }
        return ids.sort()
      }
      type Page = { bindings: { mnId: string }[]; next: number | null }
      expect(await walk(async (after) => (await controlRequest(sock, { cmd: 'bindings', limit: 10, after })) as Page)).toEqual(want)
      const port = mag.metricsAddress!.port
      expect(await walk(async (after) => JSON.parse((await get(port, `/bindings?limit=10&after=${after}`)).body) as Page)).toEqual(want)
      // The whole list streamed, and the one-answer form while the list is small: the same views.
      const streamed = JSON.parse((await get(port, '/bindings')).body) as { mnId: string }[]
      expect(streamed.map((b) => b.mnId).sort()).toEqual(want)
      expect(streamed).toEqual(await controlRequest(sock, { cmd: 'bindings' }))
      await expect(controlRequest(sock, { cmd: 'bindings', limit: 0 })).rejects.toThrow(/"limit" must be an integer from 1 to 1000/)
      await expect(controlRequest(sock, { cmd: 'bindings', limit: 5, after: -1 })).rejects.toThrow(/"after"/)
      expect((await get(port, '/bindings?limit=5000')).code).toBe(400)
      const st = (await controlRequest(sock, { cmd: 'status' })) as { bindings: number; control: { longestReplyMs: number } }
      expect(st.bindings).toBe(25)
      expect(st.control.longestReplyMs).toBeGreaterThan(0)
    } finally {
      await mag.stop(false)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('status at size (issue 23): the first 64 access links and linkCount; the listing through the socket is the same text as JSON.stringify of the rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mag-status-'))
    const io: MagIo = { sendMh() {}, sendNd() {}, sendIcmp() {}, onMh() {}, onNd() {}, addLink() {}, removeLink() {}, close() {} }
    const clock = { now: () => 1_700_000_000_000, setTimeout: () => ({}), clearTimeout() {} }
    const sock = join(dir, 'mag.sock')
    const links = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`acc${i}`, { shared: true }]))
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', controlSocket: sock, fixedLinkLocal: 'fe80::1', heartbeatInterval: 0 },
      links,
      drivers: { mock: {} },
      unknownMn: { lma: '2001:db8:ffff::2' },
    })
    const mag = await startMag(cfg, null, { io, clock, logStream: new PassThrough() })
    try {
      const st = (await controlRequest(sock, { cmd: 'status' })) as { ready: boolean; links: string[]; linkCount: number }
      expect(st.ready).toBe(true)
      expect(st.linkCount).toBe(70)
      expect(st.links).toEqual(Array.from({ length: 64 }, (_, i) => `acc${i}`))
      await controlRequest(sock, { cmd: 'attach-range', link: 'acc3', count: 400, mnPrefix: 'st' })
      const all = await controlRequest(sock, { cmd: 'bindings' })
      expect(all).toEqual(JSON.parse(JSON.stringify(mag.daemon.bindingRows())))
      // About 200 KB: several socket writes.
      expect((all as unknown[]).length).toBe(400)
    } finally {
      await mag.stop(false)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
