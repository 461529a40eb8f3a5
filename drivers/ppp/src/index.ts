/**
 * The PPP access driver: pppd sessions, reported by the ipv6-up/ipv6-down hooks (hooks.ts)
 * over a local stream socket, become attach/detach facts with access technology PPP (RFC 5213
 * §8.5, ATT 2) on the ppp interface, a point-to-point access link (protocol-reference.md §8).
 *
 * A PPP link has no MAC: the MN identifier is the authenticated PEERNAME, or the session's
 * ipparam naming the MN's profile (configurable). Sessions are kept in a state file, so after
 * an agent restart the driver knows who is on each ppp interface that still exists: start()
 * reconciles the file with the interfaces there (`ip -j link`), and attached() reports them.
 * A ppp interface with no record cannot be named and is only logged; its next ipv6-up fixes it.
 *
 * pppd runs ipv6-down only when it ends in order: killed (SIGKILL, a crash, the OOM killer) it
 * runs no script, and the kernel removes the interface when pppd's /dev/ppp descriptor closes.
 * So the driver also watches the interfaces (`ip -o monitor link`): a session whose interface
 * is deleted is detached as if ipv6-down had come.
 */
import { execFile, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { FactEmitter, startDeadline, type AccessDriver, type AttachedFact, type DriverFactory, type Logger, type PresenceQuery } from '@pmip6/driver-api'
import { HookMessageError, parseHookMessage, sessionMnId, type IdentitySource, type PppSession } from './session'

export * from './session'
export * from './hooks'

export const ATT_PPP = 2 // RFC 5213 §8.5
export const DEFAULT_PPP_SOCKET = '/run/mag/ppp.sock'
export const DEFAULT_PPP_STATE_FILE = '/run/mag/ppp-sessions.json'
export const DEFAULT_INTERFACE_PATTERN = '^ppp[0-9]+$'
/** A hook sends one short line; anything longer is not a hook. */
const MAX_LINE = 64 * 1024
/**
 * `ip -j link show` answers presence queries: a deadline, sized for a loaded machine (under
 * User-Mode Linux every exec is ptraced, seconds each at load 20-40). A listing that times out
 * makes the query fail, which the daemon takes as "not here" and de-registers the MN; the core
 * waits MAX_BINDACK_TIMEOUT_MS (32 s) for the answer, so it stays below that.
 */
const IP_TIMEOUT_MS = 20_000

export interface PppInit {
  /** The socket the hooks connect to. */
  readonly socket?: string
  readonly socketMode?: number
  /** Where sessions are remembered across agent restarts. */
  readonly stateFile?: string
  /** Which interfaces are ppp links (a regular expression on the name). */
  readonly interfacePattern?: string
  readonly identity?: IdentitySource
  readonly att?: number
  /** teardown() ends the session by SIGTERM to pppd (its pid file `<pidDir>/<ifname>.pid`). */
  readonly teardown?: boolean
  readonly pidDir?: string
  /** Where interface state comes from; default `ip -j link` (tests pass their own). */
  readonly links?: () => Promise<readonly LinkState[]>
  /**
   * Calls `onDeleted` with the name of each interface the kernel deletes, until the returned
   * function is called; default `ip -o monitor link` (tests pass their own).
   */
  readonly watchLinks?: (onDeleted: (ifname: string) => void, log: Logger) => () => void
}

export interface LinkState {
  readonly name: string
  readonly up: boolean
}

interface Stored {
  readonly mnId: string
  readonly ipparam: string
  readonly peername?: string
  readonly tty: string
  readonly remoteLinkLocal: string
  readonly since: string
}

export class PppDriverError extends Error {
  override readonly name = 'PppDriverError'
}

/** Interfaces in this network namespace, from `ip -j link` (rtnetlink underneath). */
export function listLinks(): Promise<LinkState[]> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', 'link', 'show'], { timeout: IP_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(new PppDriverError(`ip -j link show failed: ${err.message}`))
      try {
        const links = JSON.parse(stdout) as { ifname: string; flags?: string[] }[]
        resolve(links.map((l) => ({ name: l.ifname, up: (l.flags ?? []).includes('UP') })))
      } catch (e) {
        reject(new PppDriverError(`ip -j link show: unreadable output: ${(e as Error).message}`))
      }
    })
  })
}

/** `Deleted 7: ppp0: <POINTOPOINT,...` (iproute2's one-line monitor output) -> `ppp0`. */
export function deletedLinkName(line: string): string | null {
  const m = /^Deleted\s+(?:\d+:\s+)?([^\s:@]+)[:@]/.exec(line)
  return m?.[1] ?? null
}

