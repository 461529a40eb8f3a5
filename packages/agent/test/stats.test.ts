// LatencyRecorder keeps its window sorted between samples (a status poll asks it for several
// percentiles): the figures must follow every new sample and a reset all the same.
import { LatencyRecorder } from '../src/stats'

test('percentiles follow new samples, the window wrapping, and reset', () => {
  const r = new LatencyRecorder(4)
  expect(r.percentile(50)).toBeNull()
  for (const v of [5, 1, 3]) r.add(v)
  expect([r.percentile(50), r.percentile(99)]).toEqual([3, 5])
  r.add(10)
  expect([r.percentile(50), r.percentile(99)]).toEqual([3, 10])
  // The window holds the last 4: 5 goes out.
  r.add(2)
  expect(r.percentile(99)).toBe(10)
  expect(r.percentile(1)).toBe(1)
  r.reset()
  expect(r.percentile(50)).toBeNull()
  r.add(7)
  expect(r.percentile(50)).toBe(7)
})
