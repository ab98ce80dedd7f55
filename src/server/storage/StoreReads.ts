/**
 * The read side of the store: what readers ask of a stream (its view with `$tb`, `$maxCount`,
 * `$maxAge` applied, single events, links resolved, metadata, deletion) and of the log, answered
 * from the index with bodies read through the one {@link LogReader}. The writer (Store.ts) extends
 * it; readers never see what is not durable yet.
 *
 * @since 0.1.0
 */
import type { LogReader } from "./LogReader.ts"
import { ReadLog } from "./ReadLog.ts"
import { type EventRecord, isMetastream } from "./Records.ts"
import { StoreListeners } from "./StoreListeners.ts"
import type { StreamEntry, StreamIndex } from "./StreamIndex.ts"
import { isSoftDeletedMeta, type StreamMetadata } from "./StreamMetadata.ts"

/**
 * What a stream read can see right now.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamView =
  | { readonly _tag: "NoStream"; readonly last: number }
  | { readonly _tag: "Deleted" }
  | {
    readonly _tag: "Ok"
    /** Last event number. */
    readonly last: number
    /** First event number not truncated by `$tb` / `$maxCount`. */
    readonly first: number
    /** Events created before this (ms since epoch) are hidden (`$maxAge`), or 0. */
    readonly minCreatedMs: number
    /**
     * Event `n` of the stream (first <= n <= last), read through the log's reader; undefined when
     * a scavenge dropped it after this view was taken (a view held across a scavenge).
     */
    readonly event: (n: number) => EventRecord | undefined
  }

/** Events read together at most, when they lie next to each other in the log. */
const RUN = 256

/**
 * Event `n` of a stream, for a reader walking the stream one event after the other (either way):
 * a run of events that lie next to each other in the log is read at once, as the log cursor reads
 * `$all`. The stream's events are looked up at each call: a scavenge may drop the first ones
 * (then undefined) while a reader holds the view.
 */
const streamReader = (reader: LogReader, entry: StreamEntry) => {
  let batch: ReadonlyArray<EventRecord> = []
  let batchFrom = 0
  let previous = -2
  return (n: number): EventRecord | undefined => {
    const k = n - batchFrom
    const backwards = n === previous - 1
    previous = n
    if (k >= 0 && k < batch.length) return batch[k]!
    const events = entry.events
    const at = n - entry.base
    if (at < 0 || at >= events.length) return undefined
    const i = events[at]!
    let run = 1
    if (backwards) {
      while (run < RUN && at - run >= 0 && events[at - run] === i - run) run++
      if (run === 1) return reader.read(i)
      batch = reader.readBackward(i, run)
      batchFrom = n - batch.length + 1
    } else {
      while (run < RUN && at + run < events.length && events[at + run] === i + run) run++
      if (run === 1) return reader.read(i)
      batch = reader.readForward(i, run)
      batchFrom = n
    }
    return batch[n - batchFrom]!
  }
}

/** Last event number of a stream entry (−1 when it has none). */
const lastOf = (entry: StreamEntry | undefined): number => (entry === undefined ? -1 : entry.base + entry.events.length - 1)

/** `$all` index of event `n` of a stream, if it is readable (not dropped by a scavenge). */
const indexOf = (entry: StreamEntry | undefined, n: number): number | undefined =>
  entry === undefined || n < entry.base ? undefined : entry.events[n - entry.base]

/**
 * What readers can ask of the store.
 *
 * @since 0.1.0
 * @category models
 */
export class StoreReads {
  /** The durable records in log order, read-only. */
  readonly log: ReadLog
  protected readonly index: StreamIndex
  protected readonly reader: LogReader
  protected readonly listeners = new StoreListeners()

  constructor(index: StreamIndex, reader: LogReader) {
    this.index = index
    this.reader = reader
    this.log = new ReadLog(index, reader)
  }

  /** Position of the last record of the log. */
  get lastPosition(): number {
    return this.log.lastPosition
  }

  /** Bytes held by the read cache (file log). */
  get cachedBytes(): number {
    return this.reader.cachedBytes()
  }

  /** Metadata of a stream (for `$$x` the implicit metadata is `$maxCount = 1`). */
  metadataOf(name: string): StreamMetadata | undefined {
    if (isMetastream(name)) return undefined
    return this.index.stream(name)?.metadata
  }

