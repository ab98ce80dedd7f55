/**
 * The embedded node's database: one transaction log of self-committed event records (positions
 * are byte-offset-like, start above 0 and have gaps), an index in memory (StreamIndex.ts) and the
 * bodies in the log, read through one reader (LogReader.ts); metastreams (`$$x`), soft deletes
 * (`$tb`), tombstones, `$maxCount`/`$maxAge`, idempotency by event id and change notification.
 *
 * One write path, for the memory and file logs alike: every record (appends, deletes, system
 * events, what projections and persistent groups write) is **validated** (WriteValidation.ts),
 * decided by the pure commit check (CommitCheck.ts) and **staged** in a transaction that touches
 * nothing; the transaction is encoded (file log) and only then **applied**: the index's pending
 * writes, the next position, the idempotency window. The log makes it **durable** (at once in
 * memory, after the group commit's fsync with `--db`), and it is then **published**: readable, in
 * log order, and the listeners woken. A write that throws before it is applied leaves no trace.
 *
 * Readers see the read-only log (ReadLog.ts) and walk `$all` with its one cursor (LogCursor.ts).
 * Semantics follow PROTOCOL.md §1 (IndexWriter.CheckCommit, StorageWriterService).
 *
 * Longer than 500 lines because it is one concept, the single write path: every write operation
 * (append, appendMany, softDelete, tombstone, system events), a cluster member's replicated commit
 * (`replicate`, `lead`: src/server/cluster) and a scavenge's switch of the file (`scavengeTarget`,
 * the offset moves: Scavenge.ts) go through the same private decide/stage/apply/publish steps and
 * the private state they guard (next position, idempotency window, pending index writes); splitting
 * them would expose that state. Everything that stands alone is already elsewhere: reads
 * (StoreReads.ts), the commit decision (CommitCheck.ts), transactions (Transaction.ts), validation,
 * the index and the idempotency window.
 *
 * @since 0.1.0
 */
import { newUuid } from "../codec/Uuid.ts"
import { checkCommit, type StreamState } from "./CommitCheck.ts"
import { type DurableCallback, type Log, LogFailedError, memoryLog } from "./Log.ts"
import { DEFAULT_READ_CACHE_BYTES, fileReader, memoryReader } from "./LogReader.ts"
import {
  type EventRecord,
  type CheckFailure,
  type Expected,
  isMetastream,
  type MultiWriteOutcome,
  type StreamCheck,
  metastreamOf,
  type ProposedEvent,
  TOMBSTONE_EVENT_NUMBER,
  TOMBSTONE_REVISION,
  type WriteOutcome
} from "./Records.ts"
import { StoreReads } from "./StoreReads.ts"
import { decodeBody, FRAME_HEADER_SIZE, layoutOf, type StoredRecord } from "./RecordCodec.ts"
import { encodeTransaction, eventRecordOf, newTransaction, recordTransaction, sizeEstimate, type Transaction } from "./Transaction.ts"
import { DEFAULT_IDEMPOTENCY_WINDOW, IdempotencyWindow } from "./IdempotencyWindow.ts"
import { type StreamEntry, StreamIndex } from "./StreamIndex.ts"
import { isSoftDeletedMeta, parseMetadata, rawMetadata } from "./StreamMetadata.ts"
import { validateWrite } from "./WriteValidation.ts"
import type { ScavengeTarget } from "./Scavenge.ts"

export * from "./Records.ts"
export { DELETED_TB, type StreamAcl, type StreamMetadata } from "./StreamMetadata.ts"
export type { StoreListener } from "./StoreListeners.ts"
export type { StreamView } from "./StoreReads.ts"

