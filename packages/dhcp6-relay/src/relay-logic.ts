/**
 * The MAG's DHCPv6 relay agent decisions (RFC 8415 §19, RFC 5213 §6.11), pure: packets and the
 * current bindings in, actions out; the caller owns the sockets (relay-io.ts).
 *
 * - A client message on an access link is relayed only for an MN with an accepted binding whose
 *   profile allows stateful configuration. link-address is an address from the MN's home network
 *   prefix (§6.11; the local prefix for a Scenario B host-mode MN), formed from the prefix and
 *   the interface identifier of the router link-local address the MN sees. That address is the
 *   same on every MAG of the domain (FixedMAGLinkLocalAddressOnAllAccessLinks, RFC 5213 §9), so
 *   the server selects the same link, and leases, after a handoff.
 * - peer-address is the client's source; an Interface-Id names the access link, so the
 *   Relay-reply finds its way back (RFC 8415 §19.1.1); the client's MAC goes into an RFC 6939
 *   Client Link-Layer Address option when known.
 * - A Relay-forward from another relay on the access link is wrapped again with hop-count + 1,
 *   and dropped when it arrives at HOP_COUNT_LIMIT (RFC 8415 §19.1.2).
 * - A Relay-reply from a server: the link comes from Interface-Id (or, failing that, from the
 *   link-address), the relayed message goes to peer-address on that link, port 546, or 547
 *   when it is itself a Relay-reply for a relay agent (RFC 8415 §19.2).
 * Everything else is dropped and counted by reason.
 */
import { formatIp6, isLinkLocal, parseIp6, parsePrefix, formatMac, parseMac } from '@pmip6/wire'
import { Dhcp6Error } from './codec-errors'
import { clientLinkLayerOption, decode, duidLinkLayer, encode, type Dhcp6Option } from './codec'
import { DHCP6_CLIENT_PORT, DHCP6_SERVER_PORT, HOP_COUNT_LIMIT, MsgType, SERVER_ONLY_TYPES } from './codec-constants'

/** What the relay needs to know of one MN (the agent builds it from the binding and the profile). */
export interface RelayBinding {
  readonly mnId: string
  readonly link: string
  /** MAC text, when the link layer told it. */
  readonly mac: string | null
  readonly mode: 'network' | 'host'
  /** Binding state as the core names it. */
  readonly state: string
  /** Home network prefixes of an accepted binding, or the local prefix in host mode. */
  readonly prefixes: readonly string[]
  /** The profile allows stateful address configuration ('stateful' or 'both'). */
  readonly stateful: boolean
  /** Link-local address the MN sees its router at (the RA source). */
  readonly routerAddress: string
}

/**
 * 'link': Interface-Id is the access link's name (ASCII). 'link-mac': `<link>/<mac>` of the
 * MN that asked, for shared links where one name covers several MNs.
 */
export type InterfaceIdFormat = 'link' | 'link-mac'
export const INTERFACE_ID_FORMATS: readonly InterfaceIdFormat[] = ['link', 'link-mac']

export interface RelayLogicConfig {
  /** Destinations of Relay-forward messages: unicast servers and/or ff05::1:3 (RFC 8415 §19.1). */
  readonly servers: readonly string[]
  readonly interfaceIdFormat?: InterfaceIdFormat
  /** Add the RFC 6939 client link-layer address option when the MN's MAC is known (default true). */
  readonly clientLinkLayer?: boolean
}

export type DropReason =
  | 'malformed' // did not decode (see drop.malformed.<reason>)
  | 'no-binding' // no MN with a binding on this access link
  | 'not-accepted' // the MN's binding is not (yet) accepted
  | 'not-stateful' // the MN's profile allows only stateless configuration
  | 'ambiguous-mn' // several MNs on a shared link, and nothing in the packet says which
  | 'hop-limit' // a Relay-forward at HOP_COUNT_LIMIT (RFC 8415 §19.1.2)
  | 'server-message' // a server-only message type arrived from the client side
  | 'unexpected-type' // not a Relay-reply from the server side
  | 'unknown-interface-id' // a Relay-reply for no access link we serve
  | 'no-servers' // nowhere to relay to

