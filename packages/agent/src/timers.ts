/**
 * Keyed timers for the daemon: the core asks for `arm-timer key at` and `cancel-timer key`;
 * this keeps every deadline itself and a single Node timer for the earliest one, so 100,000
 * bindings cost 100,000 entries, not 100,000 libuv timers. Re-arming a key replaces its
 * deadline (stale entries are skipped lazily by generation number).
 *
 * Where deadlines live: those a second or more away are rounded up to a 10 ms grid (10 s or
 * more away: a 100 ms grid) and, within 82 s, kept in a timing wheel (a bucket per grid tick,
 * O(1) to arm and to fire); the rest (near deadlines, kept exact, and far ones) in a binary
 * heap. Both are typed arrays.
 *
 * Memory (issue 8: 100,000 bindings, three live timers each): the core's keys are
 * `<kind>/<id>` (`refresh/mn1@example.com`), so a key is stored as a group (the id, one Map
 * entry and one string per MN) and a kind index within it (deadline, slot, generation: no
 * object, no boxed double per entry). Any other key (no '/', or more kinds than a group has
 * room for) is a group of its own with kind 0.
 *
 * A caller may also name an id by a small number of its own, a ref (the core numbers its
 * entries): a group is then found by indexing, not by hashing the id, and firing hands the ref
 * back. A ref always comes with its id, so a ref reused for another id finds nothing stale.
 */

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

/** `<kind>/<id>` -> [kind, id]; a key without a '/' (or starting with one) is ['', key]. */
function parseKey(key: string): [string, string] {
  const slash = key.indexOf('/')
  return slash <= 0 ? ['', key] : [key.slice(0, slash), key.slice(slash + 1)]
}

// Node timers cannot wait longer than 2^31-1 ms; a farther deadline is re-checked then.
const MAX_WAIT_MS = 0x7fffffff
/**
 * Deadlines at least COALESCE_LEAD_MS away are rounded up to a COALESCE_GRID_MS grid, so that
 * the refreshes and expiries of many bindings share one wake-up (and their PBAs arrive
 * together and are read in one batch): at 100,000 bindings, 2,000 refreshes a second became
 * at most 100 wake-ups (issue 8, steady-state CPU). Nearer deadlines (RA delays, anything
 * a test or a handoff waits for) stay exact. A timer never fires early.
 */
const COALESCE_LEAD_MS = 1000
const COALESCE_GRID_MS = 10
/**
 * Deadlines at least COARSE_LEAD_MS away (refreshes and lifetime expiries, tens of seconds
 * out) go on a COARSE_GRID_MS grid: 100 ms later costs a binding nothing (RFC 5213 §6.9.1.3
 * only asks for a refresh before the lifetime runs out), and a tenth of the timer wake-ups
 * carry the same refreshes. (At 100,000 bindings the MAG's wake-ups come mostly from PBAs
 * arriving as the LMA answers, so their total hardly changed: issue 8.)
 * A multiple of COALESCE_GRID_MS, so such a deadline still lands on a wheel tick.
 */
const COARSE_LEAD_MS = 10_000
const COARSE_GRID_MS = 100
/**
 * Coalesced deadlines within WHEEL_SLOTS grid ticks (82 s) go into a timing wheel, one bucket
 * per tick: arming and firing cost O(1) there, where the heap's sift touched ~20 entries of a
 * multi-megabyte array at 300,000 timers (issue 8). Farther ones wait in the heap.
 */
const WHEEL_SLOTS = 8192
/** Timer slots per group: the core has five per-MN kinds; index 0 is for keys without a kind. */
const KINDS_PER_GROUP = 8

