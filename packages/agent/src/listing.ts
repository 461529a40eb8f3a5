/**
 * The Binding Update List as JSON text, built in slices that never hold the event loop for long
 * (issue 23: at a million bindings the MAG must keep serving attaches and PBAs while an operator
 * or a dashboard lists them). Rows are turned into text SLICE_ROWS at a time; once one turn of
 * the loop has run TURN_MS, the work goes on after setImmediate, behind whatever else is
 * waiting. A page looks at no more than PAGE_SLOTS_MAX slots of the list, so it may come back
 * short, even empty, with a `next`: a short page is not the end, only `next: null` is.
 */
import { bindingViewJson, type BindingView } from '@pmip6/core'

/** Rows made into text between two looks at the clock. */
export const SLICE_ROWS = 32
/** Work done in one turn of the event loop before yielding, ms: well under the 10 ms goal. */
export const TURN_MS = 2
/** Slots one page request looks at, free ones included (a list emptied by a detach storm is mostly free slots). */
export const PAGE_SLOTS_MAX = 4096
/** Slots one slice looks at: walking free slots costs little, but not nothing. */
const SLICE_SLOTS_MAX = 1024

/**
 * Splits a long job into turns of the event loop: check() between slices yields (setImmediate)
 * once the current turn has run `turnMs`. It also keeps the longest turn it saw, so the control
 * socket can report how long one request held the loop in one go.
 */
export class Turns {
  private start: number
  longestMs = 0

  constructor(
    readonly turnMs = TURN_MS,
    /** The clock turns are measured with (a test gives its own: wall time is the scheduler's). */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.start = now()
  }

  /** Between two slices: go on at once, or after the other work waiting on the loop. */
  async check(): Promise<void> {
    const t = this.now()
    if (t - this.start < this.turnMs) return
    this.end(t)
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.start = this.now()
  }

  /** Waits for something else (a slow reader): the turn ends here, and a new one starts after. */
  async wait(p: Promise<void>): Promise<void> {
    this.end(this.now())
    await p
    this.start = this.now()
  }

  /** The job is over (its last turn counted). */
  done(): void {
    this.end(this.now())
  }

  private end(t: number): void {
    const took = t - this.start
    if (took > this.longestMs) this.longestMs = took
  }
}

/**
 * Takes a piece of JSON text; a promise when the reader is behind (the socket's buffer is full),
 * and the writer waits for it before making more.
 */
export type JsonWrite = (json: string) => void | Promise<void>

/**
 * A result written as JSON text as it is made: `writeTo` hands the text over piece by piece (to
 * a socket), waiting while the reader is behind, so a long answer is neither one big string nor
 * queued whole in the heap, where every young-generation collection would copy it (issue 23:
 * those pauses hold the loop like any other work).
 */
export class JsonStream {
  constructor(readonly writeTo: (write: JsonWrite, turns: Turns) => Promise<void>) {}

  /** The whole text (tests, and a caller that needs it in one piece). */
  async text(turns = new Turns()): Promise<string> {
    const parts: string[] = []
    await this.writeTo((j) => {
      parts.push(j)
    }, turns)
    return parts.join('')
  }
}

/** A writable that says when it can take more ('drain') or is gone ('close'): a socket, an HTTP response. */
export interface Drainable {
  on(event: 'drain' | 'close', f: () => void): unknown
  off(event: 'drain' | 'close', f: () => void): unknown
}

/** Resolves when `w` can take more, or is gone. */
export function drained(w: Drainable): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      w.off('drain', done)
      w.off('close', done)
      resolve()
    }
    w.on('drain', done)
    w.on('close', done)
  })
}

/** A row of `mag bindings`: a binding view, with what RADIUS said of the MN when it did. */
export type ListingRow = BindingView & { readonly aaa?: Readonly<Record<string, unknown>> }

/** What the listing reads: MagDaemon gives it (the core's slots, then the MNs the policy source holds). */
export interface ListingSource {
  /** Up to `maxRows` rows after the cursor, looking at no more than `maxSlots` slots (MagCore.bindingsPage). */
  bindingsPage(after: number, maxRows: number, maxSlots: number): { readonly bindings: readonly ListingRow[]; readonly next: number | null }
  /** Rows that come after the core's entries, on the last page (pending, aaa-unreachable, denied MNs). */
  heldRows(): Iterable<ListingRow>
}

/** Hands a piece on; while the reader is behind, the wait is no turn of ours. */
async function send(write: JsonWrite, json: string, turns: Turns): Promise<void> {
  const w = write(json)
  if (w) await turns.wait(w)
}

/** JSON.stringify(row), with the view's part written by hand (bindingViewJson). */
export function rowJson(r: ListingRow): string {
  const v = bindingViewJson(r)
  return r.aaa === undefined ? v : v.slice(0, -1) + ',"aaa":' + JSON.stringify(r.aaa) + '}'
}

/** Where a run of rows ended. */
export interface RowRun {
  readonly rows: number
  /** The cursor to go on from, or null when the list ended here. */
  readonly next: number | null
}

/**
 * Writes up to `limit` rows after the cursor `after` as the inside of a JSON array, a slice at a
 * time, looking at no more than `maxSlots` slots; the held rows come after the core's entries
 * once the walk reaches the end of the list. `comma`: a row was written before (a ',' goes first).
 */
export async function writeRows(src: ListingSource, after: number, limit: number, turns: Turns, write: JsonWrite, maxSlots = PAGE_SLOTS_MAX, comma = false): Promise<RowRun> {
  let rows = 0
  let cursor: number | null = after
  let slots = 0
  const put = async (run: readonly ListingRow[]): Promise<void> => {
    let text = ''
    for (const r of run) {
      text += (comma ? ',' : '') + rowJson(r)
      comma = true
    }
    rows += run.length
    await send(write, text, turns)
  }
  while (cursor !== null && rows < limit && slots < maxSlots) {
    const from: number = cursor
    const p = src.bindingsPage(from, Math.min(SLICE_ROWS, limit - rows), Math.min(SLICE_SLOTS_MAX, maxSlots - slots))
    if (p.bindings.length > 0) await put(p.bindings)
    cursor = p.next
    if (cursor !== null) slots += cursor - from
    await turns.check()
  }
  if (cursor === null) {
    let run: ListingRow[] = []
    for (const r of src.heldRows()) {
      run.push(r)
      if (run.length === SLICE_ROWS) {
        await put(run)
        run = []
        await turns.check()
      }
    }
    if (run.length > 0) await put(run)
  }
  return { rows, next: cursor }
}

/** `{"bindings":[...],"next":n}`: one page, as `bindings` with `limit`/`after` answers it. */
export function pageJson(src: ListingSource, after: number, limit: number, maxSlots = PAGE_SLOTS_MAX): JsonStream {
  return new JsonStream(async (write, turns) => {
    await send(write, '{"bindings":[', turns)
    const r = await writeRows(src, after, limit, turns, write, maxSlots)
    await send(write, `],"next":${r.next === null ? 'null' : r.next}}`, turns)
  })
}

/** `[...]`: the whole list, in slices, with no cap on the slots looked at. */
export function listJson(src: ListingSource): JsonStream {
  return new JsonStream(async (write, turns) => {
    await send(write, '[', turns)
    await writeRows(src, 0, Infinity, turns, write, Infinity)
    await send(write, ']', turns)
  })
}
