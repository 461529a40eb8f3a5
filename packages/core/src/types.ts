/**
 * Types of the sans-IO MAG core: the events it consumes, the commands it emits, its
 * configuration, the policy profile (RFC 5213 §6.2) and the read-only view of the Binding
 * Update List (RFC 5213 §6.1). Config types here are what the core needs, not the daemon's
 * file format (design.md: "Config types are not core types").
 */
import type { BindingError, Heartbeat, ProxyBindingAck, ProxyBindingUpdate, RouterAdvertisement } from '@pmip6/wire'

/** Wall-clock milliseconds since 1970-01-01 UTC (the timestamp option is derived from it). */
export type Millis = number
/**
 * An access link: the interface name the MN is reached through. On a point-to-point link
 * (PPP, a per-station VLAN) one MN owns the link. A link listed as shared in the config (a
 * Wi-Fi AP interface) carries several MNs told apart by their link-layer id (MAC).
 */
export type LinkRef = string
/**
 * `<kind>/<mnId>`, e.g. `pbu/mn1@example.com`, kind one of TimerKind; or `hb/<lma>`, the
 * heartbeat timer of one LMA (RFC 5847), e.g. `hb/2001:db8:ffff::2`.
 */
export type TimerKey = string
export type TimerKind = 'pbu' | 'refresh' | 'expire' | 'ra' | 'rs'

/**
 * What the driver knows about why the MN attached (RFC 5213 §6.9.1.1 items 4-5):
 * 'new' a new interface (HI 1); 'same-interface' this interface moved from another MAG (HI 3);
 * 'other-interface' the MN switched interfaces on purpose (HI 2); 'unknown' or absent (HI 4).
 */
export type HandoffHint = 'new' | 'same-interface' | 'other-interface' | 'unknown'
export type MobilityMode = 'network' | 'host'
export type AddressConfig = 'stateless' | 'stateful' | 'both'
/**
 * RFC 5844 §3.2.2 (the policy profile's IP versions): the home addresses an MN gets. 'ipv6'
 * (RFC 5213 only, the default), 'ipv4' (an IPv4 home address and no home network prefix) or
 * 'dual' (both).
 */
export type IpStack = 'ipv6' | 'ipv4' | 'dual'

/** RFC 5213 §6.2 policy profile, as the policy store hands it to the core. */
export interface PolicyProfile {
  /** MN-Identifier (an NAI, RFC 4283). */
  readonly mnId: string
  /** LMAA: IPv6 address of the local mobility anchor. */
  readonly lma: string
  /** Home network prefixes to request, e.g. '2001:db8:1:1::/64'; absent: the LMA assigns. */
  readonly homePrefixes?: readonly string[]
  /** Home network prefix lifetime in seconds: caps the RA prefix lifetimes (RFC 5213 §6.7). */
  readonly prefixLifetime?: number
  /** Address configuration procedures allowed (RFC 5213 §6.2, §6.4); default 'stateless'. */
  readonly addressConfig?: AddressConfig
  /** 'network' (PMIPv6, default) or 'host' (RFC 6612 Scenario B: the MN runs Mobile IPv6). */
  readonly mode?: MobilityMode
  /** Link-layer ids (MAC text) that identify this MN when the driver knows nothing else. */
  readonly macs?: readonly string[]
  /** RA O flag; default: set when stateful configuration is allowed. */
  readonly otherConfig?: boolean
  /** RFC 5844 §3.2.2: IPv6-only (default), IPv4-only or dual-stack. */
  readonly stack?: IpStack
  /**
   * RFC 5844 §3.3.1: the IPv4 home address to request, e.g. '192.0.2.20'; absent: 0.0.0.0 (the
   * LMA assigns). Only with stack 'ipv4' or 'dual'.
   */
  readonly ipv4HomeAddress?: string
  /**
   * IPv4 prefixes an assigned home address must lie in (e.g. ['192.0.2.0/24']); absent: any
   * unicast address. An LMA assigning one outside them is de-registered (issue 21 item 6).
   */
  readonly ipv4Allowed?: readonly string[]
  /** RFC 5845 §3: send the GRE Key option (the MAG's downlink key) in this MN's PBUs. */
  readonly greKey?: boolean
}