/** Interface deletions from `ip -o monitor link`, restarted (bounded) if ip exits while we watch. */
export function monitorLinks(onDeleted: (ifname: string) => void, log: Logger): () => void {
  let stopped = false
  let child: ReturnType<typeof spawn> | null = null
  let restarts = 0
  const start = (): void => {
    const c = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] })
    child = c
    let buf = ''
    c.stdout?.setEncoding('utf8')
    c.stdout?.on('data', (d: string) => {
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const name = deletedLinkName(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
        if (name !== null) onDeleted(name)
      }
    })
    c.on('error', (e) => log.warn('cannot watch interfaces (ip monitor link); a killed pppd is noticed only at the next presence check', { error: e.message }))
    c.on('exit', () => {
      if (stopped) return
      if (++restarts > 5) return log.warn('ip monitor link keeps exiting; no longer watching interfaces')
      setTimeout(start, 1000).unref()
    })
  }
  start()
  return () => {
    stopped = true
    child?.kill()
  }
}

/** Whether something accepts connections on the unix socket `path` now (bounded). */
export function socketAnswers(path: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path)
    const done = (v: boolean) => {
      t.cancel()
      c.destroy()
      resolve(v)
    }
    // A connection already accepted wins over the due timer in a starved process (a UML guest).
    const t = startDeadline(timeoutMs, () => done(false))
    c.once('connect', () => done(true))
    c.once('error', () => done(false))
  })
}

