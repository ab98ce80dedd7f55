/**
 * The on-disk form of one log record: `[u32 body length][u32 CRC32 of the body][body]`, all
 * little-endian. A body is an event (or tombstone) record, or an empty commit (a position gap left
 * by an append without events). The records of one write (an append's events, the metadata it
 * rewrites, the links it causes) are framed together, the last one marked as the end of the
 * commit (bit 7 of its kind byte). Decoding stops at the first frame that is short, too long or
 * whose checksum differs, and keeps only whole commits: that is where a crash tore the log.
 *
 * Body of an event: `u8 kind` (1 event, 2 tombstone; | 0x80 on a commit's last record), `f64 position`, `f64 createdMs`,
 * `f64 created ticks`, `u8 flags` (bit 0: JSON), `u16 stream length` + stream, `u16 type length` +
 * type, `u8 id length` + id, `u32 data length` + data, `u32 metadata length` + metadata.
 * Body of an empty commit: `u8 kind` (3), `f64 position`, `f64 next position`.
 *
 * @since 0.1.0
 */
import { crc32 } from "node:zlib"

/**
 * Bytes before each body: length and checksum.
 *
 * @since 0.1.0
 * @category constants
 */
export const FRAME_HEADER_SIZE = 8

/**
 * The largest body accepted when reading (a record larger than this is taken as corruption).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_RECORD_BODY = 1024 * 1024 * 1024

/**
 * An event or tombstone as stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredEvent {
  readonly _tag: "Event"
  readonly tombstone: boolean
  readonly position: number
  readonly createdMs: number
  readonly createdTicks: number
  readonly isJson: boolean
  readonly stream: Buffer
  readonly eventType: string
  readonly eventId: string
  readonly data: Buffer
  readonly customMetadata: Buffer
}

/**
 * An append without events: the log position moved from `position` to `next`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredEmptyCommit {
  readonly _tag: "EmptyCommit"
  readonly position: number
  readonly next: number
}

/**
 * One stored record.
 *
 * @since 0.1.0
 * @category models
 */
export type StoredRecord = StoredEvent | StoredEmptyCommit

const KIND_EVENT = 1
const KIND_TOMBSTONE = 2
const KIND_EMPTY_COMMIT = 3
/**
 * Flag on the kind byte of a commit's last record.
 *
 * @since 0.1.0
 * @category constants
 */
export const COMMIT_END = 0x80

const seal = (frame: Buffer, commitEnd: boolean): Buffer => {
  if (commitEnd) frame[FRAME_HEADER_SIZE] = frame[FRAME_HEADER_SIZE]! | COMMIT_END
  const body = frame.subarray(FRAME_HEADER_SIZE)
  frame.writeUInt32LE(body.length, 0)
  frame.writeUInt32LE(crc32(body), 4)
  return frame
}

/**
 * Seals the frames of one write (checksums, the last marked as the end of the commit) into the
 * bytes to append to the log.
 *
 * @since 0.1.0
 * @category encoding
 */
export const sealCommit = (frames: ReadonlyArray<Buffer>): Buffer => {
  for (let i = 0; i < frames.length; i++) seal(frames[i]!, i === frames.length - 1)
  return frames.length === 1 ? frames[0]! : Buffer.concat(frames)
}

/**
 * Encodes an event or tombstone as a frame, to be sealed by {@link sealCommit}.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEvent = (event: Omit<StoredEvent, "_tag">): Buffer => {
  const type = Buffer.from(event.eventType, "utf8")
  const id = Buffer.from(event.eventId, "latin1")
  if (event.stream.length > 0xffff || type.length > 0xffff || id.length > 0xff) {
    throw new RangeError("stream name, event type or event id too long for the log")
  }
  const size = FRAME_HEADER_SIZE + 1 + 24 + 1 + 2 + event.stream.length + 2 + type.length + 1 + id.length + 4 +
    event.data.length + 4 + event.customMetadata.length
  const frame = Buffer.allocUnsafe(size)
  let o = FRAME_HEADER_SIZE
  frame[o++] = event.tombstone ? KIND_TOMBSTONE : KIND_EVENT
  o = frame.writeDoubleLE(event.position, o)
  o = frame.writeDoubleLE(event.createdMs, o)
  o = frame.writeDoubleLE(event.createdTicks, o)
  frame[o++] = event.isJson ? 1 : 0
  o = frame.writeUInt16LE(event.stream.length, o)
  o += event.stream.copy(frame, o)
  o = frame.writeUInt16LE(type.length, o)
  o += type.copy(frame, o)
  frame[o++] = id.length
  o += id.copy(frame, o)
  o = frame.writeUInt32LE(event.data.length, o)
  o += event.data.copy(frame, o)
  o = frame.writeUInt32LE(event.customMetadata.length, o)
  event.customMetadata.copy(frame, o)
  return frame
}

/**
 * Encodes an empty commit as a frame, to be sealed by {@link sealCommit}.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEmptyCommit = (position: number, next: number): Buffer => {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 17)
  frame[FRAME_HEADER_SIZE] = KIND_EMPTY_COMMIT
  frame.writeDoubleLE(position, FRAME_HEADER_SIZE + 1)
  frame.writeDoubleLE(next, FRAME_HEADER_SIZE + 9)
  return frame
}

/**
 * Decodes one record body (without its frame header); undefined (or a thrown RangeError) when it
 * is not one. With `copy` false the stream, data and metadata of the result are views of `body`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBody = (body: Buffer, copy = true): StoredRecord | undefined => {
  const take = copy ? (from: number, to: number) => Buffer.from(body.subarray(from, to)) : (from: number, to: number) => body.subarray(from, to)
  const kind = body[0]! & ~COMMIT_END
  if (kind === KIND_EMPTY_COMMIT) {
    if (body.length !== 17) return undefined
    return { _tag: "EmptyCommit", position: body.readDoubleLE(1), next: body.readDoubleLE(9) }
  }
  if (kind !== KIND_EVENT && kind !== KIND_TOMBSTONE) return undefined
  let o = 1
  const need = (n: number) => {
    if (o + n > body.length) throw new RangeError("short record")
  }
  need(24 + 1 + 2)
  const position = body.readDoubleLE(o)
  const createdMs = body.readDoubleLE(o + 8)
  const createdTicks = body.readDoubleLE(o + 16)
  o += 24
  const isJson = (body[o++]! & 1) === 1
  const streamLength = body.readUInt16LE(o)
  o += 2
  need(streamLength + 2)
  const stream = take(o, o + streamLength)
  o += streamLength
  const typeLength = body.readUInt16LE(o)
  o += 2
  need(typeLength + 1)
  const eventType = body.toString("utf8", o, o + typeLength)
  o += typeLength
  const idLength = body[o++]!
  need(idLength + 4)
  const eventId = body.toString("latin1", o, o + idLength)
  o += idLength
  const dataLength = body.readUInt32LE(o)
  o += 4
  need(dataLength + 4)
  const data = take(o, o + dataLength)
  o += dataLength
  const metadataLength = body.readUInt32LE(o)
  o += 4
  need(metadataLength)
  const customMetadata = take(o, o + metadataLength)
  o += metadataLength
  if (o !== body.length) return undefined
  return {
    _tag: "Event",
    tombstone: kind === KIND_TOMBSTONE,
    position,
    createdMs,
    createdTicks,
    isJson,
    stream,
    eventType,
    eventId,
    data,
    customMetadata
  }
}

/**
 * Where the parts of an event body lie, and its numbers, without copying or decoding text: what
 * a scan of the whole log needs (a read decodes the body with {@link decodeBody}).
 *
 * @since 0.1.0
 * @category models
 */