/** A profile for MNs the store does not know: everything but the identity. */
export interface DefaultProfile extends Omit<PolicyProfile, 'mnId' | 'macs'> {
  /**
   * When an attach carries only a MAC, the MN-ID becomes `<12 hex digits>@<realm>`; without a
   * realm such an MN is refused (RFC 5213 §6.6: the MN-ID must be stable and unique).
   */
  readonly macNaiRealm?: string
}

/** 'refuse' unknown MNs, or serve them with a default profile. */
export type UnknownMnPolicy = 'refuse' | { readonly profile: DefaultProfile }

export interface LinkConfig {
  /** Several MNs on this link: RAs are sent to each MN's MAC (see SendRaCommand.llDst). */
  readonly shared?: boolean
  /** Access link MTU (RFC 5213 §6.9.5). */
  readonly mtu?: number
  /** Local (visited network) prefix advertised to host-mode MNs on this link (RFC 6612 §3.3). */
  readonly localPrefix?: string
  /** RA source when neither a fixed nor an LMA-provided link-local address is known. */
  readonly linkLocal?: string
}

export interface RaConfig {
  readonly maxIntervalMs?: number
  readonly minIntervalMs?: number
  readonly routerLifetimeS?: number
  readonly minDelayBetweenRasMs?: number
  readonly curHopLimit?: number
}

/** Settings for one LMA, by its address (RFC 5847 §5 variables may differ per peer). */
export interface LmaConfig {
  /** RFC 5847 HEARTBEAT_INTERVAL towards this LMA, seconds; 0: no heartbeat requests to it. */
  readonly heartbeatIntervalS?: number
  /** RFC 5847 MISSING_HEARTBEATS_ALLOWED towards this LMA. */
  readonly heartbeatMissingThreshold?: number
  /** RFC 5845 §3: GRE keys for every MN of this LMA (a profile's greKey also turns them on). */
  readonly greKey?: boolean
}

export interface MagCoreConfig {
  readonly profiles: readonly PolicyProfile[]
  /** Default 'refuse'. */
  readonly unknownMn?: UnknownMnPolicy
  /** TimestampBasedApproachInUse (RFC 5213 §9); default true. */
  readonly timestampBased?: boolean
  /**
   * First value of the MAG's sequence number counter (RFC 6275 §11.7.1 allows any start); default
   * 0. The daemon draws it at random at every start, so the numbers cannot be guessed (issue 17).
   */
  readonly initialSequence?: number
  /** Lifetime requested in registrations, seconds; default 3600. */
  readonly lifetimeS?: number
  /** Fraction of the granted lifetime after which the binding is refreshed; default 0.8. */
  readonly refreshFraction?: number
  /** Retransmissions of one PBU before the registration fails; default unlimited (§6.9.4 item 3). */
  readonly maxRetransmissions?: number
  /**
   * PBUs awaiting a PBA per LMA before further ones wait their turn; default 256. Keeps the LMA's
   * queue short in a storm, so PBUs do not time out or fall outside its timestamp window.
   */
  readonly maxPbusInFlight?: number
  /** FixedMAGLinkLocalAddressOnAllAccessLinks (RFC 5213 §9); absent or '::' = not fixed. */
  readonly fixedLinkLocal?: string
  /** FixedMAGLinkLayerAddressOnAllAccessLinks (RFC 5213 §9), MAC text; absent = not fixed. */
  readonly fixedLinkLayer?: string
  /** Seed of the PRNG that draws RA delays and intervals. */
  readonly seed?: number
  readonly ra?: RaConfig
  /** Tunnel MTU for LMAs without a specific value (RFC 5213 §6.9.5); default 1460. */
  readonly tunnelMtu?: number
  /** Tunnel MTU per LMA address. */
  readonly lmaMtu?: Readonly<Record<string, number>>
  /** Access link MTU for links without a specific value; default 1500. */
  readonly accessMtu?: number
  readonly links?: Readonly<Record<LinkRef, LinkConfig>>
  /** Pool carved into per-MN local prefixes for host-mode MNs, e.g. '2001:db8:aa00::/48'. */
  readonly localPool?: string
  /** Length of the carved local prefixes; default 64. */
  readonly localPrefixLength?: number
  /** Lifetime of local prefixes in RAs, seconds; default 3600. */
  readonly localPrefixLifetimeS?: number
  /** Tear the link down when the LMA rejects the MN (RFC 5213 §6.9.1.2 item 11, a MAY); default false. */
  readonly teardownOnReject?: boolean
  /** RFC 5847 HEARTBEAT_INTERVAL, seconds, towards each LMA with a binding; 0 disables; default 30. */
  readonly heartbeatIntervalS?: number
  /** RFC 5847 MISSING_HEARTBEATS_ALLOWED: unanswered requests in a row before the LMA is unreachable; default 3. */
  readonly heartbeatMissingThreshold?: number
  /** This MAG's Restart Counter (RFC 5847 §3.2), sent in Heartbeat responses; absent: no option sent. */
  readonly restartCounter?: number
  /** Per-LMA settings by LMA address; what is left out falls back to the MAG-wide values above. */
  readonly lmas?: Readonly<Record<string, LmaConfig>>
}