export type RelayAction =
  /** A Relay-forward to one server (UDP 547, from the MAG's own address). */
  | { readonly type: 'to-server'; readonly to: string; readonly bytes: Buffer; readonly mnId: string; readonly msgType: number }
  /** The message inside a Relay-reply, to the client (or inner relay) on an access link. */
  | { readonly type: 'to-client'; readonly link: string; readonly to: string; readonly port: number; readonly src: string; readonly bytes: Buffer; readonly msgType: number }
  | { readonly type: 'drop'; readonly reason: DropReason; readonly detail?: string }

export interface ClientPacket {
  readonly data: Buffer
  /** IPv6 source (the client's link-local, normally). */
  readonly src: string
  /** The access link it arrived on. */
  readonly link: string
}

export interface ServerPacket {
  readonly data: Buffer
  readonly src: string
}

const ACCEPTED: ReadonlySet<string> = new Set(['registered', 'refreshing', 'local'])
const DEFAULT_IID = parseIp6('::1')

/**
 * An address of `prefix` with the interface identifier of `router` (its bits past the prefix
 * length). A host part of all zeros is the Subnet-Router anycast address (RFC 4291 §2.6.1):
 * ::1 then.
 */
export function linkAddressFor(prefix: string, router: string): string {
  const { prefix: p, length } = parsePrefix(prefix)
  let iid = DEFAULT_IID
  try {
    const r = parseIp6(router)
    if (isLinkLocal(r)) iid = r
  } catch {
    // keep ::1
  }
  const out = Buffer.from(p)
  const fill = (src: Buffer): boolean => {
    let nonZero = false
    for (let i = 0; i < 16; i++) {
      const bits = Math.max(0, Math.min(8, length - 8 * i))
      const hostMask = bits === 8 ? 0 : 0xff >> bits
      out[i] = (p[i]! & ~hostMask & 0xff) | (src[i]! & hostMask)
      if ((src[i]! & hostMask) !== 0) nonZero = true
    }
    return nonZero
  }
  if (!fill(iid)) fill(DEFAULT_IID)
  return formatIp6(out)
}

/** EUI-64 interface identifier -> MAC (RFC 4291 App. A), or null when it is not one. */
function macFromEui64(addr: string): string | null {
  let b: Buffer
  try {
    b = parseIp6(addr)
  } catch {
    return null
  }
  if (b[11] !== 0xff || b[12] !== 0xfe) return null
  return formatMac(Buffer.from([b[8]! ^ 0x02, b[9]!, b[10]!, b[13]!, b[14]!, b[15]!]))
}

interface LinkEntry {
  /** The link's bindings by MN: one, or many on a shared link. */
  readonly byMn: Map<string, RelayBinding>
  /** By lower-case MAC: a shared link's client is found by its DUID or EUI-64 in one lookup. */
  readonly byMac: Map<string, RelayBinding>
}

const firstOf = (m: Map<string, RelayBinding>): RelayBinding | undefined => {
  for (const b of m.values()) return b
  return undefined
}

export class RelayLogic {
  private readonly servers: readonly string[]
  private readonly format: InterfaceIdFormat
  private readonly withLl: boolean
  private readonly byMn = new Map<string, RelayBinding>()
  private readonly byLink = new Map<string, LinkEntry>()
  /** link-address -> link, with how many bindings use it. */
  private readonly byLinkAddress = new Map<string, { link: string; n: number }>()
  private readonly ifIdCache = new Map<string, Buffer>()
  /** Each binding's link-address, made once per prefix and router address (not per update). */
  private readonly laOf = new Map<string, string | null>()
  private readonly ctr: Record<string, number> = {}

  constructor(cfg: RelayLogicConfig) {
    this.servers = [...cfg.servers]
    this.format = cfg.interfaceIdFormat ?? 'link'
    this.withLl = cfg.clientLinkLayer ?? true
  }

  /** Replaces the view of all bindings. */
  setBindings(bindings: readonly RelayBinding[]): void {
    this.byMn.clear()
    this.laOf.clear()
    this.byLink.clear()
    this.byLinkAddress.clear()
    for (const b of bindings) this.upsertBinding(b)
  }

