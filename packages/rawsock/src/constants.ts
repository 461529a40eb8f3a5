// Linux socket constants for IPv6 raw sockets, each named once.
// Values: protocol-reference.md §9.1 (K in6.h, icmpv6.h, asm-generic socket.h).

// Protocol numbers (IPv6 Next Header values; also the `proto` of socket(AF_INET6, SOCK_RAW, proto))
export const IPPROTO_IPV6 = 41 // also the IPPROTO_IPV6 socket option level
export const IPPROTO_UDP = 17 // the `proto` of RawSocket.openUdp sockets
export const IPPROTO_ICMPV6 = 58 // also the ICMPV6_FILTER option level
export const IPPROTO_NONE = 59 // MH Payload Proto must be this (RFC 6275 §6.1.1)
export const IPPROTO_MH = 135 // RFC 6275 §6.1
export const IPPROTO_RAW = 255
export const SOL_RAW = IPPROTO_RAW // level of IPV6_CHECKSUM on non-ICMPv6 raw sockets (§9.2)

// Level SOL_SOCKET (asm-generic values; some architectures differ)
export const SOL_SOCKET = 1
export const SO_RCVBUF = 8
export const SO_BINDTODEVICE = 25
export const SO_RCVBUFFORCE = 33

// Level IPPROTO_ICMPV6
export const ICMPV6_FILTER = 1

// Level IPPROTO_IPV6 (IPV6_CHECKSUM: level SOL_RAW for MH sockets)
export const IPV6_CHECKSUM = 7
export const IPV6_UNICAST_HOPS = 16
export const IPV6_MULTICAST_IF = 17
export const IPV6_MULTICAST_HOPS = 18
export const IPV6_MULTICAST_LOOP = 19
export const IPV6_ADD_MEMBERSHIP = 20 // = IPV6_JOIN_GROUP
export const IPV6_DROP_MEMBERSHIP = 21 // = IPV6_LEAVE_GROUP
export const IPV6_V6ONLY = 26
export const IPV6_RECVPKTINFO = 49
export const IPV6_PKTINFO = 50
export const IPV6_RECVHOPLIMIT = 51
export const IPV6_HOPLIMIT = 52
export const IPV6_RECVRTHDR = 56
export const IPV6_RECVDSTOPTS = 58
export const IPV6_TCLASS = 67

// Checksum offsets the kernel fills on send and verifies on receive (§9.2)
export const MH_CHECKSUM_OFFSET = 4 // RFC 6275 §6.1.1
export const ICMPV6_CHECKSUM_OFFSET = 2 // RFC 4443 §2.1; always on for ICMPv6 sockets

// Neighbor Discovery on the access link
export const ICMPV6_ECHO_REQUEST = 128 // RFC 4443 §4.1
export const ICMPV6_ECHO_REPLY = 129 // RFC 4443 §4.2
export const ICMPV6_ROUTER_SOLICITATION = 133 // RFC 4861 §4.1
export const ICMPV6_ROUTER_ADVERTISEMENT = 134 // RFC 4861 §4.2
export const ND_HOP_LIMIT = 255 // RFC 4861 §6.1.1, §6.1.2: sent with and checked for 255
export const ALL_NODES_LINK_LOCAL = 'ff02::1' // RFC 4291 §2.7.1
export const ALL_ROUTERS_LINK_LOCAL = 'ff02::2' // RFC 4291 §2.7.1

/** Packets read per readiness callback before yielding to the event loop. */
export const DEFAULT_MAX_BATCH = 256