// ---------------------------------------------------------------- events

export interface AttachedEvent {
  readonly type: 'attached'
  readonly at: Millis
  readonly link: LinkRef
  readonly mnId?: string
  /** The MN's link-layer id (MAC); required on shared links. */
  readonly llId?: Buffer
  /** Access Technology Type (RFC 5213 §8.5). */
  readonly att: number
  readonly hint?: HandoffHint
}
export interface DetachedEvent {
  readonly type: 'detached'
  readonly at: Millis
  readonly link: LinkRef
  readonly mnId?: string
  readonly llId?: Buffer
  readonly cause: 'left' | 'lost' | 'admin'
}
export interface PbaEvent {
  readonly type: 'pba'
  readonly at: Millis
  /** Source address of the IPv6 packet that carried the PBA. */
  readonly from: string
  readonly pba: ProxyBindingAck
}
export interface RsEvent {
  readonly type: 'rs'
  readonly at: Millis
  readonly link: LinkRef
  /** IPv6 source of the RS ('::' when the MN has no address yet). */
  readonly from: string
  readonly hopLimit: number
  /** Link-layer source (frame source or SLLA option); needed on shared links. */
  readonly llId?: Buffer
}
export interface TimerEvent {
  readonly type: 'timer'
  readonly at: Millis
  readonly key: TimerKey
  /** The key's parts as the arm-timer command gave them, when the caller kept them: not parsed again. */
  readonly kind?: string
  readonly id?: string
  /** The arm-timer command's ref, when the caller kept it (-1: none). */
  readonly ref?: number
}
/** The answer to a query-presence command. */
export interface PresenceEvent {
  readonly type: 'presence'
  readonly at: Millis
  readonly mnId: string
  readonly present: boolean
}
/** Run-time switch of one MN between PMIPv6 and Scenario B; it also applies to later attaches. */
export interface PolicyEvent {
  readonly type: 'policy'
  readonly at: Millis
  readonly mnId: string
  readonly mode: MobilityMode
}
/** The administrative action of RFC 5213 §6.9.1.2 items 6 and 7; no mnId: every MN. */
export interface AdminClearEvent {
  readonly type: 'admin-clear'
  readonly at: Millis
  readonly mnId?: string
}
/** The MAG's clock is synchronised again (RFC 5213 §6.9.1.2 item 9). */
export interface ClockSyncedEvent {
  readonly type: 'clock-synced'
  readonly at: Millis
}
/** Replaces the policy store (a reload). */
export interface ProfilesEvent {
  readonly type: 'profiles'
  readonly at: Millis
  readonly profiles: readonly PolicyProfile[]
  readonly unknownMn?: UnknownMnPolicy
}
/**
 * A new MTU (RFC 5213 §6.9.5): with `lma`, the tunnel MTU towards that LMA (its path MTU minus
 * the encapsulation; it replaces a configured `lmaMtu`); with `link`, that access link's MTU;
 * with neither, the tunnel MTU for every LMA without a value of its own (the uplink's MTU changed).
 */