  /**
   * Adds or replaces one MN's binding. The agent passes only the MNs that changed: at 100,000
   * bindings a full list per change was the relay's whole cost (issue 8).
   */
  upsertBinding(b: RelayBinding): void {
    const was = this.byMn.get(b.mnId)
    const sameLa = was !== undefined && was.prefixes[0] === b.prefixes[0] && was.routerAddress === b.routerAddress
    if (sameLa && was.link === b.link && was.mac === b.mac) {
      // A state change only (a refresh): values replaced in place. Deleting and re-adding keys
      // would leave holes that make the 100,000-entry maps rehash every few seconds.
      this.byMn.set(b.mnId, b)
      const e = this.byLink.get(b.link)!
      e.byMn.set(b.mnId, b)
      if (b.mac !== null && e.byMac.get(b.mac.toLowerCase()) === was) e.byMac.set(b.mac.toLowerCase(), b)
      return
    }
    const la = sameLa ? (this.laOf.get(b.mnId) ?? null) : this.linkAddressOf(b)
    this.removeBinding(b.mnId)
    this.byMn.set(b.mnId, b)
    this.laOf.set(b.mnId, la)
    let e = this.byLink.get(b.link)
    if (!e) this.byLink.set(b.link, (e = { byMn: new Map(), byMac: new Map() }))
    e.byMn.set(b.mnId, b)
    if (b.mac !== null) e.byMac.set(b.mac.toLowerCase(), b)
    if (la !== null) {
      const r = this.byLinkAddress.get(la)
      if (r && r.link === b.link) r.n++
      else this.byLinkAddress.set(la, { link: b.link, n: 1 })
    }
  }

  /** Forgets one MN's binding (no-op when unknown). */
  removeBinding(mnId: string): void {
    const b = this.byMn.get(mnId)
    if (b === undefined) return
    this.byMn.delete(mnId)
    const e = this.byLink.get(b.link)
    if (e) {
      e.byMn.delete(mnId)
      if (b.mac !== null) {
        const mac = b.mac.toLowerCase()
        if (e.byMac.get(mac) === b) e.byMac.delete(mac)
      }
      if (e.byMn.size === 0) this.byLink.delete(b.link)
    }
    const la = this.laOf.get(mnId) ?? null
    this.laOf.delete(mnId)
    const r = la === null ? undefined : this.byLinkAddress.get(la)
    if (la !== null && r && r.link === b.link && --r.n === 0) this.byLinkAddress.delete(la)
  }

  /** The link-address used for `b`, or null when it has no prefix to take it from. */
  linkAddressOf(b: RelayBinding): string | null {
    const prefix = b.prefixes[0]
    return prefix === undefined ? null : linkAddressFor(prefix, b.routerAddress)
  }

  counters(): Readonly<Record<string, number>> {
    return { ...this.ctr }
  }

  /** A datagram that arrived on UDP 547 on an access link. */
  fromClient(p: ClientPacket): RelayAction[] {
    this.inc('rx.client')
    let m
    try {
      m = decode(p.data)
    } catch (e) {
      return [this.malformed(e)]
    }
    const type = p.data[0]!
    if (m.kind === 'relay-reply' || SERVER_ONLY_TYPES.has(type)) return [this.drop('server-message', `type ${type}`)]
    if (m.kind === 'relay-forward' && m.hopCount >= HOP_COUNT_LIMIT) return [this.drop('hop-limit', `hop-count ${m.hopCount}`)]
    const entry = this.byLink.get(p.link)
    if (!entry || entry.byMn.size === 0) return [this.drop('no-binding', p.link)]
    let b: RelayBinding | undefined
    if (entry.byMn.size === 1) {
      b = firstOf(entry.byMn)
    } else {
      // A shared link: the client's DUID or its EUI-64 link-local names the MN's MAC.
      const duidMac = m.kind === 'client-server' ? duidLinkLayer(m) : null
      const mac = duidMac ? formatMac(duidMac) : macFromEui64(p.src)
      b = mac === null ? undefined : entry.byMac.get(mac)
    }
    if (!b) return [this.drop('ambiguous-mn', p.link)]
    if (!ACCEPTED.has(b.state) || b.prefixes.length === 0) return [this.drop('not-accepted', `${b.mnId} ${b.state}`)]
    if (!b.stateful) return [this.drop('not-stateful', b.mnId)]
    if (this.servers.length === 0) return [this.drop('no-servers')]
    const own = this.laOf.get(b.mnId) ?? this.linkAddressOf(b)!
    const nested = m.kind === 'relay-forward'
    let linkAddress = own
    // RFC 8415 §19.1.2: from another relay with a global source, link-address is left 0.
    if (nested) {
      try {
        const s = parseIp6(p.src)
        if (!isLinkLocal(s) && s.some((x) => x !== 0)) linkAddress = '::'
      } catch {
        // keep ours
      }
    }
    const options: Dhcp6Option[] = []
    // RFC 6939 §4: only the first-hop relay adds the client's link-layer address.
    if (this.withLl && !nested && b.mac !== null) options.push(clientLinkLayerOption(parseMac(b.mac)))
    const bytes = encode({
      kind: 'relay-forward',
      hopCount: m.kind === 'relay-forward' ? m.hopCount + 1 : 0,
      linkAddress,
      peerAddress: p.src,
      relayMessage: p.data,
      interfaceId: this.interfaceId(p.link, b.mac),
      options,
    })
    this.inc(nested ? 'relay-forward.nested' : 'relay-forward.client')
    this.inc(`rx.type.${type}`)
    return this.servers.map((to) => {
      this.inc('tx.relay-forward')
      return { type: 'to-server', to, bytes, mnId: b.mnId, msgType: type } as const
    })
  }

