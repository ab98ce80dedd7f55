/**
 * A cursor over the read-only log in `$all` order: the one way readers walk it. It returns the
 * records `$all` shows (the DefaultAllFilter applied from the index, without reading hidden
 * bodies), reads bodies in chunks through the log's reader, and never holds more than one chunk.
 * At the end it returns undefined; called again after the log grew, it goes on.
 *
 * @since 0.1.0
 */
import type { EventRecord } from "./Records.ts"
import type { ReadLog } from "./ReadLog.ts"

/** Records asked of the reader at a time. */
const BATCH = 256

/**
 * The cursor.
 *
 * @since 0.1.0
 * @category models
 */
export class LogCursor {
  private batch: ReadonlyArray<EventRecord> = []
  private batchStart = 0
  /** Records passed so far (hidden ones too). */
  passed = 0
  /** Position of the last record passed (hidden ones too), or undefined before the first. */
  passedPosition: number | undefined

  private readonly log: ReadLog
  private at: number
  private readonly direction: "forwards" | "backwards"

  constructor(log: ReadLog, at: number, direction: "forwards" | "backwards") {
    this.log = log
    this.at = at
    this.direction = direction
  }

  /** Index of the record the cursor looks at next. */
  get index(): number {
    return this.at
  }

  /** The next record `$all` shows, moving past it; undefined at the end of the log. */
  next(): EventRecord | undefined {
    const log = this.log
    if (this.direction === "forwards") {
      while (this.at < log.length) {
        const i = this.at++
        this.passed++
        this.passedPosition = log.positionAt(i)
        if (log.hiddenAt(i)) continue
        return this.fetch(i)
      }
      return undefined
    }
    if (this.at >= log.length) this.at = log.length - 1
    while (this.at >= 0) {
      const i = this.at--
      this.passed++
      this.passedPosition = log.positionAt(i)
      if (log.hiddenAt(i)) continue
      return this.fetch(i)
    }
    return undefined
  }

  private fetch(i: number): EventRecord {
    const k = i - this.batchStart
    if (k >= 0 && k < this.batch.length) return this.batch[k]!
    const reader = this.log.reader
    if (this.direction === "forwards") {
      this.batch = reader.readForward(i, BATCH)
      this.batchStart = i
    } else {
      this.batch = reader.readBackward(i, BATCH)
      this.batchStart = i - this.batch.length + 1
    }
    return this.batch[i - this.batchStart]!
  }
}