export interface MtuEvent {
  readonly type: 'mtu'
  readonly at: Millis
  readonly lma?: string
  readonly link?: LinkRef
  readonly mtu: number
}

/**
 * The outcome of a link-address-up (RFC 5213 §6.9.1.2 item 15): 'ready', the address is on the
 * link and usable (DAD passed); 'duplicate', DAD found another node (the MN) using it, and the
 * daemon removed it again; 'failed', the kernel refused it (nothing was left behind).
 */
export interface LinkAddressEvent {
  readonly type: 'link-address'
  readonly at: Millis
  readonly link: LinkRef
  readonly address: string
  readonly result: 'ready' | 'duplicate' | 'failed'
  readonly reason?: string
}

/**
 * The data plane could not install a forwarding-up (it rolled back what it had added). Without
 * forwarding the binding serves nothing (RFC 5213 §6.10), so the core ends it with this reason.
 */
export interface ForwardingFailedEvent {
  readonly type: 'forwarding-failed'
  readonly at: Millis
  readonly mnId: string
  readonly prefixes: readonly string[]
  /** The IPv4 home addresses of the failed forwarding-up (RFC 5844), when it had any. */
  readonly ipv4?: readonly string[]
  readonly reason: string
}

/** A Heartbeat message (RFC 5847) received on the MH socket: a request from an LMA, or a response. */
export interface HeartbeatEvent {
  readonly type: 'heartbeat'
  readonly at: Millis
  /** Source address of the IPv6 packet that carried it. */
  readonly from: string
  readonly heartbeat: Heartbeat
}

/**
 * A Binding Error (RFC 6275 §6.1.9) received on the MH socket. A MAG sends an LMA only PBUs and
 * Heartbeats, so status 2 (unrecognised MH type) from an LMA means it has no heartbeat (RFC 5847 §3).
 */
export interface BindingErrorEvent {
  readonly type: 'binding-error'
  readonly at: Millis
  /** Source address of the IPv6 packet that carried it. */
  readonly from: string
  readonly error: BindingError
}

/**
 * RFC 5844 §3.3.1, §3.4.1: the MN's own DHCPv4 client asked for an IPv4 address (a DISCOVER or
 * REQUEST with the Requested IP Address option 50, RFC 2132 §9.1, or a renewing/rebinding
 * REQUEST's ciaddr, RFC 2131 §4.3.2) while the access link's DHCPv4 server had no lease for it.
 * Untrusted input: the core names the address in the MN's next PBU only under the rules of
 * ipv4.ts (onIpv4Requested).
 */
export interface Ipv4RequestedEvent {
  readonly type: 'ipv4-requested'
  readonly at: Millis
  /** The client hardware address (chaddr) of the request. */
  readonly llId: Buffer
  /** The access link the request came in on, when the daemon knows it. */
  readonly link?: LinkRef
  /** Dotted quad. */
  readonly address: string
  readonly via: 'option-50' | 'ciaddr'
}

export type MagEvent =
  | AttachedEvent
  | Ipv4RequestedEvent
  | BindingErrorEvent
  | ForwardingFailedEvent
  | DetachedEvent
  | PbaEvent
  | RsEvent
  | TimerEvent
  | PresenceEvent
  | PolicyEvent
  | AdminClearEvent
  | ClockSyncedEvent
  | ProfilesEvent
  | MtuEvent
  | HeartbeatEvent
  | LinkAddressEvent

// ---------------------------------------------------------------- states and commands

