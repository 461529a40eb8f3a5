/**
 * `mag trace`: PMIPv6 exchanges as a ladder (message sequence) diagram. Columns are nodes
 * (mobile nodes, MAGs, LMAs, then everyone else), one arrow per signalling message (PBU, PBA,
 * Heartbeat, Binding Error, RS, RA, DHCPv6, ICMPv6 errors, ESP), each labelled with its key
 * fields; user traffic between arrows is summarised per flow (echo requests and replies,
 * which MAG's tunnel carried them).
 *
 * Who is who is learned from the messages themselves: the sender of a PBU is a MAG and its
 * receiver an LMA (RFC 5213 §6.9.1.1), a router advertising on a link is that link's MAG, a host
 * soliciting routers is a mobile node, known by its MAC. Interfaces named `<node>:<link>` (what
 * `mag lab capture` writes) name the MAGs and the lab's MNs; a `hints` table names the rest.
 */
import { BA_STATUS_NAMES, formatPrefix, type MhMessage, type MobilityOption, type NdMessage } from '@pmip6/wire'
import { MsgType, type ClientServerMessage, type RelayMessage } from '@pmip6/dhcp6-relay'
import type { Frame, Ip, Upper } from '../pcap/dissect'

export interface TracePacket {
  /** Microseconds since the epoch. */
  readonly us: number
  /** Interface name as the capture gives it (`mag1:mn1` in lab captures). */
  readonly iface: string
  readonly frame: Frame
}

export type Row =
  | { readonly kind: 'arrow'; readonly us: number; readonly dtUs: number; readonly from: number; readonly to: number; readonly label: string; readonly iface: string }
  | { readonly kind: 'note'; readonly us: number; readonly text: string }

/** Names for addresses the capture alone cannot tell (the lab's CN, for instance). */
export type Hints = Readonly<Record<string, string>>

type Role = 'mn' | 'mag' | 'lma' | 'other'
const ROLE_ORDER: Record<Role, number> = { mn: 0, mag: 1, lma: 2, other: 3 }

interface Node {
  readonly name: string
  readonly role: Role
  readonly first: number
}

const DHCP_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(MsgType).map(([k, v]) => [v, k.toLowerCase().replace(/_(.)/g, (_, c: string) => c.toUpperCase()).replace(/^./, (c) => c.toUpperCase())]),
)

const HI_SHORT: Record<number, string> = { 0: 'reserved', 1: 'new', 2: 'if-switch', 3: 'mag-switch', 4: 'unknown', 5: 'unchanged' }

const ICMP_ERRORS: Record<number, string> = { 1: 'Destination Unreachable', 2: 'Packet Too Big', 3: 'Time Exceeded', 4: 'Parameter Problem' }

const isMulticast = (a: string): boolean => a.toLowerCase().startsWith('ff')
const isLinkLocal = (a: string): boolean => /^fe[89ab]/i.test(a)

function splitIface(iface: string): { node: string; link: string } | null {
  const m = /^([^:\s]+):(\S+)$/.exec(iface)
  return m ? { node: m[1]!, link: m[2]! } : null
}

function prefixes(opts: readonly MobilityOption[]): string {
  return opts
    .filter((o): o is Extract<MobilityOption, { type: 'hnp' }> => o.type === 'hnp')
    .map((o) => formatPrefix(o.prefix, o.prefixLength))
    .join(',')
}

function mnIdOf(opts: readonly MobilityOption[]): string | null {
  const o = opts.find((x): x is Extract<MobilityOption, { type: 'mn-id' }> => x.type === 'mn-id')
  return o ? o.id.toString('utf8') : null
}

function mhLabel(m: MhMessage): string {
  switch (m.kind) {
    case 'binding-update': {
      const hi = m.options.find((o): o is Extract<MobilityOption, { type: 'handoff-indicator' }> => o.type === 'handoff-indicator')
      const p = prefixes(m.options)
      const id = mnIdOf(m.options)
      return [`PBU${m.flags.p ? '' : '(no P)'}`, id, `seq=${m.sequence}`, hi ? `HI=${hi.value}(${HI_SHORT[hi.value] ?? '?'})` : null, `lt=${m.lifetime}${m.lifetime === 0 ? '(dereg)' : ''}`, p ? `HNP=${p}` : null].filter(Boolean).join(' ')
    }
    case 'binding-ack': {
      const p = prefixes(m.options)
      const name = m.status === 0 ? 'accepted' : (BA_STATUS_NAMES[m.status] ?? 'unknown')
      return [`PBA${m.flags.p ? '' : '(no P)'}`, `seq=${m.sequence}`, `status=${m.status}(${name})`, `lt=${m.lifetime}`, p ? `HNP=${p}` : null].filter(Boolean).join(' ')
    }
    case 'binding-error':
      return `Binding Error status=${m.status}`
    case 'heartbeat':
      return `Heartbeat ${m.flags.r ? 'response' : 'request'}${m.flags.u ? ' (unsolicited)' : ''} seq=${m.sequence}`
    case 'other':
      return `MH type ${m.mhType}`
  }
}