/**
 * Options of a {@link Store}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** Where records go; default {@link memoryLog} (nothing kept). Its recovered records are indexed. */
  readonly log?: Log | undefined
  /** Bytes of the read cache of a file log (default 32 MiB). */
  readonly readCacheBytes?: number | undefined
  /** Event ids remembered for idempotent retries with `any`/`stream_exists` (default 100,000). */
  readonly idempotencyWindow?: number | undefined
  /**
   * A cluster member (src/server/cluster): `false` when it opens as a replica (no epoch record is
   * written, and only {@link Store.replicate} writes: the leader's commits); a number is the epoch
   * the store writes on opening as leader (the cluster's next term). Default: the number of epoch
   * records in the log, as a single node.
   */
  readonly epoch?: number | false | undefined
}

/**
 * A local write on a cluster member that is not the leader (the cluster's gate answers such calls
 * before they reach the store; this guards the log).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotWritableError extends Error {
  constructor() {
    super("this node is not the leader: it only writes the leader's commits")
    this.name = "NotWritableError"
  }
}

/**
 * The database.
 *
 * @since 0.1.0
 * @category models
 */
export class Store extends StoreReads {
  private nextPosition = 128
  private lastTicks = 0
  private lastStream = ""
  private lastStreamBytes: Buffer = Buffer.alloc(0)
  private readonly storage: Log
  private readonly persistent: boolean
  private readonly window: IdempotencyWindow
  /**
   * How far each scavenge moved the frames written after its copy (Scavenge.ts): writes staged
   * before a move are published at their offset moved by the moves made since.
   */
  private readonly moves: Array<number> = []
  /** True when the log held no records when the store opened (a fresh database). */
  readonly fresh: boolean
  /** A replica (StoreOptions.epoch false): only the leader's commits are written. */
  private replica: boolean

  constructor(options: StoreOptions = {}) {
    const storage = options.log ?? memoryLog()
    const index = new StreamIndex()
    const file = storage.file
    super(
      index,
      file === undefined ? memoryReader() : fileReader(file, index, options.readCacheBytes ?? DEFAULT_READ_CACHE_BYTES)
    )
    this.storage = storage
    this.persistent = storage.persistent
    this.window = new IdempotencyWindow(options.idempotencyWindow ?? DEFAULT_IDEMPOTENCY_WINDOW)
    let epoch = 0
    let previousEpoch = 0
    let records = 0
    let lastName: Buffer | undefined
    let lastEntry: StreamEntry | undefined
    // a file log hands each record's body with its frame's offset and length (LogScan.ts): only
    // its layout is read (numbers and offsets, no text decoded, nothing copied)
    const entries: Iterable<{ readonly offset: number; readonly length: number; readonly body?: Buffer; readonly record: StoredRecord }> =
      this.storage.entries ?? Array.from(this.storage.recovered, (record) => ({ offset: -1, length: 0, record }))
    for (const scanned of entries) {
      const { length: size, offset } = scanned
      const body = scanned.body ?? encodeTransaction(recordTransaction(scanned.record)).sealed.subarray(FRAME_HEADER_SIZE)
      const stored = layoutOf(body)
      if (stored === undefined) throw new Error(`the log holds a record that cannot be decoded at byte ${offset}`)
      if (stored._tag === "EmptyCommit") {
        this.nextPosition = Math.max(this.nextPosition, stored.next)
        continue
      }
      if (stored._tag === "Scavenged") {
        // a scavenge dropped this stream's events before `firstKept`: the next ones keep their numbers
        const dropped = this.index.entryFor(body.toString("utf8", stored.streamStart, stored.streamEnd))
        if (dropped.events.length === 0 && dropped.base < stored.firstKept) dropped.base = stored.firstKept
        continue
      }
      records++
      // consecutive records of one stream are common: skip decoding its name again
      const streamBytes = body.subarray(stored.streamStart, stored.streamEnd)
      let entry = lastEntry
      if (entry === undefined || !lastName!.equals(streamBytes)) {
        entry = lastEntry = this.index.entryFor(streamBytes.toString("utf8"))
        lastName = Buffer.from(streamBytes)
      }
      if (stored.createdTicks > this.lastTicks) this.lastTicks = stored.createdTicks
      const eventNumber = stored.tombstone ? TOMBSTONE_EVENT_NUMBER : entry.base + entry.events.length
      this.index.push(entry, stored.position, eventNumber, offset, size, stored.tombstone)
      this.nextPosition = Math.max(this.nextPosition, stored.position) +
        sizeEstimate(streamBytes.length, stored.typeLength, stored.dataEnd - stored.dataStart, stored.metadataLength)
      if (stored.tombstone) continue
      if (isMetastream(entry.name)) {
        this.index.entryFor(entry.name.slice(2)).metadata = parseMetadata(body.subarray(stored.dataStart, stored.dataEnd))
      }
      if (entry.name === "$epoch-information") {
        epoch++
        previousEpoch = stored.position
      }
    }
    this.fresh = records === 0
    this.rememberRecent()
    this.replica = options.epoch === false
    if (options.epoch === false) return
    // like a real node, every start as leader writes a new epoch
    this.writeSystemEvent("$epoch-information", "$epoch-information", {
      "$e": options.epoch ?? epoch,
      "$m": this.nextPosition,
      "$p": epoch === 0 ? -1 : previousEpoch,
      "$i": newUuid(),
      "$l": newUuid()
    })
  }

