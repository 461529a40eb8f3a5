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
  private start = performance.now()
  longestMs = 0

  constructor(readonly turnMs = TURN_MS) {}

  /** Between two slices: go on at once, or after the other work waiting on the loop. */
  async check(): Promise<void> {
    const t = performance.now()
    if (t - this.start < this.turnMs) return
    this.end(t)
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.start = performance.now()
  }

  /** The job is over (its last turn counted). */
  done(): void {
    this.end(performance.now())
  }

  private end(t: number): void {
    const took = t - this.start
    if (took > this.longestMs) this.longestMs = took
  }
}

/** A result that is JSON text already, in parts (the writer hands them over one by one). */
export class JsonText {
  constructor(readonly parts: readonly string[]) {}

  get text(): string {
    return this.parts.join('')
  }
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

/** JSON.stringify(row), with the view's part written by hand (bindingViewJson). */
export function rowJson(r: ListingRow): string {
  const v = bindingViewJson(r)
  return r.aaa === undefined ? v : v.slice(0, -1) + ',"aaa":' + JSON.stringify(r.aaa) + '}'
}

/** Rows as JSON text: `chunks` joined with ',' are the inside of a JSON array. */
export interface RowRun {
  readonly chunks: readonly string[]
  readonly rows: number
  /** The cursor to go on from, or null when the list ended here. */
  readonly next: number | null
}

/**
 * Up to `limit` rows after the cursor `after`, looking at no more than `maxSlots` slots; the held
 * rows come after the core's entries once the walk reaches the end of the list.
 */
export async function listRows(src: ListingSource, after: number, limit: number, turns: Turns, maxSlots = PAGE_SLOTS_MAX): Promise<RowRun> {
  const chunks: string[] = []
  let rows = 0
  let cursor: number | null = after
  let slots = 0
  while (cursor !== null && rows < limit && slots < maxSlots) {
    const from: number = cursor
    const p = src.bindingsPage(from, Math.min(SLICE_ROWS, limit - rows), Math.min(SLICE_SLOTS_MAX, maxSlots - slots))
    if (p.bindings.length > 0) {
      chunks.push(p.bindings.map(rowJson).join(','))
      rows += p.bindings.length
    }
    cursor = p.next
    if (cursor !== null) slots += cursor - from
    await turns.check()
  }
  if (cursor === null) {
    let run: string[] = []
    for (const r of src.heldRows()) {
      run.push(rowJson(r))
      rows++
      if (run.length === SLICE_ROWS) {
        chunks.push(run.join(','))
        run = []
        await turns.check()
      }
    }
    if (run.length > 0) chunks.push(run.join(','))
  }
  return { chunks, rows, next: cursor }
}

/** `{"bindings":[...],"next":n}`: one page, as `bindings` with `limit`/`after` answers it. */
export async function pageJson(src: ListingSource, after: number, limit: number, turns: Turns, maxSlots = PAGE_SLOTS_MAX): Promise<JsonText> {
  const r = await listRows(src, after, limit, turns, maxSlots)
  return new JsonText(['{"bindings":[', ...withCommas(r.chunks), `],"next":${r.next === null ? 'null' : r.next}}`])
}

/** `[...]`: the whole list, in slices, with no cap on the slots looked at. */
export async function listJson(src: ListingSource, turns: Turns): Promise<JsonText> {
  const r = await listRows(src, 0, Infinity, turns, Infinity)
  return new JsonText(['[', ...withCommas(r.chunks), ']'])
}

function withCommas(chunks: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0) out.push(',')
    out.push(chunks[i]!)
  }
  return out
}