function ndLabel(m: NdMessage): string {
  if (m.kind === 'router-solicitation') return 'RS'
  const parts = [`RA rtr-lt=${m.routerLifetime}${m.routerLifetime === 0 ? '(not a router)' : ''}`]
  for (const o of m.options) {
    if (o.type === 'prefix-info') parts.push(`PIO=${formatPrefix(o.prefix, o.prefixLength)} valid=${o.validLifetime}`)
    else if (o.type === 'mtu') parts.push(`mtu=${o.mtu}`)
  }
  if (m.flags.managed) parts.push('M')
  if (m.flags.other) parts.push('O')
  return parts.join(' ')
}

function dhcpLabel(relays: readonly RelayMessage[], msg: ClientServerMessage): string {
  const inner = DHCP_NAMES[msg.msgType] ?? `type ${msg.msgType}`
  if (relays.length === 0) return `DHCPv6 ${inner}`
  return `DHCPv6 ${relays[0]!.kind === 'relay-forward' ? 'Relay-forward' : 'Relay-reply'}(${inner})`
}

/** The label of a signalling message, or null for user traffic and housekeeping. */
function signalLabel(u: Upper): string | null {
  switch (u.kind) {
    case 'mh':
      return mhLabel(u.msg)
    case 'nd':
      return ndLabel(u.msg)
    case 'dhcp6':
      return dhcpLabel(u.relays, u.msg)
    case 'icmp-error':
      return `ICMPv6 ${ICMP_ERRORS[u.type] ?? `type ${u.type}`}${u.type === 2 ? ` mtu=${u.value}` : u.type === 4 ? ` code=${u.code} pointer=${u.value}` : ` code=${u.code}`}`
    case 'esp':
      return `ESP spi=0x${u.spi.toString(16)} #${u.seq}`
    case 'undecodable':
      return `UNDECODABLE ${u.what}: ${u.reason}`
    default:
      return null
  }
}

/** A flow of user traffic between two arrows, summarised on one line. */
interface Flow {
  a: string
  b: string
  proto: string
  requests: Set<number>
  replies: Set<number>
  packets: number
  via: Set<string>
  first: number
  last: number
}

const DEDUP_WINDOW_US = 50_000

/** MNs and MAGs stand in name order (mn2 before mn10), whichever spoke first, so a ladder's
 * columns are the same on every run of the same lab. */
const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true })

export class LadderBuilder {
  private readonly nodes = new Map<string, Node>()
  /** Address or MAC -> node key. */
  private readonly who = new Map<string, string>()
  /** Access interface -> the MAG it belongs to, and MNs seen on it. */
  private readonly ifaceMag = new Map<string, string>()
  private readonly ifaceMns = new Map<string, Set<string>>()
  private readonly routerMacs = new Set<string>()
  /** Interfaces PBUs were captured on: transport links, never access links. */
  private readonly uplinks = new Set<string>()
  private readonly routerLinkLocals = new Map<string, string>()
  private order = 0
  private lastArrowUs: number | null = null
  private readonly flows = new Map<string, Flow>()
  private readonly recent = new Map<string, number>()
  /** Called when the column set changes (live mode reprints its header). */
  onColumns: (() => void) | null = null

  constructor(private readonly hints: Hints = {}) {}

  private node(key: string, name: string, role: Role): string {
    const n = this.nodes.get(key)
    if (!n) {
      this.nodes.set(key, { name, role, first: this.order++ })
      this.onColumns?.()
    } else if (ROLE_ORDER[role] < ROLE_ORDER[n.role] && n.role === 'other') {
      this.nodes.set(key, { ...n, name, role })
      this.onColumns?.()
    }
    return key
  }

