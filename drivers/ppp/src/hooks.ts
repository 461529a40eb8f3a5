/**
 * The pppd hook scripts (`mag ppp install-hooks`): /etc/ppp/ipv6-up.d/mag-pmip6 and
 * ipv6-down.d/mag-pmip6, run by Debian's /etc/ppp/ipv6-up and ipv6-down through run-parts
 * with pppd's six arguments (protocol-reference.md §8).
 *
 * A hook must never block or fail pppd: it sends one JSON line to the driver's socket, waits a
 * bounded time for the answer, logs any problem to syslog (logger) and stderr, and always
 * exits 0. pppd runs it with an emptied environment and no PATH, so the script names node by
 * its absolute path and needs nothing but node's own modules.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FORWARDED_ENV, HOOK_PROTOCOL_VERSION, type HookEvent } from './session'

/** run-parts only runs names made of [A-Za-z0-9_-]: no dots. */
export const HOOK_NAME = 'mag-pmip6'
export const DEFAULT_HOOK_TIMEOUT_MS = 2_000
export const DEFAULT_PPP_DIR = '/etc/ppp'

export interface HookOptions {
  readonly socket: string
  readonly timeoutMs?: number
  /** Absolute path of node; default the running one. */
  readonly node?: string
}

export function hookScript(event: HookEvent, o: HookOptions): string {
  const timeoutMs = o.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS
  const node = o.node ?? process.execPath
  if (!node.startsWith('/')) throw new Error(`node must be an absolute path (pppd sets no PATH): ${node}`)
  return `#!${node}
'use strict'
// ${event} hook of the PMIPv6 MAG, written by \`mag ppp install-hooks\`: hands pppd's
// arguments and environment to the agent's ppp driver. Never blocks or fails pppd: bounded
// wait, problems go to syslog and stderr, exit status always 0.
const EVENT = ${JSON.stringify(event)}
const SOCKET = ${JSON.stringify(o.socket)}
const TIMEOUT_MS = ${timeoutMs}
const ENV_KEYS = ${JSON.stringify(FORWARDED_ENV)}
let done = false
function log(msg) {
  const line = EVENT + ' ' + (process.argv[2] || '?') + ': ' + msg
  try { process.stderr.write('${HOOK_NAME}: ' + line + '\\n') } catch (e) {}
  try {
    require('child_process').spawnSync('/usr/bin/logger', ['-t', '${HOOK_NAME}', '-p', 'daemon.warning', line], { timeout: 500, stdio: 'ignore' })
  } catch (e) {}
}
function finish(problem) {
  if (done) return
  done = true
  if (problem) log(problem)
  process.exit(0)
}
process.on('uncaughtException', (e) => finish('hook failed: ' + (e && e.message ? e.message : String(e))))
// After a stall (a starved CPU) Node runs due timers before it polls sockets: setImmediate lets
// an answer already waiting be read first, so a slow machine is not taken for a silent agent.
setTimeout(() => setImmediate(() => finish('the agent did not answer within ' + TIMEOUT_MS + ' ms')), TIMEOUT_MS)
const env = {}
for (const k of ENV_KEYS) if (typeof process.env[k] === 'string') env[k] = process.env[k]
const line = JSON.stringify({ v: ${HOOK_PROTOCOL_VERSION}, event: EVENT, args: process.argv.slice(2, 8), env: env }) + '\\n'
const sock = require('net').createConnection(SOCKET)
let buf = ''
sock.setEncoding('utf8')
sock.on('connect', () => sock.write(line))
sock.on('data', (d) => {
  buf += d
  const nl = buf.indexOf('\\n')
  if (nl < 0) return
  let r = null
  try { r = JSON.parse(buf.slice(0, nl)) } catch (e) {}
  sock.destroy()
  finish(r && r.ok ? null : 'the agent refused the session: ' + (r && r.error ? r.error : buf.slice(0, nl)))
})
sock.on('error', (e) => finish('the agent is not reachable at ' + SOCKET + ': ' + (e.code || e.message)))
sock.on('close', () => finish(buf ? null : 'the agent closed the connection without an answer'))
`
}

export interface InstalledHooks {
  readonly up: string
  readonly down: string
}

/** Writes both hooks (atomically, mode 0755) under `dir`/ipv6-up.d and `dir`/ipv6-down.d. */
export function installHooks(dir: string, o: HookOptions): InstalledHooks {
  const write = (event: HookEvent): string => {
    const d = join(dir, `${event}.d`)
    mkdirSync(d, { recursive: true, mode: 0o755 })
    const path = join(d, HOOK_NAME)
    const tmp = `${path}.tmp-${process.pid}`
    writeFileSync(tmp, hookScript(event, o), { mode: 0o755 })
    chmodSync(tmp, 0o755)
    renameSync(tmp, path)
    return path
  }
  return { up: write('ipv6-up'), down: write('ipv6-down') }
}
