/**
 * Logging for the lab LMA: structured fields, JSON lines (design.md "Style"). The runner takes
 * any object with these four methods, so a winston logger, a test spy or `silentLogger` will do.
 */
import { createLogger, format, transports } from 'winston'

export type LogMeta = Record<string, unknown>

export interface Logger {
  error(msg: string, meta?: LogMeta): void
  warn(msg: string, meta?: LogMeta): void
  info(msg: string, meta?: LogMeta): void
  debug(msg: string, meta?: LogMeta): void
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s)
}

const noop = (): void => undefined
export const silentLogger: Logger = { error: noop, warn: noop, info: noop, debug: noop }

/** A winston logger writing one JSON object per line to stdout, with an ISO timestamp. */
export function createJsonLogger(level: LogLevel = 'info', component = 'lab-lma'): Logger {
  return createLogger({
    level,
    defaultMeta: { component },
    format: format.combine(format.timestamp(), format.json()),
    transports: [new transports.Console({ stderrLevels: [] })],
  })
}
