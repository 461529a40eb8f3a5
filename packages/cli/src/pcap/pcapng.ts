/**
 * Capture files: a reader for pcapng (the pcapng draft, IETF opsawg: Section Header, Interface
 * Description, Enhanced and Simple Packet Blocks, either byte order, any if_tsresol) and for
 * classic libpcap files (microsecond and nanosecond magic, either byte order), and a pcapng
 * writer. The reader is incremental (`push` a chunk, get the packets it completed) so the same
 * code reads a file and a live dumpcap stream.
 *
 * Left out: Name Resolution, Interface Statistics and Decryption Secrets blocks are skipped;
 * packets in a Simple Packet Block carry no timestamp and get the previous packet's.
 */

export const LINKTYPE_ETHERNET = 1
export const LINKTYPE_RAW = 101
export const LINKTYPE_LINUX_SLL = 113
export const LINKTYPE_IPV6 = 229
export const LINKTYPE_LINUX_SLL2 = 276

const BT_SHB = 0x0a0d0d0a
const BT_IDB = 0x00000001
const BT_SPB = 0x00000003
const BT_EPB = 0x00000006
const BYTE_ORDER_MAGIC = 0x1a2b3c4d
const OPT_ENDOFOPT = 0
const OPT_COMMENT = 1
const IF_NAME = 2
const IF_DESCRIPTION = 3
const IF_TSRESOL = 9
const SHB_USERAPPL = 4
/** A block this large is not a capture we can read (dumpcap's own limit is 256 KiB per packet). */
const MAX_BLOCK = 16 * 1024 * 1024

const PCAP_MAGIC_US = 0xa1b2c3d4
const PCAP_MAGIC_NS = 0xa1b23c4d

