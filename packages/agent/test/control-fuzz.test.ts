// Fuzzing the control socket (issue 9): thousands of hostile requests over a real UNIX socket
// to a real daemon (in-memory packet I/O, mock link): random bytes, random JSON, every known
// command with fields of every type. Each request gets exactly one answer, a malformed one an
// error; nothing throws out of the daemon, and it still answers afterwards.
// CONTROL_FUZZ_RUNS sets the number of requests (default 3,000; a longer campaign by hand:
// CONTROL_FUZZ_RUNS=200000 npx jest control-fuzz). CONTROL_FUZZ_SEED replays a run.
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mock } from '@pmip6/driver-mock'
import type { AccessDriver } from '@pmip6/driver-api'
import { validateConfig } from '../src/config'
import { ControlServer, MAX_REQUEST_BYTES } from '../src/control'
import { MagDaemon } from '../src/daemon'
import type { MagIo } from '../src/io'
import { controlHandlers } from '../src/run'

const RUNS = Number(process.env['CONTROL_FUZZ_RUNS'] ?? 3000)
const SEED = Number(process.env['CONTROL_FUZZ_SEED'] ?? Date.now() % 0x7fffffff)

/** mulberry32: small, seedable, good enough to pick fuzz cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const COMMANDS = ['attach', 'attach-range', 'detach', 'bindings', 'status', 'policy', 'admin-clear', 'clock-synced', 'reload', 'latency-reset', 'gc', 'nosuch', '', 'ATTACH', '__proto__', 'constructor', 'toString']
const FIELDS = ['link', 'mn', 'mac', 'att', 'hint', 'mode', 'count', 'start', 'mnPrefix', 'realm', '__proto__', 'constructor']

function fuzzCase(rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const str = (max: number): string => {
    let s = ''
    const n = Math.floor(rnd() * max)
    for (let i = 0; i < n; i++) s += String.fromCharCode(pick([0x20 + Math.floor(rnd() * 95), Math.floor(rnd() * 0x20), 0x80 + Math.floor(rnd() * 0x780), 0xd800 + Math.floor(rnd() * 0x800)]))
    return s
  }
  const value = (depth: number): unknown => {
    switch (Math.floor(rnd() * (depth > 2 ? 7 : 9))) {
      case 0:
        return null
      case 1:
        return rnd() < 0.5
      case 2:
        return pick([0, -1, 1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 255, 65535, 16777215, 1000001])
      case 3:
        return str(40)
      case 4:
        return pick(['mn1', 'mn1@example.com', '02:00:00:00:01:01', 'ff:ff:ff:ff:ff:ff', 'wifi', 'ppp', 'host', 'network', 'new', 'same-interface', '', '::', 'fe80::1%mn1'])
      case 5:
        return rnd() < 0.1 ? 'x'.repeat(Math.floor(rnd() * 5000)) : str(8)
      case 6:
        return Math.floor(rnd() * 10)
      case 7:
        return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1))
      default:
        return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, () => [pick(FIELDS), value(depth + 1)]))
    }
  }
  switch (Math.floor(rnd() * 6)) {
    case 0:
      // Raw bytes (no newline inside: one line, one request).
      return str(200).replace(/\n/g, ' ')
    case 1:
      return JSON.stringify(value(0)) ?? 'undefined'
    case 2:
      // Truncated JSON.
      return JSON.stringify({ cmd: pick(COMMANDS), x: value(1) }).slice(0, Math.floor(rnd() * 20) + 1)
    default: {
      // A command with random fields; attach-range only with small counts (a real crowd is slow).
      const req: Record<string, unknown> = { cmd: pick(COMMANDS) }
      const n = Math.floor(rnd() * 5)
      for (let i = 0; i < n; i++) req[pick(FIELDS)] = value(1)
      if (req['cmd'] === 'attach-range' && typeof req['count'] === 'number' && req['count'] > 50) req['count'] = Math.floor(rnd() * 50)
      if (req['cmd'] === 'attach' && rnd() < 0.5) Object.assign(req, { link: 'mn1', mn: `fz${Math.floor(rnd() * 20)}@example.com` })
      return JSON.stringify(req)
    }
  }
}

/** Sends lines on one connection; resolves with every answer line once as many came back (or the socket closed). */
function exchange(path: string, lines: readonly string[], timeoutMs = 20_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path)
    let buf = ''
    const answers: string[] = []
    const t = setTimeout(() => {
      s.destroy()
      resolve(answers)
    }, timeoutMs)
    s.on('connect', () => s.write(lines.map((l) => l + '\n').join('')))
    s.setEncoding('utf8')
    s.on('data', (d: string) => {
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        answers.push(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
      }
      if (answers.length >= lines.length) {
        clearTimeout(t)
        s.end()
        resolve(answers)
      }
    })
    s.on('close', () => {
      clearTimeout(t)
      resolve(answers)
    })
    s.on('error', reject)
  })
}

