/**
 * The one reader of event bodies. In memory the records are kept as written; with a file log a
 * body is read from the file at the offset the index holds (one `pread`, its frame's length
 * checked) and decoded, and a bounded cache (by bytes, first in first out) keeps the records read or written
 * lately. Sequential readers ask for ranges: the records of a range are read in one
 * chunk and not cached, so a reader catching up over a million events holds one chunk at a time.
 *
 * @since 0.1.0
 */
import { closeSync, openSync, readSync } from "node:fs"
import { FRAME_HEADER_SIZE, layoutOf } from "./RecordCodec.ts"
import type { EventRecord } from "./Records.ts"
import type { StreamIndex } from "./StreamIndex.ts"

/** Reads `length` bytes at `offset` of the file open on `fd` (fewer at its end). */
const readBytesAt = (fd: number, offset: number, length: number): Buffer => {
  const buffer = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, offset + done)
    if (n === 0) return buffer.subarray(0, done)
    done += n
  }
  return buffer
}

/**
 * Default bytes of the read cache of a file log.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_READ_CACHE_BYTES = 32 * 1024 * 1024

/**
 * Bytes read at once by a range read.
 *
 * @since 0.1.0
 * @category constants
 */
export const RANGE_CHUNK_BYTES = 64 * 1024

/** Bytes a cached record holds beyond its frame (its object, buffers' objects, strings), measured. */
const RECORD_OVERHEAD = 700

/**
 * Reads the bodies of readable records by `$all` index.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogReader {
  /** Record `i`. */
  readonly read: (i: number) => EventRecord
  /** Records `from`, `from + 1`, … (at least one, at most `max`), read together. */
  readonly readForward: (from: number, max: number) => ReadonlyArray<EventRecord>
  /** Records …, `to − 1`, `to` (at least one, at most `max`) in log order, read together. */
  readonly readBackward: (to: number, max: number) => ReadonlyArray<EventRecord>
  /** A record just made readable, as written. */
  readonly published: (i: number, record: EventRecord) => void
  /** Bytes held by the cache (0 in memory, where every record is kept). */
  readonly cachedBytes: () => number
  /** Record `i` was dropped by a scavenge: its body is let go (memory) or never read again (file). */
  readonly drop: (i: number) => void
  /** The log file was replaced (a scavenge): reads go to the new file from now on. */
  readonly reopen: () => void
  readonly close: () => void
}

