/**
 * What the store keeps in memory about the log: the `$all` order (per record its position, where
 * its body lies in the log file, its stream and event number, in typed arrays: about 32 bytes a
 * record), per stream the `$all` indexes of its events, its tombstone, its parsed metadata and
 * the writes decided but not yet durable. Event ids are in IdempotencyWindow.ts; event bodies
 * are not here: LogReader.ts reads them.
 *
 * @since 0.1.0
 */
import type { EventRecord } from "./Records.ts"
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
  /** `$all` index of each readable event: `events[n]` is event number `n`. */
  readonly events: Array<number>
  /** `$all` index of the tombstone, or −1. */
  tombstone: number
  /** Parsed metadata (for non-meta streams), from the last event of `$$name`. */
  metadata: StreamMetadata | undefined
  /** Writes decided but not yet durable; undefined when there are none. */
  pending: PendingWrites | undefined
}

const grow = <A extends Float64Array | Uint32Array>(array: A, make: (n: number) => A): A => {
  const next = make(array.length * 2)
  next.set(array)
  return next
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
  private positions = new Float64Array(1024)
  private offsets = new Float64Array(1024)
  private sizes = new Uint32Array(1024)
  private streamIds = new Uint32Array(1024)
  private eventNumbers = new Float64Array(1024)
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
      entry = { id: this.byId.length, name, events: [], tombstone: -1, metadata: undefined, pending: undefined }
      this.byName.set(name, entry)
      this.byId.push(entry)
    }
    return entry
  }

  /** Adds a readable record in `$all` order; returns its index. */
  push(entry: StreamEntry, position: number, eventNumber: number, offset: number, size: number, tombstone: boolean): number {
    const i = this.length
    if (i === this.positions.length) {
      this.positions = grow(this.positions, (n) => new Float64Array(n))
      this.offsets = grow(this.offsets, (n) => new Float64Array(n))
      this.sizes = grow(this.sizes, (n) => new Uint32Array(n))
      this.streamIds = grow(this.streamIds, (n) => new Uint32Array(n))
      this.eventNumbers = grow(this.eventNumbers, (n) => new Float64Array(n))
    }
    this.positions[i] = position
    this.offsets[i] = offset
    this.sizes[i] = size
    this.streamIds[i] = entry.id
    this.eventNumbers[i] = eventNumber
    this.length = i + 1
    if (tombstone) entry.tombstone = i
    else entry.events.push(i)
    return i
  }

  /** Log position of record `i`. */
  positionAt(i: number): number {
    return this.positions[i]!
  }

  /** Byte offset of record `i`'s frame in the log file (−1 in memory). */
  offsetAt(i: number): number {
    return this.offsets[i]!
  }

  /** Byte length of record `i`'s frame in the log file. */
  sizeAt(i: number): number {
    return this.sizes[i]!
  }

  /** Event number of record `i` (`Number.MAX_SAFE_INTEGER` for a tombstone). */
  eventNumberAt(i: number): number {
    return this.eventNumbers[i]!
  }

  /** The stream of record `i`. */
  streamAt(i: number): StreamEntry {
    return this.byId[this.streamIds[i]!]!
  }

  /** Index of the first record whose position is >= `position`. */
  indexAtOrAfter(position: number): number {
    let lo = 0
    let hi = this.length
    const positions = this.positions
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (positions[mid]! < position) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
