/**
 * The lab LMA's control socket: a UNIX stream socket (mode 0600) speaking newline-delimited JSON.
 * One request per line, one reply line per request:
 *   {"cmd":"status"}                      -> {"ok":true,"status":{...}}
 *   {"cmd":"bindings"}                    -> {"ok":true,"bindings":[...]}
 *   {"cmd":"fault", ...FaultPatch}        -> {"ok":true,"faults":{...}}
 *   anything else                         -> {"ok":false,"error":"..."}
 * A request's "id" (string or number) is copied into its reply. Not an RFC protocol.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { chmodSync, lstatSync, unlinkSync } from 'node:fs'
import type { BindingView, FaultPatch, FaultState } from './lma-core'
import type { Logger } from './logger'

/** Longest request line accepted; a client that sends more without a newline is cut off. */
export const MAX_CONTROL_LINE_BYTES = 64 * 1024
/** Socket file mode: only the owner (root, for a raw-socket daemon) may steer the LMA. */
export const CONTROL_SOCKET_MODE = 0o600

export interface ControlTarget {
  status(): object
  bindings(): readonly BindingView[]
  fault(patch: FaultPatch): FaultState
}

export const CONTROL_COMMANDS = ['status', 'bindings', 'fault', 'gc'] as const

class RequestError extends Error {}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function nonNegInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RequestError(`${field}: not a non-negative integer`)
  return v
}

function flag(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new RequestError(`${field}: not true or false`)
  return v
}

const FAULT_FIELDS = ['cmd', 'id', 'clear', 'drop', 'delayMs', 'silent', 'status', 'reset']
const STATUS_FIELDS = ['status', 'mnId', 'once', 'count']

/** Turns a `fault` request into a FaultPatch, naming the bad field on error. */
export function parseFaultRequest(req: Obj): FaultPatch {
  for (const k of Object.keys(req)) if (!FAULT_FIELDS.includes(k)) throw new RequestError(`fault.${k}: unknown field (known: ${FAULT_FIELDS.slice(2).join(', ')})`)
  let drop: FaultPatch['drop']
  if (req.drop !== undefined) {
    if (req.drop === 'all' || req.drop === 'none') drop = req.drop
    else if (typeof req.drop === 'number' && Number.isInteger(req.drop) && req.drop >= 0) drop = req.drop
    else throw new RequestError("fault.drop: not 'all', 'none' or a count")
  }
  let status: FaultPatch['status']
  if (req.status === null) status = null
  else if (typeof req.status === 'number') status = { status: statusCode(req.status, 'fault.status') }
  else if (isObj(req.status)) {
    const s = req.status
    for (const k of Object.keys(s)) if (!STATUS_FIELDS.includes(k)) throw new RequestError(`fault.status.${k}: unknown field (known: ${STATUS_FIELDS.join(', ')})`)
    if (s.mnId !== undefined && (typeof s.mnId !== 'string' || s.mnId === '')) throw new RequestError('fault.status.mnId: not an MN identifier')
    status = {
      status: statusCode(s.status, 'fault.status.status'),
      ...(typeof s.mnId === 'string' ? { mnId: s.mnId } : {}),
      ...(s.once !== undefined ? { once: flag(s.once, 'fault.status.once') } : {}),
      ...(s.count !== undefined ? { count: nonNegInt(s.count, 'fault.status.count') } : {}),
    }
  } else if (req.status !== undefined) throw new RequestError('fault.status: not a status code, {status, mnId?, once?, count?} or null')
  return {
    ...(req.clear !== undefined ? { clear: flag(req.clear, 'fault.clear') } : {}),
    ...(drop !== undefined ? { drop } : {}),
    ...(req.delayMs !== undefined ? { delayMs: nonNegInt(req.delayMs, 'fault.delayMs') } : {}),
    ...(req.silent !== undefined ? { silent: flag(req.silent, 'fault.silent') } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(req.reset !== undefined ? { reset: flag(req.reset, 'fault.reset') } : {}),
  }
}

function statusCode(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new RequestError(`${field}: not a status code (0-255)`)
  return v
}

/** Answers one request line (already split off); never throws. */
export function handleControlLine(target: ControlTarget, line: string): Obj {
  let req: unknown
  try {
    req = JSON.parse(line)
  } catch (e) {
    return { ok: false, error: `bad JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
  if (!isObj(req)) return { ok: false, error: 'a request is a JSON object with a "cmd"' }
  const id = typeof req.id === 'string' || typeof req.id === 'number' ? { id: req.id } : {}
  try {
    switch (req.cmd) {
      case 'status':
        return { ok: true, ...id, status: target.status() }
      case 'bindings':
        return { ok: true, ...id, bindings: target.bindings() }
      case 'fault':
        return { ok: true, ...id, faults: target.fault(parseFaultRequest(req)) }
      case 'gc': {
        // Benchmarks measure retained heap and a steady state without the collections a storm
        // leaves owing: a full collection first, as the MAG's control socket does.
        const gc = (globalThis as { gc?: () => void }).gc
        if (!gc) throw new RequestError('start the LMA with node --expose-gc to allow this')
        gc()
        return { ok: true, ...id, heapUsedBytes: process.memoryUsage().heapUsed }
      }
      default:
        return { ok: false, ...id, error: `unknown cmd ${JSON.stringify(req.cmd ?? null)} (known: ${CONTROL_COMMANDS.join(', ')})` }
    }
  } catch (e) {
    return { ok: false, ...id, error: e instanceof Error ? e.message : String(e) }
  }
}

export interface ControlServer {
  readonly path: string
  close(): Promise<void>
}

/** Removes a socket file left by a dead LMA; refuses to touch anything else or a live socket. */
async function clearStale(path: string): Promise<void> {
  let isSocket: boolean
  try {
    isSocket = lstatSync(path).isSocket()
  } catch {
    return // nothing there
  }
  if (!isSocket) throw new Error(`control socket path ${path} exists and is not a socket`)
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path)
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
  if (alive) throw new Error(`control socket ${path} is in use by another process`)
  unlinkSync(path)
}

export async function startControlServer(path: string, target: ControlTarget, log: Logger): Promise<ControlServer> {
  await clearStale(path)
  const clients = new Set<Socket>()
  const server: Server = createServer((sock) => {
    clients.add(sock)
    sock.setEncoding('utf8')
    let buf = ''
    sock.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (line === '') continue
        const reply = handleControlLine(target, line)
        if (reply.ok !== true) log.debug('control request refused', { error: reply.error })
        sock.write(`${JSON.stringify(reply)}\n`)
      }
      if (Buffer.byteLength(buf) > MAX_CONTROL_LINE_BYTES) {
        sock.end(`${JSON.stringify({ ok: false, error: `request longer than ${MAX_CONTROL_LINE_BYTES} bytes` })}\n`)
        buf = ''
      }
    })
    sock.on('error', (err) => log.debug('control client error', { error: err.message }))
    sock.on('close', () => clients.delete(sock))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
  chmodSync(path, CONTROL_SOCKET_MODE)
  server.on('error', (err) => log.error('control socket error', { path, error: err.message }))
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.destroy()
        server.close(() => resolve())
      }),
  }
}
