// The mock link answers presence by MN identifier (what the core asks before every refresh) and
// by MAC; the answers follow attaches, moves between links and detaches.
import { mock, type MockDriver } from '../src'

const ctx = { log: { debug() {}, info() {}, warn() {}, error() {} }, clock: { now: () => Date.now() } }

test('presence by MN identifier and MAC follows attach, move and detach', async () => {
  const d = mock({}, ctx) as MockDriver
  await d.start()
  const q = (link: string, mac?: string) => d.present({ link, mnId: 'mn1@example.com', ...(mac ? { mac } : {}) })
  d.attach({ link: 'mn1', mnId: 'mn1@example.com', mac: '02:00:00:00:00:01' })
  expect(await q('mn1', '02:00:00:00:00:01')).toBe(true)
  expect(await q('mn1', '02-00-00-00-00-01')).toBe(true) // any MAC spelling
  expect(await q('mn1', '02:00:00:00:00:02')).toBe(false)
  expect(await q('mn2', '02:00:00:00:00:01')).toBe(false)
  // The MN moves to mn2 with another MAC; the old station is still attached until it leaves.
  d.attach({ link: 'mn2', mnId: 'mn1@example.com', mac: '02:00:00:00:00:09' })
  expect(await q('mn2', '02:00:00:00:00:09')).toBe(true)
  expect(await q('mn1', '02:00:00:00:00:01')).toBe(true)
  d.detach({ link: 'mn1', mac: '02:00:00:00:00:01' })
  expect(await q('mn1', '02:00:00:00:00:01')).toBe(false)
  expect(await q('mn2', '02:00:00:00:00:09')).toBe(true)
  d.detach({ mnId: 'mn1@example.com' })
  expect(await q('mn2', '02:00:00:00:00:09')).toBe(false)
  // A station known only by MAC is still found when the question also names an MN.
  d.attach({ link: 'mn3', mac: '02:00:00:00:00:03' })
  expect(await q('mn3', '02:00:00:00:00:03')).toBe(true)
  await d.stop()
})
