// Typed view of the N-API addon (native/rawsock.c) and where to find it.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** One datagram as recvmsg(2) returned it (payload only: raw IPv6 sockets strip the IPv6 header). */
export interface RawMessage {
  /**
   * Upper-layer payload (MH or ICMPv6 message), checksum already verified by the kernel. A copy
   * from Node's buffer pool (Buffer.allocUnsafe), as Node's own sockets give: keeping a small
   * slice of it for long keeps its pool chunk alive, so copy what is kept.
   */
  data: Buffer
  /** Source address, text form (no zone). */
  src: string
  /** sin6_scope_id of the source (the arrival ifindex for link-local sources, else 0). */
  scopeId: number
  /** Destination address from IPV6_PKTINFO ('::' if the kernel gave none). */
  dst: string
  /** Arrival interface from IPV6_PKTINFO (0 if the kernel gave none). */
  ifindex: number
  /** Hop limit from IPV6_HOPLIMIT (-1 if the kernel gave none). */
  hopLimit: number
  /** The datagram was larger than the 64 KiB receive buffer. */
  truncated: boolean
  /** Source UDP port on `openUdp6Socket` sockets; 0 on raw sockets. */
  port: number
}

/** SO_PEERCRED of a connected UNIX socket. */
export interface PeerCredentials {
  readonly pid: number
  readonly uid: number
  readonly gid: number
}

export interface SendOptions {
  /** Outgoing interface (IPV6_PKTINFO ipi6_ifindex; also sin6_scope_id for link-local/multicast dst). */
  ifindex?: number
  /** IPV6_HOPLIMIT for this packet (0-255; -1 or absent = socket default). */
  hopLimit?: number
  /** Source address (IPV6_PKTINFO ipi6_addr); must be an address of this host. */
  src?: string
  /** Destination UDP port (UDP sockets only; raw sockets ignore it). */
  port?: number
}

export interface NativeBinding {
  open(proto: number): number
  openUdp(port: number, reuseAddr: boolean): number
  close(fd: number): void
  setsockopt(fd: number, level: number, name: number, value: number | Uint8Array): void
  getsockoptInt(fd: number, level: number, name: number): number
  bindToDevice(fd: number, ifname: string): void
  joinGroup(fd: number, group: string, ifindex: number): void
  leaveGroup(fd: number, group: string, ifindex: number): void
  setIcmp6Filter(fd: number, allowedTypes: readonly number[]): void
  /**
   * recvmmsg(2) of up to `max` (1-64) datagrams into `slotSize`-byte slots of `buf`; returns how
   * many (0 when nothing is queued). Meta per datagram every 56 bytes: two addresses, scope
   * id, ifindex, hop limit, truncated, port, length (rawsock.c).
   */
  recvBatch(fd: number, buf: Uint8Array, slotSize: number, meta: Uint8Array, max: number): number
  /** inet_ntop of the 16 bytes at `offset`. */
  ntop(bytes: Uint8Array, offset: number): string
  /** sendmsg(2); the options as arguments (undefined or null: not set), see rawsock.c. */
  send(fd: number, data: Uint8Array, dst: string, src: string | null | undefined, ifindex: number | null | undefined, hopLimit: number | null | undefined, port: number | null | undefined): number
  /** socket(AF_PACKET, SOCK_DGRAM, 0): a send-only packet socket (rawsock.c). */
  openPacket(): number
  /** sendto(2) with a sockaddr_ll: `data` is the network-layer packet; the kernel adds the frame header. */
  sendPacket(fd: number, data: Uint8Array, ifindex: number, lladdr: Uint8Array, ethertype: number): number
  ifNameToIndex(name: string): number
  peerCredentials(fd: number): PeerCredentials
  ifIndexToName(ifindex: number): string
  watch(fd: number, callback: (err: Error | null) => void): void
  unwatch(fd: number): void
  setRef(fd: number, ref: boolean): void
  /** adjtimex(2), read only: the kernel says the system clock is synchronised (STA_UNSYNC clear). */
  clockSynced(): boolean
  /** sched_setscheduler(0, SCHED_RR, prio) for the calling thread; 0: back to SCHED_OTHER. */
  setThreadRealtime(priority: number): void
}

const PACKAGE_NAME = '@pmip6/rawsock'
const ADDON_FILE = 'rawsock.node'
/** Set to an absolute path to load the addon from somewhere else. */
export const ADDON_PATH_ENV = 'PMIP6_RAWSOCK_ADDON'

/** The package root: the nearest directory above `from` whose package.json is ours (works from src/ and dist/). */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pj = join(dir, 'package.json')
    if (existsSync(pj)) {
      try {
        const name: unknown = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name
        if (name === PACKAGE_NAME) return dir
      } catch {
        // unreadable package.json: keep looking upwards
      }
    }
    if (dirname(dir) === dir) throw new Error(`${PACKAGE_NAME}: cannot find the package root above ${from}`)
  }
}

/** Candidate addon paths, most preferred first. */
export function addonCandidates(): string[] {
  const fromEnv = process.env[ADDON_PATH_ENV]
  const root = packageRoot()
  return [
    ...(fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : []),
    join(root, 'build', 'Release', ADDON_FILE),
    join(root, 'build', 'Debug', ADDON_FILE),
  ]
}

let binding: NativeBinding | undefined

/** Loads the addon on first use, so importing this package never needs the native build. */
export function native(): NativeBinding {
  if (binding !== undefined) return binding
  const candidates = addonCandidates()
  const found = candidates.find((p) => existsSync(p))
  if (found === undefined) {
    throw Object.assign(
      new Error(
        `${PACKAGE_NAME}: native addon not built (looked in ${candidates.join(', ')}); ` +
          `run \`npm run build:native -w ${PACKAGE_NAME}\``,
      ),
      { code: 'ERR_RAWSOCK_NOT_BUILT' },
    )
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node file cannot be imported statically
  binding = require(found) as NativeBinding
  return binding
}
