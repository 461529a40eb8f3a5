/**
 * The MAG's DHCPv4 server for its MNs (RFC 5844 §3.4.1, MAG as DHCP server): it answers only an
 * MN with an accepted IPv4 binding on the link the request came from, and only with the IPv4
 * home address, prefix length and default router of that binding. It allocates nothing: the
 * LMA did (RFC 5844 §3.1), the MAG learnt it from the PBA, and the agent hands it here as a
 * lease (`setLease`), taking it back on de-registration or detach (`clearLease`).
 *
 * RFC 2131 §4.3: DISCOVER -> OFFER; REQUEST (selecting, init-reboot, renewing, rebinding) -> ACK
 * for the binding's address, NAK for any other; RELEASE and DECLINE are counted, never answered
 * (the address belongs to the binding, not to a pool here); INFORM -> ACK without a lease.
 * Relayed requests (giaddr set) are not served. Pure: no sockets, no clock.
 */
import { formatIp4, isAllZero } from '@pmip6/wire'
import {
  BOOTREPLY,
  BOOTREQUEST,
  FLAG_BROADCAST,
  MsgType,
  MSG_TYPE_NAMES,
  Opt,
  addressOption,
  clientMac,
  ip4,
  maskOf,
  messageType,
  u32be,
  type Dhcp4Message,
  type Dhcp4Option,
} from './codec'

/** What the agent knows of one MN's accepted IPv4 binding (RFC 5844 §3.2.1: the BUL's IPv4 fields, from the PBA). */
export interface Dhcp4Lease {
  readonly mnId: string
  /** Access link name. */
  readonly link: string
  /** The MN's MAC, lower-case colon text (the DHCP chaddr). */
  readonly mac: string
  /** IPv4 home address (IPv4 Home Address Reply, RFC 5844 §3.3.2). */
  readonly address: string
  readonly prefixLength: number
  /** IPv4 default router (RFC 5844 §3.3.3); also this server's identifier on the link. */
  readonly router: string
  /** Lease time handed out, seconds (at most the binding's lifetime). */
  readonly leaseSeconds: number
  /** DNS servers to hand out (RFC 2132 §3.8), optional. */
  readonly dns?: readonly string[]
}

/** Where a reply goes (RFC 2131 §4.1). */
export type Dhcp4Destination = { readonly kind: 'broadcast' } | { readonly kind: 'unicast'; readonly address: string }

/**
 * An address a client without a lease asked for (RFC 5844 §3.4.1: the MAG learns it here and may
 * name it in the PBU, §3.3.1): option 50 of a DISCOVER or REQUEST (RFC 2132 §9.1), else the
 * ciaddr of a renewing or rebinding REQUEST (RFC 2131 §4.3.2).
 */
export interface Dhcp4Requested {
  /** The client hardware address, lower-case colon text. */
  readonly mac: string
  readonly address: string
  readonly via: 'option-50' | 'ciaddr'
}

export type Dhcp4Outcome =
  | { readonly kind: 'reply'; readonly message: Dhcp4Message; readonly to: Dhcp4Destination; readonly mnId: string; readonly type: string }
  | { readonly kind: 'drop'; readonly reason: string; readonly mnId?: string; readonly requested?: Dhcp4Requested }
  /** Counted, not answered (RELEASE, DECLINE). */
  | { readonly kind: 'noted'; readonly type: 'release' | 'decline'; readonly mnId: string; readonly address: string }

/**
 * The address a client asks for in a DISCOVER or REQUEST (see Dhcp4Requested), or undefined. A
 * REQUEST with a Server Identifier answers some server's offer (SELECTING): that is a choice
 * among offers, not the client's own wish, and is not handed on. 0.0.0.0 asks for nothing.
 */
export function requestedAddress(m: Dhcp4Message, type: number, mac: string): Dhcp4Requested | undefined {
  if (type !== MsgType.DISCOVER && type !== MsgType.REQUEST) return undefined
  if (type === MsgType.REQUEST && addressOption(m, Opt.SERVER_ID) !== undefined) return undefined
  const opt50 = addressOption(m, Opt.REQUESTED_IP)
  if (opt50 !== undefined) return opt50 === '0.0.0.0' ? undefined : { mac, address: opt50, via: 'option-50' }
  const ci = formatIp4(m.ciaddr)
  return type === MsgType.REQUEST && ci !== '0.0.0.0' ? { mac, address: ci, via: 'ciaddr' } : undefined
}

export class Dhcp4Server {
  readonly #byMac = new Map<string, Dhcp4Lease>()
  readonly #byMn = new Map<string, Dhcp4Lease>()
  readonly counters: Record<string, number> = {}

