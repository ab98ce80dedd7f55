/**
 * What the store keeps in memory about the log: the `$all` order (per record its position, where
 * its body lies in the log file, its stream and event number, in pages of typed arrays: 28 bytes
 * a record), per stream the `$all` indexes of its events, its tombstone, its parsed metadata and
 * the writes decided but not yet durable. Event ids are in IdempotencyWindow.ts; event bodies
 * are not here: LogReader.ts reads them.
 *
 * @since 0.1.0
 */
import { type EventRecord, TOMBSTONE_EVENT_NUMBER } from "./Records.ts"
import type { StreamMetadata } from "./StreamMetadata.ts"

/**
 * The records of a stream that are decided but not yet durable (readers do not see them; the
 * writer decides later writes with them, like the real index writer's uncommitted cache).
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingWrites {
  readonly events: Array<EventRecord>
  tombstone: EventRecord | undefined
}

/**
 * One stream of the index.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamEntry {
  readonly id: number
  readonly name: string
  /**
   * `$all` index of each readable event: `events[n - base]` is event number `n` (replaced, not
   * changed in place, when a scavenge drops the first events).
   */
  events: Array<number>
  /** Event number of `events[0]`: the events before it were dropped by a scavenge (0 when none were). */
  base: number
  /** `$all` index of the tombstone, or −1. */
  tombstone: number
  /** Parsed metadata (for non-meta streams), from the last event of `$$name`. */
  metadata: StreamMetadata | undefined
  /** Writes decided but not yet durable; undefined when there are none. */
  pending: PendingWrites | undefined
}

/** Records per page of the `$all` arrays (pages are added, never copied: no doubling slack). */
const PAGE_BITS = 16
const PAGE = 1 << PAGE_BITS
const MASK = PAGE - 1
/** The event number a tombstone has in the index (event numbers are kept in 32 bits below it). */
const TOMBSTONE_SLOT = 0xffffffff
/** The offset of a record a scavenge dropped (its entry stays until the next start: `$all` indexes do not move). */
const REMOVED = -2

/** One page: 28 bytes a record. */
interface Page {
  readonly positions: Float64Array
  readonly offsets: Float64Array
  readonly sizes: Uint32Array
  readonly streamIds: Uint32Array
  readonly eventNumbers: Uint32Array
}

const newPage = (): Page => {
  const buffer = new ArrayBuffer(PAGE * 28)
  return {
    positions: new Float64Array(buffer, 0, PAGE),
    offsets: new Float64Array(buffer, PAGE * 8, PAGE),
    sizes: new Uint32Array(buffer, PAGE * 16, PAGE),
    streamIds: new Uint32Array(buffer, PAGE * 20, PAGE),
    eventNumbers: new Uint32Array(buffer, PAGE * 24, PAGE)
  }
}

/**
 * The index.
 *
 * @since 0.1.0
 * @category models
 */
export class StreamIndex {
  /** Number of readable records in `$all` order. */
  length = 0
  private readonly pages: Array<Page> = []
  private readonly byName = new Map<string, StreamEntry>()
  private readonly byId: Array<StreamEntry> = []

  /** The stream entry, if the stream was ever written. */
  stream(name: string): StreamEntry | undefined {
    return this.byName.get(name)
  }

  /** The stream entry, created if missing. */
  entryFor(name: string): StreamEntry {
    let entry = this.byName.get(name)
    if (entry === undefined) {
      entry = { id: this.byId.length, name, events: [], base: 0, tombstone: -1, metadata: undefined, pending: undefined }
      this.byName.set(name, entry)
      this.byId.push(entry)
    }
    return entry
  }

  /** Adds a readable record in `$all` order; returns its index. */
  push(entry: StreamEntry, position: number, eventNumber: number, offset: number, size: number, tombstone: boolean): number {
    const i = this.length
    const k = i & MASK
    if (k === 0) this.pages.push(newPage())
    const page = this.pages[i >>> PAGE_BITS]!
    page.positions[k] = position
    page.offsets[k] = offset
    page.sizes[k] = size
    page.streamIds[k] = entry.id
    page.eventNumbers[k] = tombstone ? TOMBSTONE_SLOT : eventNumber
    this.length = i + 1
    if (tombstone) entry.tombstone = i
    else entry.events.push(i)
    return i
  }

  /** Log position of record `i`. */
  positionAt(i: number): number {
    return this.pages[i >>> PAGE_BITS]!.positions[i & MASK]!
  }

  /** Byte offset of record `i`'s frame in the log file (−1 in memory). */
  offsetAt(i: number): number {
    return this.pages[i >>> PAGE_BITS]!.offsets[i & MASK]!
  }

  /** Byte length of record `i`'s frame in the log file. */
  sizeAt(i: number): number {
    return this.pages[i >>> PAGE_BITS]!.sizes[i & MASK]!
  }

  /** Event number of record `i` (`Number.MAX_SAFE_INTEGER` for a tombstone). */
  eventNumberAt(i: number): number {
    const n = this.pages[i >>> PAGE_BITS]!.eventNumbers[i & MASK]!
    return n === TOMBSTONE_SLOT ? TOMBSTONE_EVENT_NUMBER : n
  }

  /** The stream of record `i`. */
  streamAt(i: number): StreamEntry {
    return this.byId[this.pages[i >>> PAGE_BITS]!.streamIds[i & MASK]!]!
  }

  /** Was record `i` dropped by a scavenge (its body is gone; `$all` passes over it)? */
  removedAt(i: number): boolean {
    return this.pages[i >>> PAGE_BITS]!.offsets[i & MASK]! === REMOVED
  }

  /** Marks record `i` as dropped by a scavenge. */
  remove(i: number): void {
    this.pages[i >>> PAGE_BITS]!.offsets[i & MASK] = REMOVED
  }

  /** Moves record `i`'s frame to `offset` (a scavenge rewrote the file). */
  moveTo(i: number, offset: number): void {
    this.pages[i >>> PAGE_BITS]!.offsets[i & MASK] = offset
  }

  /** Number of streams ever written. */
  get streamCount(): number {
    return this.byId.length
  }

  /** Stream number `id` (0 <= id < {@link streamCount}). */
  streamById(id: number): StreamEntry {
    return this.byId[id]!
  }

  /** Index of the first record whose position is >= `position`. */
  indexAtOrAfter(position: number): number {
    let lo = 0
    let hi = this.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.positionAt(mid) < position) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
