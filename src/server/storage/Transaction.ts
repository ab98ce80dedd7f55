/**
 * One write as the writer stages it (Store.ts): the records decided, the streams it touches, the
 * next position; nothing else changes until it is applied. Encoded for a file log as one commit.
 *
 * @since 0.1.0
 */
import { encodeEmptyCommit, encodeEvent, sealCommit, type StoredEvent, type StoredRecord } from "./RecordCodec.ts"
import type { EventRecord } from "./Records.ts"

/**
 * The records of one write, decided but not yet applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transaction {
  readonly records: Array<EventRecord>
  readonly touched: Set<string>
  /** Records staged per stream. */
  readonly counts: Map<string, number>
  next: number
  empty: { readonly position: number; readonly next: number } | undefined
}

/**
 * An empty transaction starting at position `next`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const newTransaction = (next: number): Transaction => ({
  records: [],
  touched: new Set(),
  counts: new Map(),
  next,
  empty: undefined
})

/**
 * How far a record moves the log position: a real prepare record's size estimate (header, ids,
 * strings, payloads), 8-byte aligned.
 *
 * @since 0.1.0
 * @category accessors
 */
export const sizeEstimate = (streamBytes: number, eventTypeLength: number, data: number, metadata: number): number =>
  (90 + streamBytes + eventTypeLength * 2 + data + metadata + 7) & ~7

/**
 * The bytes of a transaction for the log (one commit), and each frame's length. Throws when a
 * record does not fit the log's format, before anything was applied.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeTransaction = (tx: Transaction): { readonly sealed: Buffer; readonly sizes: ReadonlyArray<number> } => {
  const frames = tx.records.map((r) =>
    encodeEvent({
      tombstone: r.isTombstone,
      position: r.position,
      createdMs: r.createdMs,
      createdTicks: Number(r.created),
      isJson: r.isJson,
      stream: r.streamBytes,
      eventType: r.eventType,
      eventId: r.eventId,
      data: r.data,
      customMetadata: r.customMetadata
    })
  )
  if (tx.empty !== undefined) frames.push(encodeEmptyCommit(tx.empty.position, tx.empty.next))
  return { sealed: sealCommit(frames), sizes: frames.map((f) => f.length) }
}

/**
 * The event record of a stored one (read back from a log, or a replicated commit's frame), as the
 * store's stream `stream` holds it at `eventNumber`; its read encoding is made on its first read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventRecordOf = (
  stored: StoredEvent,
  stream: string,
  eventNumber: number
): EventRecord => ({
  position: stored.position,
  stream,
  streamBytes: stored.stream,
  eventNumber,
  isTombstone: stored.tombstone,
  eventId: stored.eventId,
  eventType: stored.eventType,
  isJson: stored.isJson,
  data: stored.data,
  customMetadata: stored.customMetadata,
  createdMs: stored.createdMs,
  created: String(stored.createdTicks),
  cache: undefined
})

/**
 * A transaction of one stored record (a log that hands back decoded records, not their bytes:
 * the store encodes it again to read it like a scanned one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const recordTransaction = (stored: StoredRecord): Transaction => {
  const tx = newTransaction(stored.position)
  if (stored._tag === "EmptyCommit") {
    tx.empty = { position: stored.position, next: stored.next }
    return tx
  }
  tx.records.push(eventRecordOf(stored, stored.stream.toString("utf8"), 0))
  return tx
}
