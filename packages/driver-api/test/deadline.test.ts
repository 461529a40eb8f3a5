// startDeadline on Node's real event loop (no fake timers: the point is the order of its phases).
// A starved process is made by blocking the loop past the deadline with the answer already
// readable on a socket (testkit's starvedRequest).
import { nextTurn, starvedRequest, udpPair } from '@pmip6/testkit'
import { startDeadline, type DeadlineTimers } from '../src/deadline'

/** A request with a deadline as every client writes it: resolves with the answer or 'expired'. */
function withDeadline(ms: number, answer: () => Promise<string>, deferrals?: number): Promise<string> {
  return new Promise((resolve) => {
    const d = startDeadline(ms, () => resolve('expired'), deferrals === undefined ? {} : { deferrals })
    void answer().then((a) => {
      if (d.expired) return
      d.cancel()
      resolve(a)
    })
  })
}

describe('startDeadline', () => {
  test('expires once after the deadline when nothing cancels it', async () => {
    let calls = 0
    const t0 = Date.now()
    const d = startDeadline(30, () => calls++)
    expect(d.expired).toBe(false)
    await new Promise<void>((r) => {
      const poll = (): void => void (d.expired ? r() : setTimeout(poll, 5))
      poll()
    })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(29)
    await nextTurn()
    await nextTurn()
    expect(calls).toBe(1)
    d.cancel() // after expiry: nothing
    expect(calls).toBe(1)
  })

  test('cancelled in time: never expires, and its timer is cleared', async () => {
    const cleared: unknown[] = []
    const timers: DeadlineTimers = {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => {
        cleared.push(h)
        clearTimeout(h as NodeJS.Timeout)
      },
    }
    let calls = 0
    const d = startDeadline(20, () => calls++, { timers })
    d.cancel()
    d.cancel()
    await new Promise((r) => setTimeout(r, 60))
    expect(calls).toBe(0)
    expect(d.expired).toBe(false)
    expect(cleared).toHaveLength(1)
  })

  describe('an answer readable in the turn the deadline passes', () => {
    let pair: Awaited<ReturnType<typeof udpPair>>
    beforeEach(async () => {
      pair = await udpPair()
    })
    afterEach(() => pair.close())

    test('the answer wins over the due timer', async () => {
      const { result, pollSeen } = await starvedRequest(pair, 30, (answer) => withDeadline(30, answer))
      expect(await result).toBe('answer')
      expect(await pollSeen).toBe(true)
    })

    test('control: with no deferral (a plain timer) the same answer is lost', async () => {
      const { result, pollSeen } = await starvedRequest(pair, 30, (answer) => withDeadline(30, answer, 0))
      expect(await result).toBe('expired')
      // It was there: read in the poll phase of the turn the timer fired in.
      expect(await pollSeen).toBe(true)
    })
  })
})
