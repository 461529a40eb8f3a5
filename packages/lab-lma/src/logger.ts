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
  /** Lets a caller skip building an expensive message nobody will see. */
  isLevelEnabled?(level: LogLevel): boolean
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
  const w = createLogger({
    level,
    defaultMeta: { component },
    format: format.combine(format.timestamp(), format.json()),
    transports: [new transports.Console({ stderrLevels: [] })],
  })
  // winston filters by level only after building and streaming the message: check first, so a
  // disabled per-PBU debug line costs nothing on the answer path. winston's isLevelEnabled()
  // builds an array of its transports on every call, and the runner asks once per PBA: its
  // answers are kept until the level changes (as the MAG's child loggers do, issue 23).
  let seenLevel: string | null = null
  const enabled: Record<LogLevel, boolean> = { error: false, warn: false, info: false, debug: false }
  const isEnabled = (l: LogLevel): boolean => {
    if (w.level !== seenLevel) {
      seenLevel = w.level
      for (const k of LOG_LEVELS) enabled[k] = w.isLevelEnabled(k)
    }
    return enabled[l]
  }
  const gate =
    (l: LogLevel) =>
    (msg: string, meta?: LogMeta): void => {
      if (!isEnabled(l)) return
      if (meta === undefined) w.log(l, msg)
      else w.log(l, msg, meta)
    }
  return { error: gate('error'), warn: gate('warn'), info: gate('info'), debug: gate('debug'), isLevelEnabled: isEnabled }
}
