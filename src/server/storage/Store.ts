/**
 * The embedded node's database: one transaction log of self-committed event records (positions
 * are byte-offset-like, start above 0 and have gaps) plus an in-memory stream index with
 * revisions, metastreams (`$$x`), soft deletes (`$tb`), tombstones, `$maxCount`/`$maxAge`,
 * idempotency by event id and change notification for subscriptions.
 *
 * One writer: every record enters the log through `Store.writeRecord` (appends, deletes, system
 * events, what projections write), in the order the node decides them; the pluggable {@link Log}
 * (Log.ts: in memory, or FileLog.ts for `--db`) receives them in that order, and a write is
 * acknowledged only after `whenDurable` reports it durable. With a file log a write is readable
 * only once durable; until then it is pending in its stream entry, where the writer still sees it. Later subsystems (persistent
 * subscriptions, projections, cluster replication) write through the same methods.
 *
 * Semantics follow PROTOCOL.md §1 (IndexWriter.CheckCommit, StorageWriterService).
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import { type DurableCallback, type Log, LogFailedError, memoryLog } from "./Log.ts"
import { encodeEmptyCommit, encodeEvent, sealCommit, type StoredEvent } from "./RecordCodec.ts"

/**
 * Wire value of a tombstone's event number (`long.MaxValue`).
 *
 * @since 0.1.0
 * @category constants
 */
export const TOMBSTONE_REVISION = 9223372036854775807n

/**
 * `$tb` value marking a soft-deleted stream (compared as a JS number).
 *
 * @since 0.1.0
 * @category constants
 */
export const DELETED_TB = 9223372036854775807

const TOMBSTONE_EVENT_NUMBER = Number.MAX_SAFE_INTEGER

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
  /** Encoding caches filled by the read path: index 0 structured ids, 1 string ids. */
  readonly cache: [Buffer | undefined, Buffer | undefined]
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
 * Access control list of a stream (roles per action).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAcl {
  readonly read?: ReadonlyArray<string> | undefined
  readonly write?: ReadonlyArray<string> | undefined
  readonly delete?: ReadonlyArray<string> | undefined
  readonly metaRead?: ReadonlyArray<string> | undefined
  readonly metaWrite?: ReadonlyArray<string> | undefined
}

/**
 * The parsed metadata of a stream (last event of its metastream).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadata {
  readonly maxCount?: number | undefined
  readonly maxAge?: number | undefined
  readonly truncateBefore?: number | undefined
  readonly acl?: StreamAcl | undefined
  readonly raw: Record<string, unknown>
}

/**
 * One stream of the index.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamEntry {
  readonly name: string
  readonly nameBytes: Buffer
  /** `events[i].eventNumber === i`. */
  readonly events: Array<EventRecord>
  tombstone: EventRecord | undefined
  /** Parsed metadata (for non-meta streams), from the last event of `$$name`. */
  metadata: StreamMetadata | undefined
  /**
   * Writes decided but not yet durable (with a file log): readers do not see them yet, the writer
   * decides later writes with them. Undefined when there are none (always, in memory).
   */
  pending: PendingWrites | undefined
}

/**
 * The records of a stream that are decided but not yet durable.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingWrites {
  readonly events: Array<EventRecord>
  tombstone: EventRecord | undefined
}

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
    readonly entry: StreamEntry
    /** Last event number. */
    readonly last: number
    /** First event number not truncated by `$tb` / `$maxCount`. */
    readonly first: number
    /** Events created before this (ms since epoch) are hidden (`$maxAge`), or 0. */
    readonly minCreatedMs: number
  }

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
 * Is a record hidden from `$all` by the server's DefaultAllFilter?
 *
 * @since 0.1.0
 * @category filters
 */
export const hiddenFromAll = (record: EventRecord): boolean => {
  const s = record.stream
  if (s.charCodeAt(0) !== 36 /* $ */) return false
  if (s === "$epoch-information") return true
  return s.startsWith("$persistentsubscription-$all::") && (s.endsWith("-checkpoint") || s.endsWith("-parked"))
}