export class TimerSet {
  // The heap, as parallel arrays: deadline, timer slot (group * KINDS_PER_GROUP + kind), generation.
  private hAt = new Float64Array(1024)
  private hSlot = new Int32Array(1024)
  private hGen = new Uint32Array(1024)
  private hLen = 0
  /** Generation of each slot's live entry; 0: not armed. */
  private slotGen = new Uint32Array(1024 * KINDS_PER_GROUP)
  /** Per group: its id (the key, or the part after the kind) and how many of its slots are armed. */
  private readonly groupId: string[] = []
  private groupLive = new Uint8Array(1024)
  private readonly freeGroups: number[] = []
  private readonly groups = new Map<string, number>()
  /** Group of each caller ref (-1: none), and the ref of each group (-1: none). */
  private refGroup = new Int32Array(1024).fill(-1)
  private groupRef = new Int32Array(1024).fill(-1)
  /** Kind texts by index 1..KINDS_PER_GROUP-1 (0: keys used whole). */
  private readonly kindText: string[] = ['']
  private live = 0
  /** The group found last, and its id (null: none). */
  private lastG = -1
  private lastId: string | null = null
  private gen = 0
  private handle: unknown = null
  private handleAt = Infinity
  private stopped = false
  // The wheel: per bucket a list of nodes (slot, generation) in typed arrays, with a free list.
  private readonly wHead = new Int32Array(WHEEL_SLOTS).fill(-1)
  private nNext = new Int32Array(1024)
  private nSlot = new Int32Array(1024)
  private nGen = new Uint32Array(1024)
  private nFree = -1
  private nUsed = 0
  /** Nodes in the wheel (live or cancelled). */
  private wCount = 0
  /** Every bucket up to this grid tick has been run (or was empty). */
  private wCursor: number
  /** Inside runDue(): timers armed by the callbacks are scheduled once, after the batch. */
  private running = false

  constructor(
    private readonly clock: Clock,
    /**
     * `kind` and `id` are the parts of `key` ('' and the key for a key without a kind); `ref`:
     * the ref the id was last armed with, -1 for none or when another id was armed with it
     * since (a hint: the id decides).
     */
    private readonly fire: (key: string, at: number, kind: string, id: string, ref: number) => void,
  ) {
    this.wCursor = Math.floor(clock.now() / COALESCE_GRID_MS)
  }

  get size(): number {
    return this.live
  }

  has(key: string): boolean {
    const [kind, id] = parseKey(key)
    const slot = this.find(kind, id, -1)
    return slot >= 0 && this.slotGen[slot] !== 0
  }

  arm(key: string, at: number): void {
    const [kind, id] = parseKey(key)
    this.armParts(kind, id, at)
  }

  cancel(key: string): void {
    const [kind, id] = parseKey(key)
    this.cancelParts(kind, id)
  }

  /**
   * arm(`${kind}/${id}`, at) for a caller that has the parts: the id string it passes is the one
   * it keeps (the core's MN id), so finding its group hashes nothing new (issue 8). `ref`: the
   * caller's number for `id` (see above), -1 for none.
   */
  armParts(kind: string, id: string, at: number, ref = -1): void {
    let tick = -1
    const lead = at - this.clock.now()
    if (lead >= COALESCE_LEAD_MS) {
      const grid = lead >= COARSE_LEAD_MS ? COARSE_GRID_MS : COALESCE_GRID_MS
      at = Math.ceil(at / grid) * grid
      tick = at / COALESCE_GRID_MS
      if (tick <= this.wCursor || tick - this.wCursor >= WHEEL_SLOTS) tick = -1
    }
    const slot = this.slotOf(kind, id, ref)
    if (this.slotGen[slot] === 0) {
      this.live++
      this.groupLive[(slot / KINDS_PER_GROUP) | 0]!++
    }
    let gen = (this.gen + 1) >>> 0
    if (gen === 0) gen = 1
    this.gen = gen
    this.slotGen[slot] = gen
    if (tick >= 0) this.wheelAdd(tick, slot, gen)
    else this.push(at, slot, gen)
    if (at < this.handleAt && !this.running) this.schedule()
  }

  /** cancel(`${kind}/${id}`); `ref` as for armParts. */
  cancelParts(kind: string, id: string, ref = -1): void {
    const slot = this.find(kind, id, ref)
    if (slot < 0 || this.slotGen[slot] === 0) return
    this.release(slot)
    // The heap entry stays until it surfaces; compact when dead entries dominate.
    if (this.hLen > 1024 && this.hLen > 4 * this.live) this.compact()
  }