export class CaptureError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} at byte ${offset}`)
  }
}

export interface CaptureInterface {
  readonly id: number
  readonly linkType: number
  readonly name: string
  readonly description: string
  /** Timestamp units per second (10^6 when the interface does not say). */
  readonly unitsPerSecond: bigint
  /** The if_tsresol byte as read, so a copy keeps the resolution. */
  readonly tsresol: number
}

export interface CapturedPacket {
  /** Interface, unique across the whole file (sections are numbered on). */
  readonly iface: CaptureInterface
  /** Timestamp in the interface's own units. */
  readonly ts: bigint
  /** Microseconds since the epoch, for ordering and arithmetic. */
  readonly us: number
  readonly data: Buffer
  readonly originalLength: number
}

function unitsOf(tsresol: number): bigint {
  const v = BigInt(tsresol & 0x7f)
  return (tsresol & 0x80) !== 0 ? 2n ** v : 10n ** v
}

function usOf(ts: bigint, units: bigint): number {
  return Number((ts * 1_000_000n) / units)
}

type Format = 'unknown' | 'pcapng' | 'pcap'

/** Reads a capture incrementally; throws CaptureError on a structure it cannot read. */
export class CaptureReader {
  private buf: Buffer = Buffer.alloc(0)
  private consumed = 0
  private format: Format = 'unknown'
  private le = true
  /** Interfaces of the current pcapng section, by their index in it. */
  private section: CaptureInterface[] = []
  private readonly all: CaptureInterface[] = []
  private lastTs = 0n
  private pcapIface: CaptureInterface | null = null
  private pcapNs = false
  /** The application that wrote the file (shb_userappl), if it said. */
  application = ''

  get interfaces(): readonly CaptureInterface[] {
    return this.all
  }

  push(chunk: Buffer): CapturedPacket[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const out: CapturedPacket[] = []
    let off = 0
    for (;;) {
      const n = this.format === 'pcap' ? this.pcapRecord(off, out) : this.block(off, out)
      if (n === 0) break
      off += n
    }
    this.buf = this.buf.subarray(off)
    this.consumed += off
    return out
  }

  /** Call at the end of the input: leftover bytes mean a cut-off capture. */
  end(): void {
    if (this.buf.length > 0) throw new CaptureError('capture ends inside a block', this.consumed)
    if (this.format === 'unknown') throw new CaptureError('empty capture', 0)
  }

  private u32(off: number): number {
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off)
  }

  private u16(off: number): number {
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off)
  }

  private block(off: number, out: CapturedPacket[]): number {
    const b = this.buf
    if (b.length - off < 12) return 0
    if (this.format === 'unknown') {
      const m = b.readUInt32LE(off)
      if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS || b.readUInt32BE(off) === PCAP_MAGIC_US || b.readUInt32BE(off) === PCAP_MAGIC_NS) return this.pcapHeader(off)
      if (m !== BT_SHB) throw new CaptureError('not a pcap or pcapng file', this.consumed + off)
    }
    const type = b.readUInt32LE(off)
    if (type === BT_SHB) {
      const bom = b.readUInt32LE(off + 8)
      if (bom === BYTE_ORDER_MAGIC) this.le = true
      else if (b.readUInt32BE(off + 8) === BYTE_ORDER_MAGIC) this.le = false
      else throw new CaptureError('bad byte-order magic', this.consumed + off + 8)
      this.format = 'pcapng'
      this.section = []
    }
    const len = this.u32(off + 4)
    if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) throw new CaptureError(`bad block length ${len}`, this.consumed + off + 4)
    if (b.length - off < len) return 0
    if (this.u32(off + len - 4) !== len) throw new CaptureError('block lengths differ', this.consumed + off + len - 4)
    const body = off + 8
    const bodyEnd = off + len - 4
    switch (this.u32(off)) {
      case BT_SHB:
        for (const [code, v] of this.options(body + 16, bodyEnd)) if (code === SHB_USERAPPL) this.application = v.toString('utf8')
        break
      case BT_IDB: {
        if (bodyEnd - body < 8) throw new CaptureError('interface block too short', this.consumed + off)
        let name = ''
        let description = ''
        let tsresol = 6
        for (const [code, v] of this.options(body + 8, bodyEnd)) {
          if (code === IF_NAME) name = v.toString('utf8').replace(/\0+$/, '')
          else if (code === IF_DESCRIPTION) description = v.toString('utf8').replace(/\0+$/, '')
          else if (code === IF_TSRESOL && v.length >= 1) tsresol = v[0]!
        }
        const iface: CaptureInterface = { id: this.all.length, linkType: this.u16(body), name, description, unitsPerSecond: unitsOf(tsresol), tsresol }
        this.section.push(iface)
        this.all.push(iface)
        break
      }
      case BT_EPB: {
        if (bodyEnd - body < 20) throw new CaptureError('packet block too short', this.consumed + off)
        const iface = this.section[this.u32(body)]
        if (!iface) throw new CaptureError(`packet names interface ${this.u32(body)}, which the section does not describe`, this.consumed + body)
        const ts = (BigInt(this.u32(body + 4)) << 32n) | BigInt(this.u32(body + 8))
        const caplen = this.u32(body + 12)
        if (body + 20 + caplen > bodyEnd) throw new CaptureError('packet runs past its block', this.consumed + body + 12)
        this.lastTs = ts
        out.push({ iface, ts, us: usOf(ts, iface.unitsPerSecond), data: Buffer.from(b.subarray(body + 20, body + 20 + caplen)), originalLength: this.u32(body + 16) })
        break
      }
      case BT_SPB: {
        const iface = this.section[0]
        if (!iface) throw new CaptureError('simple packet block before any interface', this.consumed + off)
        const orig = this.u32(body)
        const caplen = Math.min(orig, bodyEnd - body - 4)
        out.push({ iface, ts: this.lastTs, us: usOf(this.lastTs, iface.unitsPerSecond), data: Buffer.from(b.subarray(body + 4, body + 4 + caplen)), originalLength: orig })
        break
      }
      default:
        break // name resolution, statistics, secrets, custom: nothing a ladder needs
    }
    return len
  }

  private *options(start: number, end: number): Generator<[number, Buffer]> {
    let p = start
    while (p + 4 <= end) {
      const code = this.u16(p)
      const len = this.u16(p + 2)
      if (code === OPT_ENDOFOPT) return
      if (p + 4 + len > end) throw new CaptureError(`option ${code} runs past its block`, this.consumed + p)
      yield [code, this.buf.subarray(p + 4, p + 4 + len)]
      p += 4 + len + ((4 - (len % 4)) % 4)
    }
  }

  private pcapHeader(off: number): number {
    const b = this.buf
    if (b.length - off < 24) return 0
    const m = b.readUInt32LE(off)
    this.le = m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS
    const magic = this.u32(off)
    this.pcapNs = magic === PCAP_MAGIC_NS
    this.format = 'pcap'
    const linkType = this.u32(off + 20) & 0x0fffffff
    const tsresol = this.pcapNs ? 9 : 6
    this.pcapIface = { id: this.all.length, linkType, name: '', description: '', unitsPerSecond: unitsOf(tsresol), tsresol }
    this.all.push(this.pcapIface)
    return 24
  }

  private pcapRecord(off: number, out: CapturedPacket[]): number {
    const b = this.buf
    if (b.length - off < 16) return 0
    const caplen = this.u32(off + 8)
    if (caplen > MAX_BLOCK) throw new CaptureError(`bad record length ${caplen}`, this.consumed + off + 8)
    if (b.length - off < 16 + caplen) return 0
    const iface = this.pcapIface!
    const ts = BigInt(this.u32(off)) * iface.unitsPerSecond + BigInt(this.u32(off + 4))
    out.push({ iface, ts, us: usOf(ts, iface.unitsPerSecond), data: Buffer.from(b.subarray(off + 16, off + 16 + caplen)), originalLength: this.u32(off + 12) })
    return 16 + caplen
  }
}

/** Reads a whole capture held in memory. */
export function readCapture(bytes: Buffer): { interfaces: readonly CaptureInterface[]; packets: CapturedPacket[]; application: string } {
  const r = new CaptureReader()
  const packets = r.push(bytes)
  r.end()
  return { interfaces: r.interfaces, packets, application: r.application }
}

// ---- writing ----

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

function option(code: number, value: Buffer): Buffer {
  const o = Buffer.alloc(4 + value.length + pad4(value.length))
  o.writeUInt16LE(code, 0)
  o.writeUInt16LE(value.length, 2)
  value.copy(o, 4)
  return o
}

function block(type: number, body: Buffer): Buffer {
  const len = 12 + body.length
  const b = Buffer.alloc(len)
  b.writeUInt32LE(type, 0)
  b.writeUInt32LE(len, 4)
  body.copy(b, 8)
  b.writeUInt32LE(len, len - 4)
  return b
}

function withOptions(fixed: Buffer, opts: Buffer[]): Buffer {
  return opts.length === 0 ? fixed : Buffer.concat([fixed, ...opts, Buffer.alloc(4)])
}

/** Writes a little-endian pcapng section: one header, then interfaces and packets. */
export class PcapngWriter {
  private readonly parts: Buffer[] = []
  private interfaces = 0

  constructor(opts: { application?: string; comment?: string } = {}) {
    const fixed = Buffer.alloc(16)
    fixed.writeUInt32LE(BYTE_ORDER_MAGIC, 0)
    fixed.writeUInt16LE(1, 4)
    fixed.writeUInt16LE(0, 6)
    fixed.writeBigInt64LE(-1n, 8) // section length not given
    const o: Buffer[] = []
    if (opts.comment) o.push(option(OPT_COMMENT, Buffer.from(opts.comment)))
    if (opts.application) o.push(option(SHB_USERAPPL, Buffer.from(opts.application)))
    this.parts.push(block(BT_SHB, withOptions(fixed, o)))
  }

  /** Adds an interface and returns its id in this file. */
  addInterface(i: { linkType: number; name: string; description?: string; tsresol?: number; snaplen?: number }): number {
    const fixed = Buffer.alloc(8)
    fixed.writeUInt16LE(i.linkType, 0)
    fixed.writeUInt32LE(i.snaplen ?? 262144, 4)
    const o = [option(IF_NAME, Buffer.from(i.name))]
    if (i.description) o.push(option(IF_DESCRIPTION, Buffer.from(i.description)))
    if (i.tsresol !== undefined && i.tsresol !== 6) o.push(option(IF_TSRESOL, Buffer.from([i.tsresol])))
    this.parts.push(block(BT_IDB, withOptions(fixed, o)))
    return this.interfaces++
  }

  /** Adds a packet on interface `id`; `ts` is in that interface's units. */
  addPacket(id: number, ts: bigint, data: Buffer, originalLength = data.length): void {
    if (id < 0 || id >= this.interfaces) throw new RangeError(`no interface ${id}`)
    const fixed = Buffer.alloc(20 + data.length + pad4(data.length))
    fixed.writeUInt32LE(id, 0)
    fixed.writeUInt32LE(Number(ts >> 32n), 4)
    fixed.writeUInt32LE(Number(ts & 0xffffffffn), 8)
    fixed.writeUInt32LE(data.length, 12)
    fixed.writeUInt32LE(originalLength, 16)
    data.copy(fixed, 20)
    this.parts.push(block(BT_EPB, fixed))
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts)
  }
}

export interface NamedCapture {
  /** Bytes of one capture file (pcap or pcapng). */
  readonly bytes: Buffer
  /** The name each of its interfaces gets in the merged file, from its own name. */
  readonly rename: (ifName: string, index: number) => string
  readonly describe?: (ifName: string, index: number) => string
}

/**
 * Merges captures into one pcapng, every packet in time order, each interface renamed (the
 * lab names them `<node>:<link>`). Interfaces keep their timestamp resolution.
 */
export function mergeCaptures(inputs: readonly NamedCapture[], opts: { application?: string; comment?: string; keep?: (p: CapturedPacket) => boolean } = {}): { bytes: Buffer; packets: number; interfaces: string[] } {
  const w = new PcapngWriter(opts)
  const names: string[] = []
  const all: { id: number; p: CapturedPacket; order: number }[] = []
  let order = 0
  for (const input of inputs) {
    const { interfaces, packets } = readCapture(input.bytes)
    const ids = new Map<number, number>()
    interfaces.forEach((i, k) => {
      const name = input.rename(i.name, k)
      const description = input.describe?.(i.name, k)
      ids.set(i.id, w.addInterface({ linkType: i.linkType, name, tsresol: i.tsresol, ...(description ? { description } : {}) }))
      names.push(name)
    })
    for (const p of packets) if (!opts.keep || opts.keep(p)) all.push({ id: ids.get(p.iface.id)!, p, order: order++ })
  }
  all.sort((a, b) => a.p.us - b.p.us || a.order - b.order)
  for (const { id, p } of all) w.addPacket(id, p.ts, p.data, p.originalLength)
  return { bytes: w.bytes(), packets: all.length, interfaces: names }
}
