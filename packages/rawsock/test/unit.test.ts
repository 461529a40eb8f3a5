// Tests that need the built addon but no root and no traffic.
import { join } from 'node:path'
import {
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