  /** Is the stream (or the stream whose metastream this is) tombstoned? */
  isTombstoned(name: string): boolean {
    if ((this.index.stream(name)?.tombstone ?? -1) >= 0) return true
    if (isMetastream(name)) return (this.index.stream(name.slice(2))?.tombstone ?? -1) >= 0
    return false
  }

  /** Is the stream soft-deleted (`$tb` = long.MaxValue)? */
  isSoftDeleted(name: string): boolean {
    return !isMetastream(name) && isSoftDeletedMeta(this.index.stream(name)?.metadata)
  }

  /** Last readable event number of a stream, −1 when it has none. */
  lastEventNumber(name: string): number {
    return lastOf(this.index.stream(name))
  }

  /** Readable event `n` of a stream, whatever its metadata hides. */
  event(name: string, n: number): EventRecord | undefined {
    const i = indexOf(this.index.stream(name), n)
    return i === undefined ? undefined : this.reader.read(i)
  }

  /** Log position of readable event `n` of a stream (from the index: no body is read). */
  eventPosition(name: string, n: number): number | undefined {
    const i = indexOf(this.index.stream(name), n)
    return i === undefined ? undefined : this.index.positionAt(i)
  }

  /** The last readable event of a stream, whatever its metadata hides. */
  lastEvent(name: string): EventRecord | undefined {
    return this.event(name, this.lastEventNumber(name))
  }

  /** Every readable event of a stream (for the node's own small streams: users, settings). */
  events(name: string): ReadonlyArray<EventRecord> {
    return (this.index.stream(name)?.events ?? []).map((i) => this.reader.read(i))
  }

  /** The readable tombstone of a stream, if any. */
  tombstoneOf(name: string): EventRecord | undefined {
    const i = this.index.stream(name)?.tombstone ?? -1
    return i < 0 ? undefined : this.reader.read(i)
  }

  /** What a stream read sees: missing / deleted / a visible window. */
  view(name: string, nowMs: number = Date.now()): StreamView {
    if (this.isTombstoned(name)) return { _tag: "Deleted" }
    const entry = this.index.stream(name)
    const last = lastOf(entry)
    if (entry === undefined || last < 0) return { _tag: "NoStream", last }
    const event = streamReader(this.reader, entry)
    if (isMetastream(name)) return { _tag: "Ok", last, first: last, minCreatedMs: 0, event }
    const meta = entry.metadata
    if (isSoftDeletedMeta(meta)) return { _tag: "NoStream", last }
    // a scavenge dropped the events before `base`
    let first = entry.base
    let minCreatedMs = 0
    if (meta !== undefined) {
      if (meta.truncateBefore !== undefined) first = Math.max(first, meta.truncateBefore)
      if (meta.maxCount !== undefined) first = Math.max(first, last - meta.maxCount + 1)
      if (meta.maxAge !== undefined) minCreatedMs = nowMs - meta.maxAge * 1000
    }
    return { _tag: "Ok", last, first, minCreatedMs, event }
  }

  /** Resolves a `$>` link (data `N@stream`) to its target, if visible. */
  resolveLink(record: EventRecord): EventRecord | undefined {
    const text = record.data.toString("utf8")
    const at = text.indexOf("@")
    if (at <= 0) return undefined
    const numText = text.slice(0, at)
    if (!/^\d+$/.test(numText)) return undefined
    const n = Number(numText)
    const view = this.view(text.slice(at + 1))
    if (view._tag !== "Ok") return undefined
    if (n < view.first || n > view.last) return undefined
    const target = view.event(n)
    if (target === undefined || target.createdMs < view.minCreatedMs) return undefined
    return target
  }

  /** Notified after every write that added records to the log. */
  onAppendAll(listener: () => void): () => void {
    return this.listeners.onAppendAll(listener)
  }

  /** Notified after every write to `stream` (including its tombstone). */
  onAppendStream(stream: string, listener: () => void): () => void {
    return this.listeners.onAppendStream(stream, listener)
  }

  /** Number of registered listeners (for leak checks). */
  get listenerCount(): number {
    return this.listeners.count
  }
}
