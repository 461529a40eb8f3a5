// NetlinkRequests (request.ts): the deadline of a netlink request, on Node's real event loop (no
// fake timers: the point is the order of its phases). A starved process is made by blocking the
// loop past the deadline from a setImmediate callback (check phase) with the answer already
// readable on a socket: the next turn runs the timers phase before the poll phase that reads it.
// The last block does the same with the npm `netlink` library's own timeout and a real rtnetlink
// dump (read-only, any user): the race that failed bindings in the real-kernel tier.
import { createHook } from 'node:async_hooks'
import { createRtNetlink } from 'netlink'
import { nextTurn, starve, starvedRequest, udpPair } from '@pmip6/testkit'
import { NetlinkRequests, NetlinkTimeout } from '../src/request'

/**
 * Runs `f` and returns how many timers of `ms` made meanwhile are still armed: cleared or fired
 * ones report their destroy hook (asynchronously: a turn is given for it). By duration, because
 * jest's reporter arms timers of its own in this process.
 */
async function timersLeftBy(ms: number, f: () => Promise<unknown>): Promise<number> {
  const armed = new Set<number>()
  const hook = createHook({
    init: (id, type, _trigger, resource) => {
      if (type === 'Timeout' && (resource as { _idleTimeout?: number })._idleTimeout === ms) armed.add(id)
    },
    destroy: (id) => armed.delete(id),
  }).enable()
  try {
    await f().catch(() => undefined)
    await nextTurn()
    await nextTurn()
  } finally {
    hook.disable()
  }
  return armed.size
}

describe('NetlinkRequests', () => {
  test('an answer before the deadline resolves, and its timer is cleared', async () => {
    const r = new NetlinkRequests(10_000)
    const t0 = Date.now()
    await expect(r.run('RTM_GETLINK dump', () => new Promise((res) => setImmediate(() => res('links'))))).resolves.toBe('links')
    expect(Date.now() - t0).toBeLessThan(5000)
    // Nothing of the request keeps the loop alive: its 10 s timer is gone.
    expect(await timersLeftBy(10_000, () => r.run('RTM_GETLINK dump', () => new Promise((res) => setImmediate(() => res('links')))))).toBe(0)
    // The measure can fail: a timer left armed is seen.
    let stray: NodeJS.Timeout | undefined
    expect(await timersLeftBy(10_000, async () => void (stray = setTimeout(() => undefined, 10_000)))).toBe(1)
    clearTimeout(stray)
  })

  test('a refusal before the deadline is passed through as it is', async () => {
    const r = new NetlinkRequests(10_000)
    const refusal = new Error('Request rejected: EEXIST')
    await expect(r.run('RTM_NEWLINK pmip6t1', () => Promise.reject(refusal))).rejects.toBe(refusal)
    await expect(
      r.run('RTM_NEWLINK pmip6t1', () => {
        throw refusal
      }),
    ).rejects.toBe(refusal)
    expect(await timersLeftBy(10_000, () => r.run('RTM_NEWLINK pmip6t1', () => Promise.reject(refusal)))).toBe(0)
  })

  test('no answer: NetlinkTimeout naming the request, soon after the deadline', async () => {
    const r = new NetlinkRequests(50)
    const t0 = Date.now()
    const e: unknown = await r.run('RTM_NEWLINK pmip6t1', () => new Promise<never>(() => undefined)).catch((x: unknown) => x)
    const took = Date.now() - t0
    expect(e).toBeInstanceOf(NetlinkTimeout)
    const t = e as NetlinkTimeout
    expect(t.code).toBe('ETIMEDOUT')
    expect(t.what).toBe('RTM_NEWLINK pmip6t1')
    expect(t.message).toBe('RTM_NEWLINK pmip6t1: no answer within 50 ms (ETIMEDOUT)')
    expect(took).toBeGreaterThanOrEqual(49) // timers may fire up to 1 ms early on the loop's clock
    expect(took).toBeLessThan(50 + 1000)
    expect(await timersLeftBy(50, () => r.run('RTM_NEWLINK pmip6t1', () => new Promise<never>(() => undefined)))).toBe(0)
  })

  test('the library timeout given as a backstop is well past the deadline', () => {
    const r = new NetlinkRequests(15_000)
    expect(r.libraryTimeoutMs).toBeGreaterThanOrEqual(4 * 15_000)
  })

  describe('an answer readable in the turn the deadline passes', () => {
    let pair: Awaited<ReturnType<typeof udpPair>>
    beforeEach(async () => {
      pair = await udpPair()
    })
    afterEach(() => pair.close())

    test('control: a plain timer fails the request although the answer is read in that turn', async () => {
      const { result, pollSeen } = await starvedRequest(pair, 30, (answer) =>
        Promise.race([answer(), new Promise<string>((_, reject) => setTimeout(() => reject(new Error('Timeout has been reached')), 30))]),
      )
      await expect(result).rejects.toThrow('Timeout has been reached')
      // The answer was there: read in the poll phase of the very turn the timer fired in.
      expect(await pollSeen).toBe(true)
    })

    test('NetlinkRequests: the answer wins', async () => {
      const r = new NetlinkRequests(30)
      const { result, pollSeen } = await starvedRequest(pair, 30, (answer) => r.run('RTM_GETLINK dump', answer))
      await expect(result).resolves.toBe('answer')
      expect(await pollSeen).toBe(true)
    })

    test('NetlinkRequests without deferral (maxDeferrals 0) loses it like the plain timer', async () => {
      const r = new NetlinkRequests(30, 0)
      const { result } = await starvedRequest(pair, 30, (answer) => r.run('RTM_GETLINK dump', answer))
      await expect(result).rejects.toBeInstanceOf(NetlinkTimeout)
    })
  })

  test('an answer or a refusal after the timeout is dropped: no unhandled rejection', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e)
    }
    process.on('unhandledRejection', onUnhandled)
    try {
      const r = new NetlinkRequests(20)
      let lateReject!: (e: Error) => void
      let lateResolve!: (v: string) => void
      const a = r.run('RTM_DELLINK pmip6t1', () => new Promise<string>((_, rej) => (lateReject = rej)))
      const b = r.run('RTM_GETLINK dump', () => new Promise<string>((res) => (lateResolve = res)))
      await expect(a).rejects.toBeInstanceOf(NetlinkTimeout)
      await expect(b).rejects.toBeInstanceOf(NetlinkTimeout)
      lateReject(new Error('Timeout has been reached')) // the library's backstop, later
      lateResolve('late')
      // unhandledRejection is emitted after the microtasks of a macrotask: give it two turns.
      await nextTurn()
      await nextTurn()
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})

