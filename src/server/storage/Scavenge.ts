/**
 * A scavenge: drops the records no read can reach any more and, with a file log (`--db`),
 * rewrites the log file without them.
 *
 * What is dropped, decided per stream on the records durable when the scavenge starts (its
 * scavenge point: nothing written after it is touched), as a real node decides it
 * (kurrent-io/KurrentDB `src/KurrentDB.Core/TransactionLog/Scavenging/Stages/EventCalculator.cs`,
 * `Calculator.cs`: "the discard points will never discard the last event from the stream"):
 *
 * - a tombstoned stream: every event; the tombstone stays;
 * - `$tb` (a soft delete is `$tb` = long.MaxValue), `$maxCount`: the events before the first one
 *   a read can see; `$maxAge`: the expired events from the first one on, up to the first one
 *   that has not expired;
 * - a metastream: every event but its last (a real node drops the last too when the stream is
 *   tombstoned; here it stays: it is one small record, and keeping it keeps `$$x`'s numbering);
 * - never the last event of a stream before the scavenge point.
 *
 * Positions do not move: a record's `$all` (commit/prepare) position is stored in its body and
 * kept frames are copied byte for byte, so a client's checkpoint stays valid (a real node keeps
 * logical positions through a scavenge too: a scavenged chunk maps them to the records' new
 * places with its `PosMap`, `src/KurrentDB.Core/TransactionLog/Chunks/TFChunk/PosMap.cs`).
 * Event numbers are not stored in records: where a stream lost its first events, a scavenge mark
 * (RecordCodec.ts) tells the next start the number of the first one kept.
 *
 * The rewrite: the old file is read with the checks of a start (LogScan.ts) and copied, without
 * the dropped records, to `events.log.scavenge`, in slices with the event loop served between
 * them; what was appended meanwhile is copied after it (in the background, then, with the log's
 * flushes held so that writes queue for a moment, the last few bytes); the new file is synced,
 * locked (LogLock.ts) and renamed over `events.log`, and the store switches to it in one
 * synchronous step: the index's offsets, the reader's file, the writer's file and lock, the
 * offsets of the writes queued meanwhile; the directory is synced before the held flushes go on.
 * No `fsync` runs on the event loop. A crash before the rename leaves the
 * old log as it was; after it, the new log is
 * whole (the next start deletes the leftover file). Stopping before the switch leaves everything
 * as it was.
 *
 * In memory (no `--db`), the dropped records' bodies are let go at once. In both modes the
 * index keeps an entry of 28 bytes per dropped record until the next start (`$all` indexes do
 * not move while readers hold them; `$all` passes over these entries).
 *
 * @since 0.1.0
 */
import { closeSync, fsync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs"
import { dirname } from "node:path"
import { LOG_MAGIC, SCAVENGE_FILE } from "./FileLog.ts"
import type { FileLog } from "./FileLog.ts"
import type { Log } from "./Log.ts"
import type { LogReader } from "./LogReader.ts"
import { type LogLock, lockFile } from "./LogLock.ts"
import { scanLog } from "./LogScan.ts"
import { encodeScavenged, FRAME_HEADER_SIZE, isCommitEnd, layoutOf } from "./RecordCodec.ts"
import { isMetastream } from "./Records.ts"
import type { StreamEntry, StreamIndex } from "./StreamIndex.ts"

/**
 * What a scavenge works on (given by `Store.scavengeTarget`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScavengeTarget {
  readonly index: StreamIndex
  readonly reader: LogReader
  readonly log: Log
  /** The file was replaced: frames not yet durable moved by `delta` bytes. */
  readonly moved: (delta: number) => void
}

/**
 * Options of {@link scavenge}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScavengeOptions {
  /** Now, in ms since the epoch (`$maxAge`). */
  readonly now: number
  /** Asked between slices: true stops the scavenge, leaving the log as it was. */
  readonly stopped: () => boolean
  /** Records (or streams) handled per slice before the event loop is served; default 512. */
  readonly slice?: number | undefined
  /** Waited between slices; default `setImmediate`. */
  readonly pause?: (() => Promise<void>) | undefined
  /** Waited once the new file is written and synced, just before the switch (tests: a crash there). */
  readonly beforeSwitch?: (() => Promise<void>) | undefined
}

/**
 * What a scavenge did.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScavengeResult {
  /** Stopped before the switch: nothing changed. */
  readonly stopped: boolean
  /** Records dropped. */
  readonly recordsDropped: number
  /** Streams that lost records. */
  readonly streams: number
  /** Bytes of the log file before and after (0 in memory). */
  readonly sizeBefore: number
  readonly sizeAfter: number
}

const defaultPause = () => new Promise<void>((resolve) => setImmediate(resolve))

const fsyncAsync = (fd: number) => new Promise<void>((resolve, reject) => fsync(fd, (error) => (error === null ? resolve() : reject(error))))

