// Before every refresh the daemon asks its drivers whether the MN is still attached (RFC 5213
// §6.13). Drivers are asked in turn until one says yes; an answer may be synchronous (the mock
// link) or a promise (hostapd, PPP); a driver that fails is logged and skipped, not trusted.
import type { AccessDriver, PresenceQuery } from '@pmip6/driver-api'
import { world } from './helpers/world'

type Answer = (q: PresenceQuery) => boolean | Promise<boolean>

function driver(name: string, answer: Answer, asked: string[]): AccessDriver {
  return {
    name,
    start: async () => undefined,
    stop: async () => undefined,
    onEvent: () => () => undefined,
    present: (q) => {
      asked.push(`${name}:${q.mnId}@${q.link}`)
      return answer(q)
    },
    attached: async () => [],
  }
}

const settle = () => new Promise((r) => setImmediate(r))

/** Registers mn1, then moves the clock to its refresh; returns how many refresh PBUs went out. */
async function refreshWith(answers: [string, Answer][]) {
  const asked: string[] = []
  const w = world({ drivers: new Map(answers.map(([n, a]) => [n, driver(n, a, asked)])), mag: { lifetime: 20 } })
  await w.d.start()
  w.d.enqueue({ type: 'attached', at: w.now(), link: 'mn1', mnId: 'mn1@example.com', att: 4 })
  w.accept(w.pbus()[0]!)
  expect(w.d.bindings()[0]!.state).toBe('registered')
  w.tick(16_100) // refresh at 80% of 20 s
  await settle()
  const later = w.pbus().slice(1)
  await w.d.stop(false)
  return { asked, later, logs: w.logs }
}

describe('daemon: presence before a refresh (§6.13)', () => {
  test('a synchronous yes from the first driver refreshes at once; later drivers are not asked', async () => {
    const r = await refreshWith([['a', () => true], ['b', () => true]])
    expect(r.asked).toEqual(['a:mn1@example.com@mn1'])
    expect(r.later).toHaveLength(1)
    expect(r.later[0]!.lifetime).toBeGreaterThan(0)
  })

  test('a no from one driver passes the question on; a promised yes from the next refreshes', async () => {
    const r = await refreshWith([['a', () => false], ['b', () => Promise.resolve(true)]])
    expect(r.asked).toEqual(['a:mn1@example.com@mn1', 'b:mn1@example.com@mn1'])
    expect(r.later).toHaveLength(1)
    expect(r.later[0]!.lifetime).toBeGreaterThan(0)
  })

  test('a driver that throws or rejects is logged and skipped; when nobody says yes the MN is de-registered', async () => {
    const r = await refreshWith([
      ['a', () => { throw new Error('socket gone') }],
      ['b', () => Promise.reject(new Error('timed out'))],
      ['c', () => false],
    ])
    expect(r.asked).toHaveLength(3)
    expect(r.logs.filter((l) => l.msg === 'presence check failed').map((l) => l.meta)).toEqual([
      { driver: 'a', mnId: 'mn1@example.com', error: 'socket gone' },
      { driver: 'b', mnId: 'mn1@example.com', error: 'timed out' },
    ])
    // De-registration: lifetime 0 (RFC 5213 §6.9.1.4 via §6.13).
    expect(r.later.map((p) => p.lifetime)).toEqual([0])
  })
})
