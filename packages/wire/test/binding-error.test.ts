// The Binding Error the MAG sends for an unknown MH type (RFC 6275 §9.2): golden bytes written
// out from the RFC 6275 §6.1.9 layout, and the checksum as a receiver checks it.
import { mh, BeStatus, ALL_ZERO_ADDR, parseIp6, setMhChecksum, verifyChecksum, IPPROTO_MH } from '../src'

test('RFC 6275 §6.1.9 Binding Error, status 2, Home Address unspecified: golden bytes and decode', () => {
  const b = mh.encode({ kind: 'binding-error', status: BeStatus.UNRECOGNIZED_MH_TYPE, homeAddress: ALL_ZERO_ADDR, options: [] })
  // Payload Proto 59, Header Len 2 (24 octets), type 7, reserved, checksum, status 2, reserved, ::.
  expect(b.toString('hex')).toBe('3b02070000000200' + '00000000000000000000000000000000')
  expect(mh.decode(b)).toEqual({ kind: 'binding-error', status: 2, homeAddress: Buffer.alloc(16), options: [] })
  const mag = parseIp6('2001:db8:ffff::1')
  const lma = parseIp6('2001:db8:ffff::2')
  const wire = Buffer.from(b)
  setMhChecksum(wire, mag, lma)
  expect(verifyChecksum(mag, lma, IPPROTO_MH, wire)).toBe(true)
})
