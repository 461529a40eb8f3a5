// The Prometheus endpoint: the exposition format, the mapping of counters to labelled
// families, the HTTP server on loopback, and config validation of `metrics.listen`.
import { request } from 'node:http'
import { formatMetrics, parseListen, startMetricsServer, validateConfig, ConfigError, type DaemonStatus } from '../src'

const status = (over: Partial<DaemonStatus> = {}): DaemonStatus =>
  ({
    uptimeS: 12,
    address: '2001:db8:ffff::1',
    drivers: ['mock'],
    links: ['mn1'],
    bindings: 3,
    states: { registered: 2, denied: 1 },
    counters: {
      'core.pbu-sent:registration': 4,
      'core.pbu-retransmitted': 1,
      'core.pba-status:0': 2,
      'core.pba-status:152': 1,
      'core.pba-dropped:no-match': 5,
      'mh.malformed': 2,
      'mh.malformed.option-overrun': 2,
      'nd.tx.ra': 7,
      'weird "name"\\': 1,
    },
    registrationLatencyUs: { count: 2, p50: 150, p99: 900 },
    lmaRoundTripUs: { count: 2, p50: 80, p99: 400 },
    magProcessingUs: { count: 2, p50: 70, p99: 500 },
    timers: 6,
    lmas: [
      { lma: '2001:db8:ffff::2', state: 'unreachable', reason: 'missing-heartbeats:3', bindings: 3, requestsSent: 9, responses: 5, misses: 4, consecutiveMisses: 4, restartCounter: 1, restarts: 1, lastResponseAt: 0 },
      { lma: '2001:db8:ffff::3', state: 'reachable', reason: 'first-response', bindings: 1, requestsSent: 2, responses: 2, misses: 0, consecutiveMisses: 0, restartCounter: null, restarts: 0, lastResponseAt: 0 },
    ],
    ...over,
  }) as DaemonStatus