/**
 * The reader of an in-memory store: every record is kept.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memoryReader = (): LogReader => {
  const records: Array<EventRecord> = []
  return {
    read: (i) => records[i]!,
    readForward: (from, max) => records.slice(from, from + Math.max(1, max)),
    readBackward: (to, max) => records.slice(Math.max(0, to - Math.max(1, max) + 1), to + 1),
    published: (i, record) => {
      records[i] = record
    },
    cachedBytes: () => 0,
    drop: (i) => {
      // let go (not `delete`: the array stays packed); `$all` passes over dropped records, and no
      // stream reaches them any more
      ;(records as Array<EventRecord | undefined>)[i] = undefined
    },
    reopen: () => {},
    close: () => {}
  }
}

/**
 * The reader of a file log at `path`, with a cache of `cacheBytes`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fileReader = (path: string, index: StreamIndex, cacheBytes: number = DEFAULT_READ_CACHE_BYTES): LogReader => {
  let fd = openSync(path, "r")
  const cache = new Map<number, EventRecord>()
  // first in, first out, in the order records entered (a queue of indexes: evicting a Map's first
  // key is O(deleted entries) in V8)
  let queue: Array<number> = []
  let head = 0
  let bytes = 0
  const cost = (i: number) => index.sizeAt(i) + RECORD_OVERHEAD

  const remember = (i: number, record: EventRecord) => {
    if (cacheBytes <= 0 || cache.has(i)) return
    cache.set(i, record)
    queue.push(i)
    bytes += cost(i)
    while (bytes > cacheBytes && head < queue.length) {
      const oldest = queue[head++]!
      cache.delete(oldest)
      bytes -= cost(oldest)
    }
    if (head > 4096 && head * 2 > queue.length) {
      queue = queue.slice(head)
      head = 0
    }
  }

  const decodeAt = (chunk: Buffer, at: number, i: number): EventRecord => {
    const size = index.sizeAt(i)
    const offset = index.offsetAt(i)
    const body = chunk.subarray(at + FRAME_HEADER_SIZE, at + size)
    // every checksum was verified when the log was opened (or the record was written by this
    // node): a read checks the frame's length, as a real node's reader checks a record's length
    // prefix against its suffix, not its hash
    if (body.length !== size - FRAME_HEADER_SIZE || chunk.readUInt32LE(at) !== body.length) {
      throw new Error(`the log is damaged: the record at byte ${offset} is not where the index says`)
    }
    const layout = layoutOf(body)
    if (layout === undefined || layout._tag !== "Event") throw new Error(`the log is damaged at byte ${offset}`)
    const entry = index.streamAt(i)
    const typeStart = layout.streamEnd + 2
    return {
      position: layout.position,
      stream: entry.name,
      streamBytes: body.subarray(layout.streamStart, layout.streamEnd),
      eventNumber: index.eventNumberAt(i),
      isTombstone: layout.tombstone,
      eventId: body.toString("latin1", layout.idStart, layout.idEnd),
      eventType: body.toString("utf8", typeStart, typeStart + layout.typeLength),
      isJson: layout.isJson,
      data: body.subarray(layout.dataStart, layout.dataEnd),
      customMetadata: body.subarray(layout.dataEnd + 4, layout.dataEnd + 4 + layout.metadataLength),
      createdMs: layout.createdMs,
      created: String(layout.createdTicks),
      cache: undefined
    }
  }

  /** Records first..last (inclusive), read as one span of the file. */
  const readSpan = (first: number, last: number): Array<EventRecord> => {
    const start = index.offsetAt(first)
    const chunk = readBytesAt(fd, start, index.offsetAt(last) + index.sizeAt(last) - start)
    const out: Array<EventRecord> = []
    for (let i = first; i <= last; i++) out.push(cache.get(i) ?? decodeAt(chunk, index.offsetAt(i) - start, i))
    return out
  }

  return {
    read: (i) => {
      const hit = cache.get(i)
      if (hit !== undefined) return hit
      const record = decodeAt(readBytesAt(fd, index.offsetAt(i), index.sizeAt(i)), 0, i)
      remember(i, record)
      return record
    },
    readForward: (from, max) => {
      const hit = cache.get(from)
      if (hit !== undefined) return [hit]
      const end = Math.min(index.length, from + Math.max(1, max))
      const limit = index.offsetAt(from) + RANGE_CHUNK_BYTES
      let last = from
      while (
        last + 1 < end && !cache.has(last + 1) && !index.removedAt(last + 1) &&
        index.offsetAt(last + 1) + index.sizeAt(last + 1) <= limit
      ) last++
      return readSpan(from, last)
    },
    readBackward: (to, max) => {
      const hit = cache.get(to)
      if (hit !== undefined) return [hit]
      const end = Math.max(0, to - Math.max(1, max) + 1)
      const limit = index.offsetAt(to) + index.sizeAt(to) - RANGE_CHUNK_BYTES
      let first = to
      while (first - 1 >= end && !cache.has(first - 1) && !index.removedAt(first - 1) && index.offsetAt(first - 1) >= limit) first--
      return readSpan(first, to)
    },
    published: () => {
      // not cached: copying every write into the cache made the old generation churn during
      // appends; readers at the head read the new records from the file (the page cache) in runs
    },
    cachedBytes: () => bytes,
    drop: (i) => {
      // its cost stays counted until the queue evicts it
      cache.delete(i)
    },
    reopen: () => {
      const next = openSync(path, "r")
      closeSync(fd)
      fd = next
    },
    close: () => closeSync(fd)
  }
}