/** Bytes copied at a time: the appended tail, and the output buffer. */
const COPY_CHUNK = 1024 * 1024

/**
 * The first event number of `entry` a scavenge keeps (its new `base`), for the records before
 * `point` (`$all` index).
 */
const keepFrom = (index: StreamIndex, reader: LogReader, entry: StreamEntry, point: number, now: number): number => {
  const events = entry.events
  let lastIn = events.length - 1
  while (lastIn >= 0 && events[lastIn]! >= point) lastIn--
  if (lastIn < 0) return entry.base
  // the last event before the point is always kept
  const lastKept = entry.base + lastIn
  if (entry.tombstone >= 0 && entry.tombstone < point) return entry.base + events.length
  if (isMetastream(entry.name)) return lastKept
  const meta = entry.metadata
  if (meta === undefined) return entry.base
  const last = entry.base + events.length - 1
  let from = entry.base
  if (meta.truncateBefore !== undefined) from = Math.max(from, meta.truncateBefore)
  if (meta.maxCount !== undefined) from = Math.max(from, last - meta.maxCount + 1)
  from = Math.min(from, lastKept)
  if (meta.maxAge !== undefined) {
    const cutoff = now - meta.maxAge * 1000
    while (from < lastKept && reader.read(events[from - entry.base]!).createdMs < cutoff) from++
  }
  return from
}

/**
 * Runs a scavenge of the store's log (see the module doc).
 *
 * @since 0.1.0
 * @category scavenging
 */
