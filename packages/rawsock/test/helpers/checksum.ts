// Internet checksum over the IPv6 pseudo-header + payload (protocol-reference.md §1.3).
// Over a received packet (checksum field included) a correct checksum makes this return 0.
import { isIPv6 } from 'node:net'

export function ip6Bytes(addr: string): Buffer {
  if (!isIPv6(addr)) throw new Error(`not an IPv6 address: ${addr}`)
  const [head = '', tail = ''] = addr.split('::') as [string, string?]
  const h = head === '' ? [] : head.split(':')
  const t = addr.includes('::') && tail !== '' ? tail.split(':') : []
  const groups = addr.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2))
  return b
}

export function inetCksum(src: string, dst: string, nextHeader: number, payload: Buffer): number {
  const ph = Buffer.alloc(40)
  ip6Bytes(src).copy(ph, 0)
  ip6Bytes(dst).copy(ph, 16)
  ph.writeUInt32BE(payload.length, 32)
  ph[39] = nextHeader
  const b = Buffer.concat([ph, payload, payload.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)])
  let s = 0
  for (let i = 0; i < b.length; i += 2) s += b.readUInt16BE(i)
  while (s >> 16 !== 0) s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}