const asRoles = (value: unknown): ReadonlyArray<string> | undefined => {
  if (typeof value === "string") return [value]
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string")
  return undefined
}

const parseMetadata = (record: EventRecord | undefined): StreamMetadata | undefined => {
  if (record === undefined || record.data.length === 0) return undefined
  let raw: unknown
  try {
    raw = JSON.parse(record.data.toString("utf8"))
  } catch {
    return undefined
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined
  const o = raw as Record<string, unknown>
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? Math.floor(v) : undefined)
  const maxCount = num(o["$maxCount"])
  const maxAge = num(o["$maxAge"])
  const tb = num(o["$tb"])
  const aclRaw = o["$acl"]
  let acl: StreamAcl | undefined
  if (typeof aclRaw === "object" && aclRaw !== null && !Array.isArray(aclRaw)) {
    const a = aclRaw as Record<string, unknown>
    acl = {
      read: asRoles(a["$r"]),
      write: asRoles(a["$w"]),
      delete: asRoles(a["$d"]),
      metaRead: asRoles(a["$mr"]),
      metaWrite: asRoles(a["$mw"])
    }
  }
  return {
    maxCount: maxCount !== undefined && maxCount > 0 ? maxCount : undefined,
    maxAge: maxAge !== undefined && maxAge > 0 ? maxAge : undefined,
    truncateBefore: tb !== undefined && tb >= 0 ? tb : undefined,
    acl,
    raw: o
  }
}

const isSoftDeletedMeta = (meta: StreamMetadata | undefined): boolean =>
  meta?.truncateBefore !== undefined && meta.truncateBefore >= DELETED_TB

/**
 * A listener notified (synchronously, after a write completes) when records are added.
 *
 * @since 0.1.0
 * @category models
 */
export type StoreListener = () => void

/**
 * Options of a {@link Store}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** Where records go; default {@link memoryLog} (nothing kept). Its recovered records are replayed. */
  readonly log?: Log | undefined
}

/**
 * The in-memory log and stream index.
 *
 * @since 0.1.0
 * @category models
 */
export class Store {
  /** All records in log order (positions strictly increasing). */
  readonly log: Array<EventRecord> = []
  private readonly streams = new Map<string, StreamEntry>()
  private readonly eventIds = new Map<string, EventRecord>()
  private nextPosition: number
  private readonly allListeners = new Set<StoreListener>()
  private readonly streamListeners = new Map<string, Set<StoreListener>>()
  private lastTicks = 0
  private readonly storage: Log
  private readonly persistent: boolean
  /** Frames of the write in progress, sealed and handed to the log as one commit. */
  private frames: Array<Buffer> = []
  /** Records of the write in progress (file log): published to readers once durable. */
  private unpublished: Array<EventRecord> = []
  /** True when the log held no records when the store opened (a fresh database). */
  readonly fresh: boolean

  constructor(options: StoreOptions = {}) {
    this.storage = options.log ?? memoryLog()
    this.persistent = this.storage.persistent
    // The chunk header and the epoch record come first: the first event is well above 0.
    this.nextPosition = 128
    let fresh = true
    let epoch = 0
    let previousEpoch = 0
    for (const stored of this.storage.recovered) {
      fresh = false
      if (stored._tag === "EmptyCommit") {
        this.nextPosition = Math.max(this.nextPosition, stored.next)
        continue
      }
      const record = this.replay(stored)
      if (record.stream === "$epoch-information") {
        epoch++
        previousEpoch = record.position
      }
    }
    this.fresh = fresh
    // like a real node, every start as leader writes a new epoch
    this.writeSystem("$epoch-information", "$epoch-information", {
      "$e": epoch,
      "$m": this.nextPosition,
      "$p": epoch === 0 ? -1 : previousEpoch,
      "$i": newUuid(),
      "$l": newUuid()
    })
    this.commit([])
  }

  /**
   * Refuses a write once the log has failed (like a real node that stops on a storage error):
   * nothing more is decided that could never be made durable.
   */
  private assertWritable(): void {
    const failure = this.storage.failure()
    if (failure !== undefined) throw new LogFailedError(failure)
  }