/**
 * registering: a registration PBU is outstanding, nothing advertised.
 * registered: accepted binding; tunnel forwarding up; home-link RAs.
 * refreshing: re-registration outstanding while the binding is still valid (RAs go on).
 * deregistering: the MN left; a lifetime-0 PBU is outstanding; the entry goes on its PBA or timeout.
 * held: an echo mismatch (§6.9.1.2 item 6): no PBU until an admin-clear.
 * denied: the LMA rejected the MN (items 7, 11): no service; 152 holds until an admin-clear.
 * clock-wait: TIMESTAMP_MISMATCH (item 9): no PBU until clock-synced.
 * failed: no answer within the retransmission cap (§6.9.4), or the data plane could not forward.
 * local: Scenario B (RFC 6612 §3.3): no PBU, a local prefix advertised and routed natively.
 */
export type BindingState = 'registering' | 'registered' | 'refreshing' | 'deregistering' | 'held' | 'denied' | 'clock-wait' | 'failed' | 'local'
/** 'removed' only appears as the target of the last state-changed of an entry. */
export type StateTarget = BindingState | 'removed'

export interface SendPbuCommand {
  readonly type: 'send-pbu'
  /** The LMA address. */
  readonly to: string
  readonly pbu: ProxyBindingUpdate
  readonly mnId: string
}
export interface SendRaCommand {
  readonly type: 'send-ra'
  readonly link: LinkRef
  /** IPv6 destination: ff02::1, or the solicitor's address for an RS reply. */
  readonly to: string
  /** IPv6 source: the link-local address the MN must see as its router ('::': the interface's own). */
  readonly src: string
  /**
   * Link-layer destination (MAC text) on shared links: the frame goes to this MN only, even when
   * `to` is multicast (RFC 6085), so no MN ever hears another MN's home prefix. null on
   * point-to-point links.
   */
  readonly llDst: string | null
  readonly ra: RouterAdvertisement
  readonly mnId: string
}
export interface ArmTimerCommand {
  readonly type: 'arm-timer'
  /** Arming a key that is already armed replaces it. */
  readonly key: TimerKey
  /** The key's parts: key === `${kind}/${id}` (a timer set may keep them instead of the key). */
  readonly kind: string
  readonly id: string
  /**
   * A small number the core gives `id` while its entry lives (reused after): a timer set may
   * index by it instead of hashing `id`, and hand it back in the timer event. Always sent with
   * `id`, which decides.
   */
  readonly ref?: number
  readonly at: Millis
}
export interface CancelTimerCommand {
  readonly type: 'cancel-timer'
  readonly key: TimerKey
  readonly kind: string
  readonly id: string
  /** As in arm-timer. */
  readonly ref?: number
}
export interface QueryPresenceCommand {
  readonly type: 'query-presence'
  readonly mnId: string
  readonly link: LinkRef
  /** MAC text, when known. */
  readonly llId: string | null
  /** Why: before a retransmission (§6.9.4 item 2) or before extending the lifetime (§6.13). */
  readonly purpose: 'retransmit' | 'refresh'
}
interface ForwardingBase {
  readonly mnId: string
  readonly link: LinkRef
  /** The prefixes this command adds (up) or removes (down), as text. */
  readonly prefixes: readonly string[]
  /**
   * RFC 5844: the MN's IPv4 home addresses this command adds (up) or removes (down), dotted
   * text ("192.0.2.2"; a host route each, the prefix length is the DHCP server's business).
   * Only with mode 'tunnel'. Absent or empty: IPv6 only, as before.
   */
  readonly ipv4?: readonly string[]
}
/** mode 'tunnel': through the IPv6-in-IPv6 tunnel to `lma` (RFC 5213 §6.10.5). 'local': routed natively (Scenario B). */
export type ForwardingTarget = { readonly mode: 'tunnel'; readonly lma: string } | { readonly mode: 'local'; readonly lma: null }
export type ForwardingUpCommand = ForwardingBase & {
  readonly type: 'forwarding-up'
  /**
   * RFC 5845 §3: the binding's GRE keys when the LMA gave an uplink key (`uplink` on packets to
   * the LMA, `downlink` on packets from it); absent: no GRE key.
   */
  readonly greKeys?: GreKeys
} & ForwardingTarget
export type ForwardingDownCommand = ForwardingBase & { readonly type: 'forwarding-down' } & ForwardingTarget
export type ForwardingCommand = ForwardingUpCommand | ForwardingDownCommand
/**
 * RFC 5844 §3.2.1, §3.4: the MN's IPv4 configuration as the accepted PBA gave it (IPv4 Home
 * Address Reply and IPv4 Default-Router Address), for the MAG's DHCPv4 server; `lease` null when
 * the IPv4 binding is gone (de-registration, detach, refusal, an address the MAG cannot route).
 * Emitted on every change (registration, refresh with a new lifetime, handoff to this MAG).
 */