  stop(): void {
    this.stopped = true
    if (this.handle !== null) this.clock.clearTimeout(this.handle)
    this.handle = null
    this.handleAt = Infinity
    this.hLen = 0
    this.wHead.fill(-1)
    this.wCount = 0
    this.nFree = -1
    this.nUsed = 0
    this.slotGen.fill(0)
    this.groupLive.fill(0)
    this.refGroup.fill(-1)
    this.groupRef.fill(-1)
    this.groups.clear()
    this.groupId.length = 0
    this.freeGroups.length = 0
    this.live = 0
    this.lastG = -1
    this.lastId = null
  }

  /** Fires every timer due at `now` (the scheduled callback calls this). */
  runDue(now = this.clock.now()): number {
    let fired = 0
    const outer = this.running
    this.running = true
    try {
      const nowTick = Math.floor(now / COALESCE_GRID_MS)
      for (;;) {
        // Heap entries before the next due bucket go first: deadlines fire in order.
        const tick = this.nextBucket(nowTick)
        const bucketAt = tick < 0 ? Infinity : tick * COALESCE_GRID_MS
        if (this.hLen > 0 && this.hAt[0]! <= now && this.hAt[0]! <= bucketAt) {
          const at = this.hAt[0]!
          const slot = this.hSlot[0]!
          const gen = this.hGen[0]!
          this.pop()
          if (this.slotGen[slot] !== gen) continue
          fired++
          this.fireSlot(slot, at)
        } else if (tick >= 0) {
          // Detach the bucket first: its callbacks may arm timers, never into this tick.
          let n = this.wHead[tick % WHEEL_SLOTS]!
          this.wHead[tick % WHEEL_SLOTS] = -1
          this.wCursor = tick
          while (n >= 0) {
            const next = this.nNext[n]!
            const slot = this.nSlot[n]!
            const live = this.slotGen[slot] === this.nGen[n]
            this.freeNode(n)
            n = next
            if (!live) continue
            fired++
            this.fireSlot(slot, bucketAt)
            if (this.stopped) return fired
          }
          continue
        } else {
          if (nowTick > this.wCursor) this.wCursor = nowTick
          break
        }
        if (this.stopped) return fired
      }
    } finally {
      this.running = outer
    }
    // Called directly (not from our own timer): what the callbacks armed still needs a wake-up.
    if (!outer && this.handle === null) this.schedule()
    return fired
  }

  private fireSlot(slot: number, at: number): void {
    const kind = this.kindText[slot % KINDS_PER_GROUP]!
    const g = (slot / KINDS_PER_GROUP) | 0
    const id = this.groupId[g]!
    const ref = this.groupRef[g]! // before release: the group may go with its last timer
    this.release(slot)
    // The callback arms and cancels timers of the same MN (a refresh arms its retransmission):
    // those find the group without a Map lookup (issue 8).
    if (this.groupLive[g]! > 0) {
      this.lastG = g
      this.lastId = id
    }
    this.fire(kind === '' ? id : `${kind}/${id}`, at, kind, id, ref)
  }

  // ---------------------------------------------------------------- wheel

  private wheelAdd(tick: number, slot: number, gen: number): void {
    let n = this.nFree
    if (n >= 0) this.nFree = this.nNext[n]!
    else {
      if (this.nUsed === this.nNext.length) this.growNodes()
      n = this.nUsed++
    }
    const b = tick % WHEEL_SLOTS
    this.nSlot[n] = slot
    this.nGen[n] = gen
    this.nNext[n] = this.wHead[b]!
    this.wHead[b] = n
    this.wCount++
  }

  private freeNode(n: number): void {
    this.nNext[n] = this.nFree
    this.nFree = n
    this.wCount--
  }

