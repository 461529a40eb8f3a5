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