  /**
   * Ends a write. In memory its records are already readable: the listeners are woken. With a
   * file log its records go to the log as one commit and become readable (and the listeners are
   * woken) once that commit is durable, as a real node's readers see only what was flushed.
   */
  private commit(touched: ReadonlyArray<string>): void {
    if (!this.persistent) return this.notify(touched)
    if (this.frames.length === 0) return
    const frames = this.frames
    const records = this.unpublished
    this.frames = []
    this.unpublished = []
    this.storage.write(sealCommit(frames))
    this.storage.whenDurable((error) => {
      if (error === undefined) this.publish(records, touched)
    })
  }

  /** Makes durable records readable, in log order, and wakes the listeners. */
  private publish(records: ReadonlyArray<EventRecord>, touched: ReadonlyArray<string>): void {
    for (const record of records) {
      const entry = this.streams.get(record.stream)!
      const pending = entry.pending!
      if (record.isTombstone) pending.tombstone = undefined
      else pending.events.shift()
      if (pending.events.length === 0 && pending.tombstone === undefined) entry.pending = undefined
      this.log.push(record)
      this.makeReadable(entry, record)
    }
    this.notify(touched)
  }

  /** Calls `callback` once every write made so far is durable (at once in memory). */
  whenDurable(callback: DurableCallback): void {
    this.storage.whenDurable(callback)
  }

  /** Resolves once every write made so far is durable. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.storage.whenDurable((error) => (error === undefined ? resolve() : reject(error))))
  }

  /** Flushes and closes the log. */
  close(): Promise<void> {
    return this.storage.close()
  }

  /** Position the next record will get. */
  get headPosition(): number {
    return this.nextPosition
  }

  /** Position of the last record of the log. */
  get lastPosition(): number {
    const last = this.log[this.log.length - 1]
    return last === undefined ? 0 : last.position
  }

  /** The stream entry, if the stream was ever written. */
  stream(name: string): StreamEntry | undefined {
    return this.streams.get(name)
  }

  /** Metadata of a stream (for `$$x` the implicit metadata is `$maxCount = 1`). */
  metadataOf(name: string): StreamMetadata | undefined {
    if (isMetastream(name)) return undefined
    return this.streams.get(name)?.metadata
  }

  /** Is the stream (or the stream whose metastream this is) tombstoned? */
  isTombstoned(name: string): boolean {
    if (this.streams.get(name)?.tombstone !== undefined) return true
    if (isMetastream(name)) return this.streams.get(name.slice(2))?.tombstone !== undefined
    return false
  }

  /** Is the stream soft-deleted (`$tb` = long.MaxValue)? */
  isSoftDeleted(name: string): boolean {
    return !isMetastream(name) && isSoftDeletedMeta(this.streams.get(name)?.metadata)
  }

  /** Last event number of a stream, −1 when it has none. */
  lastEventNumber(name: string): number {
    const entry = this.streams.get(name)
    return entry === undefined ? -1 : entry.events.length - 1
  }

  /** What a stream read sees: missing / deleted / a visible window. */
  view(name: string, nowMs: number = Date.now()): StreamView {
    if (this.isTombstoned(name)) return { _tag: "Deleted" }
    const entry = this.streams.get(name)
    const last = entry === undefined ? -1 : entry.events.length - 1
    if (entry === undefined || last < 0) return { _tag: "NoStream", last }
    if (isMetastream(name)) {
      return { _tag: "Ok", entry, last, first: last, minCreatedMs: 0 }
    }
    const meta = entry.metadata
    if (isSoftDeletedMeta(meta)) return { _tag: "NoStream", last }
    let first = 0
    let minCreatedMs = 0
    if (meta !== undefined) {
      if (meta.truncateBefore !== undefined) first = Math.max(first, meta.truncateBefore)
      if (meta.maxCount !== undefined) first = Math.max(first, last - meta.maxCount + 1)
      if (meta.maxAge !== undefined) minCreatedMs = nowMs - meta.maxAge * 1000
    }
    return { _tag: "Ok", entry, last, first, minCreatedMs }
  }