  /**
   * A replica becomes the writer (a cluster member elected leader): it writes its epoch record
   * (`$e` = `epoch`) after what it holds, and from then on its own writes.
   */
  lead(epoch: number): void {
    this.replica = false
    const previous = this.lastEvent("$epoch-information")
    this.writeSystemEvent("$epoch-information", "$epoch-information", {
      "$e": epoch,
      "$m": this.nextPosition,
      "$p": previous === undefined ? -1 : previous.position,
      "$i": newUuid(),
      "$l": newUuid()
    })
  }

  /**
   * Fills the idempotency window with the last records of the log, read back once recovery is
   * done (remembering every id while scanning would churn a million short-lived objects).
   */
  private rememberRecent(): void {
    for (let i = Math.max(0, this.index.length - this.window.size); i < this.index.length;) {
      for (const record of this.reader.readForward(i, 1024)) {
        if (!record.isTombstone) this.window.durable(record.eventId, i)
        i++
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // durability

  /** Calls `callback` once every write made so far is durable (at once in memory). */
  whenDurable(callback: DurableCallback): void {
    this.storage.whenDurable(callback)
  }

  /** Resolves once every write made so far is durable. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.storage.whenDurable((error) => (error === undefined ? resolve() : reject(error))))
  }

  /** Flushes and closes the log. */
  async close(): Promise<void> {
    await this.storage.close()
    this.reader.close()
  }

  // ---------------------------------------------------------------------------------------------
  // the writer's state

  /** Position the next record will get. */
  get headPosition(): number {
    return this.nextPosition
  }

  /** The events of a stream from the last backward, those not yet durable first (the writer's view). */
  *decidedBackward(name: string): Generator<EventRecord> {
    const entry = this.index.stream(name)
    if (entry === undefined) return
    const pending = entry.pending?.events ?? []
    for (let i = pending.length - 1; i >= 0; i--) yield pending[i]!
    for (let n = entry.events.length - 1; n >= 0; n--) yield this.reader.read(entry.events[n]!)
  }

  /** Has the writer decided events for this stream (readable or not yet durable)? */
  hasDecidedEvents(name: string): boolean {
    return this.decidedLast(name) >= 0
  }

  // ---------------------------------------------------------------------------------------------
  // the writer's view: readable records, those decided and not yet durable (the real index
  // writer's cache) and those staged by the transaction being decided

  private decidedLast(name: string, tx?: Transaction): number {
    const entry = this.index.stream(name)
    const readable = entry === undefined ? 0 : entry.base + entry.events.length
    const pending = entry?.pending?.events.length ?? 0
    return readable + pending + (tx?.counts.get(name) ?? 0) - 1
  }

  private decidedEvent(name: string, n: number, tx?: Transaction): EventRecord | undefined {
    if (n < 0) return undefined
    const entry = this.index.stream(name)
    const readable = entry === undefined ? 0 : entry.base + entry.events.length
    // dropped by a scavenge
    if (n < readable && n < entry!.base) return undefined
    if (n < readable) return this.reader.read(entry!.events[n - entry!.base]!)
    const pending = entry?.pending?.events ?? []
    if (n - readable < pending.length) return pending[n - readable]
    if (tx === undefined) return undefined
    let k = n - readable - pending.length
    for (const record of tx.records) {
      if (record.stream === name && !record.isTombstone && k-- === 0) return record
    }
    return undefined
  }

  private decidedTombstoned(name: string): boolean {
    const own = (s: string) => {
      const entry = this.index.stream(s)
      return entry !== undefined && (entry.tombstone >= 0 || entry.pending?.tombstone !== undefined)
    }
    return own(name) || (isMetastream(name) && own(name.slice(2)))
  }

  private decidedSoftDeleted(name: string, tx?: Transaction): boolean {
    if (isMetastream(name)) return false
    const meta = metastreamOf(name)
    const last = this.decidedLast(meta, tx)
    const readable = this.lastEventNumber(meta)
    const metadata = last > readable ? parseMetadata(this.decidedEvent(meta, last, tx)?.data) : this.index.stream(name)?.metadata
    return isSoftDeletedMeta(metadata)
  }

  private stateOf(name: string): StreamState {
    const entry = this.index.stream(name)
    return {
      // the index writer looks at this stream's own last event number only: `$$x` of a tombstoned
      // `x` is still writable (IndexWriter.CheckCommit), though reading it is stream-deleted
      tombstoned: entry !== undefined && (entry.tombstone >= 0 || entry.pending?.tombstone !== undefined),
      last: this.decidedLast(name),
      softDeleted: this.decidedSoftDeleted(name),
      metastreamHasEvents: this.decidedLast(metastreamOf(name)) >= 0,
      eventAt: (n) => this.decidedEvent(name, n),
      recent: (eventId) => {
        if (entry === undefined) return undefined
        const found = this.window.find(eventId)
        // a hash hit: the record says whether it is this id, in this stream
        if (found !== undefined && this.index.streamAt(found) === entry && !this.index.removedAt(found)) {
          const record = this.reader.read(found)
          if (record.eventId === eventId) return record
        }
        return entry.pending?.events.find((record) => record.eventId === eventId)
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // the write path: validate → stage → (encode) → apply → durable → publish

  private assertWritable(): void {
    if (this.replica) throw new NotWritableError()
    const failure = this.storage.failure()
    if (failure !== undefined) throw new LogFailedError(failure)
  }

  private begin(): Transaction {
    return newTransaction(this.nextPosition)
  }

  private ticks(): { ms: number; created: string } {
    const ms = Date.now()
    let t = ms * 10000
    if (t <= this.lastTicks) t = this.lastTicks + 1
    this.lastTicks = t
    return { ms, created: String(t) }
  }

  /**
   * The UTF-8 bytes of a stream name, shared by consecutive records of the same stream (a
   * 1,000-event append holds one copy, not 1,000; the bytes are only read).
   */
  private streamBytesOf(stream: string): Buffer {
    if (stream !== this.lastStream) {
      this.lastStream = stream
      this.lastStreamBytes = Buffer.from(stream, "utf8")
    }
    return this.lastStreamBytes
  }

  /** Decides one record into the transaction; changes nothing else. */
  private stage(tx: Transaction, stream: string, event: ProposedEvent, tombstone: boolean): EventRecord {
    const { created, ms } = this.ticks()
    const streamBytes = this.streamBytesOf(stream)
    const record: EventRecord = {
      position: tx.next,
      stream,
      streamBytes,
      eventNumber: tombstone ? TOMBSTONE_EVENT_NUMBER : this.decidedLast(stream, tx) + 1,
      isTombstone: tombstone,
      eventId: event.eventId,
      eventType: event.eventType,
      isJson: event.isJson,
      data: event.data,
      customMetadata: event.customMetadata,
      createdMs: ms,
      created,
      cache: undefined
    }
    tx.records.push(record)
    if (!tombstone) tx.counts.set(stream, (tx.counts.get(stream) ?? 0) + 1)
    tx.touched.add(stream)
    tx.next += sizeEstimate(streamBytes.length, event.eventType.length, event.data.length, event.customMetadata.length)
    return record
  }

  /**
   * Ends a write: encodes it (throwing here leaves no trace), hands it to the log, applies it to
   * the writer's view and publishes it once durable.
   */
  private commit(tx: Transaction): void {
    if (tx.records.length === 0 && tx.empty === undefined) return
    const encoded = this.persistent ? encodeTransaction(tx) : undefined
    // a file log answers where the commit lands: its frames follow each other from there
    const at = encoded === undefined ? undefined : this.storage.write(encoded.sealed)
    this.apply(tx, at, encoded?.sizes)
  }

  /**
   * Replica (src/server/cluster): writes one commit of the leader, its sealed frames byte for byte
   * (so every member's log file is the same bytes), at the positions the leader gave its records,
   * through the same apply → durable → publish steps. A commit at a position the store already
   * holds is skipped (a catch-up overlapping the live stream).
   */
  replicate(sealed: Buffer): void {
    const failure = this.storage.failure()
    if (failure !== undefined) throw new LogFailedError(failure)
    const tx = newTransaction(this.nextPosition)
    const sizes: Array<number> = []
    let first: number | undefined
    for (let o = 0; o < sealed.length;) {
      const length = sealed.readUInt32LE(o)
      const stored = decodeBody(sealed.subarray(o + FRAME_HEADER_SIZE, o + FRAME_HEADER_SIZE + length))
      if (stored === undefined || stored._tag === "Padding") throw new Error(`a replicated commit holds an unreadable frame at byte ${o}`)
      o += FRAME_HEADER_SIZE + length
      first ??= stored.position
      if (stored._tag === "EmptyCommit") {
        tx.empty = { position: stored.position, next: stored.next }
        tx.next = Math.max(tx.next, stored.next)
        continue
      }
      sizes.push(FRAME_HEADER_SIZE + length)
      const stream = stored.stream.toString("utf8")
      if (stored.createdTicks > this.lastTicks) this.lastTicks = stored.createdTicks
      tx.records.push(eventRecordOf(stored, stream, stored.tombstone ? TOMBSTONE_EVENT_NUMBER : this.decidedLast(stream, tx) + 1))
      if (!stored.tombstone) tx.counts.set(stream, (tx.counts.get(stream) ?? 0) + 1)
      tx.touched.add(stream)
      if (stored.tombstone) tx.touched.add(metastreamOf(stream))
      else if (isMetastream(stream)) tx.touched.add(stream.slice(2))
      tx.next = Math.max(tx.next, stored.position +
        sizeEstimate(stored.stream.length, stored.eventType.length, stored.data.length, stored.customMetadata.length))
    }
    if (first === undefined || first < this.nextPosition) return
    const at = this.storage.write(sealed)
    this.apply(tx, at, sizes)
  }

  /** Applies a written commit to the writer's view and publishes it once durable; nothing here throws. */
  private apply(tx: Transaction, at: number | void, sizes: ReadonlyArray<number> | undefined): void {
    this.nextPosition = tx.next
    // each record's stream entry (the records and their frame sizes say the rest): no object per
    // record lives until the fsync (they outlive young-generation collections and are promoted)
    const entries: Array<StreamEntry> = new Array(tx.records.length)
    tx.records.forEach((record, k) => {
      const entry = this.index.entryFor(record.stream)
      const pending = entry.pending ?? (entry.pending = { events: [], tombstone: undefined })
      if (record.isTombstone) {
        pending.tombstone = record
      } else {
        pending.events.push(record)
      }
      entries[k] = entry
    })
    if (tx.records.length === 0) return
    const { records, touched } = tx
    const moved = this.moves.length
    this.storage.whenDurable((error) => {
      if (error !== undefined) return
      // the frames follow each other from `at`, moved by the moves a scavenge made meanwhile
      const offset = typeof at === "number" ? at + this.movedSince(moved) : -1
      this.publish(records, entries, offset, sizes, touched)
    })
  }

  /** The bytes the frames not yet durable moved by since move `from` (a scavenge replaced the file meanwhile). */
  private movedSince(from: number): number {
    let delta = 0
    for (let k = from; k < this.moves.length; k++) delta += this.moves[k]!
    return delta
  }

  /**
   * What a scavenge works on (Scavenge.ts): the index, the reader of bodies, the log, and `moved`,
   * called when the file was replaced and the frames not yet durable moved by `delta` bytes.
   */
  scavengeTarget(): ScavengeTarget {
    return { index: this.index, reader: this.reader, log: this.storage, moved: (delta) => this.moves.push(delta) }
  }

  /**
   * Makes durable records readable, in log order, and wakes the listeners. With a file log the
   * records' frames follow each other from offset `at`, `sizes` long.
   */
  private publish(
    records: ReadonlyArray<EventRecord>,
    entries: ReadonlyArray<StreamEntry>,
    at: number,
    sizes: ReadonlyArray<number> | undefined,
    touched: Iterable<string>
  ): void {
    // the staged records of a stream are the first of its pending ones: dropped once per stream
    const drop = new Map<StreamEntry, number>()
    let offset = at
    for (let k = 0; k < records.length; k++) {
      const record = records[k]!
      const entry = entries[k]!
      const size = sizes?.[k] ?? 0
      if (record.isTombstone) entry.pending!.tombstone = undefined
      else drop.set(entry, (drop.get(entry) ?? 0) + 1)
      const i = this.index.push(entry, record.position, record.eventNumber, offset, size, record.isTombstone)
      if (offset >= 0) offset += size
      this.reader.published(i, record)
      if (!record.isTombstone) this.window.durable(record.eventId, i)
      if (!record.isTombstone && isMetastream(entry.name)) {
        this.index.entryFor(entry.name.slice(2)).metadata = parseMetadata(record.data)
      }
    }
    for (const [entry, count] of drop) {
      const pending = entry.pending!
      if (count === pending.events.length) pending.events.length = 0
      else pending.events.splice(0, count)
    }
    for (const entry of entries) {
      if (entry.pending !== undefined && entry.pending.events.length === 0 && entry.pending.tombstone === undefined) {
        entry.pending = undefined
      }
    }
    this.listeners.notify(touched)
  }

  /** Writes a system event (used for startup users, `$settings`, ...). */
  writeSystemEvent(stream: string, eventType: string, data: unknown, isJson = true): EventRecord {
    this.assertWritable()
    const event: ProposedEvent = {
      eventId: newUuid(),
      eventType,
      isJson,
      data: isJson ? Buffer.from(JSON.stringify(data), "utf8") : Buffer.from(String(data), "utf8"),
      customMetadata: Buffer.alloc(0)
    }
    validateWrite(stream, [event])
    const tx = this.begin()
    const record = this.stage(tx, stream, event, false)
    this.commit(tx)
    return record
  }

  /** Appends events to a stream (Append / BatchAppend). */
  append(name: string, expected: Expected, events: ReadonlyArray<ProposedEvent>): WriteOutcome {
    this.assertWritable()
    validateWrite(name, events)
    const check = checkCommit(this.stateOf(name), expected, events.map((e) => e.eventId))
    switch (check._tag) {
      case "StreamDeleted":
      case "WrongExpectedVersion":
        return check
      case "Idempotent":
        return { _tag: "Success", currentRevision: check.currentRevision, position: check.position }
      case "Ok":
        break
    }
    const tx = this.begin()
    if (events.length === 0) {
      // an empty write: a commit record without events
      const position = tx.next
      tx.next += 64
      tx.empty = { position, next: tx.next }
      this.commit(tx)
      return { _tag: "Success", currentRevision: this.decidedLast(name), position }
    }
    const firstNew = this.decidedLast(name) + 1
    const baseName = isMetastream(name) ? name.slice(2) : undefined
    const undeleteBase = baseName !== undefined && this.decidedSoftDeleted(baseName)
    let lastRecord: EventRecord | undefined
    for (const event of events) lastRecord = this.stage(tx, name, event, false)
    // appending to a soft-deleted stream re-creates it from the first new event
    if (check.softDeleted) this.softUndelete(tx, name, firstNew)
    if (baseName !== undefined) {
      // writing metadata of a soft-deleted stream re-creates it after its last event
      if (undeleteBase) this.softUndelete(tx, baseName, this.decidedLast(baseName, tx) + 1)
      tx.touched.add(baseName)
    }
    this.commit(tx)
    return { _tag: "Success", currentRevision: lastRecord!.eventNumber, position: lastRecord!.position }
  }

  /** Rewrites the raw metadata of `name` with `$tb = truncateBefore` (StorageWriterService.SoftUndeleteStream). */
  private softUndelete(tx: Transaction, name: string, truncateBefore: number): void {
    const meta = metastreamOf(name)
    const raw = rawMetadata(this.decidedEvent(meta, this.decidedLast(meta, tx), tx)?.data ?? Buffer.alloc(0))
    if (raw === undefined) return
    this.stage(tx, meta, {
      eventId: newUuid(),
      eventType: "$metadata",
      isJson: true,
      data: Buffer.from(JSON.stringify({ ...raw, "$tb": truncateBefore }), "utf8"),
      customMetadata: Buffer.alloc(0)
    }, false)
  }

  /** Soft delete: writes `{"$tb": long.MaxValue}` to `$$x` (replacing prior metadata). */
  softDelete(name: string, expected: Expected): WriteOutcome {
    this.assertWritable()
    validateWrite(metastreamOf(name), [])
    if (this.decidedTombstoned(name)) return { _tag: "StreamDeleted" }
    const last = this.decidedLast(name)
    if (last < 0 && this.decidedLast(metastreamOf(name)) < 0) return { _tag: "WrongExpectedVersion", currentRevision: -1 }
    const check = checkCommit(this.stateOf(name), expected, [newUuid()])
    if (check._tag === "StreamDeleted" || check._tag === "WrongExpectedVersion") return check
    const tx = this.begin()
    const record = this.stage(tx, metastreamOf(name), {
      eventId: newUuid(),
      eventType: "$metadata",
      isJson: true,
      data: Buffer.from(`{"$tb":${TOMBSTONE_REVISION}}`, "utf8"),
      customMetadata: Buffer.alloc(0)
    }, false)
    tx.touched.add(name)
    this.commit(tx)
    return { _tag: "Success", currentRevision: last, position: record.position }
  }

  /** Hard delete: writes the `$streamDeleted` tombstone. */
  tombstone(name: string, expected: Expected): WriteOutcome {
    this.assertWritable()
    validateWrite(name, [])
    if (this.decidedTombstoned(name)) return { _tag: "StreamDeleted" }
    const check = checkCommit(this.stateOf(name), expected, [newUuid()])
    if (check._tag === "StreamDeleted" || check._tag === "WrongExpectedVersion") return check
    const tx = this.begin()
    const record = this.stage(tx, name, {
      eventId: newUuid(),
      eventType: "$streamDeleted",
      isJson: false,
      data: Buffer.alloc(0),
      customMetadata: Buffer.alloc(0)
    }, true)
    tx.touched.add(metastreamOf(name))
    this.commit(tx)
    return { _tag: "Success", currentRevision: this.decidedLast(name), position: record.position }
  }

  /**
   * Appends records to several streams in one transaction (v2 AppendSession / AppendRecords,
   * StorageWriterService.WritePrepares with several streams): every stream of `checks` is
   * checked first (a stream no record is for is only checked), then all records are staged in
   * request order and committed as one write: all of them or none, durable together.
   * `records[i].index` is the check (stream) the record is for.
   */
  appendMany(
    checks: ReadonlyArray<StreamCheck>,
    records: ReadonlyArray<{ readonly index: number; readonly event: ProposedEvent }>
  ): MultiWriteOutcome {
    this.assertWritable()
    const idsOf: Array<Array<string>> = checks.map(() => [])
    for (const { event, index } of records) idsOf[index]!.push(event.eventId)
    for (const c of checks) validateWrite(c.stream, [])
    for (const r of records) validateWrite(checks[r.index]!.stream, [r.event])
    const failures: Array<CheckFailure> = []
    const idempotent: Array<{ index: number; revision: number; position: number }> = []
    const softDeleted: Array<boolean> = []
    let writing = 0
    checks.forEach(({ expected, stream }, index) => {
      const ids = idsOf[index]!
      if (ids.length > 0) writing++
      const state = this.stateOf(stream)
      softDeleted.push(state.softDeleted)
      const fail = (soft: boolean) => failures.push({ index, actual: state.tombstoned ? "tombstoned" : state.last, softDeleted: soft })
      if (state.tombstoned) {
        // never writable; a check alone holds for any, no stream and tombstoned
        if (ids.length > 0 || !(expected._tag === "Any" || expected._tag === "NoStream" || expected._tag === "Tombstoned")) fail(false)
        return
      }
      if (expected._tag === "Tombstoned") return fail(false)
      if (expected._tag === "Deleted") {
        if (!state.softDeleted) fail(false)
        return
      }
      const decision = checkCommit(state, expected, ids)
      switch (decision._tag) {
        case "Ok":
          return
        case "Idempotent":
          if (ids.length === 0) return
          idempotent.push({ index, revision: decision.currentRevision, position: decision.position })
          return
        case "StreamDeleted":
          return fail(state.softDeleted)
        case "WrongExpectedVersion":
          return fail(false)
      }
    })
    // a retry of a write already made: every written stream idempotent
    if (writing > 0 && idempotent.length === writing) {
      const byIndex = new Map(idempotent.map((d) => [d.index, d]))
      return {
        _tag: "Success",
        revisions: checks.map((c, i) => byIndex.get(i)?.revision ?? this.decidedLast(c.stream)),
        position: idempotent.reduce((p, d) => Math.max(p, d.position), 0)
      }
    }
    if (failures.length > 0 || idempotent.length > 0) {
      for (const d of idempotent) failures.push({ index: d.index, actual: this.decidedLast(checks[d.index]!.stream), softDeleted: false })
      failures.sort((a, b) => a.index - b.index)
      return { _tag: "Failed", failures }
    }
    const tx = this.begin()
    const firstNew = checks.map((c) => this.decidedLast(c.stream) + 1)
    const undeleteBase = checks.map((c) => isMetastream(c.stream) && this.decidedSoftDeleted(c.stream.slice(2)))
    let last: EventRecord | undefined
    for (const { event, index } of records) last = this.stage(tx, checks[index]!.stream, event, false)
    checks.forEach((c, i) => {
      if (idsOf[i]!.length === 0) return
      // appending to a soft-deleted stream re-creates it from its first new event
      if (softDeleted[i]) this.softUndelete(tx, c.stream, firstNew[i]!)
      if (isMetastream(c.stream)) {
        const base = c.stream.slice(2)
        if (undeleteBase[i]) this.softUndelete(tx, base, this.decidedLast(base, tx) + 1)
        tx.touched.add(base)
      }
    })
    const revisions = checks.map((c) => this.decidedLast(c.stream, tx))
    this.commit(tx)
    return { _tag: "Success", revisions, position: last!.position }
  }
}
