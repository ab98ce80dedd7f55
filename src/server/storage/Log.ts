/**
 * Where the store's records go: the pluggable log behind the single writer. `MemoryLog` keeps
 * nothing (the in-memory index is the database, the default for tests); `FileLog`
 * (FileLog.ts) writes every record to a file and makes it durable before the write is
 * acknowledged.
 *
 * @since 0.1.0
 */
import type { ScannedRecord } from "./LogScan.ts"

/**
 * Called once the records written so far are durable (or with the error that prevented it).
 *
 * @since 0.1.0
 * @category models
 */
export type DurableCallback = (error: Error | undefined) => void

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
   * Reads back the records found when the log was opened, in order, each with the byte offset and
   * length of its frame, cutting a torn tail; returns the length of the valid log in bytes (the
   * offset the next write lands at). Called once, before the first write.
   */
  readonly recover: (onRecord: ScannedRecord) => number
  /** The file holding the records, which the reader of bodies opens (undefined: nothing kept). */
  readonly file: string | undefined
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
  recover: () => 0,
  file: undefined,
  write: () => {},
  whenDurable: (callback) => callback(undefined),
  failure: () => undefined,
  close: () => Promise.resolve()
})
