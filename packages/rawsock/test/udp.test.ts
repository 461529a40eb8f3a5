// The UDP helper added for the DHCPv6 relay (RawSocket.openUdp / openUdp6Socket): opens, binds,
// reports its protocol, refuses bad ports and double binds with typed errors. No traffic here:
// packages/dhcp6-relay/test/relay-io.test.ts exchanges datagrams through it in a namespace.
import { IPPROTO_UDP, RawSocket, isRawSocketError, openUdp6Socket } from '../src/index'

test('openUdp binds an ephemeral port and closes', () => {
  const s = RawSocket.openUdp(0)
  expect(s.proto).toBe(IPPROTO_UDP)
  expect(s.fd).toBeGreaterThan(0)
  s.close()
  expect(s.closed).toBe(true)
})

test('a port out of range is refused by the addon (ERR_OUT_OF_RANGE)', () => {
  // not toThrow(RangeError): under jest the addon's errors come from another realm
  expect(() => RawSocket.openUdp(70000)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'port must be an integer in [0, 65535], got 70000' }))
})

test('two binds of one port need reuseAddr on both', () => {
  const port = 40000 + (process.pid % 20000)
  const b = openUdp6Socket(port)
  let err: unknown
  try {
    openUdp6Socket(port).close()
  } catch (e) {
    err = e
  }
  expect(isRawSocketError(err)).toBe(true)
  expect(err).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' })
  b.close()
  const c = openUdp6Socket(port, { reuseAddr: true })
  const d = openUdp6Socket(port, { reuseAddr: true })
  c.close()
  d.close()
})

test('send: each option reaches the datagram, and a bad one is refused by its name with nothing sent', () => {
  const port = 40000 + ((process.pid + 7) % 20000)
  const rx = openUdp6Socket(port)
  const tx = RawSocket.openUdp(0)
  try {
    const data = Buffer.from('refresh')
    expect(tx.send(data, '::1', { port, src: '::1', hopLimit: 7 })).toBe(data.length)
    const m = rx.recv()
    expect(m).toMatchObject({ src: '::1', dst: '::1', hopLimit: 7 })
    expect(Buffer.from(m!.data)).toEqual(data)
    expect(() => tx.send(data, '::1', { port: 70000 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: 'opts.port must be an integer in [0, 65535], got 70000' }))
    expect(() => tx.send(data, '::1', { port, hopLimit: '7' as unknown as number })).toThrow(expect.objectContaining({ name: 'TypeError', message: 'opts.hopLimit must be a number' }))
    expect(() => tx.send(data, '::1', { port, ifindex: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => tx.send(data, '::1', { port, src: 'not-an-address' })).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining("invalid IPv6 address for opts.src: 'not-an-address'") }))
    expect(() => tx.send(data, '::1', null as unknown as object)).toThrow(TypeError)
    expect(rx.recv()).toBeNull()
  } finally {
    tx.close()
    rx.close()
  }
})
