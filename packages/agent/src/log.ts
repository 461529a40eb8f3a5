/**
 * Structured logging: winston, JSON lines with a timestamp, one child logger per component.
 */
import winston from 'winston'
import type { Logger } from '@pmip6/driver-api'
import type { LogLevel } from './config'

export type { Logger }

export function createLogger(level: LogLevel, stream: NodeJS.WritableStream = process.stdout): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  })
}

/**
 * A component's logger. winston filters by level only inside its stream pipeline, after it has
 * built and pushed the message; checking the level first keeps a disabled debug line on the
 * registration path at the cost of one comparison. winston's own isLevelEnabled() builds an
 * array of its transports on every call (two refreshes' worth of state-changed lines cost
 * ~1 µs at 2,000 refreshes/s, issue 8), so its answers are kept until the logger's level changes.
 */
export function child(log: winston.Logger, component: string): Logger {
  const c = log.child({ component })
  let level: string | null = null
  const enabled = { debug: false, info: false, warn: false, error: false }
  const gate =
    (lv: keyof typeof enabled) =>
    (msg: string, meta?: Record<string, unknown>): void => {
      if (log.level !== level) {
        level = log.level
        for (const k of Object.keys(enabled) as (keyof typeof enabled)[]) enabled[k] = log.isLevelEnabled(k)
      }
      if (!enabled[lv]) return
      if (meta === undefined) c.log(lv, msg)
      else c.log(lv, msg, meta)
    }
  return { debug: gate('debug'), info: gate('info'), warn: gate('warn'), error: gate('error') }
}

/** A logger that drops everything (benchmarks, tools that must print only their own output). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

type Level = 'debug' | 'info' | 'warn' | 'error'

/**
 * A logger that holds its lines while the daemon works through a batch of events and writes
 * them once the batch's packets are out (issue 23): winston builds, formats and writes each
 * line synchronously (tens of µs, more while the code is cold), and the state-changed and
 * forwarding-up lines came before the PBU and the RA they describe. Debug lines pass straight
 * through: the gate drops them at no cost unless an operator asked for them.
 */
export class HeldLog implements Logger {
  private depth = 0
  private readonly held: [Level, string, Record<string, unknown> | undefined][] = []

  constructor(private readonly inner: Logger) {}

  hold(): void {
    this.depth++
  }

  /** Ends one hold; the outermost writes what was held, in order. */
  release(): void {
    if (--this.depth > 0) return
    this.depth = 0
    if (this.held.length === 0) return
    const lines = this.held.splice(0)
    for (const [lv, msg, meta] of lines) this.inner[lv](msg, meta)
  }

  private put(lv: Level, msg: string, meta?: Record<string, unknown>): void {
    if (this.depth > 0) this.held.push([lv, msg, meta])
    else this.inner[lv](msg, meta)
  }

  debug(msg: string, meta?: Record<string, unknown>): void {
    this.inner.debug(msg, meta)
  }
  info(msg: string, meta?: Record<string, unknown>): void {
    this.put('info', msg, meta)
  }
  warn(msg: string, meta?: Record<string, unknown>): void {
    this.put('warn', msg, meta)
  }
  error(msg: string, meta?: Record<string, unknown>): void {
    this.put('error', msg, meta)
  }
}
