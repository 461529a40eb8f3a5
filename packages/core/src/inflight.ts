/**
 * The per-LMA window of PBUs in flight (MagCoreConfig.maxPbusInFlight): a speed device, not an
 * RFC rule. A PBU that finds the window full waits (PH_PACED) until one to the same LMA lands.
 */
import type { MagContext } from './context'
import { type Entry, PH_PACED, PH_SENT, type Phase } from './entry'
import { transmit } from './registration'

/** Every phase change goes through here, so the in-flight windows stay exact. */
export function setPhase(c: MagContext, e: Entry, phase: Phase): void {
  if (e.phase === PH_SENT && phase !== PH_SENT) land(c, e)
  e.phase = phase
}

/** A PBU stopped being in flight (answered, timed out, cancelled): let a paced one go. */
export function land(c: MagContext, e: Entry): void {
  const lma = e.profile?.lma
  if (lma === undefined) return
  const set = c.inFlight.get(lma)
  if (!set || !set.delete(e)) return
  const q = c.paced.get(lma)
  while (q && q.head < q.items.length && set.size < c.s.maxPbusInFlight) {
    const next = q.items[q.head]!
    q.items[q.head++] = undefined
    if (next.phase === PH_PACED && c.byRef[next.ref] === next) transmit(c, next)
  }
  if (q && q.head >= q.items.length) c.paced.delete(lma)
  else if (q && q.head > 1024 && q.head * 2 > q.items.length) {
    // Array.shift() is a memmove on large arrays: consume by index, compact now and then.
    q.items = q.items.slice(q.head)
    q.head = 0
  }
}

/**
 * Room in the LMA's window? Members only leave through setPhase(), so the set is exact; as a
 * guard against a path that forgets, it is swept for stale members when full, at most once a
 * second (a full window in a refresh burst would otherwise be scanned on every PBU).
 */
export function hasRoom(c: MagContext, lma: string): boolean {
  const set = c.inFlight.get(lma)
  if (!set || set.size < c.s.maxPbusInFlight) return true
  if (c.now - c.lastSweep < 1000) return false
  c.lastSweep = c.now
  for (const x of set) if (x.phase !== PH_SENT || c.byMn.get(x.mnId) !== x || x.profile?.lma !== lma) set.delete(x)
  return set.size < c.s.maxPbusInFlight
}
