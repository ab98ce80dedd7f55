/**
 * Reading a log file back, in chunks (a log of any size opens with bounded buffers: no
 * `readFileSync` of the whole file, which fails past 2 GiB). {@link scanLog} yields every record
 * of every whole commit with its file offset and length, and tells a torn tail from damage:
 *
 * - a frame that cannot be read (short, too long, checksum mismatch, unknown body) with no valid
 *   frame anywhere after it, or a last commit without its end, is a torn tail: what a crash in the
 *   middle of a write leaves. The scan ends and says where the whole commits end.
 * - a frame that cannot be read followed by a valid frame is damage (a flipped bit, a bad sector):
 *   records were acknowledged after it. `onDamage` decides: refuse (throw) or salvage the range
 *   (then the scan goes on after it, keeping the records before and after it).
 *
 * @since 0.1.0
 */
import { readSync } from "node:fs"
import { crc32 } from "node:zlib"
import {
  decodeBody,
  FRAME_HEADER_SIZE,
  isCommitEnd,
  isKnownKind,
  MAX_RECORD_BODY,
  MIN_FRAME_SIZE,
  type StoredRecord
} from "./RecordCodec.ts"

/**
 * One record read back, with where its frame lies in the file.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScannedRecord {
  /** File offset of the frame (its header). */
  readonly offset: number
  /** Bytes of the frame: header and body. */
  readonly length: number
  readonly record: StoredRecord
}

/**
 * A damaged range: `[offset, end)` cannot be read and a valid frame starts at `end`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogDamage {
  readonly offset: number
  readonly end: number
  /** Why the frame at `offset` was refused. */
  readonly reason: string
}

/**
 * How a scan ended: `validEnd` is where the whole commits end; when it is below `size` the bytes
 * after it are a torn tail (`reason` says what was found there).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScanEnd {
  readonly validEnd: number
  readonly size: number
  readonly reason: string | undefined
  /** Records yielded. */
  readonly records: number
}

/**
 * Options of {@link scanLog}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScanOptions {
  /** Offset of the first frame (after the file's magic). */
  readonly from: number
  /** Bytes of the file to read. */
  readonly size: number
  /** Bytes read at a time; default 8 MiB (a larger frame gets a larger buffer). */
  readonly chunkSize?: number | undefined
  /**
   * Called with each damaged range (a bad frame followed by a valid one): throws to refuse, or
   * repairs the range and returns, and the scan goes on at `damage.end`.
   */
  readonly onDamage: (damage: LogDamage) => void
}

const DEFAULT_CHUNK = 8 * 1024 * 1024

/** A sliding window over the file: the bytes of `[start, start + length)`. */
class Window {
  private buffer: Buffer
  private start = 0
  private length = 0
  private readonly fd: number
  private readonly size: number
  private readonly chunk: number
  constructor(fd: number, size: number, chunk: number) {
    this.fd = fd
    this.size = size
    this.chunk = chunk
    this.buffer = Buffer.allocUnsafe(Math.min(chunk, Math.max(size, 1)))
  }

  /** Makes `[offset, offset + n)` available; false when the file ends before. */
  ensure(offset: number, n: number): boolean {
    if (offset + n > this.size) return false
    if (offset >= this.start && offset + n <= this.start + this.length) return true
    const kept = offset >= this.start && offset < this.start + this.length ? this.start + this.length - offset : 0
    const want = Math.min(Math.max(n, this.chunk), this.size - offset)
    if (want > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(want)
      this.buffer.copy(bigger, 0, offset - this.start, offset - this.start + kept)
      this.buffer = bigger
    } else if (kept > 0) {
      this.buffer.copy(this.buffer, 0, offset - this.start, offset - this.start + kept)
    }
    this.start = offset
    this.length = kept
    while (this.length < want) {
      const read = readSync(this.fd, this.buffer, this.length, want - this.length, this.start + this.length)
      if (read === 0) break
      this.length += read
    }
    return offset + n <= this.start + this.length
  }

  /** The little-endian u32 at `offset`, made available by {@link ensure}. */
  uint32(offset: number): number {
    return this.buffer.readUInt32LE(offset - this.start)
  }

  /** The bytes `[offset, offset + n)`, made available by {@link ensure}; valid until the next `ensure`. */
  bytes(offset: number, n: number): Buffer {
    return this.buffer.subarray(offset - this.start, offset - this.start + n)
  }
}

type Frame =
  | { readonly _tag: "Ok"; readonly length: number; readonly record: StoredRecord | undefined; readonly commitEnd: boolean }
  | { readonly _tag: "Bad"; readonly reason: string }

