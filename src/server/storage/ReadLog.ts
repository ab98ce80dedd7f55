/**
 * The log as readers see it: read-only, in `$all` order, holding only what is durable. Bodies come
 * through the one {@link LogReader}; a {@link LogCursor} walks it for every `$all` reader (reads,
 * subscriptions, persistent groups, projections) and applies the DefaultAllFilter once.
 *
 * @since 0.1.0
 */
import { LogCursor } from "./LogCursor.ts"
import type { LogReader } from "./LogReader.ts"
import { type EventRecord, streamHiddenFromAll } from "./Records.ts"
import type { StreamIndex } from "./StreamIndex.ts"

/**
 * The read-only log.
 *
 * @since 0.1.0
 * @category models
 */
export class ReadLog {
  private readonly index: StreamIndex
  /** The one reader of bodies. */
  readonly reader: LogReader

  constructor(index: StreamIndex, reader: LogReader) {
    this.index = index
    this.reader = reader
  }

  /** Number of readable records. */
  get length(): number {
    return this.index.length
  }

  /** Position of record `i`. */
  positionAt(i: number): number {
    return this.index.positionAt(i)
  }

  /** Position of the last readable record, 0 when there is none. */
  get lastPosition(): number {
    return this.index.length === 0 ? 0 : this.index.positionAt(this.index.length - 1)
  }

  /** Index of the first record whose position is >= `position`. */
  indexAtOrAfter(position: number): number {
    return this.index.indexAtOrAfter(position)
  }

  /** Record `i` (read through the reader). */
  record(i: number): EventRecord {
    return this.reader.read(i)
  }

  /**
   * Is record `i` hidden from `$all` reads (DefaultAllFilter, or dropped by a scavenge)? Answered
   * from the index alone.
   */
  hiddenAt(i: number): boolean {
    return this.index.removedAt(i) || streamHiddenFromAll(this.index.streamAt(i).name)
  }

  /** A cursor at index `from` (forwards: the next record it returns is the first visible at or after `from`; backwards: at or before). */
  cursor(from: number, direction: "forwards" | "backwards" = "forwards"): LogCursor {
    return new LogCursor(this, from, direction)
  }
}