export const scavenge = async (target: ScavengeTarget, options: ScavengeOptions): Promise<ScavengeResult> => {
  const { index, reader } = target
  const pause = options.pause ?? defaultPause
  const slice = Math.max(1, options.slice ?? 512)
  const point = index.length
  const stoppedResult: ScavengeResult = { stopped: true, recordsDropped: 0, streams: 0, sizeBefore: 0, sizeAfter: 0 }

  // 1. what each stream keeps
  const keep = new Map<StreamEntry, number>()
  let dropping = 0
  for (let id = 0; id < index.streamCount; id++) {
    if (id % slice === slice - 1) {
      await pause()
      if (options.stopped()) return stoppedResult
    }
    const entry = index.streamById(id)
    const from = keepFrom(index, reader, entry, point, options.now)
    if (from > entry.base) {
      keep.set(entry, from)
      dropping += from - entry.base
    }
  }
  const dropped = (i: number): boolean => {
    const from = keep.get(index.streamAt(i))
    return from !== undefined && index.eventNumberAt(i) < from
  }
  /** The switch in memory: entries dropped, offsets moved (`moveTo` answers the new offset of a kept record). */
  const apply = (moveTo: ((i: number) => number) | undefined) => {
    for (let i = 0; i < index.length; i++) {
      if (index.removedAt(i)) continue
      if (i < point && dropped(i)) {
        index.remove(i)
        reader.drop(i)
      } else if (moveTo !== undefined) {
        index.moveTo(i, moveTo(i))
      }
    }
    for (const [entry, from] of keep) {
      entry.events = entry.events.slice(from - entry.base)
      entry.base = from
    }
  }

  const file = target.log.file
  if (file === undefined || !target.log.persistent || !("replaceFile" in target.log)) {
    if (options.stopped()) return stoppedResult
    apply(undefined)
    return { stopped: false, recordsDropped: dropping, streams: keep.size, sizeBefore: 0, sizeAfter: 0 }
  }
  if (keep.size === 0) return { stopped: false, recordsDropped: 0, streams: 0, sizeBefore: 0, sizeAfter: 0 }
  const log = target.log as FileLog

  // 2. the copy of the records before the point
  let last = point - 1
  while (last >= 0 && index.removedAt(last)) last--
  const pointEnd = index.offsetAt(last) + index.sizeAt(last)
  const temp = `${dirname(file)}/${SCAVENGE_FILE}`
  rmSync(temp, { force: true })
  const input = openSync(file, "r")
  const output = openSync(temp, "wx+")
  let lock: LogLock | undefined
  let switched = false
  let outAt = 0
  const pending: Array<Buffer> = []
  let pendingBytes = 0
  const put = (bytes: Buffer) => {
    pending.push(bytes)
    pendingBytes += bytes.length
    outAt += bytes.length
    if (pendingBytes >= COPY_CHUNK) drain()
  }
  const drain = () => {
    if (pendingBytes === 0) return
    const buffer = pending.length === 1 ? pending[0]! : Buffer.concat(pending)
    const at = outAt - pendingBytes
    for (let done = 0; done < buffer.length;) done += writeSync(output, buffer, done, buffer.length - done, at + done)
    pending.length = 0
    pendingBytes = 0
  }
  const cleanUp = async () => {
    closeSync(input)
    closeSync(output)
    rmSync(temp, { force: true })
    await lock?.release()
  }
  try {
    put(LOG_MAGIC)
    // new offsets of the kept records, in order
    const moved = new Float64Array(Math.max(1, point))
    let kept = 0
    const marked = new Set<StreamEntry>()
    // frames written of the commit being copied (a commit whose last record is dropped is ended by a mark)
    let open = 0
    let k = 0
    const scan = scanLog(input, {
      from: LOG_MAGIC.length,
      size: pointEnd,
      // read 1 MiB at a time: each read is made in place, between two slices
      chunkSize: COPY_CHUNK,
      onDamage: (damage) => {
        throw new Error(`cannot scavenge: ${file} is damaged at offset ${damage.offset} (${damage.reason})`)
      }
    })
    for (let n = 1;; n++) {
      if (n % slice === 0) {
        drain()
        await pause()
        if (options.stopped()) {
          await cleanUp()
          return stoppedResult
        }
      }
      const step = scan.next()
      if (step.done === true) {
        if (step.value.validEnd !== pointEnd) throw new Error(`cannot scavenge: ${file} ends at ${step.value.validEnd}, before ${pointEnd}`)
        break
      }
      const { body, length, offset } = step.value
      const end = isCommitEnd(body)
      const layout = layoutOf(body)!
      const frame = Buffer.from(body.buffer, body.byteOffset - FRAME_HEADER_SIZE, length)
      if (layout._tag !== "Event") {
        put(Buffer.from(frame))
        open = end ? 0 : open + 1
        continue
      }
      while (index.removedAt(k)) k++
      if (index.offsetAt(k) !== offset) throw new Error(`cannot scavenge: the index and ${file} disagree at offset ${offset}`)
      const entry = index.streamAt(k)
      if (!layout.tombstone && dropped(k)) {
        if (!marked.has(entry) || (end && open > 0)) {
          marked.add(entry)
          put(encodeScavenged(layout.position, body.subarray(layout.streamStart, layout.streamEnd), keep.get(entry)!, end))
          open = end ? 0 : open + 1
        }
      } else {
        moved[kept++] = outAt
        put(Buffer.from(frame))
        open = end ? 0 : open + 1
      }
      k++
    }
    // 3. what was appended meanwhile, in the background up to the last durable record
    let copied = pointEnd
    const copyTail = (to: number) => {
      const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, to - copied)))
      while (copied < to) {
        const read = readSync(input, buffer, 0, Math.min(buffer.length, to - copied), copied)
        if (read === 0) throw new Error(`cannot scavenge: ${file} ends at ${copied}, before ${to}`)
        put(Buffer.from(buffer.subarray(0, read)))
        copied += read
      }
      drain()
    }
    const durableEnd = () => {
      let j = index.length - 1
      while (j >= point && index.removedAt(j)) j--
      return j >= point ? index.offsetAt(j) + index.sizeAt(j) : pointEnd
    }
    for (let end = durableEnd(); end - copied > COPY_CHUNK; end = durableEnd()) {
      copyTail(Math.min(end, copied + COPY_CHUNK * 8))
      await pause()
      if (options.stopped()) {
        await cleanUp()
        return stoppedResult
      }
    }
    drain()
    await fsyncAsync(output)
    lock = await lockFile(temp)
    await options.beforeSwitch?.()
    if (options.stopped()) {
      await cleanUp()
      return stoppedResult
    }
    // 4. the switch: flushes are held meanwhile (writes queue), so the old file's durable bytes stay
    // as they are while the last of them are copied and synced and the new file is renamed over the
    // log; then the store moves to it in one synchronous step
    let sizeBefore = 0
    let sizeAfter = 0
    await log.replaceFile(async (_fd, flushed, commit) => {
      copyTail(flushed)
      await fsyncAsync(output)
      if (options.stopped()) return
      renameSync(temp, file)
      // nothing below throws before the store has moved: the new file is the log
      sizeBefore = flushed
      sizeAfter = outAt
      const delta = commit({ fd: output, end: outAt, lock: lock! })
      switched = true
      let p = 0
      apply((i) => (i < point ? moved[p++]! : index.offsetAt(i) + delta))
      target.moved(delta)
      reader.reopen()
      closeSync(input)
      // the rename made durable before any write to the new file is (flushes are still held)
      const dirFd = openSync(dirname(file), "r")
      try {
        await fsyncAsync(dirFd)
      } finally {
        closeSync(dirFd)
      }
    })
    if (!switched) {
      await cleanUp()
      return stoppedResult
    }
    return { stopped: false, recordsDropped: dropping, streams: keep.size, sizeBefore, sizeAfter }
  } catch (e) {
    // once switched, the new file is the log's: only the error is reported
    if (switched) throw e
    try {
      await cleanUp()
    } catch {
      // the first error is the one to report
    }
    throw e
  }
}
