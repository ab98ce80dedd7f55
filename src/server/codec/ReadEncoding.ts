/**
 * Pre-encoded, pre-framed `ReadResp` messages: every function returns a gRPC length-prefixed
 * message (the 5-byte header, then the `ReadResp` bytes). An event record is encoded once per UUID
 * option, straight into one exactly-sized buffer, and cached on the record: streaming 200k events
 * then costs a buffer hand-off per event, not a protobuf encode. Control messages use the
 * generated codec.
 *
 * The hand-written encoding follows the field numbers of `proto/streams.proto` and, like the
 * generated code and the real server, omits proto3 default values.
 *
 * @since 0.1.0
 */
import { ReadResp } from "../../generated/streams.ts"
import { type EventRecord, TOMBSTONE_REVISION } from "../storage/Store.ts"
import { fieldSize, varintSize, varintSizeBig, writeVarint, writeVarintBig } from "../../wire/ProtoWire.ts"

/**
 * 0 = structured UUIDs, 1 = string UUIDs.
 *
 * @since 0.1.0
 * @category models
 */
export type UuidMode = 0 | 1

const JSON_CT = Buffer.from("application/json")
const BINARY_CT = Buffer.from("application/octet-stream")
const KEY_TYPE = Buffer.from("type")
const KEY_CREATED = Buffer.from("created")
const KEY_CONTENT_TYPE = Buffer.from("content-type")

/** Size of a length-delimited field with a 1-byte tag. */
const ldSize = fieldSize

const writeHeader = (buf: Buffer, pos: number, tag: number, len: number): number => {
  buf[pos++] = tag
  return writeVarint(buf, pos, len)
}

/** Writes the varint of the unsigned 64-bit value `hi * 2^32 + lo` (two uint32 halves). */
const writeVarint64 = (buf: Buffer, pos: number, hi: number, lo: number): number => {
  while (hi > 0 || lo >= 128) {
    buf[pos++] = (lo & 127) | 128
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi = hi >>> 7
  }
  buf[pos++] = lo
  return pos
}

const varint64Size = (hi: number, lo: number): number => {
  let size = 1
  while (hi > 0 || lo >= 128) {
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi = hi >>> 7
    size++
  }
  return size
}

const hexWord = (uuid: string, from: number): number => parseInt(uuid.slice(from, from + 8), 16) >>> 0

/** The two int64 halves of a UUID (Java layout), as [msbHi, msbLo, lsbHi, lsbLo] uint32 words. */
const uuidWords = (uuid: string): [number, number, number, number] => [
  hexWord(uuid, 0),
  (parseInt(uuid.slice(9, 13) + uuid.slice(14, 18), 16)) >>> 0,
  (parseInt(uuid.slice(19, 23) + uuid.slice(24, 28), 16)) >>> 0,
  hexWord(uuid, 28)
]

/** Size of the encoded `UUID` message of a record id (with its 1-byte tag and length). */
const uuidSize = (uuid: string, mode: UuidMode): number => {
  if (mode === 1) return ldSize(ldSize(uuid.length))
  const [mh, ml, lh, ll] = uuidWords(uuid)
  const inner = (mh === 0 && ml === 0 ? 0 : 1 + varint64Size(mh, ml)) + (lh === 0 && ll === 0 ? 0 : 1 + varint64Size(lh, ll))
  return ldSize(ldSize(inner))
}

const writeUuid = (buf: Buffer, pos: number, uuid: string, mode: UuidMode): number => {
  if (mode === 1) {
    // UUID{string = 2}
    const len = ldSize(uuid.length)
    pos = writeHeader(buf, pos, 0x0a, len)
    pos = writeHeader(buf, pos, 0x12, uuid.length)
    return pos + buf.write(uuid, pos, "latin1")
  }
  const [mh, ml, lh, ll] = uuidWords(uuid)
  const inner = (mh === 0 && ml === 0 ? 0 : 1 + varint64Size(mh, ml)) + (lh === 0 && ll === 0 ? 0 : 1 + varint64Size(lh, ll))
  pos = writeHeader(buf, pos, 0x0a, ldSize(inner))
  pos = writeHeader(buf, pos, 0x0a, inner)
  if (mh !== 0 || ml !== 0) {
    buf[pos++] = 0x08
    pos = writeVarint64(buf, pos, mh, ml)
  }
  if (lh !== 0 || ll !== 0) {
    buf[pos++] = 0x10
    pos = writeVarint64(buf, pos, lh, ll)
  }
  return pos
}