export const ppp: DriverFactory<PppInit> = (init, ctx): AccessDriver => {
  const log: Logger = ctx.log
  const events = new FactEmitter()
  const socketPath = init.socket ?? DEFAULT_PPP_SOCKET
  const stateFile = init.stateFile ?? DEFAULT_PPP_STATE_FILE
  const pattern = new RegExp(init.interfacePattern ?? DEFAULT_INTERFACE_PATTERN)
  const identity: IdentitySource = init.identity ?? 'peername-or-ipparam'
  const att = init.att ?? ATT_PPP
  const sessions = new Map<string, Stored>()
  const conns = new Set<Socket>()
  const links = init.links ?? listLinks
  let server: Server | null = null
  let running = false
  let unwatch: (() => void) | null = null

  /** The interface is gone without an ipv6-down (pppd killed): the session ended. */
  const onDeleted = async (ifname: string): Promise<void> => {
    if (!running || !sessions.has(ifname)) return
    // A new session's ipv6-up may overtake the old interface's deletion: only a name that is
    // really gone ends its session.
    try {
      if ((await links()).some((l) => l.name === ifname)) return
    } catch {
      // Cannot tell: the deletion event is the kernel's word.
    }
    const st = sessions.get(ifname)
    if (!running || !st) return
    sessions.delete(ifname)
    save()
    log.info('ppp interface deleted without ipv6-down (pppd gone); session down', { link: ifname, mnId: st.mnId })
    events.emit({ type: 'detached', link: ifname, mnId: st.mnId, cause: 'left' })
  }

  const fact = (ifname: string, s: Stored): AttachedFact => ({ type: 'attached', link: ifname, att, mnId: s.mnId })

  const save = (): void => {
    try {
      mkdirSync(dirname(stateFile), { recursive: true, mode: 0o700 })
      const tmp = `${stateFile}.tmp-${process.pid}`
      writeFileSync(tmp, JSON.stringify({ v: 1, sessions: Object.fromEntries(sessions) }, null, 2) + '\n', { mode: 0o600 })
      renameSync(tmp, stateFile)
    } catch (e) {
      log.warn('cannot write the ppp session file; a restart will not know these sessions', { path: stateFile, error: (e as Error).message })
    }
  }

  const load = (): Map<string, Stored> => {
    const out = new Map<string, Stored>()
    let text: string
    try {
      text = readFileSync(stateFile, 'utf8')
    } catch {
      return out
    }
    try {
      const doc = JSON.parse(text) as { sessions?: Record<string, Stored> }
      for (const [k, v] of Object.entries(doc.sessions ?? {})) if (typeof v?.mnId === 'string' && v.mnId.length > 0) out.set(k, v)
    } catch (e) {
      log.warn('unreadable ppp session file ignored', { path: stateFile, error: (e as Error).message })
    }
    return out
  }

  const handle = (s: PppSession): { ok: true; mnId?: string } => {
    if (s.event === 'ipv6-up') {
      const mnId = sessionMnId(s, identity)
      if (!mnId) throw new HookMessageError(`session on ${s.ifname} has no MN identifier (identity: ${identity}; PEERNAME and ipparam empty)`)
      const old = sessions.get(s.ifname)
      if (old && old.mnId !== mnId) {
        sessions.delete(s.ifname)
        events.emit({ type: 'detached', link: s.ifname, mnId: old.mnId, cause: 'left' })
      }
      const st: Stored = { mnId, ipparam: s.ipparam, tty: s.tty, remoteLinkLocal: s.remoteLinkLocal, since: new Date().toISOString(), ...(s.peername ? { peername: s.peername } : {}) }
      sessions.set(s.ifname, st)
      save()
      log.info('ppp session up', { link: s.ifname, mnId, tty: s.tty, remote: s.remoteLinkLocal, ...(s.linkname ? { linkname: s.linkname } : {}) })
      events.emit(fact(s.ifname, st))
      return { ok: true, mnId }
    }
    const st = sessions.get(s.ifname)
    if (!st) {
      log.info('ppp session down for an unknown interface', { link: s.ifname })
      return { ok: true }
    }
    sessions.delete(s.ifname)
    save()
    log.info('ppp session down', { link: s.ifname, mnId: st.mnId })
    events.emit({ type: 'detached', link: s.ifname, mnId: st.mnId, cause: 'left' })
    return { ok: true, mnId: st.mnId }
  }

  const onConnection = (c: Socket): void => {
    conns.add(c)
    c.setEncoding('utf8')
    c.setTimeout(5_000, () => c.destroy())
    let buf = ''
    const reply = (r: object) => {
      if (!c.destroyed) c.end(JSON.stringify(r) + '\n')
    }
    c.on('data', (d: string) => {
      buf += d
      if (buf.length > MAX_LINE) {
        reply({ ok: false, error: 'message too long' })
        c.destroy()
        return
      }
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      buf = ''
      try {
        if (!running) throw new PppDriverError('the ppp driver is stopping')
        reply(handle(parseHookMessage(JSON.parse(line))))
      } catch (e) {
        const msg = e instanceof SyntaxError ? `not JSON: ${e.message}` : (e as Error).message
        log.warn('hook message refused', { error: msg })
        reply({ ok: false, error: msg })
      }
    })
    c.on('error', () => undefined)
    c.on('close', () => conns.delete(c))
  }

  const linkUp = async (name: string): Promise<boolean> => (await links()).some((l) => l.name === name && l.up)

  return {
    name: 'ppp',
    async start() {
      if (running) return
      // Reconcile the remembered sessions with the interfaces that exist now.
      sessions.clear()
      const stored = load()
      let here: readonly LinkState[] = []
      try {
        here = await links()
      } catch (e) {
        log.warn('cannot list interfaces; remembered ppp sessions are dropped', { error: (e as Error).message })
      }
      for (const [ifname, st] of stored) {
        if (here.some((l) => l.name === ifname && l.up)) sessions.set(ifname, st)
        else log.info('remembered ppp session is gone', { link: ifname, mnId: st.mnId })
      }
      for (const l of here) if (pattern.test(l.name) && !sessions.has(l.name)) log.warn('ppp interface without a known session; it registers on its next ipv6-up', { link: l.name })
      save()
      mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 })
      // A socket file left by a crash is removed; one a live process answers on is another
      // agent's (two MAGs configured with one path): taking it over would silently send that
      // agent's sessions here, so refuse.
      if (await socketAnswers(socketPath)) throw new PppDriverError(`drivers.ppp.socket ${socketPath}: another process is listening there (another agent with the same socket?)`)
      rmSync(socketPath, { force: true })
      const srv = createServer(onConnection)
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(socketPath, () => {
          srv.off('error', reject)
          resolve()
        })
      })
      srv.on('error', (e) => log.error('ppp hook socket error', { error: e.message }))
      chmodSync(socketPath, init.socketMode ?? 0o600)
      server = srv
      running = true
      events.reopen()
      unwatch = (init.watchLinks ?? monitorLinks)((name) => void onDeleted(name), log)
      log.info('ppp driver listening', { socket: socketPath, sessions: sessions.size })
    },
    async stop() {
      running = false
      events.close()
      unwatch?.()
      unwatch = null
      const srv = server
      server = null
      if (!srv) return
      for (const c of conns) c.destroy()
      await new Promise<void>((r) => srv.close(() => r()))
      rmSync(socketPath, { force: true })
    },
    onEvent(fn) {
      return events.on(fn)
    },
    async present(q: PresenceQuery) {
      const st = sessions.get(q.link)
      if (!st || (q.mnId !== undefined && q.mnId !== st.mnId)) return false
      return linkUp(q.link)
    },
    async attached() {
      return [...sessions].map(([ifname, st]) => fact(ifname, st))
    },
    async teardown(q: PresenceQuery) {
      if (!init.teardown || !sessions.has(q.link)) return
      const pidFile = `${init.pidDir ?? '/var/run'}/${q.link}.pid`
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
        if (!Number.isInteger(pid) || pid <= 1) throw new PppDriverError(`no pid in ${pidFile}`)
        process.kill(pid, 'SIGTERM') // pppd then runs ipv6-down, which reports the detach
        log.info('ppp session torn down', { link: q.link, pid })
      } catch (e) {
        log.warn('ppp teardown failed', { link: q.link, error: (e as Error).message })
      }
    },
  }
}
