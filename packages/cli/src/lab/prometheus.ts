/**
 * `mag lab up --metrics`: Debian's Prometheus scraping both lab MAGs. The MAGs serve their
 * metrics on their transport addresses (never an access link), so Prometheus runs where it
 * reaches them, in the LMA's namespace, on that namespace's loopback; socat in the root
 * namespace forwards 127.0.0.1:<port> to it, so a browser on this machine, and Grafana with
 * docs/grafana/pmip6-mag-dashboard.json, can use it. `mag lab down` stops both.
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import { addLabProcess, readState } from './lab'
import { LAB_METRICS_PORT, MAGS, PLAN, names } from './plan'
import { waitFor } from './sh'

const PROMETHEUS_IN_LAB = '127.0.0.1:9090'
const READY_TIMEOUT_MS = 90_000

export function labMetricsListen(mag: (typeof MAGS)[number]): string {
  return `[${PLAN.mags[mag]}]:${LAB_METRICS_PORT}`
}

function need(cmd: string, args: string[], pkg: string): void {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0) throw new Error(`mag lab up --metrics needs ${cmd}: apt-get install ${pkg}`)
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
  })
}

export async function startLabPrometheus(lab: string, hostPort: number): Promise<{ url: string; config: string }> {
  need('prometheus', ['--version'], 'prometheus')
  need('socat', ['-V'], 'socat')
  const n = names(lab)
  readState(lab) // the lab is up
  const dir = join(n.stateDir, 'prometheus')
  mkdirSync(dir, { recursive: true })
  const config = join(dir, 'prometheus.yml')
  const targets = MAGS.map((m) => `      - targets: ['${labMetricsListen(m)}']\n        labels: { mag: ${m} }`).join('\n')
  writeFileSync(config, `# Written by mag lab up --metrics for lab ${lab}\nglobal:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nscrape_configs:\n  - job_name: pmip6-mag\n    static_configs:\n${targets}\n`)
  const logFile = join(n.stateDir, 'prometheus.log')
  const fd = openSync(logFile, 'a')
  try {
    const prom = spawn('ip', ['netns', 'exec', n.lma, 'prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${PROMETHEUS_IN_LAB}`, '--storage.tsdb.retention.time=1d'], { detached: true, stdio: ['ignore', fd, fd] })
    prom.unref()
    if (prom.pid === undefined) throw new Error('could not start prometheus')
    addLabProcess(lab, 'prometheus', prom.pid)
    // One `ip netns exec ... socat` per connection: the root namespace never routes into the lab.
    // (A script, so no colon of the inner address has to be escaped in socat's address syntax.)
    const hop = join(dir, 'connect.sh')
    writeFileSync(hop, `#!/bin/sh\nexec ip netns exec ${n.lma} socat STDIO TCP:${PROMETHEUS_IN_LAB}\n`, { mode: 0o700 })
    const fwd = spawn('socat', [`TCP-LISTEN:${hostPort},bind=127.0.0.1,reuseaddr,fork`, `EXEC:${hop}`], { detached: true, stdio: ['ignore', fd, fd] })
    fwd.unref()
    if (fwd.pid === undefined) throw new Error('could not start socat')
    addLabProcess(lab, 'prometheus-forwarder', fwd.pid)
  } finally {
    closeSync(fd)
  }
  const url = `http://127.0.0.1:${hostPort}`
  await waitFor(`prometheus ready at ${url} (log ${logFile})`, async () => ((await httpStatus(`${url}/-/ready`)) === 200 ? true : undefined), READY_TIMEOUT_MS, 200)
  return { url, config }
}