  /** Column names, in ladder order. */
  columns(): string[] {
    return this.sorted().map((n) => n.name)
  }

  private sorted(): (Node & { key: string })[] {
    return [...this.nodes.entries()].map(([key, n]) => ({ key, ...n })).sort((x, y) => ROLE_ORDER[x.role] - ROLE_ORDER[y.role] || (x.role === 'mag' || x.role === 'mn' ? byName(x.name, y.name) : x.first - y.first))
  }

  private col(key: string): number {
    return this.sorted().findIndex((n) => n.key === key)
  }

  private magOfIface(iface: string): string {
    const s = splitIface(iface)
    const name = s?.node ?? `MAG(${iface})`
    return this.node(`mag:${name}`, name, 'mag')
  }

  private mnByMac(mac: string, iface: string): string {
    const known = this.who.get(mac)
    if (known) return known
    const s = splitIface(iface)
    // The lab names each MN's access link after the MN (mag1:mn1 serves mn1).
    const name = s && /^mn\d+$/.test(s.link) ? s.link : `MN ${mac}`
    const key = this.node(`mn:${name}`, name, 'mn')
    this.who.set(mac, key)
    return key
  }

  private addressNode(addr: string, iface: string, sending: boolean): string {
    const known = this.who.get(addr)
    if (known) return known
    const hint = this.hints[addr]
    if (hint) {
      const key = this.node(`other:${hint}`, hint, 'other')
      this.who.set(addr, key)
      return key
    }
    const s = splitIface(iface)
    // An address first seen sending on <node>:<link>, and known as nothing else, is that node's.
    const name = sending && s && !this.nodes.has(`mag:${s.node}`) ? s.node : addr
    const key = this.node(`other:${name}`, name, 'other')
    this.who.set(addr, key)
    return key
  }

  /**
   * Learns roles from one packet. Call it for every packet before `add` when the whole capture
   * is at hand (file mode); live mode calls `add` alone, which learns as it goes.
   */
  learn(p: TracePacket): void {
    const ip = p.frame.ip
    if (!ip) return
    const u = ip.upper
    if (u.kind === 'mh' && u.msg.kind === 'binding-update') {
      // Named after the node it was captured at, the first time: the same PBU captured again
      // further along its path (at the LMA) is still this MAG's.
      this.uplinks.add(p.iface)
      const known = this.who.get(ip.src)
      if (known === undefined || this.nodes.get(known)?.role !== 'mag') {
        const magName = splitIface(p.iface)?.node ?? ip.src
        this.who.set(ip.src, this.node(`mag:${magName}`, magName, 'mag'))
      }
      if (!this.who.has(ip.dst) || this.nodes.get(this.who.get(ip.dst)!)?.role === 'other') {
        const existing = [...this.nodes.values()].filter((n) => n.role === 'lma').length
        const name = this.hints[ip.dst] ?? (existing === 0 ? 'LMA' : `LMA ${ip.dst}`)
        this.who.set(ip.dst, this.node(`lma:${ip.dst}`, name, 'lma'))
      }
      return
    }
    if (u.kind === 'nd' && u.msg.kind === 'router-advertisement') {
      const mag = this.magOfIface(p.iface)
      this.ifaceMag.set(p.iface, mag)
      if (p.frame.srcMac) this.routerMacs.add(p.frame.srcMac)
      this.routerLinkLocals.set(`${p.iface}|${ip.src}`, mag)
      if (p.frame.dstMac && !p.frame.dstMac.startsWith('33:33')) this.noteMn(p, p.frame.dstMac, ip.dst)
      return
    }
    if ((u.kind === 'nd' && u.msg.kind === 'router-solicitation') || (u.kind === 'dhcp6' && u.relays.length === 0 && ip.dst.toLowerCase() === 'ff02::1:2')) {
      // Any host solicits routers (the lab's CN does too): only one on a MAG's link is an MN.
      if (this.accessMag(p.iface)) this.noteMn(p, p.frame.srcMac ?? ip.src, ip.src)
      return
    }
    // Any other packet on an access link from a host that is not the router is its MN's: this
    // is how the MN's global addresses come to be known.
    if (this.ifaceMag.has(p.iface) && p.frame.srcMac && !this.routerMacs.has(p.frame.srcMac)) this.noteMn(p, p.frame.srcMac, ip.src)
  }

