/**
 * The deadline of a netlink request, kept here instead of in npm `netlink`.
 *
 * The library's `timeout` option is a plain setTimeout that rejects the request: a process
 * starved of the CPU past it (the real-kernel tier saw bindings torn down that way) loses an
 * answer already queued on its socket, because timers run before sockets are read in a turn of
 * the event loop. Our deadline is `startDeadline` (driver-api), which lets such an answer win.
 */
import { DEADLINE_POLL_DEFERRALS, startDeadline } from '@pmip6/driver-api'

/**
 * The library's own timeout, as a multiple of our deadline. It is passed only because the library
 * forgets a request (drops it from its pending map and lets go of its hold on the event loop) when
 * the request settles, and without a timeout one that never gets an answer (lost to a
 * receive-queue overrun) would stay there. Far past the deadline, because it has the same race:
 * a process starved past it would lose a queued answer to it, whatever we defer.
 */
const LIBRARY_BACKSTOP_FACTOR = 4

/** A netlink request that got no answer by its deadline. */
export class NetlinkTimeout extends Error {
  override readonly name = 'NetlinkTimeout'
  readonly code = 'ETIMEDOUT'
  constructor(
    /** The request, e.g. 'RTM_NEWLINK pmip6t1'. */
    readonly what: string,
    readonly deadlineMs: number,
  ) {
    super(`${what}: no answer within ${deadlineMs} ms (ETIMEDOUT)`)
  }
}

export class NetlinkRequests {
  /** Timeout to give the library: a backstop that only cleans up after our verdict. */
  readonly libraryTimeoutMs: number

  constructor(
    readonly deadlineMs: number,
    private readonly maxDeferrals = DEADLINE_POLL_DEFERRALS,
  ) {
    this.libraryTimeoutMs = deadlineMs * LIBRARY_BACKSTOP_FACTOR
  }

  /**
   * Runs one request; rejects with NetlinkTimeout when it has not settled by the deadline (and
   * the poll phases after it). An answer after that is dropped, its rejection included.
   */
  run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const deadline = startDeadline(
        this.deadlineMs,
        () => {
          settled = true
          reject(new NetlinkTimeout(what, this.deadlineMs))
        },
        { deferrals: this.maxDeferrals },
      )
      const settle = (f: () => void): void => {
        if (settled) return
        settled = true
        deadline.cancel()
        f()
      }
      let p: Promise<T>
      try {
        p = fn()
      } catch (e) {
        settle(() => reject(e))
        return
      }
      p.then(
        (v) => settle(() => resolve(v)),
        (e: unknown) => settle(() => reject(e)),
      )
    })
  }
}
