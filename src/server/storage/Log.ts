/**
 * Where the store's records go: the pluggable log behind the single writer. `MemoryLog` keeps
 * nothing (the in-memory index is the database, the default for tests); `FileLog`
 * (FileLog.ts) writes every record to a file and makes it durable before the write is
 * acknowledged.
 *
 * @since 0.1.0
 */
import type { StoredRecord } from "./RecordCodec.ts"

/**
 * Called once the records written so far are durable (or with the error that prevented it).
 *
 * @since 0.1.0
 * @category models
 */
export type DurableCallback = (error: Error | undefined) => void

/**
 * A write refused because the log failed earlier (a full disk, an I/O error): nothing written
 * after that can be made durable. The node answers it UNAVAILABLE and stops.
 *
 * @since 0.1.0
 * @category errors
 */
export class LogFailedError extends Error {
  /** The error that stopped the log. */
  readonly failure: Error
  constructor(failure: Error) {
    super(`the log failed: ${failure.message}`)
    this.name = "LogFailedError"
    this.failure = failure
  }
}

/**
 * The log the store writes through.
 *
 * @since 0.1.0
 * @category models
 */
export interface Log {
  /** False for a log that keeps nothing (no record needs encoding). */
  readonly persistent: boolean
  /**
   * The records found when the log was opened, in order (none for a fresh log), read once: a file
   * log reads them in chunks as they are iterated, and refuses writes until they have been read.
   */
  readonly recovered: Iterable<StoredRecord>
  /** Queues one encoded record (a frame of RecordCodec.ts) after the previous ones. */
  readonly write: (frame: Buffer) => void
  /**
   * Calls `callback` once every record queued so far is durable; synchronously when nothing is
   * pending.
   */
  readonly whenDurable: (callback: DurableCallback) => void
  /** The error that stopped the log (a failed write or sync), if any: no later write can be durable. */
  readonly failure: () => Error | undefined
  /** Flushes what is queued and closes the log; later writes fail. */
  readonly close: () => Promise<void>
}

/**
 * A log that keeps nothing: writes are "durable" at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memoryLog = (): Log => ({
  persistent: false,
  recovered: [],
  write: () => {},
  whenDurable: (callback) => callback(undefined),
  failure: () => undefined,
  close: () => Promise.resolve()
})
