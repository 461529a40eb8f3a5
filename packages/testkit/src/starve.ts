// Starving a Node process of the CPU on purpose, for tests of deadlines: a request's answer is
// made readable on a socket while the event loop is blocked past the deadline, so that when the
// loop resumes the deadline timer is due and the answer readable in the same turn (timers run
// before the poll phase that reads sockets).
import { createSocket, type Socket } from 'node:dgram'

/** Blocks the event loop: the CPU taken away for `ms`. */
export function starve(ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // busy: nothing else runs
  }
}

/** The next turn of the event loop, after its poll phase. */
export const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r))

/** A connected pair of loopback UDP sockets: `send` queues a datagram on `rx` at once. */
export async function udpPair(): Promise<{ rx: Socket; tx: Socket; close: () => void }> {
  const rx = createSocket('udp4')
  const tx = createSocket('udp4')
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r))
  await new Promise<void>((r) => tx.connect(rx.address().port, '127.0.0.1', r))
  return {
    rx,
    tx,
    close: () => {
      rx.close()
      tx.close()
    },
  }
}

/**
 * From a check-phase callback: the request starts (its answer is the next datagram on `rx`), the
 * answer is put on the socket, and the loop is blocked past `deadlineMs`. When the loop resumes,
 * the deadline timer is due and the answer readable in the same turn.
 * `pollSeen`: whether the answer had been read by the check phase of the turn the timer fired in.
 */
export function starvedRequest<T>(
  pair: { rx: Socket; tx: Socket },
  deadlineMs: number,
  request: (answer: () => Promise<string>) => Promise<T>,
): Promise<{ result: Promise<T>; pollSeen: Promise<boolean> }> {
  return new Promise((outer) => {
    setImmediate(() => {
      let read = false
      const answer = (): Promise<string> =>
        new Promise((r) =>
          pair.rx.once('message', (m) => {
            read = true
            r(m.toString())
          }),
        )
      // A timer armed after the request's: it fires in the same timers phase, and its immediate
      // runs after that turn's poll phase.
      const result = request(answer)
      const pollSeen = new Promise<boolean>((r) => setTimeout(() => setImmediate(() => r(read)), deadlineMs))
      pair.tx.send('answer')
      starve(deadlineMs * 3)
      outer({ result, pollSeen })
    })
  })
}