export interface EventLayout {
  readonly _tag: "Event"
  readonly tombstone: boolean
  readonly position: number
  readonly createdMs: number
  readonly createdTicks: number
  readonly isJson: boolean
  readonly streamStart: number
  readonly streamEnd: number
  readonly typeLength: number
  readonly idStart: number
  readonly idEnd: number
  readonly dataStart: number
  readonly dataEnd: number
  readonly metadataLength: number
}

/**
 * The layout of a record body (an empty commit is decoded whole); undefined when it is not one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const layoutOf = (body: Buffer): EventLayout | StoredEmptyCommit | undefined => {
  const kind = body[0]! & ~COMMIT_END
  if (kind === KIND_EMPTY_COMMIT) {
    return body.length === 17 ? { _tag: "EmptyCommit", position: body.readDoubleLE(1), next: body.readDoubleLE(9) } : undefined
  }
  if ((kind !== KIND_EVENT && kind !== KIND_TOMBSTONE) || body.length < 28) return undefined
  const position = body.readDoubleLE(1)
  const createdTicks = body.readDoubleLE(17)
  const streamStart = 28
  const streamEnd = streamStart + body.readUInt16LE(26)
  if (streamEnd + 2 > body.length) return undefined
  const typeLength = body.readUInt16LE(streamEnd)
  const idAt = streamEnd + 2 + typeLength
  if (idAt + 1 > body.length) return undefined
  const idEnd = idAt + 1 + body[idAt]!
  const dataAt = idEnd
  if (dataAt + 4 > body.length) return undefined
  const dataStart = dataAt + 4
  const dataEnd = dataStart + body.readUInt32LE(dataAt)
  if (dataEnd + 4 > body.length) return undefined
  const metadataLength = body.readUInt32LE(dataEnd)
  if (dataEnd + 4 + metadataLength !== body.length) return undefined
  return {
    _tag: "Event",
    tombstone: kind === KIND_TOMBSTONE,
    position,
    createdMs: body.readDoubleLE(9),
    createdTicks,
    isJson: (body[25]! & 1) === 1,
    streamStart,
    streamEnd,
    typeLength,
    idStart: idAt + 1,
    idEnd,
    dataStart,
    dataEnd,
    metadataLength
  }
}

/**
 * The records of a log image and the length of its valid prefix: decoding stops at the first
 * torn or corrupt frame, and a commit whose last record is missing is left out
 * (`validLength < bytes.length` then).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeLog = (bytes: Buffer, from: number): { readonly records: Array<StoredRecord>; readonly validLength: number } => {
  const records: Array<StoredRecord> = []
  let offset = from
  let committedRecords = 0
  let committedLength = from
  while (offset + FRAME_HEADER_SIZE <= bytes.length) {
    const length = bytes.readUInt32LE(offset)
    if (length === 0 || length > MAX_RECORD_BODY || offset + FRAME_HEADER_SIZE + length > bytes.length) break
    const body = bytes.subarray(offset + FRAME_HEADER_SIZE, offset + FRAME_HEADER_SIZE + length)
    if (crc32(body) !== bytes.readUInt32LE(offset + 4)) break
    let record: StoredRecord | undefined
    try {
      record = decodeBody(body)
    } catch {
      record = undefined
    }
    if (record === undefined) break
    records.push(record)
    offset += FRAME_HEADER_SIZE + length
    if ((body[0]! & COMMIT_END) !== 0) {
      committedRecords = records.length
      committedLength = offset
    }
  }
  records.length = committedRecords
  return { records, validLength: committedLength }
}
