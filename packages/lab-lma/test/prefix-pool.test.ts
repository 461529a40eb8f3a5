// RFC 5213 §5.2 per-MN prefixes carved from a pool.
import { PrefixPool, toPrefix } from '@pmip6/lab-lma'

test('allocates in order, skips reserved prefixes, reuses released ones last, remembers an MN\'s last prefix', () => {
  const pool = new PrefixPool('2001:db8:100::/62', 64, [toPrefix('2001:db8:100:1::/64')])
  expect(pool.stats()).toEqual({ pool: '2001:db8:100::/62', prefixLength: 64, size: 4, allocated: 0 })
  expect(pool.allocate('a')?.text).toBe('2001:db8:100::/64')
  expect(pool.allocate('b')?.text).toBe('2001:db8:100:2::/64') // :1:: is reserved
  pool.release(toPrefix('2001:db8:100::/64'))
  expect(pool.allocate('c')?.text).toBe('2001:db8:100:3::/64') // fresh before released
  expect(pool.allocate('a')?.text).toBe('2001:db8:100::/64') // a's previous one
  expect(pool.allocate('d')).toBeUndefined()
  expect(pool.ownerOf(toPrefix('2001:db8:100:2::/64'))).toBe('b')
  expect(pool.claim(toPrefix('2001:db8:100:2::/64'), 'x')).toBe(false)
  expect(pool.claim(toPrefix('2001:db8:100:1::/64'), 'x')).toBe(false) // reserved
  pool.clear()
  expect(pool.stats().allocated).toBe(0)
  expect(pool.previousOf('a')).toBeUndefined()
})

test('a huge pool is fine (lazy allocation)', () => {
  const pool = new PrefixPool('2001:db8::/32', 64)
  expect(pool.stats().size).toBe(2 ** 32)
  expect(pool.allocate('a')?.text).toBe('2001:db8::/64')
  expect(() => new PrefixPool('2001:db8::/32', 16)).toThrow(RangeError)
})