export interface Ipv4LeaseCommand {
  readonly type: 'ipv4-lease'
  readonly mnId: string
  readonly link: LinkRef
  /** The MN's MAC (the DHCP chaddr), colon text; null when the link has none (PPP). */
  readonly llId: string | null
  readonly lease: {
    /** Dotted text. */
    readonly address: string
    readonly prefixLength: number
    readonly router: string
    /** Seconds: the binding's granted lifetime. */
    readonly lifetime: number
  } | null
}
export interface LinkTeardownCommand {
  readonly type: 'link-teardown'
  readonly link: LinkRef
  readonly mnId: string
  /** On a shared link, only this station is disconnected. */
  readonly llId: string | null
}
/**
 * RFC 5213 §6.8, §6.9.1.2 item 15: put the link-local address the LMA gave on the MN's access
 * link (up, answered by a link-address event), or take it off when its last user on that link
 * is gone (down). The core sends no RA from the address before the link-address event says ready.
 */
interface LinkAddressBase {
  readonly link: LinkRef
  /** Canonical link-local address text. */
  readonly address: string
}
export type LinkAddressUpCommand = LinkAddressBase & { readonly type: 'link-address-up' }
export type LinkAddressDownCommand = LinkAddressBase & { readonly type: 'link-address-down' }
export type LinkAddressCommand = LinkAddressUpCommand | LinkAddressDownCommand
export interface StateChangedCommand {
  readonly type: 'state-changed'
  readonly mnId: string
  readonly from: BindingState | null
  readonly to: StateTarget
  readonly reason: string
}

/** A Heartbeat request to an LMA, or the response to its request (RFC 5847). */
export interface SendHeartbeatCommand {
  readonly type: 'send-heartbeat'
  /** The LMA address. */
  readonly to: string
  readonly heartbeat: Heartbeat
}
/**
 * The path to an LMA changed (RFC 5847 §3.1, §3.2): 'unreachable' after MISSING_HEARTBEATS_ALLOWED
 * unanswered requests in a row, 'reachable' on a response after that (or the first response),
 * and a report with reason 'lma-restarted' when its Restart Counter changed.
 */
export interface LmaStateCommand {
  readonly type: 'lma-state'
  readonly lma: string
  /** 'unsupported': the LMA answered a Heartbeat with Binding Error status 2; no more are sent to it. */
  readonly state: 'reachable' | 'unreachable' | 'unsupported'
  readonly reason: string
  /** The LMA's Restart Counter as last seen, null when it never sent one. */
  readonly restartCounter: number | null
}

export type MagCommand =
  | SendPbuCommand
  | SendRaCommand
  | ArmTimerCommand
  | CancelTimerCommand
  | QueryPresenceCommand
  | ForwardingCommand
  | Ipv4LeaseCommand
  | LinkTeardownCommand
  | LinkAddressCommand
  | StateChangedCommand
  | SendHeartbeatCommand
  | LmaStateCommand

/** RFC 5845 §3: uplink, the LMA's key for MAG->LMA packets; downlink, the MAG's for LMA->MAG. */
export interface GreKeys {
  readonly uplink: number
  readonly downlink: number
}

