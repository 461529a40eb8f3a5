/**
 * `mag decode`: prints a Mobility Header or RS/RA message as JSON, for reading captures.
 * Input is hex (spaces, colons and a 0x prefix allowed) or a file of raw bytes.
 */
import { readFileSync } from 'node:fs'
import { decodeAny, WireError, type Json } from '@pmip6/wire'

export class InputError extends Error {}

export function parseHex(text: string): Buffer {
  const clean = text.replace(/^0x/i, '').replace(/[\s:.-]/g, '')
  if (clean.length === 0) throw new InputError('no bytes given')
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new InputError('--hex takes hexadecimal digits only')
  if (clean.length % 2 !== 0) throw new InputError('--hex needs an even number of hex digits')
  return Buffer.from(clean, 'hex')
}

export interface DecodeOptions {
  hex?: string
  file?: string
  compact?: boolean
}

export interface DecodeOutcome {
  code: number
  stdout: string
  stderr: string
}

export function runDecode(opts: DecodeOptions): DecodeOutcome {
  let bytes: Buffer
  try {
    if (opts.hex !== undefined && opts.file !== undefined) throw new InputError('give either --hex or --file, not both')
    if (opts.hex !== undefined) bytes = parseHex(opts.hex)
    else if (opts.file !== undefined) bytes = readFileSync(opts.file)
    else throw new InputError('give the message with --hex HEX or --file PATH')
  } catch (e) {
    return { code: 2, stdout: '', stderr: `mag decode: ${(e as Error).message}\n` }
  }
  let decoded: Json
  try {
    decoded = decodeAny(bytes)
  } catch (e) {
    if (e instanceof WireError) {
      return { code: 1, stdout: '', stderr: `mag decode: malformed message: ${e.reason} at offset ${e.offset}\n${JSON.stringify(e.toJSON())}\n` }
    }
    throw e
  }
  return { code: 0, stdout: JSON.stringify(decoded, null, opts.compact ? undefined : 2) + '\n', stderr: '' }
}
