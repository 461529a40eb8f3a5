// `mag lab up --metrics`: Debian's Prometheus scrapes both lab MAGs; a registration shows in its
// queries (bindings by state, PBUs by Handoff Indicator, the latency histogram); every query of
// the Grafana dashboard is valid PromQL against the real server; the HTTP views on a MAG's
// metrics listener answer what its control socket answers; `mag lab down` stops it all.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import { describeLab, labName, mag, magJson, ROOT, waitFor, LAB_UP_TIMEOUT_MS, labDown, LAB_DOWN_HOOK_TIMEOUT_MS, labBindings } from './lab-harness'

const LAB = labName('e9m')
const PORT = 19_000 + (process.pid % 1000)
const SOCK = (m: string): string => `/run/mag-lab/${LAB}/${m}.sock`

function httpJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T)
        } catch (e) {
          reject(new Error(`${url}: ${res.statusCode} ${body.slice(0, 200)} (${String(e)})`))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

interface PromResult {
  status: string
  error?: string
  data: { result: { metric: Record<string, string>; value: [number, string] }[] }
}

const query = (q: string): Promise<PromResult> => httpJson<PromResult>(`http://127.0.0.1:${PORT}/api/v1/query?query=${encodeURIComponent(q)}`)
const scalar = async (q: string): Promise<number | null> => {
  const r = await query(q)
  const v = r.data.result[0]?.value[1]
  return v === undefined ? null : Number(v)
}

/** GET inside a lab namespace (the metrics listener is on the MAG's transport address). */
function getInNs(ns: string, url: string): unknown {
  const js = `require('http').get(${JSON.stringify(url)}, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => process.stdout.write(b)) }).on('error', (e) => { console.error(e.message); process.exit(1) })`
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`GET ${url} in ${ns}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describeLab('lab metrics with Prometheus', () => {
  afterAll(async () => {
    await labDown(LAB)
  }, LAB_DOWN_HOOK_TIMEOUT_MS)

  test('Prometheus scrapes both MAGs; a registration shows in the RFC 6475 families; down stops it', async () => {
    const up = mag(['lab', 'up', '--name', LAB, '--mns', '1', '--metrics', String(PORT)], LAB_UP_TIMEOUT_MS)
    expect(up.err).not.toMatch(/Error/)
    expect(up.code).toBe(0)
    expect(up.out).toContain(`http://127.0.0.1:${PORT}`)
    await waitFor('both MAGs scraped', async () => (await scalar('count(mag_up == 1)')) === 2, 90_000, 500)

    expect(mag(['attach', '--socket', SOCK('mag1'), '--mn', 'mn1@example.com', '--link', 'mn1', '--mac', '02:00:00:00:01:01', '--hint', 'new']).code).toBe(0)
    await waitFor('registered', async () => (await labBindings(LAB, 'mag1'))[0]?.state === 'registered', 30_000)
    await waitFor('the registration in Prometheus', async () => (await scalar('sum(mag_bindings_by_state{state="registered"})')) === 1, 60_000, 500)
    expect(await scalar('mag_pbu_sent_by_hi_total{mag="mag1",hi="1",handoff="new-interface"}')).toBe(1)
    expect(await scalar('mag_registration_latency_seconds_count{mag="mag1"}')).toBe(1)
    expect(await scalar('mag_pba_status_total{mag="mag1",status="0"}')).toBe(1)

    // Every query of the dashboard is valid PromQL on the real server, over exported metrics.
    const dash = JSON.parse(readFileSync(join(ROOT, 'docs/grafana/pmip6-mag-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] }
    for (const p of dash.panels) {
      for (const t of p.targets) {
        const r = await query(t.expr.replace(/\$instance/g, '.*').replace(/\$__rate_interval/g, '1m'))
        expect({ panel: p.title, status: r.status, error: r.error }).toEqual({ panel: p.title, status: 'success', error: undefined })
      }
    }
    expect((await query('mag_bindings_by_state{instance=~".*"}')).data.result.length).toBeGreaterThan(0)

    // The read-only views: what the control socket says, over HTTP.
    // (lifetimeLeft counts down in seconds between the two asks: compared apart.)
    type Row = { lifetimeLeft: number } & Record<string, unknown>
    const split = (rows: Row[]) => rows.map(({ lifetimeLeft, ...rest }) => ({ rest, lifetimeLeft }))
    const viaHttp = split(getInNs(`${LAB}-lma`, 'http://[2001:db8:ffff::1]:9477/bindings') as Row[])
    const viaSocket = split(magJson<Row[]>(['bindings', '--json', '--socket', SOCK('mag1')]))
    expect(viaHttp.map((r) => r.rest)).toEqual(viaSocket.map((r) => r.rest))
    expect(viaHttp).toHaveLength(1)
    expect(Math.abs(viaHttp[0]!.lifetimeLeft - viaSocket[0]!.lifetimeLeft)).toBeLessThanOrEqual(30)

    expect(mag(['lab', 'down', '--name', LAB]).code).toBe(0)
    const left = spawnSync('pgrep', ['-f', `TCP-LISTEN:${PORT}`], { encoding: 'utf8' }).stdout.trim()
    expect(left).toBe('')
    await expect(query('mag_up')).rejects.toThrow()
  }, 300_000)
})