interface RecordedParts {
  readonly typeLen: number
  readonly contentType: Buffer
  readonly size: number
}

const mapEntrySizeOf = (keyLen: number, valueLen: number): number => ldSize(keyLen) + ldSize(valueLen)

const partsOf = (record: EventRecord, mode: UuidMode): RecordedParts => {
  const typeLen = Buffer.byteLength(record.eventType, "utf8")
  const contentType = record.isJson ? JSON_CT : BINARY_CT
  const metadataLen = ldSize(mapEntrySizeOf(KEY_TYPE.length, typeLen)) +
    ldSize(mapEntrySizeOf(KEY_CREATED.length, record.created.length)) +
    ldSize(mapEntrySizeOf(KEY_CONTENT_TYPE.length, contentType.length))
  const revisionSize = record.isTombstone
    ? 1 + varintSizeBig(TOMBSTONE_REVISION)
    : record.eventNumber === 0
    ? 0
    : 1 + varintSize(record.eventNumber)
  const positionSize = record.position === 0 ? 0 : 1 + varintSize(record.position)
  const size = uuidSize(record.eventId, mode) + ldSize(ldSize(record.streamBytes.length)) + revisionSize +
    2 * positionSize + metadataLen +
    (record.customMetadata.length === 0 ? 0 : ldSize(record.customMetadata.length)) +
    (record.data.length === 0 ? 0 : ldSize(record.data.length))
  return { typeLen, contentType, size }
}

const writeBytes = (buf: Buffer, pos: number, tag: number, bytes: Uint8Array): number => {
  buf[pos++] = tag
  pos = writeVarint(buf, pos, bytes.length)
  buf.set(bytes, pos)
  return pos + bytes.length
}

/** Writes a `RecordedEvent` (its fields, without a header) at `pos`. */
const writeRecorded = (buf: Buffer, pos: number, record: EventRecord, parts: RecordedParts, mode: UuidMode): number => {
  pos = writeUuid(buf, pos, record.eventId, mode)
  pos = writeHeader(buf, pos, 0x12, ldSize(record.streamBytes.length))
  pos = writeBytes(buf, pos, 0x1a, record.streamBytes)
  if (record.isTombstone) {
    buf[pos++] = 0x18
    pos = writeVarintBig(buf, pos, TOMBSTONE_REVISION)
  } else if (record.eventNumber !== 0) {
    buf[pos++] = 0x18
    pos = writeVarint(buf, pos, record.eventNumber)
  }
  if (record.position !== 0) {
    buf[pos++] = 0x20
    pos = writeVarint(buf, pos, record.position)
    buf[pos++] = 0x28
    pos = writeVarint(buf, pos, record.position)
  }
  // metadata map entries: type, created, content-type
  pos = writeHeader(buf, pos, 0x32, mapEntrySizeOf(KEY_TYPE.length, parts.typeLen))
  pos = writeBytes(buf, pos, 0x0a, KEY_TYPE)
  pos = writeHeader(buf, pos, 0x12, parts.typeLen)
  pos += buf.write(record.eventType, pos, "utf8")
  pos = writeHeader(buf, pos, 0x32, mapEntrySizeOf(KEY_CREATED.length, record.created.length))
  pos = writeBytes(buf, pos, 0x0a, KEY_CREATED)
  pos = writeHeader(buf, pos, 0x12, record.created.length)
  pos += buf.write(record.created, pos, "latin1")
  pos = writeHeader(buf, pos, 0x32, mapEntrySizeOf(KEY_CONTENT_TYPE.length, parts.contentType.length))
  pos = writeBytes(buf, pos, 0x0a, KEY_CONTENT_TYPE)
  pos = writeBytes(buf, pos, 0x12, parts.contentType)
  if (record.customMetadata.length !== 0) pos = writeBytes(buf, pos, 0x3a, record.customMetadata)
  if (record.data.length !== 0) pos = writeBytes(buf, pos, 0x42, record.data)
  return pos
}

