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

export function child(log: winston.Logger, component: string): Logger {
  return log.child({ component })
}

/** A logger that drops everything (benchmarks, tools that must print only their own output). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
