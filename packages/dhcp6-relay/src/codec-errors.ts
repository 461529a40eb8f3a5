/**
 * The one error every DHCPv6 decoder and encoder here throws, as WireError does in
 * @pmip6/wire: decoders check each length before reading, so bad input never ends in a
 * RangeError from Buffer. The relay counts drops by `reason`.
 */
export type Dhcp6ErrorReason =
  | 'truncated' // fewer bytes than the fixed header needs
  | 'option-overflow' // an option's length runs past the end of the message
  | 'missing-relay-message' // a Relay-forward/Relay-reply without option 9 (RFC 8415 §9)
  | 'duplicate-option' // two Relay Message or Interface-Id options in one relay message
  | 'too-deep' // relay messages nested beyond HOP_COUNT_LIMIT + 1
  | 'value-out-of-range' // an encoder was handed a value that does not fit its field

export interface Dhcp6ErrorDetails {
  readonly offset: number
  readonly [key: string]: unknown
}

export class Dhcp6Error extends Error {
  override readonly name = 'Dhcp6Error'
  readonly offset: number

  constructor(
    readonly reason: Dhcp6ErrorReason,
    readonly details: Dhcp6ErrorDetails,
  ) {
    const extra = Object.entries(details)
      .filter(([k]) => k !== 'offset')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')
    super(`${reason} at offset ${details.offset}${extra ? ` (${extra})` : ''}`)
    this.offset = details.offset
  }

  toJSON(): { error: string; reason: Dhcp6ErrorReason; offset: number; details: Dhcp6ErrorDetails } {
    return { error: 'Dhcp6Error', reason: this.reason, offset: this.offset, details: this.details }
  }
}