/** name{labels} value lines, as a scraper reads them. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const x = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+]+)$/.exec(line)
    if (!x) throw new Error(`not a valid sample line: ${line}`)
    m.set(x[1]!, Number(x[2]))
  }
  return m
}

describe('metrics', () => {
  test('families with labels, HELP/TYPE once per family, every line valid exposition format', () => {
    const text = formatMetrics(status())
    const s = samples(text)
    expect(s.get('mag_bindings')).toBe(3)
    expect(s.get('mag_bindings_by_state{state="registered"}')).toBe(2)
    expect(s.get('mag_bindings_by_state{state="held"}')).toBe(0)
    expect(s.get('mag_pbu_sent_total{kind="registration"}')).toBe(4)
    expect(s.get('mag_pbu_retransmissions_total')).toBe(1)
    expect(s.get('mag_pba_status_total{status="152"}')).toBe(1)
    expect(s.get('mag_pba_dropped_total{reason="no-match"}')).toBe(5)
    expect(s.get('mag_malformed_total{proto="mh",reason="option-overrun"}')).toBe(2)
    expect(s.get('mag_ra_sent_total')).toBe(7)
    expect(s.get('mag_registration_latency_microseconds{quantile="0.99"}')).toBe(900)
    expect(s.get('mag_counter_total{name="weird \\"name\\"\\\\"}')).toBe(1)
    expect(text.match(/^# TYPE mag_pba_status_total counter$/gm)).toHaveLength(1)
  })

  test('RFC 5847 heartbeat per LMA: reachability, requests, responses, misses, restarts', () => {
    const text = formatMetrics(status())
    const s = samples(text)
    expect(s.get('mag_lma_reachable{lma="2001:db8:ffff::2"}')).toBe(0)
    expect(s.get('mag_lma_reachable{lma="2001:db8:ffff::3"}')).toBe(1)
    expect(s.get('mag_heartbeat_requests_sent_total{lma="2001:db8:ffff::2"}')).toBe(9)
    expect(s.get('mag_heartbeat_responses_total{lma="2001:db8:ffff::2"}')).toBe(5)
    expect(s.get('mag_heartbeat_misses_total{lma="2001:db8:ffff::2"}')).toBe(4)
    expect(s.get('mag_heartbeat_consecutive_misses{lma="2001:db8:ffff::2"}')).toBe(4)
    expect(s.get('mag_lma_restarts_total{lma="2001:db8:ffff::2"}')).toBe(1)
    expect(s.get('mag_lma_bindings{lma="2001:db8:ffff::3"}')).toBe(1)
    expect(text.match(/^# TYPE mag_heartbeat_requests_sent_total counter$/gm)).toHaveLength(1)
    expect(samples(formatMetrics(status({ lmas: [] }))).has('mag_lma_reachable{lma="2001:db8:ffff::2"}')).toBe(false)
  })

  test('served over HTTP on loopback: GET /metrics 200 with the text format, anything else 404', async () => {
    const srv = await startMetricsServer({ listen: '127.0.0.1:0' }, () => status())
    const get = (path: string, method = 'GET') =>
      new Promise<{ code: number; type: string; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: srv.address.port, path, method }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => (body += c))
          res.on('end', () => resolve({ code: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
        })
        req.on('error', reject)
        req.end()
      })
    try {
      const ok = await get('/metrics')
      expect(ok.code).toBe(200)
      expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(samples(ok.body).get('mag_up')).toBe(1)
      expect((await get('/')).code).toBe(404)
      expect((await get('/metrics', 'POST')).code).toBe(404)
    } finally {
      await srv.close()
    }
  })

  test('metrics.listen is validated at load, naming the field', () => {
    expect(parseListen('[::1]:9477')).toEqual({ host: '::1', port: 9477 })
    const base = { mag: { address: '2001:db8:ffff::1', controlSocket: '/tmp/x.sock' }, links: { mn1: {} }, profiles: [] }
    expect(validateConfig({ ...base, metrics: { listen: '127.0.0.1:9477' } }).metrics).toEqual({ listen: '127.0.0.1:9477' })
    for (const bad of [{ listen: 'localhost' }, { listen: '1.2.3.4:99999' }, {}, { listen: '127.0.0.1:1', extra: 1 }]) {
      let err: unknown
      try {
        validateConfig({ ...base, metrics: bad })
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).problems.some((p) => p.path.startsWith('metrics'))).toBe(true)
    }
  })
})

test('the RADIUS policy source: per-server families, MNs held, DAS requests (docs/radius.md)', () => {
  const server = { kind: 'auth' as const, requests: 5, retransmissions: 2, timeouts: 1, answers: { 'access-accept': 3, 'access-reject': 1 }, dropped: { 'bad-authenticator': 2 }, outstanding: 0, latencyUs: { count: 4, p50: 1800, p99: 9000 } }
  const s = status({
    counters: { 'das.disconnect.requests': 2, 'das.disconnect.ack': 1, 'das.disconnect.nak': 1, 'das.dropped.bad-authenticator': 3 },
    aaa: { source: 'radius', cached: 7, pending: 1, unreachable: 2, denied: 3, servers: [{ ...server, server: '[2001:db8:aaa::2]:1812', state: 'up' }], accounting: [{ ...server, kind: 'acct', server: '[2001:db8:aaa::2]:1813', state: 'down', answers: { 'accounting-response': 4 }, dropped: {} }] },
  })
  const m = samples(formatMetrics(s))
  const auth = 'server="[2001:db8:aaa::2]:1812",kind="auth"'
  expect(m.get('mag_aaa_profiles_cached')).toBe(7)
  expect(m.get('mag_aaa_mns{state="aaa-unreachable"}')).toBe(2)
  expect(m.get('mag_aaa_mns{state="denied"}')).toBe(3)
  expect(m.get(`mag_radius_server_up{${auth}}`)).toBe(1)
  expect(m.get('mag_radius_server_up{server="[2001:db8:aaa::2]:1813",kind="acct"}')).toBe(0)
  expect(m.get(`mag_radius_requests_total{${auth}}`)).toBe(5)
  expect(m.get(`mag_radius_retransmissions_total{${auth}}`)).toBe(2)
  expect(m.get(`mag_radius_timeouts_total{${auth}}`)).toBe(1)
  expect(m.get(`mag_radius_answers_total{${auth},code="access-reject"}`)).toBe(1)
  expect(m.get('mag_radius_answers_total{server="[2001:db8:aaa::2]:1813",kind="acct",code="accounting-response"}')).toBe(4)
  expect(m.get(`mag_radius_dropped_total{${auth},reason="bad-authenticator"}`)).toBe(2)
  expect(m.get(`mag_radius_latency_microseconds{${auth},quantile="0.99"}`)).toBe(9000)
  expect(m.get('mag_das_requests_total{kind="disconnect",answer="ack"}')).toBe(1)
  expect(m.get('mag_das_requests_total{kind="disconnect",answer="received"}')).toBe(2)
  expect(m.get('mag_das_dropped_total{reason="bad-authenticator"}')).toBe(3)
  // Without the RADIUS source: none of these families.
  expect(formatMetrics(status())).not.toMatch(/mag_radius_|mag_aaa_|mag_das_/)
})
