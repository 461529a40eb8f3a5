/**
 * The one error type every decoder in this package throws. A decoder checks each length
 * before it reads, so malformed input always ends here (never in a RangeError from Buffer):
 * callers can count drops by `reason` and log the `offset` where decoding stopped.
 */
export type WireErrorReason =
  | 'truncated' // fewer bytes than the fixed part of the message needs
  | 'bad-header-length' // MH Header Len disagrees with the bytes available
  | 'bad-payload-proto' // MH Payload Proto is not 59 (RFC 6275 §6.1.1)
  | 'bad-message-length' // a message's body is too short for its type
  | 'option-too-short' // an option's Length is too small for its type
  | 'option-overflow' // an option runs past the end of the message
  | 'bad-option-length' // ND option with Length 0 (RFC 4861 §4.6)
  | 'bad-icmp-type' // not the ICMPv6 type the decoder was asked for
  | 'bad-icmp-code' // RS/RA Code is not 0 (RFC 4861 §6.1)
  | 'value-out-of-range' // an encoder was handed a value that does not fit its field
  | 'bad-address' // an address text that does not parse
  | 'bad-prefix-length' // an IPv4 option's Prefix-len over 32 (RFC 5844 §3.3.1-3.3.2)

export interface WireErrorDetails {
  readonly offset: number
  readonly type?: number
  readonly [key: string]: unknown
}

export class WireError extends Error {
  override readonly name = 'WireError'
  readonly offset: number
  readonly details: WireErrorDetails

  constructor(
    readonly reason: WireErrorReason,
    details: WireErrorDetails,
  ) {
    const extra = Object.entries(details)
      .filter(([k]) => k !== 'offset')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')
    super(`${reason} at offset ${details.offset}${extra ? ` (${extra})` : ''}`)
    this.offset = details.offset
    this.details = details
  }

  toJSON(): { error: string; reason: WireErrorReason; offset: number; details: WireErrorDetails } {
    return { error: 'WireError', reason: this.reason, offset: this.offset, details: this.details }
  }
}

/** Throws `truncated` unless `need` bytes are available at `offset` (before `end`). */
export function need(end: number, offset: number, count: number, type?: number): void {
  if (offset + count > end) {
    throw new WireError('truncated', type === undefined ? { offset, need: count, have: Math.max(0, end - offset) } : { offset, type, need: count, have: Math.max(0, end - offset) })
  }
}
