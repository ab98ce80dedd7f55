/**
 * The records of the embedded node's log and what a write proposes: the types every part of the
 * store, and every reader, shares. Semantics follow PROTOCOL.md §1.
 *
 * @since 0.1.0
 */

/**
 * Wire value of a tombstone's event number (`long.MaxValue`).
 *
 * @since 0.1.0
 * @category constants
 */
export const TOMBSTONE_REVISION = 9223372036854775807n

/**
 * Event number a tombstone has in the index (`long.MaxValue` on the wire).
 *
 * @since 0.1.0
 * @category constants
 */
export const TOMBSTONE_EVENT_NUMBER = Number.MAX_SAFE_INTEGER

/**
 * One record of the log: an event, committed on its own (commit == prepare == `position`).
 *
 * @since 0.1.0
 * @category models
 */
export interface EventRecord {
  readonly position: number
  readonly stream: string
  readonly streamBytes: Buffer
  /** Event number in its stream; a tombstone has `Number.MAX_SAFE_INTEGER` here and `long.MaxValue` on the wire. */
  readonly eventNumber: number
  readonly isTombstone: boolean
  readonly eventId: string
  readonly eventType: string
  readonly isJson: boolean
  readonly data: Buffer
  readonly customMetadata: Buffer
  readonly createdMs: number
  /** 100-ns ticks since the Unix epoch, as decimal text. */
  readonly created: string
  /**
   * Encoding caches filled by the read path: index 0 structured ids, 1 string ids; created on
   * the first read (most records of a `--db` node are never read while in memory).
   */
  cache: [Buffer | undefined, Buffer | undefined] | undefined
}

/**
 * The wire revision of a record (`long.MaxValue` for tombstones).
 *
 * @since 0.1.0
 * @category accessors
 */
export const wireRevision = (record: EventRecord): bigint =>
  record.isTombstone ? TOMBSTONE_REVISION : BigInt(record.eventNumber)

/**
 * An event as proposed by an append.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProposedEvent {
  readonly eventId: string
  readonly eventType: string
  readonly isJson: boolean
  readonly data: Buffer
  readonly customMetadata: Buffer
}

/**
 * Expected stream state of a write.
 *
 * @since 0.1.0
 * @category models
 */
export type Expected =
  | { readonly _tag: "Any" }
  | { readonly _tag: "NoStream" }
  | { readonly _tag: "StreamExists" }
  | { readonly _tag: "Revision"; readonly revision: bigint }

/**
 * Internal expected-version number (−2 any, −1 no stream, −4 exists, else the revision).
 *
 * @since 0.1.0
 * @category accessors
 */
export const expectedVersionNumber = (expected: Expected): bigint => {
  switch (expected._tag) {
    case "Any":
      return -2n
    case "NoStream":
      return -1n
    case "StreamExists":
      return -4n
    case "Revision":
      return expected.revision
  }
}

/**
 * Outcome of a write.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteOutcome =
  | { readonly _tag: "Success"; readonly currentRevision: number; readonly position: number }
  | { readonly _tag: "WrongExpectedVersion"; readonly currentRevision: number }
  | { readonly _tag: "StreamDeleted" }

/**
 * Is this a metastream name (`$$x`)?
 *
 * @since 0.1.0
 * @category accessors
 */
export const isMetastream = (name: string): boolean => name.startsWith("$$")

/**
 * The metastream of a stream.
 *
 * @since 0.1.0
 * @category accessors
 */
export const metastreamOf = (name: string): string => "$$" + name

/**
 * Is a stream's record hidden from `$all` by the server's DefaultAllFilter? (The log cursor
 * applies it; readers never do.)
 *
 * @since 0.1.0
 * @category filters
 */
export const streamHiddenFromAll = (s: string): boolean => {
  if (s.charCodeAt(0) !== 36 /* $ */) return false
  if (s === "$epoch-information") return true
  return s.startsWith("$persistentsubscription-$all::") && (s.endsWith("-checkpoint") || s.endsWith("-parked"))
}

/**
 * Is a record hidden from `$all` by the server's DefaultAllFilter?
 *
 * @since 0.1.0
 * @category filters
 */
export const hiddenFromAll = (record: EventRecord): boolean => streamHiddenFromAll(record.stream)

/**
 * Expected state of one stream of a multi-stream write (v2 AppendSession / AppendRecords): the
 * v1 states, plus a soft-deleted (`Deleted`, −5) or tombstoned (`Tombstoned`, −6) stream.
 *
 * @since 0.1.0
 * @category models
 */
export type MultiExpected = Expected | { readonly _tag: "Deleted" } | { readonly _tag: "Tombstoned" }

/**
 * One stream of a multi-stream write and its expected state; a stream no record is for is only
 * checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamCheck {
  readonly stream: string
  readonly expected: MultiExpected
}

/**
 * A stream whose check failed (StorageWriterService's ConsistencyCheckFailure): its index among
 * the checks, its last event number (−1 none) or `tombstoned`, and whether it is soft-deleted
 * when that decided the failure.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckFailure {
  readonly index: number
  readonly actual: number | "tombstoned"
  readonly softDeleted: boolean
}

/**
 * Outcome of a multi-stream write: each checked stream's revision after it (its last event
 * number, −1 none) and the position of the last record, or every failing check (nothing written).
 *
 * @since 0.1.0
 * @category models
 */
export type MultiWriteOutcome =
  | { readonly _tag: "Success"; readonly revisions: ReadonlyArray<number>; readonly position: number }
  | { readonly _tag: "Failed"; readonly failures: ReadonlyArray<CheckFailure> }
