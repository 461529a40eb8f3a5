// A minimal pcap writer (LINKTYPE_RAW: each record is an IPv6 packet) so independent
// decoders such as tshark can read what our codecs put out.
import { parseIp6 } from '@pmip6/wire'

export const LINKTYPE_RAW = 101

export function ipv6Packet(src: string, dst: string, nextHeader: number, hopLimit: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40)
  h.writeUInt32BE(0x60000000, 0)
  h.writeUInt16BE(payload.length, 4)
  h[6] = nextHeader
  h[7] = hopLimit
  parseIp6(src).copy(h, 8)
  parseIp6(dst).copy(h, 24)
  return Buffer.concat([h, payload])
}

export function pcapFile(packets: readonly Buffer[], startSec = 1_704_067_200): Buffer {
  const global = Buffer.alloc(24)
  global.writeUInt32LE(0xa1b2c3d4, 0)
  global.writeUInt16LE(2, 4)
  global.writeUInt16LE(4, 6)
  global.writeUInt32LE(65535, 16)
  global.writeUInt32LE(LINKTYPE_RAW, 20)
  const recs = packets.map((p, i) => {
    const r = Buffer.alloc(16)
    r.writeUInt32LE(startSec + i, 0)
    r.writeUInt32LE(0, 4)
    r.writeUInt32LE(p.length, 8)
    r.writeUInt32LE(p.length, 12)
    return Buffer.concat([r, p])
  })
  return Buffer.concat([global, ...recs])
}