/** One Binding Update List entry as `mag bindings` shows it. */
export interface BindingView {
  readonly mnId: string
  readonly link: LinkRef
  readonly state: BindingState
  readonly reason: string
  readonly mode: MobilityMode
  /** null in host mode. */
  readonly lma: string | null
  /** Prefixes the MN is being served: home prefixes when registered, the local prefix in host mode. */
  readonly prefixes: readonly string[]
  /** Home prefixes of the last accepted binding (kept to request them again). */
  readonly homePrefixes: readonly string[]
  /** Seconds until the binding expires (0 when there is none). */
  readonly lifetimeLeft: number
  readonly grantedLifetime: number
  readonly lastStatus: number | null
  readonly retransmissions: number
  /** What PBU is outstanding, if any. */
  readonly pending: 'registration' | 'refresh' | 'deregistration' | null
  readonly att: number
  /** MAC text or null. */
  readonly mac: string | null
  /** Handoff Indicator of the last PBU sent (0 if none). */
  readonly hi: number
  /** Link-local address the RAs come from. */
  readonly routerAddress: string
  /** RFC 5844: the home addresses this MN gets (profile), and what this session runs with. */
  readonly stack: IpStack
  /** IPv4 home address with its prefix length ('192.0.2.2/24') while served, else null. */
  readonly ipv4Address: string | null
  /** IPv4 default router given to the MN (RFC 5844 §3.3.3), or null. */
  readonly ipv4Router: string | null
  /** Why an MN that asks for IPv4 has none ('' when served or not asked), e.g. 'ipv4-reply:132'. */
  readonly ipv4Reason: string
  /**
   * RFC 5844 §3.3.1: the address the MN's DHCPv4 client asked for in this session and what
   * became of it ('pending', 'used', 'assigned-other:<address>', 'refused:<why>'), or null.
   */
  readonly ipv4Requested: { readonly address: string; readonly outcome: string } | null
  /** RFC 5845 GRE keys of the binding, or null when it has none. */
  readonly greKeys: GreKeys | null
}

/**
 * Heartbeat state of one LMA as `mag status` shows it. 'idle': no binding to it any more (the
 * figures are kept), or heartbeats off for it; 'unknown': heartbeats started, no answer yet;
 * 'unsupported': it answered a Heartbeat with Binding Error status 2 (RFC 5847 §3): none are sent to it.
 */
export interface LmaHeartbeatView {
  readonly lma: string
  readonly state: 'idle' | 'unknown' | 'reachable' | 'unreachable' | 'unsupported'
  readonly reason: string
  /** HEARTBEAT_INTERVAL towards this LMA, seconds (0: off). */
  readonly intervalS: number
  /** BUL entries for which this LMA may hold a binding. */
  readonly bindings: number
  readonly requestsSent: number
  readonly responses: number
  /** Requests that got no answer within the interval (all time). */
  readonly misses: number
  /** Unanswered requests in a row right now. */
  readonly consecutiveMisses: number
  readonly restartCounter: number | null
  /** Restart Counter changes seen (RFC 5847 §3.2). */
  readonly restarts: number
  readonly lastResponseAt: Millis | null
}

/** One page of the Binding Update List (issue 23: a million entries are listed in pages). */
export interface BindingPage {
  readonly bindings: readonly BindingView[]
  /** Cursor for the next page (its `after`), or null when this page ended the list. */
  readonly next: number | null
}

export interface MagCore {
  step(ev: MagEvent): readonly MagCommand[]
  bindings(now?: Millis): readonly BindingView[]
  /**
   * Up to `limit` entries after the cursor `after` (0: from the start). An entry that exists for
   * the whole walk is listed exactly once, whatever else comes and goes meanwhile. At most
   * `maxSlots` slots are looked at: a short page is not the end of the list, only next: null is.
   */
  bindingsPage(after: number, limit: number, now?: Millis, maxSlots?: number): BindingPage
  /** Entries in the list, O(1). */
  bindingCount(): number
  /** One MN's binding, or undefined when the MAG has no entry for it. */
  binding(mnId: string, now?: Millis): BindingView | undefined
  /** Bindings per state, without building a view of each. */
  stateCounts(): Readonly<Partial<Record<BindingState, number>>>
  /** Heartbeat state per LMA (RFC 5847). */
  lmas(): readonly LmaHeartbeatView[]
  counters(): Readonly<Record<string, number>>
}