  /** A datagram that arrived on UDP 547 from the server side. */
  fromServer(p: ServerPacket): RelayAction[] {
    this.inc('rx.server')
    let m
    try {
      m = decode(p.data)
    } catch (e) {
      return [this.malformed(e)]
    }
    if (m.kind !== 'relay-reply') return [this.drop('unexpected-type', `type ${p.data[0]!}`)]
    let inner
    try {
      inner = decode(m.relayMessage)
    } catch (e) {
      return [this.malformed(e)]
    }
    let link: string | undefined
    if (m.interfaceId !== null) {
      const text = m.interfaceId.toString('latin1')
      link = this.format === 'link-mac' ? text.slice(0, text.lastIndexOf('/') >= 0 ? text.lastIndexOf('/') : text.length) : text
      if (!this.byLink.has(link)) link = undefined
    } else {
      link = this.byLinkAddress.get(m.linkAddress)?.link
    }
    if (link === undefined) return [this.drop('unknown-interface-id', m.interfaceId?.toString('latin1') ?? m.linkAddress)]
    const entry = this.byLink.get(link)!
    const innerType = m.relayMessage[0]!
    this.inc('tx.to-client')
    return [
      {
        type: 'to-client',
        link,
        to: m.peerAddress,
        port: inner.kind === 'relay-reply' ? DHCP6_SERVER_PORT : DHCP6_CLIENT_PORT,
        src: firstOf(entry.byMn)?.routerAddress ?? '::',
        bytes: m.relayMessage,
        msgType: innerType,
      },
    ]
  }

  private interfaceId(link: string, mac: string | null): Buffer {
    const key = this.format === 'link-mac' ? `${link}/${mac ?? ''}` : link
    let id = this.ifIdCache.get(key)
    if (id === undefined) {
      id = Buffer.from(key, 'latin1')
      if (this.ifIdCache.size > 4096) this.ifIdCache.clear()
      this.ifIdCache.set(key, id)
    }
    return id
  }

  private malformed(e: unknown): RelayAction {
    if (!(e instanceof Dhcp6Error)) throw e
    this.inc(`drop.malformed.${e.reason}`)
    return this.drop('malformed', `${e.reason} at ${e.offset}`)
  }

  private drop(reason: DropReason, detail?: string): RelayAction {
    this.inc(`drop.${reason}`)
    return detail === undefined ? { type: 'drop', reason } : { type: 'drop', reason, detail }
  }

  private inc(k: string): void {
    this.ctr[k] = (this.ctr[k] ?? 0) + 1
  }
}

/** Message type names for logs (RFC 8415 §7.3). */
export function msgTypeName(t: number): string {
  for (const [k, v] of Object.entries(MsgType)) if (v === t) return k.toLowerCase().replace(/_/g, '-')
  return `type-${t}`
}