  private growNodes(): void {
    const cap = this.nNext.length * 2
    const next = new Int32Array(cap)
    next.set(this.nNext)
    const slot = new Int32Array(cap)
    slot.set(this.nSlot)
    const gen = new Uint32Array(cap)
    gen.set(this.nGen)
    this.nNext = next
    this.nSlot = slot
    this.nGen = gen
  }

  /** The first tick after the cursor, up to `upTo`, whose bucket has nodes; -1 for none. */
  private nextBucket(upTo: number): number {
    if (this.wCount === 0) return -1
    const end = Math.min(upTo, this.wCursor + WHEEL_SLOTS)
    for (let t = this.wCursor + 1; t <= end; t++) if (this.wHead[t % WHEEL_SLOTS]! >= 0) return t
    return -1
  }

  // ---------------------------------------------------------------- keys

  /** Index of a kind text, or -1 when it is new; '' (a key without a kind) is 0. */
  private kindIndex(kind: string): number {
    if (kind === '') return 0
    const kinds = this.kindText
    for (let k = 1; k < kinds.length; k++) if (kinds[k] === kind) return k
    return -1
  }

  /**
   * The group of an id, or -1. The core's commands come in runs for one MN (cancel pbu, arm
   * refresh, arm expire): the last group found answers those without a Map lookup, and the
   * caller's ref answers the first of a run (a PBA's cancel) without one.
   */
  private groupOf(id: string, ref: number): number {
    if (id === this.lastId) return this.lastG
    if (ref >= 0 && ref < this.refGroup.length) {
      const g = this.refGroup[ref]!
      if (g >= 0 && this.groupId[g] === id) {
        this.lastG = g
        this.lastId = this.groupId[g]!
        return g
      }
    }
    const g = this.groups.get(id)
    if (g === undefined) return -1
    this.lastG = g
    this.lastId = this.groupId[g]!
    return g
  }

  /** The slot of (kind, id), or -1 when it has none (never armed, or its group is gone). */
  private find(kind: string, id: string, ref: number): number {
    const k = this.kindIndex(kind)
    if (k < 0) return kind === '' ? -1 : this.find('', `${kind}/${id}`, -1) // a kind that never fit
    const g = this.groupOf(id, ref)
    return g < 0 ? -1 : g * KINDS_PER_GROUP + k
  }

  private slotOf(kind: string, id: string, ref: number): number {
    let k = this.kindIndex(kind)
    if (k < 0) {
      if (this.kindText.length === KINDS_PER_GROUP) return this.slotOf('', `${kind}/${id}`, -1) // a group of its own
      k = this.kindText.length
      this.kindText.push(kind)
    }
    let g = this.groupOf(id, ref)
    if (g < 0) {
      g = this.freeGroups.pop() ?? this.groupId.length
      if (g === this.groupId.length) this.groupId.push(id)
      else this.groupId[g] = id
      this.groups.set(id, g)
      if (g >= this.groupLive.length) this.growGroups()
      this.lastG = g
      this.lastId = id
    }
    // Arming ties the ref to the group (finding by ref never does).
    if (ref >= 0 && this.groupRef[g] !== ref) this.bindRef(g, ref)
    return g * KINDS_PER_GROUP + k
  }

  /** Group g is the one of `ref` now; whatever either was tied to before lets go. */
  private bindRef(g: number, ref: number): void {
    if (ref >= this.refGroup.length) {
      const grown = new Int32Array(Math.max(ref + 1, this.refGroup.length * 2)).fill(-1)
      grown.set(this.refGroup)
      this.refGroup = grown
    }
    const oldRef = this.groupRef[g]!
    if (oldRef >= 0 && this.refGroup[oldRef] === g) this.refGroup[oldRef] = -1
    const oldG = this.refGroup[ref]!
    if (oldG >= 0 && this.groupRef[oldG] === ref) this.groupRef[oldG] = -1
    this.refGroup[ref] = g
    this.groupRef[g] = ref
  }

