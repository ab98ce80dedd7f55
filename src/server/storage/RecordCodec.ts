/**
 * The on-disk form of one log record: `[u32 body length][u32 CRC32 of the body][body]`, all
 * little-endian. A body is an event (or tombstone) record, or an empty commit (a position gap left
 * by an append without events). The records of one write (an append's events, the metadata it
 * rewrites, the links it causes) are framed together, the last one marked as the end of the
 * commit (bit 7 of its kind byte). Reading a log (LogScan.ts) checks every frame's length and
 * checksum and keeps only whole commits.
 *
 * Body of an event: `u8 kind` (1 event, 2 tombstone; | 0x80 on a commit's last record), `f64 position`, `f64 createdMs`,
 * `f64 created ticks`, `u8 flags` (bit 0: JSON), `u16 stream length` + stream, `u16 type length` +
 * type, `u8 id length` + id, `u32 data length` + data, `u32 metadata length` + metadata.
 * Body of an empty commit: `u8 kind` (3), `f64 position`, `f64 next position`.
 * Body of padding: `u8 kind` (4 | 0x80) and zeros: what a salvage (`--salvage`) writes in place of a
 * damaged range, whose bytes it moved to a file of their own; reading skips it.
 * Body of a scavenge mark: `u8 kind` (5, | 0x80 when it ends a commit), `f64 position` (of the
 * first record it stands for), `f64 first kept event number`, `u16 stream length` + stream: what a
 * scavenge (Scavenge.ts) writes where it dropped the first events of a stream, so that the
 * stream's events after it keep their numbers when the log is read back (records do not store
 * their event number), and in place of a dropped record that ended its commit.
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
const KIND_PADDING = 4
const KIND_SCAVENGED = 5
const COMMIT_END = 0x80

/**
 * The smallest frame: header and the smallest body (an empty commit). A damaged frame spans at
 * least this many bytes, so the next valid frame is looked for from there.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_FRAME_SIZE = FRAME_HEADER_SIZE + 17

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
 * Padding: a range kept only so that the offsets after it stay as they were (see the module doc).
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredPadding {
  readonly _tag: "Padding"
}

const PADDING: StoredPadding = { _tag: "Padding" }

/**
 * Is this body the last record of its commit?
 *
 * @since 0.1.0
 * @category decoding
 */
export const isCommitEnd = (body: Buffer): boolean => (body[0]! & COMMIT_END) !== 0

/**
 * Is this body padding (what a salvage leaves in place of a damaged range)?
 *
 * @since 0.1.0
 * @category decoding
 */
export const isPadding = (body: Buffer): boolean => body[0] === (KIND_PADDING | COMMIT_END)

/**
 * The kind byte of a frame may start a record (used to look for the next valid frame after a damaged one).
 *
 * @since 0.1.0
 * @category decoding
 */
export const isKnownKind = (kindByte: number): boolean => {
  const kind = kindByte & ~COMMIT_END
  return kind === KIND_EVENT || kind === KIND_TOMBSTONE || kind === KIND_EMPTY_COMMIT || kind === KIND_SCAVENGED ||
    kindByte === (KIND_PADDING | COMMIT_END)
}

/**
 * A scavenge mark (see the module doc): the events of `stream` before `firstKept` were dropped by a
 * scavenge.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredScavenged {
  readonly _tag: "Scavenged"
  readonly position: number
  readonly firstKept: number
  readonly streamStart: number
  readonly streamEnd: number
}

/**
 * Encodes and seals a scavenge mark as a whole frame.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeScavenged = (position: number, stream: Buffer, firstKept: number, commitEnd: boolean): Buffer => {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 19 + stream.length)
  frame[FRAME_HEADER_SIZE] = KIND_SCAVENGED
  frame.writeDoubleLE(position, FRAME_HEADER_SIZE + 1)
  frame.writeDoubleLE(firstKept, FRAME_HEADER_SIZE + 9)
  frame.writeUInt16LE(stream.length, FRAME_HEADER_SIZE + 17)
  stream.copy(frame, FRAME_HEADER_SIZE + 19)
  return seal(frame, commitEnd)
}

const scavengedLayout = (body: Buffer): StoredScavenged | undefined => {
  if (body.length < 19 || body.length !== 19 + body.readUInt16LE(17)) return undefined
  return { _tag: "Scavenged", position: body.readDoubleLE(1), firstKept: body.readDoubleLE(9), streamStart: 19, streamEnd: body.length }
}

/**
 * Header and body of a padding frame of `size` bytes in all (at least {@link FRAME_HEADER_SIZE} + 1):
 * a checksummed body of zeros after its kind byte.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePadding = (size: number): Buffer => {
  const frame = Buffer.alloc(size)
  frame[FRAME_HEADER_SIZE] = KIND_PADDING | COMMIT_END
  return seal(frame, true)
}

/**
 * Decodes the body of a frame whose checksum matched; `undefined` when it is not a well-formed record.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBody = (body: Buffer): StoredRecord | StoredPadding | undefined => {
  try {
    return decodeRecordBody(body)
  } catch {
    return undefined
  }
}

const EMPTY = Buffer.alloc(0)

/** A copy of `body[from, to)` (one allocation; the empty buffer shared). */
const copyOut = (body: Buffer, from: number, to: number): Buffer => {
  if (to === from) return EMPTY
  const out = Buffer.allocUnsafe(to - from)
  body.copy(out, 0, from, to)
  return out
}

const decodeRecordBody = (body: Buffer): StoredRecord | StoredPadding | undefined => {
  if (body[0] === (KIND_PADDING | COMMIT_END)) return PADDING
  const kind = body[0]! & ~COMMIT_END
  // a scavenge mark is read through `layoutOf` only (the store's scan)
  if (kind === KIND_SCAVENGED) return scavengedLayout(body) === undefined ? undefined : PADDING
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
  const stream = copyOut(body, o, o + streamLength)
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
  const data = copyOut(body, o, o + dataLength)
  o += dataLength
  const metadataLength = body.readUInt32LE(o)
  o += 4
  need(metadataLength)
  const customMetadata = copyOut(body, o, o + metadataLength)
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
export const layoutOf = (body: Buffer): EventLayout | StoredEmptyCommit | StoredScavenged | undefined => {
  const kind = body[0]! & ~COMMIT_END
  if (kind === KIND_SCAVENGED) return scavengedLayout(body)
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
