/**
 * Prometheus text exposition (format 0.0.4) of the daemon's state, served on a configured local
 * address (off by default): bindings by state, PBUs by kind and by Handoff Indicator,
 * retransmissions, PBAs by status, drops by reason, RAs, the registration latency histogram,
 * heartbeat state per LMA (RFC 5847), and every raw counter. Where the PMIPv6 MIB (RFC 6475)
 * has an object for a figure, the family follows it; docs/metrics.md maps each family to its
 * MIB object. The formatting is pure; the server is a plain node:http listener that answers
 * GET /metrics, and with `views: true` GET /bindings and /status as JSON (the shapes of
 * `mag bindings --json` and `mag status --json`), so a dashboard needs no control socket.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { DaemonStatus } from './daemon'
import { drained, JsonStream, Turns, type JsonWrite, type RowRun } from './listing'

export interface MetricsConfig {
  /** host:port or [v6]:port; a loopback or management address, never the access links. */
  readonly listen: string
  /** Also serve GET /bindings and /status (JSON, read-only). Off by default: MN identities. */
  readonly views?: boolean
}

/** The read-only JSON views, by path: each the same answer the control socket gives (a value, a JsonStream, or a promise of a value). */
export type MetricsViews = Readonly<Record<'/bindings' | '/status', () => unknown>>

/**
 * The binding list in pages, as JSON text built in slices (listing.ts; `after` and `limit` as
 * given in the query, checked by the callee, which throws on bad ones). With it GET /bindings
 * streams the whole list page by page, never holding the event loop long, and
 * GET /bindings?limit=N[&after=C] answers one page (possibly short: only next: null ends it).
 */
export type BindingPager = (after: string | undefined, limit: string | undefined, turns: Turns, write: JsonWrite, comma: boolean) => Promise<RowRun>

/** Handoff Indicator values by name (RFC 5213 §8.4), as label values. */
const HI_LABELS = ['reserved', 'new-interface', 'interface-switch', 'mag-switch', 'unknown', 'not-changed'] as const

type Labels = Readonly<Record<string, string>>

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const labelText = (l: Labels): string => {
  const keys = Object.keys(l)
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${esc(l[k]!)}"`).join(',')}}`
}

class Exposition {
  private readonly lines: string[] = []
  private readonly declared = new Set<string>()