  /** The MAG whose access link this is: it advertised on it, or the interface is a MAG's own. */
  private accessMag(iface: string): string | undefined {
    const known = this.ifaceMag.get(iface)
    if (known) return known
    const s = splitIface(iface)
    const mag = s ? `mag:${s.node}` : ''
    if (!this.nodes.has(mag) || [...this.who.entries()].some(([, k]) => k === mag) === false) return undefined
    // A MAG's uplink carries its PBUs; any other interface of it is an access link.
    if (this.uplinks.has(iface)) return undefined
    this.ifaceMag.set(iface, mag)
    return mag
  }

  private noteMn(p: TracePacket, mac: string, addr: string): void {
    if (addr === '::') return
    const mn = this.mnByMac(mac, p.iface)
    if (!isMulticast(addr) && !this.who.has(addr)) this.who.set(addr, mn)
    let s = this.ifaceMns.get(p.iface)
    if (!s) this.ifaceMns.set(p.iface, (s = new Set()))
    s.add(mn)
  }

  private endpoint(p: TracePacket, addr: string, mac: string | undefined, sending: boolean): string {
    const onAccess = this.ifaceMag.get(p.iface)
    if (onAccess) {
      if (sending) {
        if ((mac && this.routerMacs.has(mac)) || this.routerLinkLocals.has(`${p.iface}|${addr}`)) return onAccess
        if (mac) return this.mnByMac(mac, p.iface)
      } else if (isMulticast(addr)) {
        // All-routers goes to this link's MAG; all-nodes to the MNs on it.
        if (addr.toLowerCase() === 'ff02::2' || addr.toLowerCase() === 'ff02::1:2') return onAccess
        const mns = this.ifaceMns.get(p.iface)
        if (mns && mns.size > 0) return [...mns][0]!
      } else if (mac && this.routerMacs.has(mac)) {
        return onAccess
      } else if (mac && !mac.startsWith('33:33')) {
        return this.mnByMac(mac, p.iface)
      }
      if (isLinkLocal(addr) && this.routerLinkLocals.has(`${p.iface}|${addr}`)) return onAccess
    }
    return this.addressNode(addr, p.iface, sending)
  }

  /** Adds one packet; returns the rows it completes (a flushed traffic summary, its arrow). */
  add(p: TracePacket): Row[] {
    this.learn(p)
    const ip = p.frame.ip
    if (!ip) return p.frame.error ? this.arrowless(p.us, `${p.iface}: UNDECODABLE frame (${p.frame.error})`) : []
    const label = signalLabel(ip.upper)
    if (label === null) {
      this.traffic(p, ip)
      return []
    }
    // Router solicitations of hosts on links no MAG serves (the CN's) and anything else to a
    // multicast group nobody here answers for are not part of the story.
    if (ip.upper.kind === 'nd' && ip.upper.msg.kind === 'router-solicitation' && !this.accessMag(p.iface)) return []
    if (isMulticast(ip.dst) && !this.accessMag(p.iface)) return []
    const from = this.endpoint(p, ip.src, p.frame.srcMac, true)
    const to = this.endpoint(p, ip.dst, p.frame.dstMac, false)
    // The same message captured at two points of its path is one arrow.
    const key = `${from}>${to}|${label}`
    const seen = this.recent.get(key)
    this.recent.set(key, p.us)
    if (seen !== undefined && p.us - seen < DEDUP_WINDOW_US) return []
    if (this.recent.size > 4096) this.recent.clear()
    const rows = this.flush()
    rows.push({ kind: 'arrow', us: p.us, dtUs: this.lastArrowUs === null ? 0 : p.us - this.lastArrowUs, from: this.col(from), to: this.col(to), label, iface: p.iface })
    this.lastArrowUs = p.us
    return rows
  }

  private arrowless(us: number, text: string): Row[] {
    const rows = this.flush()
    rows.push({ kind: 'note', us, text })
    return rows
  }

