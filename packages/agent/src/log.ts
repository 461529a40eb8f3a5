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
 * registration path at the cost of one comparison.
 */
export function child(log: winston.Logger, component: string): Logger {
  const c = log.child({ component })
  const gate =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, meta?: Record<string, unknown>): void => {
      if (!log.isLevelEnabled(level)) return
      if (meta === undefined) c.log(level, msg)
      else c.log(level, msg, meta)
    }
  return { debug: gate('debug'), info: gate('info'), warn: gate('warn'), error: gate('error') }
}

/** A logger that drops everything (benchmarks, tools that must print only their own output). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