const encodeReadEvent = (event: EventRecord | undefined, link: EventRecord | undefined, mode: UuidMode): Buffer => {
  const original = link ?? event!
  const eventParts = event === undefined ? undefined : partsOf(event, mode)
  const linkParts = link === undefined ? undefined : partsOf(link, mode)
  const readEventLen = (eventParts === undefined ? 0 : ldSize(eventParts.size)) +
    (linkParts === undefined ? 0 : ldSize(linkParts.size)) + 1 + varintSize(original.position)
  const bodyLen = ldSize(readEventLen)
  const out = Buffer.allocUnsafe(5 + bodyLen)
  out[0] = 0
  out.writeUInt32BE(bodyLen, 1)
  let pos = writeHeader(out, 5, 0x0a, readEventLen)
  if (event !== undefined && eventParts !== undefined) {
    pos = writeHeader(out, pos, 0x0a, eventParts.size)
    pos = writeRecorded(out, pos, event, eventParts, mode)
  }
  if (link !== undefined && linkParts !== undefined) {
    pos = writeHeader(out, pos, 0x12, linkParts.size)
    pos = writeRecorded(out, pos, link, linkParts, mode)
  }
  out[pos++] = 0x18
  pos = writeVarint(out, pos, original.position)
  return out
}

/**
 * `ReadResp{event{event=record, commit_position}}`, cached on the record.
 *
 * @since 0.1.0
 * @category encoding
 */
export const eventResp = (record: EventRecord, mode: UuidMode): Buffer => {
  const cache = record.cache ?? (record.cache = [undefined, undefined])
  const cached = cache[mode]
  if (cached !== undefined) return cached
  const bytes = encodeReadEvent(record, undefined, mode)
  cache[mode] = bytes
  return bytes
}

/**
 * `ReadResp{event{event=target?, link=link, commit_position=link's}}` for a resolved `$>`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const resolvedResp = (target: EventRecord | undefined, link: EventRecord, mode: UuidMode): Buffer =>
  encodeReadEvent(target, link, mode)

const encode = (message: ReadResp): Buffer => {
  const bytes = ReadResp.encode(message).finish()
  const out = Buffer.allocUnsafe(5 + bytes.length)
  out[0] = 0
  out.writeUInt32BE(bytes.length, 1)
  out.set(bytes, 5)
  return out
}

/**
 * `ReadResp{confirmation}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const confirmationResp = (subscriptionId: string): Buffer =>
  encode({ content: { $case: "confirmation", value: { subscriptionId } } })

/**
 * `ReadResp{stream_not_found}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const streamNotFoundResp = (stream: Buffer): Buffer =>
  encode({ content: { $case: "streamNotFound", value: { streamIdentifier: { streamName: stream } } } })

/**
 * `ReadResp{first_stream_position}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const firstStreamPositionResp = (revision: number): Buffer =>
  encode({ content: { $case: "firstStreamPosition", value: BigInt(revision) } })

/**
 * `ReadResp{last_stream_position}` (−1 is sent as 2^64−1).
 *
 * @since 0.1.0
 * @category encoding
 */
export const lastStreamPositionResp = (revision: number): Buffer =>
  encode({
    content: { $case: "lastStreamPosition", value: revision < 0 ? 18446744073709551615n : BigInt(revision) }
  })

/**
 * `ReadResp{caught_up{timestamp, stream_revision?, position?}}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const caughtUpResp = (
  options: { readonly streamRevision?: number | undefined; readonly position?: number | undefined }
): Buffer =>
  encode({
    content: {
      $case: "caughtUp",
      value: {
        timestamp: new Date(),
        streamRevision: options.streamRevision !== undefined && options.streamRevision >= 0
          ? BigInt(options.streamRevision)
          : undefined,
        position: options.position === undefined
          ? undefined
          : { commitPosition: BigInt(options.position), preparePosition: BigInt(options.position) }
      }
    }
  })

/**
 * `ReadResp{checkpoint{commit, prepare, timestamp}}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const checkpointResp = (position: number): Buffer =>
  encode({
    content: {
      $case: "checkpoint",
      value: { commitPosition: BigInt(position), preparePosition: BigInt(position), timestamp: new Date() }
    }
  })