  private release(slot: number): void {
    this.slotGen[slot] = 0
    this.live--
    const g = (slot / KINDS_PER_GROUP) | 0
    if (--this.groupLive[g]! === 0) {
      if (g === this.lastG) {
        this.lastG = -1
        this.lastId = null
      }
      this.groups.delete(this.groupId[g]!)
      const ref = this.groupRef[g]!
      if (ref >= 0) {
        if (this.refGroup[ref] === g) this.refGroup[ref] = -1
        this.groupRef[g] = -1
      }
      this.groupId[g] = ''
      this.freeGroups.push(g)
    }
  }

  private growGroups(): void {
    const live = new Uint8Array(this.groupLive.length * 2)
    live.set(this.groupLive)
    this.groupLive = live
    const refs = new Int32Array(live.length).fill(-1)
    refs.set(this.groupRef)
    this.groupRef = refs
    const gens = new Uint32Array(live.length * KINDS_PER_GROUP)
    gens.set(this.slotGen)
    this.slotGen = gens
  }

  // ---------------------------------------------------------------- heap

  private schedule(): void {
    if (this.stopped) return
    if (this.handle !== null) this.clock.clearTimeout(this.handle)
    this.handle = null
    this.handleAt = Infinity
    while (this.hLen > 0 && this.slotGen[this.hSlot[0]!] !== this.hGen[0]) this.pop()
    const tick = this.nextBucket(this.wCursor + WHEEL_SLOTS)
    if (this.hLen === 0 && tick < 0) return
    const at = Math.min(this.hLen > 0 ? this.hAt[0]! : Infinity, tick < 0 ? Infinity : tick * COALESCE_GRID_MS)
    const wait = Math.min(MAX_WAIT_MS, Math.max(0, at - this.clock.now()))
    this.handleAt = at
    this.handle = this.clock.setTimeout(() => {
      this.handle = null
      this.handleAt = Infinity
      this.runDue() // schedules the next wake-up itself
    }, wait)
  }

  private compact(): void {
    const n = this.hLen
    const at = this.hAt.slice(0, n)
    const slot = this.hSlot.slice(0, n)
    const gen = this.hGen.slice(0, n)
    this.hLen = 0
    for (let i = 0; i < n; i++) if (this.slotGen[slot[i]!] === gen[i]) this.push(at[i]!, slot[i]!, gen[i]!)
    // Give back what a burst grew, keeping room to double.
    if (this.hAt.length > 4096 && this.hLen * 4 < this.hAt.length) this.resize(Math.max(4096, this.hLen * 2))
  }

  private resize(cap: number): void {
    const at = new Float64Array(cap)
    at.set(this.hAt.subarray(0, this.hLen))
    const slot = new Int32Array(cap)
    slot.set(this.hSlot.subarray(0, this.hLen))
    const gen = new Uint32Array(cap)
    gen.set(this.hGen.subarray(0, this.hLen))
    this.hAt = at
    this.hSlot = slot
    this.hGen = gen
  }

  private push(at: number, slot: number, gen: number): void {
    if (this.hLen === this.hAt.length) this.resize(this.hAt.length * 2)
    const hAt = this.hAt
    const hSlot = this.hSlot
    const hGen = this.hGen
    let i = this.hLen++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (hAt[p]! <= at) break
      hAt[i] = hAt[p]!
      hSlot[i] = hSlot[p]!
      hGen[i] = hGen[p]!
      i = p
    }
    hAt[i] = at
    hSlot[i] = slot
    hGen[i] = gen
  }

  /** Removes the top entry. */
  private pop(): void {
    const n = --this.hLen
    if (n === 0) return
    const hAt = this.hAt
    const hSlot = this.hSlot
    const hGen = this.hGen
    const at = hAt[n]!
    const slot = hSlot[n]!
    const gen = hGen[n]!
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      let mAt = at
      if (l < n && hAt[l]! < mAt) {
        m = l
        mAt = hAt[l]!
      }
      if (r < n && hAt[r]! < mAt) m = r
      if (m === i) break
      hAt[i] = hAt[m]!
      hSlot[i] = hSlot[m]!
      hGen[i] = hGen[m]!
      i = m
    }
    hAt[i] = at
    hSlot[i] = slot
    hGen[i] = gen
  }
}