  #inc(k: string): void {
    this.counters[k] = (this.counters[k] ?? 0) + 1
  }

  /** An MN's accepted IPv4 binding, or its update (handoff to this MAG, refresh). */
  setLease(l: Dhcp4Lease): void {
    const mac = l.mac.toLowerCase()
    const old = this.#byMn.get(l.mnId)
    if (old !== undefined) this.#byMac.delete(old.mac)
    const lease = { ...l, mac }
    this.#byMn.set(l.mnId, lease)
    this.#byMac.set(mac, lease)
  }

  /** The binding is gone (de-registration, detach, refusal): the MN gets no answers any more. */
  clearLease(mnId: string): void {
    const l = this.#byMn.get(mnId)
    if (l === undefined) return
    this.#byMn.delete(mnId)
    this.#byMac.delete(l.mac)
  }

  lease(mnId: string): Dhcp4Lease | undefined {
    return this.#byMn.get(mnId)
  }

  leases(): Dhcp4Lease[] {
    return [...this.#byMn.values()]
  }

  /** Handles one request that arrived on `link`. */
  handle(link: string, m: Dhcp4Message): Dhcp4Outcome {
    const drop = (reason: string, mnId?: string): Extract<Dhcp4Outcome, { kind: 'drop' }> => {
      this.#inc(`drop.${reason}`)
      return { kind: 'drop', reason, ...(mnId !== undefined ? { mnId } : {}) }
    }
    if (m.op !== BOOTREQUEST) return drop('not-a-request')
    const type = messageType(m)
    if (type === undefined) return drop('no-message-type') // BOOTP clients are not served
    if (!isAllZero(m.giaddr)) return drop('relayed')
    const mac = clientMac(m)
    if (mac === undefined) return drop('not-ethernet')
    const lease = this.#byMac.get(mac)
    // RFC 5844 §3.4: nothing is answered for an MN without an accepted IPv4 binding, nor on
    // another link than the binding's. What it asked for is handed on (the next PBU may name it).
    if (lease === undefined) {
      const requested = requestedAddress(m, type, mac)
      if (requested === undefined) return drop('no-binding')
      this.#inc('requested')
      return { ...drop('no-binding'), requested }
    }
    if (lease.link !== link) return drop('wrong-link', lease.mnId)
    this.#inc(`rx.${MSG_TYPE_NAMES[type] ?? 'other'}`)
    const requested = addressOption(m, Opt.REQUESTED_IP)
    const serverId = addressOption(m, Opt.SERVER_ID)
    const ciaddr = formatIp4(m.ciaddr)
    switch (type) {
      case MsgType.DISCOVER:
        return this.#reply(m, lease, MsgType.OFFER)
      case MsgType.REQUEST: {
        // RFC 2131 §4.3.2: SELECTING names a server; another server's offer is not ours to answer.
        if (serverId !== undefined && serverId !== lease.router) return drop('other-server', lease.mnId)
        const asked = requested ?? (ciaddr !== '0.0.0.0' ? ciaddr : undefined)
        if (asked === lease.address) return this.#reply(m, lease, MsgType.ACK)
        return this.#reply(m, lease, MsgType.NAK)
      }
      case MsgType.INFORM:
        return this.#reply(m, lease, MsgType.ACK, true)
      case MsgType.RELEASE:
        this.#inc('release')
        return { kind: 'noted', type: 'release', mnId: lease.mnId, address: ciaddr }
      case MsgType.DECLINE:
        // RFC 2131 §4.3.3: the address is in use on the link. It is the binding's, so there is
        // no other to give: counted and logged for the operator.
        this.#inc('decline')
        return { kind: 'noted', type: 'decline', mnId: lease.mnId, address: requested ?? ciaddr }
      default:
        return drop('unexpected-type', lease.mnId)
    }
  }

  #reply(req: Dhcp4Message, l: Dhcp4Lease, type: number, inform = false): Dhcp4Outcome {
    const nak = type === MsgType.NAK
    const opts: Dhcp4Option[] = [
      { code: Opt.MESSAGE_TYPE, data: Buffer.from([type]) },
      { code: Opt.SERVER_ID, data: ip4(l.router) },
    ]
    if (!nak) {
      if (!inform) {
        opts.push({ code: Opt.LEASE_TIME, data: u32be(l.leaseSeconds) })
        // RFC 2131 §4.4.5: T1 0.5 and T2 0.875 of the lease.
        opts.push({ code: Opt.RENEWAL_TIME, data: u32be(Math.floor(l.leaseSeconds / 2)) })
        opts.push({ code: Opt.REBINDING_TIME, data: u32be(Math.floor((l.leaseSeconds * 7) / 8)) })
      }
      opts.push({ code: Opt.SUBNET_MASK, data: maskOf(l.prefixLength) })
      opts.push({ code: Opt.ROUTER, data: ip4(l.router) })
      if (l.dns !== undefined && l.dns.length > 0) opts.push({ code: Opt.DNS, data: Buffer.concat(l.dns.map(ip4)) })
    }
    const message: Dhcp4Message = {
      op: BOOTREPLY,
      htype: req.htype,
      hlen: req.hlen,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: inform ? req.ciaddr : Buffer.alloc(4),
      yiaddr: nak || inform ? Buffer.alloc(4) : ip4(l.address),
      siaddr: Buffer.alloc(4),
      giaddr: Buffer.alloc(4),
      chaddr: req.chaddr,
      sname: Buffer.alloc(64),
      file: Buffer.alloc(128),
      options: opts,
    }
    // RFC 2131 §4.1: a NAK is broadcast; a client with an address (ciaddr) gets unicast; the
    // rest is broadcast (the server sends no ARP-less unicast to an unconfigured client).
    const ci = formatIp4(req.ciaddr)
    const to: Dhcp4Destination = !nak && ci !== '0.0.0.0' && (req.flags & FLAG_BROADCAST) === 0 ? { kind: 'unicast', address: ci } : { kind: 'broadcast' }
    const name = MSG_TYPE_NAMES[type] ?? 'other'
    this.#inc(`tx.${name}`)
    return { kind: 'reply', message, to, mnId: l.mnId, type: name }
  }
}