  /** `family`: the name HELP and TYPE are declared under (a histogram's series share it). */
  add(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, value: number, labels: Labels = {}, family = name): void {
    if (!this.declared.has(family)) {
      this.declared.add(family)
      this.lines.push(`# HELP ${family} ${help}`, `# TYPE ${family} ${type}`)
    }
    this.lines.push(`${name}${labelText(labels)} ${Number.isFinite(value) ? value : 0}`)
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

/** Counter names the daemon and core use, mapped to metric families with labels. */
export function formatMetrics(s: DaemonStatus): string {
  const e = new Exposition()
  const c = s.counters
  const get = (k: string): number => c[k] ?? 0
  e.add('mag_up', 'gauge', 'The MAG daemon is running.', 1)
  e.add('mag_uptime_seconds', 'gauge', 'Seconds since the daemon started.', s.uptimeS)
  e.add('mag_bindings', 'gauge', 'Binding update list entries.', s.bindings)
  for (const state of ['registering', 'registered', 'refreshing', 'deregistering', 'held', 'denied', 'clock-wait', 'failed', 'local']) {
    e.add('mag_bindings_by_state', 'gauge', 'Binding update list entries by state.', s.states[state] ?? 0, { state })
  }
  e.add('mag_timers', 'gauge', 'Armed timers.', s.timers)
  for (const kind of ['registration', 'refresh', 'deregistration']) e.add('mag_pbu_sent_total', 'counter', 'Proxy Binding Updates sent, by kind.', get(`core.pbu-sent:${kind}`), { kind })
  // RFC 6475 pmip6BindingRegCounters kinds, as the MAG sends them: HI 1 is an initial
  // registration, 2 and 3 follow a handoff, 5 extends the lifetime without one (§5.4.1).
  HI_LABELS.forEach((name, hi) => e.add('mag_pbu_sent_by_hi_total', 'counter', 'Proxy Binding Updates sent, by Handoff Indicator (RFC 5213 §8.4; RFC 6475 pmip6BindingRegCounters).', get(`core.pbu-sent:hi:${hi}`), { hi: String(hi), handoff: name }))
  e.add('mag_pbu_retransmissions_total', 'counter', 'PBUs sent again after no answer (RFC 5213 §6.9.4).', get('core.pbu-retransmitted'))
  e.add('mag_pba_received_total', 'counter', 'Proxy Binding Acknowledgements received.', get('core.pba-received'))
  e.add('mag_ra_sent_total', 'counter', 'Router Advertisements sent.', get('nd.tx.ra'))
  e.add('mag_rs_received_total', 'counter', 'Router Solicitations received.', get('core.rs-received'))
  e.add('mag_mh_malformed_total', 'counter', 'Mobility Header messages dropped as malformed.', get('mh.malformed'))
  e.add('mag_nd_malformed_total', 'counter', 'ND messages dropped as malformed.', get('nd.malformed'))
  e.add('mag_binding_errors_sent_total', 'counter', 'Binding Errors sent to LMAs for an unknown MH type (RFC 6275 §9.2).', get('mh.tx.binding-error'))
  e.add('mag_parameter_problems_sent_total', 'counter', 'ICMPv6 Parameter Problems sent to LMAs for a malformed MH (RFC 6275 §9.2).', get('icmp6.tx.parameter-problem'))
  // RFC 5844 §3.3.1: addresses MNs' own DHCPv4 clients asked for (ipv4.ts in the core): taken for
  // the next PBU, granted by the LMA, refused by it (or another one assigned), not taken at all.
  for (const [outcome, k] of [['requested', 'ipv4-requested'], ['used', 'ipv4-requested-used'], ['refused', 'ipv4-requested-refused'], ['ignored', 'ipv4-request-ignored']] as const) {
    e.add('mag_ipv4_requested_total', 'counter', 'IPv4 addresses asked for by MNs\' DHCPv4 clients, by outcome (RFC 5844 §3.3.1).', get(`core.${k}`), { outcome })
  }
  e.add('mag_errors_rate_limited_total', 'counter', 'Binding Errors and Parameter Problems not sent for the rate limit (RFC 4443 §2.4).', get('mh.errors.rate-limited'))
  for (const [k, v] of Object.entries(c)) {
    let m: RegExpExecArray | null
    if ((m = /^core\.pba-status:(\d+)$/.exec(k))) e.add('mag_pba_status_total', 'counter', 'PBAs by status code (RFC 5213 §8.9).', v, { status: m[1]! })
    else if ((m = /^core\.pba-dropped:(.+)$/.exec(k))) e.add('mag_pba_dropped_total', 'counter', 'PBAs ignored, by reason (RFC 5213 §6.9.1.2).', v, { reason: m[1]! })
    else if ((m = /^core\.rs-dropped:(.+)$/.exec(k))) e.add('mag_rs_dropped_total', 'counter', 'RSs ignored, by reason.', v, { reason: m[1]! })
    else if ((m = /^(mh|nd)\.malformed\.(.+)$/.exec(k))) e.add('mag_malformed_total', 'counter', 'Malformed packets by protocol and reason.', v, { proto: m[1]!, reason: m[2]! })
    else if ((m = /^mh\.rx\.dropped\.(.+)$/.exec(k))) e.add('mag_mh_rx_dropped_total', 'counter', 'Mobility Headers not taken for where they came from (an access link, an unknown peer), by reason.', v, { reason: m[1]! })
    else if ((m = /^(mh|nd)\.drop\.(.+)$/.exec(k))) e.add('mag_dropped_total', 'counter', 'Packets dropped before the core, by protocol and reason.', v, { proto: m[1]!, reason: m[2]! })
  }
  // RFC 5847 heartbeat per LMA. state: 1 reachable, 0 unreachable, -1 not known yet, idle or no heartbeat support.
  for (const l of s.lmas ?? []) {
    const lma = { lma: l.lma }
    const up = l.state === 'reachable' ? 1 : l.state === 'unreachable' ? 0 : -1
    e.add('mag_lma_reachable', 'gauge', 'LMA reachability by heartbeat (RFC 5847): 1 reachable, 0 unreachable, -1 unknown or no binding.', up, lma)
    e.add('mag_lma_bindings', 'gauge', 'BUL entries the LMA may hold a binding for.', l.bindings, lma)
    e.add('mag_heartbeat_requests_sent_total', 'counter', 'Heartbeat requests sent to the LMA (RFC 5847 §3.1).', l.requestsSent, lma)
    e.add('mag_heartbeat_responses_total', 'counter', 'Heartbeat responses matched to a request.', l.responses, lma)
    e.add('mag_heartbeat_misses_total', 'counter', 'Heartbeat requests left unanswered within the interval.', l.misses, lma)
    e.add('mag_heartbeat_consecutive_misses', 'gauge', 'Unanswered heartbeat requests in a row now.', l.consecutiveMisses, lma)
    e.add('mag_lma_restarts_total', 'counter', 'Restart Counter changes seen (RFC 5847 §3.2).', l.restarts, lma)
  }
  const lat = (name: string, help: string, f: { count: number; p50: number | null; p99: number | null } | undefined): void => {
    if (!f) return
    e.add(`${name}_samples`, 'gauge', `${help} (samples in the window).`, f.count)
    if (f.p50 !== null) e.add(`${name}_microseconds`, 'gauge', `${help} (quantiles of the recent window).`, f.p50, { quantile: '0.5' })
    if (f.p99 !== null) e.add(`${name}_microseconds`, 'gauge', `${help} (quantiles of the recent window).`, f.p99, { quantile: '0.99' })
  }
  lat('mag_registration_latency', 'Attach to the RA with the home prefix', s.registrationLatencyUs)
  const h = s.registrationLatencyHistogram
  if (h) {
    const help = 'Attach to the first RA with the home network prefix, every registration since start.'
    h.bounds.forEach((b, i) => e.add('mag_registration_latency_seconds_bucket', 'histogram', help, h.cumulative[i] ?? 0, { le: String(b) }, 'mag_registration_latency_seconds'))
    e.add('mag_registration_latency_seconds_bucket', 'histogram', help, h.count, { le: '+Inf' }, 'mag_registration_latency_seconds')
    e.add('mag_registration_latency_seconds_sum', 'histogram', help, h.sum, {}, 'mag_registration_latency_seconds')
    e.add('mag_registration_latency_seconds_count', 'histogram', help, h.count, {}, 'mag_registration_latency_seconds')
  }
  if (s.countersSince !== undefined) e.add('mag_counters_since_timestamp_seconds', 'gauge', 'When the counters started from zero (RFC 6475 pmip6CounterDiscontinuityTime).', Math.floor(s.countersSince / 1000))
  lat('mag_lma_round_trip', 'PBU sent to PBA received', s.lmaRoundTripUs)
  // The RADIUS policy source: MNs it holds, and per server (auth and accounting) what was asked and answered.
  if (s.aaa) {
    const a = s.aaa
    e.add('mag_aaa_profiles_cached', 'gauge', 'MN profiles from RADIUS in the cache.', a.cached)
    for (const [state, n] of [['pending', a.pending], ['aaa-unreachable', a.unreachable], ['denied', a.denied]] as const) e.add('mag_aaa_mns', 'gauge', 'MNs held by the RADIUS policy source, by state.', n, { state })
    for (const v of [...a.servers, ...(a.accounting ?? [])]) {
      const l = { server: v.server, kind: v.kind }
      e.add('mag_radius_server_up', 'gauge', 'RADIUS server state: 1 answered last, 0 timed out last (passed over), -1 not known.', v.state === 'up' ? 1 : v.state === 'down' ? 0 : -1, l)
      e.add('mag_radius_requests_total', 'counter', 'RADIUS requests sent to the server (first transmissions).', v.requests, l)
      e.add('mag_radius_retransmissions_total', 'counter', 'RADIUS requests sent again for want of an answer.', v.retransmissions, l)
      e.add('mag_radius_timeouts_total', 'counter', 'RADIUS requests the server left unanswered after every retransmission.', v.timeouts, l)
      for (const [code, n] of Object.entries(v.answers)) e.add('mag_radius_answers_total', 'counter', 'RADIUS answers taken, by code.', n, { ...l, code })
      for (const [reason, n] of Object.entries(v.dropped)) e.add('mag_radius_dropped_total', 'counter', 'RADIUS answers dropped (bad authenticator, unknown identifier, malformed...), by reason.', n, { ...l, reason })
      e.add('mag_radius_latency_samples', 'gauge', 'Request to answer, per server (samples in the window).', v.latencyUs.count, l)
      if (v.latencyUs.p50 !== null) e.add('mag_radius_latency_microseconds', 'gauge', 'Request to answer, per server (quantiles of the recent window).', v.latencyUs.p50, { ...l, quantile: '0.5' })
      if (v.latencyUs.p99 !== null) e.add('mag_radius_latency_microseconds', 'gauge', 'Request to answer, per server (quantiles of the recent window).', v.latencyUs.p99, { ...l, quantile: '0.99' })
    }
    for (const [k, v] of Object.entries(c)) {
      const m = /^das\.(disconnect|coa)\.(requests|ack|nak)$/.exec(k)
      if (m) e.add('mag_das_requests_total', 'counter', 'RFC 5176 Disconnect and CoA requests taken and how they were answered.', v, { kind: m[1]!, answer: m[2] === 'requests' ? 'received' : m[2]! })
      const d = /^das\.dropped\.(.+)$/.exec(k)
      if (d) e.add('mag_das_dropped_total', 'counter', 'RFC 5176 requests dropped (unknown client, bad authenticator, malformed), by reason.', v, { reason: d[1]! })
    }
  }
  // Everything else, unmapped: nothing an operator might alert on stays invisible.
  for (const [k, v] of Object.entries(c)) e.add('mag_counter_total', 'counter', 'Every daemon and core counter by its name.', v, { name: k })
  return e.text()
}

/** Parses host:port or [v6]:port (port 0: any free port, for tests). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s)
  const port = m ? Number(m[2]) : NaN
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`not host:port or [v6]:port: ${s}`)
  return { host: m[1]!, port }
}

export interface MetricsServer {
  readonly address: { host: string; port: number }
  close(): Promise<void>
}

/** Streams every page of the list as one JSON array, built in slices, waiting while the client is slow. */
async function streamBindings(res: ServerResponse, pager: BindingPager): Promise<void> {
  // A client that hangs up stops the walk.
  let gone = false
  res.on('close', () => {
    gone = true
  })
  res.writeHead(200, { 'content-type': 'application/json' })
  res.write('[')
  let after: string | undefined
  let rows = 0
  const write = (json: string): Promise<void> | undefined => (gone || res.write(json) ? undefined : drained(res))
  for (;;) {
    let page: RowRun
    try {
      page = await pager(after, undefined, new Turns(), write, rows > 0)
    } catch (e) {
      // Headers are gone: end the body unterminated, so the client sees broken JSON, not a short list.
      res.destroy(e as Error)
      return
    }
    if (gone) return
    rows += page.rows
    if (page.next === null) {
      res.end(']\n')
      return
    }
    after = String(page.next)
    await new Promise((r) => setImmediate(r))
    if (gone) return
  }
}


/** Writes a view's answer: JSON text part by part, anything else through JSON.stringify. */
async function sendView(res: ServerResponse, view: () => unknown): Promise<void> {
  let v: unknown
  try {
    v = view()
    if (v instanceof Promise) v = await v
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`)
    return
  }
  res.writeHead(200, { 'content-type': 'application/json' })
  if (v instanceof JsonStream) {
    try {
      await v.writeTo((j) => (res.write(j) ? undefined : drained(res)), new Turns())
      res.end('\n')
    } catch (e) {
      res.destroy(e as Error)
    }
  } else res.end(JSON.stringify(v) + '\n')
}

export async function startMetricsServer(cfg: MetricsConfig, status: () => DaemonStatus, views?: MetricsViews, pager?: BindingPager): Promise<MetricsServer> {
  const { host, port } = parseListen(cfg.listen)
  const served = cfg.views && views ? views : null
  const paths = ['/metrics', ...(served ? Object.keys(served) : [])]
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!
    const view = served && Object.hasOwn(served, path) ? served[path as keyof MetricsViews] : null
    if (req.method !== 'GET' || (path !== '/metrics' && !view)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`GET ${paths.join(', ')}\n`)
      return
    }
    if (path === '/bindings' && pager) {
      const q = new URL(req.url ?? '/', 'http://x').searchParams
      if (!q.has('limit') && !q.has('after')) {
        void streamBindings(res, pager)
        return
      }
      // The arguments are checked before anything is written: a bad one is a 400.
      const write = (j: string): Promise<void> | undefined => {
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/json' }).write('{"bindings":[')
        return res.write(j) ? undefined : drained(res)
      }
      let run: Promise<RowRun>
      try {
        run = pager(q.get('after') ?? undefined, q.get('limit') ?? undefined, new Turns(), write, false)
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`)
        return
      }
      run.then(
        (page) => {
          void write('')
          res.end(`],"next":${page.next === null ? 'null' : page.next}}\n`)
        },
        (e: unknown) => res.destroy(e as Error),
      )
      return
    }
    if (view) {
      void sendView(res, view)
      return
    }
    let body: string
    try {
      body = formatMetrics(status())
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`)
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const a = server.address()
  const bound = typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host, port }
  return {
    address: bound,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
