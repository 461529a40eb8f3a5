/**
 * The mock access link: MNs attach and detach because someone says so (`mag attach`,
 * `mag detach`, the control socket, a lab script, a test). A product feature for labs,
 * demos and benchmarks: it reports the same facts a real link driver would.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { FactEmitter, normalizeMac, type AccessDriver, type AttachedFact, type DetachCause, type DetachedFact, type DriverFactory, type HandoffHint, type LinkEvent, type PresenceQuery } from '@pmip6/driver-api'

export interface MockAttach {
  readonly link: string
  readonly mnId?: string
  readonly mac?: string
  readonly att?: number
  readonly hint?: HandoffHint
}

export interface MockDetach {
  readonly link?: string
  readonly mnId?: string
  readonly mac?: string
  readonly cause?: DetachCause
}

/** One step of a lab script: after `afterMs` from start (or from the previous step), act. */
export type MockStep = ({ readonly attach: MockAttach } | { readonly detach: MockDetach }) & { readonly afterMs?: number }

export interface MockInit {
  /** Access technology reported when an attach names none; default 1 (virtual). */
  readonly att?: number
  /** Steps run after start(), each `afterMs` after the previous one. */
  readonly script?: readonly MockStep[]
  /**
   * Where the link's state lives across restarts of the daemon: who is attached is journalled
   * here (one JSON line per attach or detach, appended after each burst of changes) and
   * replayed at start, as a real link keeps its stations while the MAG restarts.
   */
  readonly stateFile?: string
}

export interface MockDriver extends AccessDriver {
  attach(a: MockAttach): AttachedFact
  /** Detaches every MN matching the selector; returns how many. */
  detach(d: MockDetach): number
}

const ATT_VIRTUAL = 1 // RFC 5213 §8.5
/** Journal lines beyond twice the live set before the file is rewritten whole. */
const JOURNAL_SLACK = 1024

/** 'xx:xx:xx:xx:xx:xx' in lower case already (what the core asks with before every refresh)? */
function isNormalMac(s: string): boolean {
  if (s.length !== 17) return false
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i)
    if (i % 3 === 2) {
      if (c !== 0x3a) return false
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false
  }
  return true
}
/**
 * A flat copy of a string kept for the station's lifetime. Strings built by concatenation (the
 * map key here, the NAIs `attach-range` makes) are ropes that V8 flattens on first use but keeps
 * as rope + flat copy; a flat copy is one object (issue 8: bytes per binding at 100,000). The
 * round trip is used only when it gives the same text back.
 */
function flat(s: string): string {
  if (s.length < 13) return s // V8 builds shorter concatenations flat already
  const r = Buffer.from(s, 'utf8').toString('utf8')
  return r === s ? r : s
}

/** normalizeMac without its split/regex/join when the text is normal already (same result). */
const fastNormalizeMac = (s: string): string => (isNormalMac(s) ? s : normalizeMac(s))

