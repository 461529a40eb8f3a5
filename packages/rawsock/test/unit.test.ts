// Tests that need the built addon but no root and no traffic.
import { join } from 'node:path'
import {
  AddressCache,
  IPPROTO_MH,
  IPV6_RECVPKTINFO,
  ifIndexToName,
  ifNameToIndex,
  isRawSocketError,
} from '../src/index'
import { addonCandidates, packageRoot } from '../src/native'

test('constants match protocol-reference.md §9.1', () => {
  expect(IPPROTO_MH).toBe(135)
  expect(IPV6_RECVPKTINFO).toBe(49)
})

test('the addon is found relative to the package, from src/ and from dist/', () => {
  const root = join(__dirname, '..')
  expect(packageRoot(join(root, 'src'))).toBe(root)
  expect(packageRoot(join(root, 'dist'))).toBe(root)
  expect(addonCandidates()).toContain(join(root, 'build', 'Release', 'rawsock.node'))
})

test('ifNameToIndex / ifIndexToName: a missing interface is a clear ENODEV', () => {
  expect(ifIndexToName(ifNameToIndex('lo'))).toBe('lo')
  let err: unknown
  try {
    ifNameToIndex('rs-missing0')
  } catch (e) {
    err = e
  }
  expect(isRawSocketError(err)).toBe(true)
  expect(err).toMatchObject({ code: 'ENODEV', syscall: 'if_nametoindex', message: 'no such interface: rs-missing0 (ENODEV)' })
  expect(() => ifIndexToName(2 ** 31 - 1)).toThrow(
    expect.objectContaining({ code: 'ENODEV', message: `no such interface index: ${2 ** 31 - 1} (ENODEV)` }),
  )
})

test('the per-socket address cache gives the right text for every address, also past its eight entries', () => {
  const cache = new AddressCache()
  const meta = new Uint8Array(52)
  const m32 = new Uint32Array(meta.buffer)
  const addr = (i: number) => Buffer.from(`20010db8${i.toString(16).padStart(4, '0')}000000000000000000${(i & 0xff).toString(16).padStart(2, '0')}`, 'hex')
  const text = (i: number) => `2001:db8:${i.toString(16)}::${(i & 0xff).toString(16)}`
  // 20 sources against 2 destinations, three rounds, in an order that evicts and revisits.
  for (let round = 0; round < 3; round++) {
    for (let i = 1; i <= 20; i++) {
      meta.set(addr(i), 0)
      meta.set(addr(1000 + (i % 2)), 16)
      expect(cache.text(m32, 0, meta)).toBe(text(i))
      expect(cache.text(m32, 4, meta)).toBe(text(1000 + (i % 2)))
    }
  }
  meta.fill(0, 0, 16)
  expect(cache.text(m32, 0, meta)).toBe('::')
})
