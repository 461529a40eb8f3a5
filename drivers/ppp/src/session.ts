/**
 * What pppd's ipv6-up/ipv6-down hooks hand to the agent, and how a session names its MN
 * (protocol-reference.md §8). Pure: parsed JSON in, typed values out.
 *
 * Arguments (pppd, ipv6-up/ipv6-down): $1 interface-name, $2 tty-device, $3 speed, $4 local
 * link-local address, $5 remote link-local address, $6 ipparam. Environment: PEERNAME only
 * when the peer authenticated; IFNAME, DEVICE, LINKNAME, LLLOCAL, LLREMOTE and others.
 */

export const HOOK_PROTOCOL_VERSION = 1

export type HookEvent = 'ipv6-up' | 'ipv6-down'

/** One line of JSON from a hook. */
export interface HookMessage {
  readonly v: number
  readonly event: HookEvent
  readonly args: readonly string[]
  readonly env: Readonly<Record<string, string>>
}

export interface PppSession {
  readonly event: HookEvent
  readonly ifname: string
  readonly tty: string
  readonly speed: string
  readonly localLinkLocal: string
  readonly remoteLinkLocal: string
  readonly ipparam: string
  readonly peername?: string
  readonly linkname?: string
}

/** Where the MN identifier comes from: the authenticated peer name, the ipparam, or the first there. */
export type IdentitySource = 'peername' | 'ipparam' | 'peername-or-ipparam'

export class HookMessageError extends Error {
  override readonly name = 'HookMessageError'
}

/** Linux interface names: at most 15 bytes, no '/', no whitespace. */
const IFNAME_RE = /^[A-Za-z0-9_.:@-]{1,15}$/

/** Environment keys a hook forwards (pppd's, Debian's PPP_* copies) — nothing else. */
export const FORWARDED_ENV = [
  'IFNAME',
  'DEVICE',
  'LINKNAME',
  'PEERNAME',
  'SPEED',
  'IPLOCAL',
  'IPREMOTE',
  'LLLOCAL',
  'LLREMOTE',
  'ORIG_UID',
  'PPPLOGNAME',
  'CALL_FILE',
  'CONNECT_TIME',
  'BYTES_SENT',
  'BYTES_RCVD',
  'DNS1',
  'DNS2',
  'USEPEERDNS',
  'PPP_IFACE',
  'PPP_TTY',
  'PPP_SPEED',
  'PPP_LOCAL',
  'PPP_REMOTE',
  'PPP_IPPARAM',
] as const

/** Validates a decoded hook message and reads the session out of it. */
export function parseHookMessage(doc: unknown): PppSession {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new HookMessageError('message must be a JSON object')
  const o = doc as Record<string, unknown>
  if (o['v'] !== HOOK_PROTOCOL_VERSION) throw new HookMessageError(`unsupported hook protocol version ${JSON.stringify(o['v'])} (want ${HOOK_PROTOCOL_VERSION})`)
  const event = o['event']
  if (event !== 'ipv6-up' && event !== 'ipv6-down') throw new HookMessageError(`event must be ipv6-up or ipv6-down, not ${JSON.stringify(event)}`)
  const args = o['args']
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new HookMessageError('args must be a list of strings')
  const envRaw = o['env'] ?? {}
  if (typeof envRaw !== 'object' || envRaw === null || Array.isArray(envRaw)) throw new HookMessageError('env must be a mapping')
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(envRaw)) if (typeof v === 'string') env[k] = v
  const a = args as string[]
  // $1 is authoritative; IFNAME is the same value from the environment.
  const ifname = a[0] || env['IFNAME'] || env['PPP_IFACE'] || ''
  if (!IFNAME_RE.test(ifname)) throw new HookMessageError(`not an interface name: ${JSON.stringify(ifname)}`)
  const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v.length > 0 ? v : undefined)
  const peername = nonEmpty(env['PEERNAME'])
  const linkname = nonEmpty(env['LINKNAME'])
  return {
    event,
    ifname,
    tty: a[1] ?? env['DEVICE'] ?? '',
    speed: a[2] ?? env['SPEED'] ?? '',
    localLinkLocal: a[3] ?? env['LLLOCAL'] ?? '',
    remoteLinkLocal: a[4] ?? env['LLREMOTE'] ?? '',
    ipparam: a[5] ?? env['PPP_IPPARAM'] ?? '',
    ...(peername ? { peername } : {}),
    ...(linkname ? { linkname } : {}),
  }
}

/** The MN identifier a session carries, by the configured source; undefined if none. */
export function sessionMnId(s: PppSession, source: IdentitySource): string | undefined {
  const ipparam = s.ipparam.length > 0 ? s.ipparam : undefined
  switch (source) {
    case 'peername':
      return s.peername
    case 'ipparam':
      return ipparam
    case 'peername-or-ipparam':
      return s.peername ?? ipparam
  }
}
