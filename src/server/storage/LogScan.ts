/**
 * Reads a log file front to back in chunks (never the whole file at once, so a log over 2 GiB
 * opens), checking each frame (length, CRC32, body) and handing each record of each whole commit
 * to a callback with the byte offset and length of its frame. Stops at the first frame that is
 * short, too long or fails its checksum, and leaves out a commit whose last record is missing: the
 * valid length returned is where a crash tore the log.
 *
 * @since 0.1.0
 */
import { fstatSync, readSync } from "node:fs"
import { crc32 } from "node:zlib"
import { COMMIT_END, FRAME_HEADER_SIZE, MAX_RECORD_BODY } from "./RecordCodec.ts"

/**
 * Called for each record of a whole commit, in log order, with its body (checksum verified; a
 * view of the scan's buffer: copy what must outlive the call) and its frame's offset and length.
 * Decode it with `decodeBody` or `layoutOf` (RecordCodec.ts).
 *
 * @since 0.1.0
 * @category models
 */
export type ScannedRecord = (body: Buffer, offset: number, size: number) => void

/**
 * Bytes read at a time.
 *
 * @since 0.1.0
 * @category constants
 */
export const SCAN_CHUNK = 4 * 1024 * 1024

const readAt = (fd: number, offset: number, length: number): Buffer => {
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
 * Scans the records of the log open on `fd` from byte `from`; returns the length of its valid
 * prefix (whole commits only).
 *
 * @since 0.1.0
 * @category decoding
 */
export const scanLog = (fd: number, from: number, onRecord: ScannedRecord): number => {
  const fileSize = fstatSync(fd).size
  // one buffer, refilled: the records of the commit being read are views of it, so a refill
  // starts again at that commit's first frame (a commit longer than the buffer grows it)
  let chunk = Buffer.allocUnsafeSlow(Math.min(SCAN_CHUNK, Math.max(0, fileSize - from)))
  let chunkStart = from
  let chunkLength = 0
  const fill = (at: number, need: number): boolean => {
    if (need > chunk.length) chunk = Buffer.allocUnsafeSlow(need)
    chunkStart = at
    chunkLength = 0
    const length = Math.min(chunk.length, fileSize - at)
    while (chunkLength < length) {
      const n = readSync(fd, chunk, chunkLength, length - chunkLength, at + chunkLength)
      if (n === 0) break
      chunkLength += n
    }
    return chunkLength >= need
  }
  let offset = from
  let committedLength = from
  /** Offset and size of each frame of the commit being read. */
  const commit: Array<number> = []
  while (offset + FRAME_HEADER_SIZE <= fileSize) {
    if (offset + FRAME_HEADER_SIZE > chunkStart + chunkLength) {
      // refill from the commit's start: the records decoded from it are views of the old bytes
      if (!fill(committedLength, offset - committedLength + FRAME_HEADER_SIZE)) break
      offset = committedLength
      commit.length = 0
      continue
    }
    let at = offset - chunkStart
    const length = chunk.readUInt32LE(at)
    if (length === 0 || length > MAX_RECORD_BODY || offset + FRAME_HEADER_SIZE + length > fileSize) break
    if (offset + FRAME_HEADER_SIZE + length > chunkStart + chunkLength) {
      if (!fill(committedLength, offset - committedLength + FRAME_HEADER_SIZE + length)) break
      offset = committedLength
      commit.length = 0
      continue
    }
    at = offset - chunkStart
    const body = chunk.subarray(at + FRAME_HEADER_SIZE, at + FRAME_HEADER_SIZE + length)
    if (crc32(body) !== chunk.readUInt32LE(at + 4)) break
    commit.push(offset, FRAME_HEADER_SIZE + length)
    offset += FRAME_HEADER_SIZE + length
    if ((body[0]! & COMMIT_END) !== 0) {
      // a whole commit: handed over record by record (nothing of it is kept here)
      for (let k = 0; k < commit.length; k += 2) {
        const o = commit[k]!
        const size = commit[k + 1]!
        onRecord(chunk.subarray(o - chunkStart + FRAME_HEADER_SIZE, o - chunkStart + size), o, size)
      }
      commit.length = 0
      committedLength = offset
    }
  }
  return committedLength
}

/**
 * Reads `length` bytes at `offset` of the file open on `fd` (fewer at its end).
 *
 * @since 0.1.0
 * @category decoding
 */
export const readBytesAt = readAt
