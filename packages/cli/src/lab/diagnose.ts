/**
 * When a lab step fails, the daemons' logs usually hold the line that says why (a rejected PBA, a
 * forwarding change the kernel refused, a daemon that could not start). `likelyCause` picks that
 * one line out of the JSON-line logs of the lab's daemons, so `mag lab demo` can print it instead
 * of the last lines of every log.
 */

export interface DaemonLog {
  readonly node: string
  readonly path: string
  readonly text: string
}

export interface Cause {
  readonly node: string
  readonly path: string
  /** The log line as written (JSON), cut to a readable length. */
  readonly line: string
  /** Why this line was chosen. */
  readonly why: string
}

interface Entry {
  readonly node: string
  readonly path: string
  readonly raw: string
  readonly level: string
  readonly message: string
  readonly fields: Record<string, unknown>
  readonly t: number
  readonly order: number
}

/** Longest line printed: the daemon's line is evidence, not a dump. */
const MAX_LINE = 400

function parse(log: DaemonLog, from: number): Entry[] {
  const out: Entry[] = []
  const lines = log.text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim()
    if (raw === '') continue
    let j: Record<string, unknown>
    try {
      j = JSON.parse(raw) as Record<string, unknown>
    } catch {
      // Not a JSON line: a crash or a message from node itself, which is telling; its stack
      // frames are not (the error's own line above them is).
      out.push({ node: log.node, path: log.path, raw, level: /^at /.test(raw) ? 'trace' : 'error', message: raw, fields: {}, t: Number.NaN, order: from + i })
      continue
    }
    const t = typeof j['timestamp'] === 'string' ? Date.parse(j['timestamp']) : Number.NaN
    out.push({ node: log.node, path: log.path, raw, level: String(j['level'] ?? ''), message: String(j['message'] ?? ''), fields: j, t, order: from + i })
  }
  return out
}

/** A state change the MAG makes when registration goes wrong (RFC 5213 §6.9.1.2, §6.9.4). */
function badStateChange(e: Entry): boolean {
  if (e.message !== 'state changed') return false
  const to = String(e.fields['to'] ?? '')
  const reason = String(e.fields['reason'] ?? '')
  return to === 'denied' || to === 'clock-wait' || reason.startsWith('pba-rejected') || reason.startsWith('forwarding-failed') || reason.includes('timeout')
}

/** An LMA answer other than 0-127 (accepted), as the lab LMA logs it at debug level. */
function rejection(e: Entry): boolean {
  const status = e.fields['status']
  return e.message === 'mh sent' && typeof status === 'number' && status >= 128
}

const RULES: readonly { readonly why: string; readonly test: (e: Entry) => boolean }[] = [
  { why: 'the last error a daemon logged', test: (e) => e.level === 'error' },
  { why: 'the MAG gave up on or was refused a registration', test: badStateChange },
  { why: 'the LMA refused a PBU', test: rejection },
  { why: 'the last warning a daemon logged', test: (e) => e.level === 'warn' },
]

/**
 * The line most likely to explain a failure that happened after `sinceMs` (ms since 1970; lines
 * without a time always count), or null when no daemon said anything wrong.
 */
export function likelyCause(logs: readonly DaemonLog[], sinceMs = 0): Cause | null {
  let order = 0
  const entries: Entry[] = []
  for (const l of logs) {
    const e = parse(l, order)
    order += e.length + 1
    entries.push(...e.filter((x) => Number.isNaN(x.t) || x.t >= sinceMs))
  }
  // Latest first: the daemons' clocks are the same machine's, so times compare across logs.
  entries.sort((a, b) => (Number.isNaN(b.t) || Number.isNaN(a.t) ? b.order - a.order : b.t - a.t || b.order - a.order))
  for (const r of RULES) {
    const hit = entries.find(r.test)
    if (hit !== undefined) return { node: hit.node, path: hit.path, line: hit.raw.length > MAX_LINE ? `${hit.raw.slice(0, MAX_LINE)}...` : hit.raw, why: r.why }
  }
  return null
}
