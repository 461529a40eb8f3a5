/**
 * A request deadline that lets an answer already on its socket win.
 *
 * In each turn of Node's event loop the timers phase runs before the poll phase, where sockets
 * are read. A process starved of the CPU past a deadline (a single-CPU User-Mode Linux guest, a
 * loaded access router) wakes with the peer's answer queued on its socket and its timer due: a
 * plain setTimeout runs first and fails the request although the answer is there. Here the
 * verdict of a passed deadline waits for the poll phase of that turn (setImmediate runs after
 * it), a bounded number of times, so that an answer already readable is taken first.
 *
 * Every client of a local daemon or a peer uses it: netlink (data plane), RADIUS, the control
 * socket, hostapd's control interface, the PPP driver's probes.
 */

/** Poll phases a passed deadline waits for before it expires. */
export const DEADLINE_POLL_DEFERRALS = 2

/** Where the timer comes from: Node's, or a daemon's clock (the RADIUS client takes one). */
export interface DeadlineTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const nodeTimers: DeadlineTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

export interface DeadlineOptions {
  /** Poll phases to wait for after the timer (default DEADLINE_POLL_DEFERRALS; 0 = a plain timer). */
  readonly deferrals?: number
  readonly timers?: DeadlineTimers
  /** The timer does not keep the process alive (Node timers only). */
  readonly unref?: boolean
}

export interface Deadline {
  /** The answer came: `expire` will not be called. Safe to call more than once. */
  cancel(): void
  /** Whether `expire` was called. */
  readonly expired: boolean
}

/** Calls `expire` once `ms` have passed and the poll phases after them brought no `cancel()`. */
export function startDeadline(ms: number, expire: () => void, o: DeadlineOptions = {}): Deadline {
  const timers = o.timers ?? nodeTimers
  const maxDeferrals = o.deferrals ?? DEADLINE_POLL_DEFERRALS
  let done = false
  let expired = false
  let deferrals = 0
  const verdict = (): void => {
    if (done) return
    if (deferrals < maxDeferrals) {
      deferrals++
      setImmediate(verdict)
      return
    }
    done = true
    expired = true
    expire()
  }
  const handle = timers.setTimeout(verdict, ms)
  if (o.unref) (handle as { unref?: () => void } | null)?.unref?.()
  return {
    cancel: () => {
      if (done) return
      done = true
      timers.clearTimeout(handle)
    },
    get expired() {
      return expired
    },
  }
}