  private traffic(p: TracePacket, outer: Ip): void {
    let ip = outer
    let via: string | null = null
    if (ip.upper.kind === 'tunnel') {
      const mag = [this.who.get(ip.src), this.who.get(ip.dst)].find((k) => k !== undefined && this.nodes.get(k)?.role === 'mag')
      via = mag ? this.nodes.get(mag)!.name : `${ip.src}<->${ip.dst}`
      ip = ip.upper.inner
    }
    const u = ip.upper
    if (u.kind === 'ns' || u.kind === 'na' || u.kind === 'icmp-other') return // neighbour discovery housekeeping
    // A named host that only exchanges user traffic (the lab's CN) still gets its column.
    if (!via && !this.who.has(ip.src) && !isLinkLocal(ip.src) && (this.hints[ip.src] || splitIface(p.iface))) this.addressNode(ip.src, p.iface, true)
    const a = this.nameOf(ip.src)
    const b = this.nameOf(ip.dst)
    const [x, y] = a <= b ? [a, b] : [b, a]
    const proto = u.kind === 'echo' ? 'ICMPv6 echo' : u.kind === 'udp' ? `UDP ${Math.min(u.sport, u.dport)}` : u.kind === 'tcp' ? `TCP ${Math.min(u.sport, u.dport)}` : u.kind === 'fragment' ? 'fragments' : u.kind === 'other' ? `proto ${u.proto}` : u.kind
    const key = `${x}|${y}|${proto}`
    let f = this.flows.get(key)
    if (!f) this.flows.set(key, (f = { a: u.kind === 'echo' && u.reply ? b : a, b: u.kind === 'echo' && u.reply ? a : b, proto, requests: new Set(), replies: new Set(), packets: 0, via: new Set(), first: p.us, last: p.us }))
    f.packets++
    f.last = p.us
    if (u.kind === 'echo') (u.reply ? f.replies : f.requests).add((u.id << 16) | u.seq)
    if (via) f.via.add(via)
  }

  private nameOf(addr: string): string {
    const k = this.who.get(addr)
    if (k) return this.nodes.get(k)!.name
    return this.hints[addr] ?? addr
  }

  /** Summarises the traffic since the last arrow. */
  flush(): Row[] {
    const rows: Row[] = []
    for (const f of this.flows.values()) {
      const span = ((f.last - f.first) / 1e6).toFixed(2)
      const via = f.via.size > 0 ? `, tunnelled via ${[...f.via].sort().join(' and ')}` : ''
      const what = f.proto === 'ICMPv6 echo' ? `${f.requests.size} requests, ${f.replies.size} replies` : `${f.packets} packets`
      rows.push({ kind: 'note', us: f.first, text: `${f.proto} ${f.a} -> ${f.b}: ${what} over ${span} s${via}` })
    }
    this.flows.clear()
    return rows
  }
}

export interface Ladder {
  readonly columns: readonly string[]
  readonly rows: readonly Row[]
  readonly startUs: number
}

/** The whole ladder of a capture held in memory. */
export function buildLadder(packets: readonly TracePacket[], hints: Hints = {}): Ladder {
  const b = new LadderBuilder(hints)
  // Twice: an MN's first RS may come before the packet that shows its link is a MAG's.
  for (let pass = 0; pass < 2; pass++) for (const p of packets) b.learn(p)
  const rows: Row[] = []
  for (const p of packets) rows.push(...b.add(p))
  rows.push(...b.flush())
  return { columns: b.columns(), rows, startUs: packets[0]?.us ?? 0 }
}

// ---- text ----

const TIME_W = 20

export function columnWidth(columns: readonly string[]): number {
  return Math.max(16, ...columns.map((c) => c.length + 3))
}

export function headerLines(columns: readonly string[]): string[] {
  const w = columnWidth(columns)
  let names = ' '.repeat(TIME_W)
  let lines = ' '.repeat(TIME_W)
  columns.forEach((c, i) => {
    const centre = TIME_W + i * w + Math.floor(w / 2)
    names = names.padEnd(centre - Math.floor(c.length / 2)) + c
    lines = lines.padEnd(centre) + '|'
  })
  return [names.trimEnd(), lines.trimEnd()]
}

function fmtTime(us: number, startUs: number, dtUs: number): string {
  const t = `${((us - startUs) / 1e6).toFixed(3)}s`
  const dt = dtUs >= 1e6 ? `+${(dtUs / 1e6).toFixed(2)}s` : `+${(dtUs / 1e3).toFixed(1)}ms`
  return `${t.padStart(9)} ${dt.padStart(9)}`.padEnd(TIME_W)
}