const readFrame = (window: Window, offset: number, size: number): Frame => {
  if (!window.ensure(offset, FRAME_HEADER_SIZE)) return { _tag: "Bad", reason: `${size - offset} bytes, less than a frame header` }
  const length = window.uint32(offset)
  const checksum = window.uint32(offset + 4)
  if (length === 0 || length > MAX_RECORD_BODY) return { _tag: "Bad", reason: `a frame length of ${length}` }
  if (!window.ensure(offset, FRAME_HEADER_SIZE + length)) {
    return { _tag: "Bad", reason: `a frame of ${FRAME_HEADER_SIZE + length} bytes with ${size - offset} left in the file` }
  }
  const body = window.bytes(offset + FRAME_HEADER_SIZE, length)
  if (crc32(body) !== checksum) return { _tag: "Bad", reason: "a checksum mismatch" }
  const decoded = decodeBody(body)
  if (decoded === undefined) return { _tag: "Bad", reason: "a record that does not decode" }
  return {
    _tag: "Ok",
    length: FRAME_HEADER_SIZE + length,
    record: decoded._tag === "Padding" ? undefined : decoded,
    commitEnd: isCommitEnd(body)
  }
}

/**
 * Is there a valid frame at `offset`? Cheap checks first (a known kind byte, a plausible length,
 * a position after the last one read), the checksum last, so garbage is passed over quickly.
 */
const validFrameAt = (window: Window, offset: number, size: number, afterPosition: number): boolean => {
  if (!window.ensure(offset, FRAME_HEADER_SIZE + 9)) return false
  const head = window.bytes(offset, FRAME_HEADER_SIZE + 9)
  const length = head.readUInt32LE(0)
  if (length < MIN_FRAME_SIZE - FRAME_HEADER_SIZE || length > MAX_RECORD_BODY || offset + FRAME_HEADER_SIZE + length > size) return false
  const kind = head[FRAME_HEADER_SIZE]!
  if (!isKnownKind(kind)) return false
  if ((kind & 0x7f) !== 4) {
    const position = head.readDoubleLE(FRAME_HEADER_SIZE + 1)
    if (!Number.isSafeInteger(position) || position <= afterPosition) return false
  }
  return readFrame(window, offset, size)._tag === "Ok"
}

/** The offset of the next valid frame at or after `from`, if any. */
const nextValidFrame = (window: Window, from: number, size: number, afterPosition: number): number | undefined => {
  for (let offset = from; offset + MIN_FRAME_SIZE <= size; offset++) {
    if (validFrameAt(window, offset, size, afterPosition)) return offset
  }
  return undefined
}

const positionOf = (record: StoredRecord): number => record.position

/**
 * Reads the frames of a log file from `options.from` to `options.size`, yielding the records of
 * whole commits in order; returns where the whole commits end (see the module doc).
 *
 * @since 0.1.0
 * @category reading
 */
export function* scanLog(fd: number, options: ScanOptions): Generator<ScannedRecord, ScanEnd, undefined> {
  const { from, size } = options
  const window = new Window(fd, size, options.chunkSize ?? DEFAULT_CHUNK)
  let offset = from
  let pending: Array<ScannedRecord> = []
  let validEnd = from
  let lastPosition = -1
  let records = 0
  while (offset < size) {
    const frame = readFrame(window, offset, size)
    if (frame._tag === "Ok") {
      if (frame.record !== undefined) {
        pending.push({ offset, length: frame.length, record: frame.record })
        lastPosition = Math.max(lastPosition, positionOf(frame.record))
      }
      offset += frame.length
      if (frame.commitEnd) {
        for (const record of pending) yield record
        records += pending.length
        pending = []
        validEnd = offset
      }
      continue
    }
    const next = nextValidFrame(window, offset + MIN_FRAME_SIZE, size, lastPosition)
    if (next === undefined) {
      return { validEnd, size, records, reason: `${frame.reason} at offset ${offset}, and no valid record after it` }
    }
    options.onDamage({ offset, end: next, reason: frame.reason })
    // salvaged: the records before the damaged range are kept, even those of a commit it cut
    for (const record of pending) yield record
    records += pending.length
    pending = []
    offset = next
    validEnd = next
  }
  if (pending.length > 0) {
    return { validEnd, size, records, reason: `a last commit without its end (${pending.length} records from offset ${validEnd})` }
  }
  return { validEnd, size, records, reason: undefined }
}