  /** Index of the first record whose position is >= `position`. */
  indexAtOrAfter(position: number): number {
    let lo = 0
    let hi = this.log.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.log[mid]!.position < position) lo = mid + 1
      else hi = mid
    }
    return lo
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
    const target = view.entry.events[n]
    if (target === undefined || target.createdMs < view.minCreatedMs) return undefined
    return target
  }

  // ---------------------------------------------------------------------------------------------
  // subscriptions

  /** Notified after every write that added records to the log. */
  onAppendAll(listener: StoreListener): () => void {
    this.allListeners.add(listener)
    return () => {
      this.allListeners.delete(listener)
    }
  }

  /** Notified after every write to `stream` (including its tombstone). */
  onAppendStream(stream: string, listener: StoreListener): () => void {
    let set = this.streamListeners.get(stream)
    if (set === undefined) {
      set = new Set()
      this.streamListeners.set(stream, set)
    }
    set.add(listener)
    return () => {
      const s = this.streamListeners.get(stream)
      if (s === undefined) return
      s.delete(listener)
      if (s.size === 0) this.streamListeners.delete(stream)
    }
  }

  /** Number of registered listeners (for leak checks). */
  get listenerCount(): number {
    let n = this.allListeners.size
    for (const s of this.streamListeners.values()) n += s.size
    return n
  }

  /** Wakes the listeners of the streams a write touched, and those of `$all`. */
  private notify(streams: ReadonlyArray<string>): void {
    for (const stream of streams) {
      const set = this.streamListeners.get(stream)
      if (set !== undefined) for (const l of Array.from(set)) l()
    }
    for (const l of Array.from(this.allListeners)) l()
  }

  // ---------------------------------------------------------------------------------------------
  // writes

  private entryFor(name: string): StreamEntry {
    let entry = this.streams.get(name)
    if (entry === undefined) {
      entry = { name, nameBytes: Buffer.from(name, "utf8"), events: [], tombstone: undefined, metadata: undefined, pending: undefined }
      this.streams.set(name, entry)
    }
    return entry
  }

  private ticks(): { ms: number; created: string } {
    const ms = Date.now()
    let t = ms * 10000
    if (t <= this.lastTicks) t = this.lastTicks + 1
    this.lastTicks = t
    return { ms, created: String(t) }
  }

  private writeRecord(entry: StreamEntry, event: ProposedEvent, tombstone: boolean): EventRecord {
    const { created, ms } = this.ticks()
    const record: EventRecord = {
      position: this.nextPosition,
      stream: entry.name,
      streamBytes: entry.nameBytes,
      eventNumber: tombstone ? TOMBSTONE_EVENT_NUMBER : this.decidedLast(entry) + 1,
      isTombstone: tombstone,
      eventId: event.eventId,
      eventType: event.eventType,
      isJson: event.isJson,
      data: event.data,
      customMetadata: event.customMetadata,
      createdMs: ms,
      created,
      cache: [undefined, undefined]
    }
    if (this.persistent) {
      this.frames.push(encodeEvent({
        tombstone,
        position: record.position,
        createdMs: ms,
        createdTicks: Number(created),
        isJson: event.isJson,
        stream: entry.nameBytes,
        eventType: event.eventType,
        eventId: event.eventId,
        data: event.data,
        customMetadata: event.customMetadata
      }))
    }
    if (this.persistent) this.stage(entry, record)
    else this.index(entry, record)
    return record
  }

  /** A record decided with a file log: pending until its commit is durable. */
  private stage(entry: StreamEntry, record: EventRecord): void {
    this.advance(entry, record)
    const pending = entry.pending ?? (entry.pending = { events: [], tombstone: undefined })
    if (record.isTombstone) {
      pending.tombstone = record
    } else {
      pending.events.push(record)
      this.eventIds.set(record.eventId, record)
    }
    this.unpublished.push(record)
  }

  /** Adds a record read back from the log. */
  private replay(stored: StoredEvent): EventRecord {
    const entry = this.entryFor(stored.stream.toString("utf8"))
    if (stored.createdTicks > this.lastTicks) this.lastTicks = stored.createdTicks
    const record: EventRecord = {
      position: stored.position,
      stream: entry.name,
      streamBytes: entry.nameBytes,
      eventNumber: stored.tombstone ? TOMBSTONE_EVENT_NUMBER : entry.events.length,
      isTombstone: stored.tombstone,
      eventId: stored.eventId,
      eventType: stored.eventType,
      isJson: stored.isJson,
      data: stored.data,
      customMetadata: stored.customMetadata,
      createdMs: stored.createdMs,
      created: String(stored.createdTicks),
      cache: [undefined, undefined]
    }
    this.nextPosition = Math.max(this.nextPosition, record.position)
    this.index(entry, record)
    return record
  }

  /** Moves the next position past a record. */
  private advance(entry: StreamEntry, record: EventRecord): void {
    // prepare record size estimate: header + ids + strings + payloads, 8-byte aligned
    const size = 90 + entry.nameBytes.length + record.eventType.length * 2 + record.data.length + record.customMetadata.length
    this.nextPosition += (size + 7) & ~7
  }

  /** Puts a new record in the log array and the stream index (readable at once), and moves the next position. */
  private index(entry: StreamEntry, record: EventRecord): void {
    this.advance(entry, record)
    this.log.push(record)
    if (!record.isTombstone) this.eventIds.set(record.eventId, record)
    this.makeReadable(entry, record)
  }

  /** Adds a record to its stream as readers see it. */
  private makeReadable(entry: StreamEntry, record: EventRecord): void {
    if (record.isTombstone) {
      entry.tombstone = record
      return
    }
    entry.events.push(record)
    if (isMetastream(entry.name)) {
      const base = this.entryFor(entry.name.slice(2))
      base.metadata = parseMetadata(record)
    }
  }

  // the writer's view: readable records plus those decided and not yet durable (IndexWriter's cache)

  private decidedLast(entry: StreamEntry | undefined): number {
    if (entry === undefined) return -1
    const pending = entry.pending
    return entry.events.length + (pending === undefined ? 0 : pending.events.length) - 1
  }

  private decidedEvent(entry: StreamEntry, eventNumber: number): EventRecord | undefined {
    const readable = entry.events.length
    return eventNumber < readable ? entry.events[eventNumber] : entry.pending?.events[eventNumber - readable]
  }

  private decidedTombstone(name: string): EventRecord | undefined {
    const entry = this.streams.get(name)
    return entry?.tombstone ?? entry?.pending?.tombstone
  }

  private decidedTombstoned(name: string): boolean {
    if (this.decidedTombstone(name) !== undefined) return true
    return isMetastream(name) && this.decidedTombstone(name.slice(2)) !== undefined
  }

  private decidedSoftDeleted(name: string): boolean {
    if (isMetastream(name)) return false
    const meta = this.streams.get(metastreamOf(name))?.pending?.events
    const metadata = meta !== undefined && meta.length > 0 ? parseMetadata(meta[meta.length - 1]) : this.streams.get(name)?.metadata
    return isSoftDeletedMeta(metadata)
  }

  private writeSystem(stream: string, eventType: string, data: unknown): EventRecord {
    const entry = this.entryFor(stream)
    return this.writeRecord(entry, {
      eventId: newUuid(),
      eventType,
      isJson: true,
      data: Buffer.from(JSON.stringify(data), "utf8"),
      customMetadata: Buffer.alloc(0)
    }, false)
  }

  /** Writes a system event (used for startup users, `$settings`, ...). */
  writeSystemEvent(stream: string, eventType: string, data: unknown, isJson = true): EventRecord {
    this.assertWritable()
    const entry = this.entryFor(stream)
    const record = this.writeRecord(entry, {
      eventId: newUuid(),
      eventType,
      isJson,
      data: isJson ? Buffer.from(JSON.stringify(data), "utf8") : Buffer.from(String(data), "utf8"),
      customMetadata: Buffer.alloc(0)
    }, false)
    this.commit([stream])
    return record
  }

  /**
   * CheckCommit: decides a write against the expected state (PROTOCOL.md §1 table), including
   * idempotency by event id.
   */
  private checkCommit(
    name: string,
    expected: Expected,
    eventIds: ReadonlyArray<string>
  ):
    | { readonly _tag: "Ok"; readonly softDeleted: boolean }
    | { readonly _tag: "Idempotent"; readonly currentRevision: number; readonly position: number }
    | { readonly _tag: "WrongExpectedVersion"; readonly currentRevision: number }
    | { readonly _tag: "StreamDeleted" } {
    // the index writer looks at this stream's own last event number only: `$$x` of a tombstoned
    // `x` is still writable (IndexWriter.CheckCommit), though reading it is stream-deleted
    if (this.decidedTombstone(name) !== undefined) return { _tag: "StreamDeleted" }
    const entry = this.streams.get(name)
    const last = this.decidedLast(entry)
    const softDeleted = this.decidedSoftDeleted(name)

    const wev = { _tag: "WrongExpectedVersion" as const, currentRevision: last }
    const byIds = () => {
      const firstId = eventIds[0]
      if (firstId === undefined) return undefined
      const first = this.eventIds.get(firstId)
      if (first === undefined || first.stream !== name) return undefined
      let lastRecord = first
      for (let i = 1; i < eventIds.length; i++) {
        const r = this.eventIds.get(eventIds[i]!)
        if (r === undefined || r.stream !== name) return wev
        lastRecord = r
      }
      return { _tag: "Idempotent" as const, currentRevision: lastRecord.eventNumber, position: lastRecord.position }
    }

    const exact = (e: bigint) => {
      if (e === BigInt(last)) return { _tag: "Ok" as const, softDeleted }
      if (e > BigInt(last) || entry === undefined) return wev
      // writing earlier than the end: idempotent if the same ids are already there
      const noStreamOnSoftDeleted = e === -1n && softDeleted
      if (eventIds.length === 0) return noStreamOnSoftDeleted ? { _tag: "Ok" as const, softDeleted } : wev
      const from = Number(e) + 1
      for (let i = 0; i < eventIds.length; i++) {
        if (this.decidedEvent(entry, from + i)?.eventId !== eventIds[i]) {
          if (i > 0) return wev
          return noStreamOnSoftDeleted ? { _tag: "Ok" as const, softDeleted } : wev
        }
      }
      const lastRecord = this.decidedEvent(entry, from + eventIds.length - 1)!
      return { _tag: "Idempotent" as const, currentRevision: lastRecord.eventNumber, position: lastRecord.position }
    }

    switch (expected._tag) {
      case "Any":
        return byIds() ?? { _tag: "Ok", softDeleted }
      case "StreamExists": {
        if (softDeleted) return { _tag: "StreamDeleted" }
        const idem = byIds()
        if (idem !== undefined) return idem
        if (last < 0) {
          const meta = this.streams.get(metastreamOf(name))
          if (this.decidedLast(meta) >= 0) return { _tag: "Ok", softDeleted }
          return { _tag: "WrongExpectedVersion", currentRevision: last }
        }
        return { _tag: "Ok", softDeleted }
      }
      case "NoStream":
        return exact(-1n)
      case "Revision":
        return exact(expected.revision)
    }
  }

  /** Appends events to a stream (Append / BatchAppend). */
  append(name: string, expected: Expected, events: ReadonlyArray<ProposedEvent>): WriteOutcome {
    this.assertWritable()
    const check = this.checkCommit(name, expected, events.map((e) => e.eventId))
    switch (check._tag) {
      case "StreamDeleted":
        return check
      case "WrongExpectedVersion":
        return check
      case "Idempotent":
        return { _tag: "Success", currentRevision: check.currentRevision, position: check.position }
      case "Ok":
        break
    }
    const entry = this.entryFor(name)
    const touched: Array<string> = [name]
    const firstNew = this.decidedLast(entry) + 1
    const baseName = isMetastream(name) ? name.slice(2) : undefined
    const undeleteBase = baseName !== undefined && events.length > 0 && this.decidedSoftDeleted(baseName)
    let lastRecord: EventRecord | undefined
    for (const event of events) lastRecord = this.writeRecord(entry, event, false)
    if (lastRecord === undefined) {
      // an empty write: a commit record without events
      const position = this.nextPosition
      this.nextPosition += 64
      if (this.persistent) {
        this.frames.push(encodeEmptyCommit(position, this.nextPosition))
        this.commit([])
      }
      return { _tag: "Success", currentRevision: this.decidedLast(entry), position }
    }
    if (check.softDeleted) {
      // appending to a soft-deleted stream re-creates it from the first new event
      if (this.softUndelete(name, firstNew)) touched.push(metastreamOf(name))
    }
    if (baseName !== undefined) {
      // writing metadata of a soft-deleted stream re-creates it after its last event
      if (undeleteBase) this.softUndelete(baseName, this.decidedLast(this.streams.get(baseName)) + 1)
      touched.push(baseName)
    }
    this.commit(touched)
    return { _tag: "Success", currentRevision: lastRecord.eventNumber, position: lastRecord.position }
  }

  /** Rewrites the raw metadata of `name` with `$tb = truncateBefore` (StorageWriterService.SoftUndeleteStream). */
  private softUndelete(name: string, truncateBefore: number): boolean {
    const meta = this.streams.get(metastreamOf(name))
    const last = meta === undefined ? undefined : this.decidedEvent(meta, this.decidedLast(meta))
    if (last === undefined) return false
    let raw: unknown
    try {
      raw = JSON.parse(last.data.toString("utf8"))
    } catch {
      return false
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false
    this.writeRecord(this.entryFor(metastreamOf(name)), {
      eventId: newUuid(),
      eventType: "$metadata",
      isJson: true,
      data: Buffer.from(JSON.stringify({ ...raw, "$tb": truncateBefore }), "utf8"),
      customMetadata: Buffer.alloc(0)
    }, false)
    return true
  }

  /**
   * Soft delete: writes `{"$tb": long.MaxValue}` to `$$x` (replacing prior metadata).
   */
  softDelete(name: string, expected: Expected): WriteOutcome {
    this.assertWritable()
    if (this.decidedTombstoned(name)) return { _tag: "StreamDeleted" }
    const last = this.decidedLast(this.streams.get(name))
    const metaLast = this.decidedLast(this.streams.get(metastreamOf(name)))
    if (last < 0 && metaLast < 0) return { _tag: "WrongExpectedVersion", currentRevision: -1 }
    const check = this.checkCommit(name, expected, [newUuid()])
    switch (check._tag) {
      case "StreamDeleted":
        return check
      case "WrongExpectedVersion":
        return check
      case "Idempotent":
      case "Ok":
        break
    }
    const record = this.writeRecord(this.entryFor(metastreamOf(name)), {
      eventId: newUuid(),
      eventType: "$metadata",
      isJson: true,
      data: Buffer.from(`{"$tb":${TOMBSTONE_REVISION}}`, "utf8"),
      customMetadata: Buffer.alloc(0)
    }, false)
    this.commit([metastreamOf(name), name])
    return { _tag: "Success", currentRevision: last, position: record.position }
  }

  /** Hard delete: writes the `$streamDeleted` tombstone. */
  tombstone(name: string, expected: Expected): WriteOutcome {
    this.assertWritable()
    if (this.decidedTombstoned(name)) return { _tag: "StreamDeleted" }
    const check = this.checkCommit(name, expected, [newUuid()])
    switch (check._tag) {
      case "StreamDeleted":
        return check
      case "WrongExpectedVersion":
        return check
      case "Idempotent":
      case "Ok":
        break
    }
    const entry = this.entryFor(name)
    const record = this.writeRecord(entry, {
      eventId: newUuid(),
      eventType: "$streamDeleted",
      isJson: false,
      data: Buffer.alloc(0),
      customMetadata: Buffer.alloc(0)
    }, true)
    this.commit([name, metastreamOf(name)])
    return { _tag: "Success", currentRevision: this.decidedLast(entry), position: record.position }
  }
}