/** Two lines per arrow (label, then the arrow over the lifelines), one line per note. */
export function rowLines(r: Row, columns: readonly string[], startUs: number): string[] {
  const w = columnWidth(columns)
  const centre = (i: number): number => TIME_W + i * w + Math.floor(w / 2)
  const life = (chars: string[]): void => {
    for (let i = 0; i < columns.length; i++) if (chars[centre(i)] === ' ') chars[centre(i)] = '|'
  }
  const width = TIME_W + columns.length * w + (r.kind === 'arrow' ? r.label.length : 0) + 8
  if (r.kind === 'note') {
    const text = `  ${fmtTime(r.us, startUs, 0).slice(0, 9)}  ~ ${r.text}`
    return [text.trimEnd()]
  }
  const a = Math.min(centre(r.from), centre(r.to))
  const b = Math.max(centre(r.from), centre(r.to))
  const label = Array<string>(width).fill(' ')
  life(label)
  for (let k = 0; k < r.label.length; k++) label[a + 2 + k] = r.label[k]!
  const arrow = Array<string>(width).fill(' ')
  life(arrow)
  const t = fmtTime(r.us, startUs, r.dtUs)
  for (let k = 0; k < t.length; k++) arrow[k] = t[k]!
  if (r.from === r.to) {
    arrow[a + 1] = '<'
    arrow[a + 2] = '-'
    arrow[a + 3] = '+'
  } else {
    for (let x = a + 1; x < b; x++) arrow[x] = '-'
    if (r.to > r.from) arrow[b - 1] = '>'
    else arrow[a + 1] = '<'
  }
  return [label.join('').trimEnd(), arrow.join('').trimEnd()]
}

export function renderText(l: Ladder): string {
  const out = [...headerLines(l.columns)]
  for (const r of l.rows) out.push(...rowLines(r, l.columns, l.startUs))
  return out.join('\n') + '\n'
}

// ---- SVG ----

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function renderSvg(l: Ladder): string {
  const colW = Math.max(170, ...l.columns.map((c) => c.length * 8 + 30))
  const left = 150
  const top = 50
  const arrowH = 36
  const noteH = 22
  const height = top + l.rows.reduce((h, r) => h + (r.kind === 'arrow' ? arrowH : noteH), 0) + 30
  const x = (i: number): number => left + i * colW + colW / 2
  // Labels start at an arrow's left end and may run past the last lifeline.
  const labelEnd = l.rows.reduce((m, r) => (r.kind === 'arrow' ? Math.max(m, Math.min(x(r.from), x(r.to)) + 6 + r.label.length * 7.3) : Math.max(m, left + r.text.length * 7.3)), 0)
  const width = Math.ceil(Math.max(left + l.columns.length * colW + 40, labelEnd + 20))
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, monospace" font-size="12">`,
    '<defs><marker id="head" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#222"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ]
  l.columns.forEach((c, i) => {
    parts.push(`<text x="${x(i)}" y="${top - 24}" text-anchor="middle" font-weight="bold" font-size="14">${esc(c)}</text>`)
    parts.push(`<line x1="${x(i)}" y1="${top - 14}" x2="${x(i)}" y2="${height - 16}" stroke="#999" stroke-dasharray="4 3"/>`)
  })
  let y = top
  for (const r of l.rows) {
    const t = ((r.us - l.startUs) / 1e6).toFixed(3)
    if (r.kind === 'note') {
      parts.push(`<text x="10" y="${y + 15}" fill="#777">${t}s</text>`)
      parts.push(`<text x="${left}" y="${y + 15}" fill="#2a6" font-style="italic">${esc(r.text)}</text>`)
      y += noteH
      continue
    }
    const color = /^PBA.*status=(1[2-9]\d|2\d\d)/.test(r.label) || r.label.startsWith('UNDECODABLE') || r.label.startsWith('Binding Error') ? '#c22' : r.label.startsWith('PB') || r.label.startsWith('Heartbeat') ? '#14c' : '#222'
    const dt = r.dtUs >= 1e6 ? `+${(r.dtUs / 1e6).toFixed(2)}s` : `+${(r.dtUs / 1e3).toFixed(1)}ms`
    parts.push(`<text x="10" y="${y + 26}" fill="#555">${t}s ${dt}</text>`)
    const x1 = x(r.from)
    const x2 = r.from === r.to ? x(r.from) + 40 : x(r.to)
    parts.push(`<text x="${Math.min(x1, x2) + 6}" y="${y + 14}" fill="${color}">${esc(r.label)}</text>`)
    parts.push(`<line x1="${x1}" y1="${y + 24}" x2="${x2}" y2="${y + 24}" stroke="${color}" stroke-width="1.5" marker-end="url(#head)"/>`)
    y += arrowH
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