export const mock: DriverFactory<MockInit> = (init, ctx): MockDriver => {
  const events = new FactEmitter()
  // One entry per attached MN, keyed by link + MAC/identity (several MNs may share a link).
  const here = new Map<string, AttachedFact>()
  // The same stations by MN identifier: the core's presence question before each refresh names
  // the MN, and its identifier finds the station without building and hashing a key (issue 8).
  const byMnId = new Map<string, AttachedFact>()
  const put = (key: string, f: AttachedFact): void => {
    const old = here.get(key)
    if (old?.mnId !== undefined && byMnId.get(old.mnId) === old) byMnId.delete(old.mnId)
    here.set(key, f)
    if (f.mnId !== undefined) byMnId.set(f.mnId, f)
  }
  const drop = (key: string): void => {
    const old = here.get(key)
    if (old === undefined) return
    here.delete(key)
    if (old.mnId !== undefined && byMnId.get(old.mnId) === old) byMnId.delete(old.mnId)
  }
  const scriptTimers: NodeJS.Timeout[] = []
  let running = false
  let flushTimer: NodeJS.Immediate | null = null
  // The state file is a journal: one JSON line per fact (attached or detached), appended after
  // each burst of changes and rewritten whole only when it has grown to twice the live set. A
  // whole rewrite per change cost 50-75 ms at 100,000 stations and stalled the event loop
  // (issue 8); an append costs the same at 10 stations and at 100,000.
  let pending: string[] = []
  let journalLines = 0

  const writeErr = (e: unknown): void => {
    ctx.log.warn('mock state file not written', { file: init.stateFile, error: (e as Error).message })
  }
  /** Writes the live set as a fresh journal (atomic: a crash leaves the old or the new file). */
  const compact = (): void => {
    if (!init.stateFile) return
    pending = []
    try {
      mkdirSync(dirname(init.stateFile), { recursive: true })
      const tmp = `${init.stateFile}.tmp`
      let text = ''
      for (const f of here.values()) text += JSON.stringify(f) + '\n'
      writeFileSync(tmp, text)
      renameSync(tmp, init.stateFile)
      journalLines = here.size
    } catch (e) {
      writeErr(e)
    }
  }
  const flush = (): void => {
    flushTimer = null
    if (!init.stateFile || pending.length === 0) return
    if (journalLines + pending.length > 2 * here.size + JOURNAL_SLACK) return compact()
    const text = pending.join('')
    try {
      appendFileSync(init.stateFile, text)
      journalLines += pending.length
      pending = []
    } catch (e) {
      // Keep nothing half-known: the next flush rewrites the whole file.
      journalLines = Number.POSITIVE_INFINITY
      pending = []
      writeErr(e)
    }
  }
  const record = (fact: AttachedFact | DetachedFact): void => {
    if (!init.stateFile) return
    pending.push(JSON.stringify(fact) + '\n')
    if (flushTimer === null) flushTimer = setImmediate(flush)
  }
  /** Replays the journal (or the whole-array format of earlier versions); a torn last line is skipped. */
  const load = (): void => {
    if (!init.stateFile) return
    let text: string
    try {
      text = readFileSync(init.stateFile, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') ctx.log.warn('mock state file unreadable, starting empty', { file: init.stateFile, error: (e as Error).message })
      return
    }
    let facts: unknown[] = []
    let bad = 0
    if (text.trimStart().startsWith('[')) {
      try {
        const list: unknown = JSON.parse(text)
        if (Array.isArray(list)) facts = list
      } catch {
        bad++
      }
    } else {
      for (const line of text.split('\n')) {
        if (line === '') continue
        try {
          facts.push(JSON.parse(line))
        } catch {
          bad++
        }
      }
    }
    for (const x of facts) {
      const f = x as { type?: unknown; link?: unknown; mac?: unknown; mnId?: unknown; att?: unknown } | null
      if (!f || typeof f.link !== 'string' || (typeof f.mac !== 'string' && typeof f.mnId !== 'string')) {
        bad++
        continue
      }
      if (f.type === 'attached' && typeof f.att === 'number') put(keyOf(f as { link: string }), f as unknown as AttachedFact)
      else if (f.type === 'detached') drop(keyOf(f as { link: string }))
      else bad++
    }
    if (bad > 0) ctx.log.warn('mock state file: unreadable entries skipped', { file: init.stateFile, skipped: bad })
  }

  const keyOf = (f: { link: string; mac?: string; mnId?: string }): string => `${f.link}|${f.mac ?? ''}|${f.mac ? '' : (f.mnId ?? '')}`

  const matches = (f: AttachedFact, d: MockDetach): boolean =>
    (d.link === undefined || f.link === d.link) && (d.mnId === undefined || f.mnId === d.mnId) && (d.mac === undefined || f.mac === normalizeMac(d.mac))

  const driver: MockDriver = {
    name: 'mock',
    async start() {
      if (running) return
      running = true
      events.reopen()
      load()
      compact()
      let t = 0
      for (const step of init.script ?? []) {
        t += step.afterMs ?? 0
        scriptTimers.push(
          setTimeout(() => {
            try {
              if ('attach' in step) driver.attach(step.attach)
              else driver.detach(step.detach)
            } catch (e) {
              ctx.log.warn('mock script step failed', { error: (e as Error).message })
            }
          }, t),
        )
      }
    },
    async stop() {
      running = false
      events.close()
      for (const t of scriptTimers.splice(0)) clearTimeout(t)
      if (flushTimer !== null) {
        clearImmediate(flushTimer)
        flush()
      }
    },
    onEvent(fn: (ev: LinkEvent) => void) {
      return events.on(fn)
    },
    present(q: PresenceQuery): boolean {
      // By MAC: one lookup (the core asks before every refresh, §6.13; a scan would make that
      // O(stations)). Without a MAC, scan.
      if (q.mnId !== undefined) {
        const f = byMnId.get(q.mnId)
        if (f !== undefined && f.link === q.link && (q.mac === undefined ? f.mac === undefined : f.mac === fastNormalizeMac(q.mac))) return true
      }
      if (q.mac !== undefined) return here.has(keyOf({ link: q.link, mac: fastNormalizeMac(q.mac) }))
      for (const f of here.values()) if (f.link === q.link && (q.mac === undefined || f.mac === q.mac) && (q.mnId === undefined || f.mac !== undefined || f.mnId === q.mnId)) return true
      return false
    },
    async attached() {
      return [...here.values()]
    },
    async teardown(q: PresenceQuery) {
      if (running) driver.detach({ link: q.link, cause: 'admin', ...(q.mac ? { mac: q.mac } : q.mnId ? { mnId: q.mnId } : {}) })
    },
    attach(a: MockAttach) {
      if (!running) throw new Error('the mock driver is not running')
      if (!a.link) throw new Error('attach needs a link')
      if (!a.mnId && !a.mac) throw new Error('attach needs an MN identifier or a MAC')
      const fact: AttachedFact = {
        type: 'attached',
        link: a.link,
        att: a.att ?? init.att ?? ATT_VIRTUAL,
        ...(a.mac ? { mac: fastNormalizeMac(a.mac) } : {}),
        ...(a.mnId ? { mnId: flat(a.mnId) } : {}),
        ...(a.hint ? { hint: a.hint } : {}),
      }
      put(flat(keyOf(fact)), fact)
      record(fact)
      events.emit(fact)
      return fact
    },
    detach(d: MockDetach) {
      if (!running) throw new Error('the mock driver is not running')
      if (d.link === undefined && d.mnId === undefined && d.mac === undefined) throw new Error('detach needs --mn, --link or --mac')
      // One station by link + MAC: a lookup, not a scan of every station.
      const one = d.link !== undefined && d.mac !== undefined ? here.get(keyOf({ link: d.link, mac: fastNormalizeMac(d.mac) })) : null
      const victims = one === null ? [...here.values()].filter((f) => matches(f, d)) : one !== undefined && matches(one, d) ? [one] : []
      for (const f of victims) {
        drop(keyOf(f))
        const fact: DetachedFact = { type: 'detached', link: f.link, cause: d.cause ?? 'admin', ...(f.mac ? { mac: f.mac } : {}), ...(f.mnId ? { mnId: f.mnId } : {}) }
        record(fact)
        events.emit(fact)
      }
      return victims.length
    },
  }
  return driver
}