describe('the npm netlink library on a real rtnetlink socket, starved past the deadline', () => {
  /** From a check-phase callback: a link dump is sent (answered within sendmsg), then the loop is blocked. */
  function starvedDump<T>(request: (s: ReturnType<typeof createRtNetlink>) => Promise<T>, ms: number): Promise<{ result: Promise<T>; s: ReturnType<typeof createRtNetlink> }> {
    return new Promise((outer) => {
      setImmediate(() => {
        const s = createRtNetlink()
        const result = request(s)
        starve(ms)
        outer({ result, s })
      })
    })
  }

  test("control: the library's own timeout fails a dump whose answer is queued", async () => {
    const { result, s } = await starvedDump((s) => s.getLinks({}, {}, { timeout: 30 }), 90)
    try {
      await expect(result).rejects.toThrow('Timeout has been reached')
    } finally {
      s.socket.close()
    }
  })

  test('NetlinkRequests with the library timeout as backstop: the dump is answered', async () => {
    const r = new NetlinkRequests(1000)
    // Starved past the deadline, not past the library's backstop (that one would win: see
    // request.ts). The backstop is 2.9 s after the starving ends: a loaded machine (load 16 with
    // a 100 ms deadline left 200 ms, and the process was not scheduled in time) still gets a turn.
    const { result, s } = await starvedDump((s) => r.run('RTM_GETLINK dump', () => s.getLinks({}, {}, { timeout: r.libraryTimeoutMs })), 1100)
    expect(r.libraryTimeoutMs).toBeGreaterThanOrEqual(4000)
    try {
      const links = await result
      expect(links.some((l) => l.attrs.ifname === 'lo')).toBe(true)
    } finally {
      s.socket.close()
    }
  })
})