describe('control socket fuzz', () => {
  let dir: string
  let server: ControlServer
  let daemon: MagDaemon
  const uncaught: unknown[] = []
  const onUncaught = (e: unknown) => void uncaught.push(e)

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught)
    dir = mkdtempSync(join(tmpdir(), 'mag-fuzz-'))
    const io: MagIo = { sendMh() {}, sendNd() {}, sendIcmp() {}, onMh() {}, onNd() {}, addLink() {}, removeLink() {}, close() {} }
    const quiet = { debug() {}, info() {}, warn() {}, error() {} }
    const clock = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) }
    const cfg = validateConfig({
      mag: { address: '2001:db8:ffff::1', fixedLinkLocal: 'fe80::1', heartbeatInterval: 0 },
      links: { mn1: { shared: true } },
      localPool: '2001:db8:a1::/48',
      drivers: { mock: { att: 4 } },
      unknownMn: { lma: '2001:db8:ffff::2', macNaiRealm: 'example.com' },
      profiles: [{ mnId: 'mn1@example.com', lma: '2001:db8:ffff::2' }],
    })
    const drivers = new Map<string, AccessDriver>([['mock', mock({ att: 4 }, { log: quiet, clock })]])
    daemon = new MagDaemon(cfg, { log: quiet, clock, io, drivers })
    await daemon.start()
    server = new ControlServer(join(dir, 'mag.sock'), controlHandlers(daemon, () => ({ reloaded: false })))
    await server.start()
  })

  afterAll(async () => {
    await server.stop()
    await daemon.stop(false)
    rmSync(dir, { recursive: true, force: true })
    process.off('uncaughtException', onUncaught)
  })

  test(`${RUNS} hostile requests: one answer each, errors for the malformed, the daemon keeps serving (a failure shows its seed)`, async () => {
    const rnd = prng(SEED)
    const path = join(dir, 'mag.sock')
    let sent = 0
    let errors = 0
    // Batches of pipelined requests on fresh connections, as clients and scripts send them.
    while (sent < RUNS) {
      const batch = Array.from({ length: Math.min(50, RUNS - sent) }, () => fuzzCase(rnd)).filter((l) => l.trim() !== '')
      const answers = await exchange(path, batch)
      expect({ seed: SEED, answers: answers.length }).toEqual({ seed: SEED, answers: batch.length })
      for (const a of answers) {
        const rep = JSON.parse(a) as { ok: boolean; error?: string }
        expect(typeof rep.ok).toBe('boolean')
        if (!rep.ok) {
          errors++
          expect(typeof rep.error).toBe('string')
        }
      }
      sent += batch.length
    }
    expect(errors).toBeGreaterThan(sent / 2)
    expect(uncaught).toEqual([])
    // An oversized request closes that connection with an error; the server goes on.
    const big = await exchange(path, ['{"cmd":"status","x":"' + 'y'.repeat(MAX_REQUEST_BYTES + 10)])
    expect(JSON.parse(big[0]!)).toMatchObject({ ok: false })
    const after = JSON.parse((await exchange(path, [JSON.stringify({ cmd: 'status' })]))[0]!) as { ok: boolean; result: { counters: Record<string, number> } }
    expect(after.ok).toBe(true)
    expect(server.counters.requests).toBeGreaterThanOrEqual(sent + 1)
  }, 120_000)
})
