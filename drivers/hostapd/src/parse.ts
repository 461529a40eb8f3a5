/**
 * hostapd control interface text (protocol-reference.md §7): event datagrams and command
 * replies. Pure: strings in, typed values out, no I/O.
 *
 * Events are `<N>` + text, N the message level. Station events carry the MAC as the first
 * token; anything after it (`p2p_dev_addr=`, `ip_addr=`, `keyid=`, vendor tokens) is optional
 * key=value and kept as params. `STA <mac>`, `STA-FIRST` and `STA-NEXT` reply with the MAC on
 * the first line, then key=value lines; `FAIL` or an empty reply means no such station.
 */
import { normalizeMac } from '@pmip6/driver-api'

export type HostapdEvent =
  | { readonly kind: 'sta-connected'; readonly level: number; readonly mac: string; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'sta-disconnected'; readonly level: number; readonly mac: string; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'other'; readonly level: number; readonly name: string; readonly text: string }

export interface StationInfo {
  readonly mac: string
  readonly fields: Readonly<Record<string, string>>
}

/** Is this datagram an unsolicited event (as opposed to a command reply)? */
export function isEventDatagram(text: string): boolean {
  return /^<\d+>/.test(text)
}

function params(tokens: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const t of tokens) {
    const eq = t.indexOf('=')
    if (eq > 0) out[t.slice(0, eq)] = t.slice(eq + 1)
  }
  return out
}

/** Parses one event datagram; null when it is not an event at all. */
export function parseEvent(text: string): HostapdEvent | null {
  const m = /^<(\d+)>(.*)$/s.exec(text.replace(/\s+$/, ''))
  if (!m) return null
  const level = Number(m[1])
  const body = m[2] ?? ''
  const tokens = body.split(/\s+/).filter(Boolean)
  const name = tokens[0] ?? ''
  if ((name === 'AP-STA-CONNECTED' || name === 'AP-STA-DISCONNECTED') && tokens[1] !== undefined) {
    let mac: string
    try {
      mac = normalizeMac(tokens[1])
    } catch {
      return { kind: 'other', level, name, text: body }
    }
    return { kind: name === 'AP-STA-CONNECTED' ? 'sta-connected' : 'sta-disconnected', level, mac, params: params(tokens.slice(2)) }
  }
  return { kind: 'other', level, name, text: body }
}

/** Parses a `STA`/`STA-FIRST`/`STA-NEXT` reply; null for FAIL or no (more) station. */
export function parseStaReply(text: string): StationInfo | null {
  const lines = text.split('\n').map((l) => l.trim())
  const first = lines[0] ?? ''
  if (first === '' || first === 'FAIL' || first.startsWith('UNKNOWN COMMAND')) return null
  let mac: string
  try {
    mac = normalizeMac(first)
  } catch {
    return null
  }
  const fields: Record<string, string> = {}
  for (const l of lines.slice(1)) {
    const eq = l.indexOf('=')
    if (eq > 0) fields[l.slice(0, eq)] = l.slice(eq + 1)
  }
  return { mac, fields }
}

/**
 * A station counts as connected once its port is authorized: hostapd emits AP-STA-CONNECTED
 * exactly when it sets WLAN_STA_AUTHORIZED, and lists stations still in EAP without that flag.
 */
export function isAuthorized(sta: StationInfo): boolean {
  return /\[AUTHORIZED\]/.test(sta.fields['flags'] ?? '')
}

/** The 802.1X identity (EAP-Response/Identity) hostapd learned for the station, if any. */
export function dot1xIdentity(sta: StationInfo): string | undefined {
  const v = sta.fields['dot1xAuthSessionUserName']
  return v !== undefined && v.length > 0 ? v : undefined
}

/** The station's association ID, which names its per_sta_vif interface (`<iface>.sta<aid>`). */
export function aidOf(sta: StationInfo): number | undefined {
  const v = sta.fields['aid']
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined
}

export function isOk(reply: string): boolean {
  return reply.trim() === 'OK'
}

export function isPong(reply: string): boolean {
  return reply.trim() === 'PONG'
}
