/**
 * Reads a log file front to back in chunks (never the whole file at once, so a log over 2 GiB
 * opens), checking each frame (length, CRC32, body) and handing each record of each whole commit
 * to a callback with the byte offset and length of its frame. Stops at the first frame that is
 * short, too long, fails its checksum or does not decode, and leaves out a commit whose last
 * record is missing: the valid length returned is where a crash tore the log.
 *
 * @since 0.1.0
 */
import { fstatSync, readSync } from "node:fs"
import { crc32 } from "node:zlib"
import { COMMIT_END, decodeBody, FRAME_HEADER_SIZE, MAX_RECORD_BODY, type StoredRecord } from "./RecordCodec.ts"

/**
 * Called for each record of a whole commit, in log order. The record's buffers are views of the
 * scan's chunk: copy what must outlive the call.
 *
 * @since 0.1.0
 * @category models
 */
export type ScannedRecord = (record: StoredRecord, offset: number, size: number) => void

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
  let chunk: Buffer = Buffer.alloc(0)
  let chunkStart = from
  let offset = from
  let committedLength = from
  let commit: Array<[StoredRecord, number, number]> = []
  while (offset + FRAME_HEADER_SIZE <= fileSize) {
    let at = offset - chunkStart
    if (at + FRAME_HEADER_SIZE > chunk.length) {
      chunkStart = offset
      chunk = readAt(fd, offset, Math.min(SCAN_CHUNK, fileSize - offset))
      at = 0
    }
    const length = chunk.readUInt32LE(at)
    if (length === 0 || length > MAX_RECORD_BODY || offset + FRAME_HEADER_SIZE + length > fileSize) break
    if (at + FRAME_HEADER_SIZE + length > chunk.length) {
      chunkStart = offset
      chunk = readAt(fd, offset, Math.min(Math.max(SCAN_CHUNK, FRAME_HEADER_SIZE + length), fileSize - offset))
      at = 0
    }
    const body = chunk.subarray(at + FRAME_HEADER_SIZE, at + FRAME_HEADER_SIZE + length)
    if (crc32(body) !== chunk.readUInt32LE(at + 4)) break
    let record: StoredRecord | undefined
    try {
      record = decodeBody(body, false)
    } catch {
      record = undefined
    }
    if (record === undefined) break
    commit.push([record, offset, FRAME_HEADER_SIZE + length])
    offset += FRAME_HEADER_SIZE + length
    if ((body[0]! & COMMIT_END) !== 0) {
      for (const [r, o, s] of commit) onRecord(r, o, s)
      commit = []
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
