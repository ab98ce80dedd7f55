/**
 * Pre-encoded `ReadResp` messages. Event records are encoded once per UUID option and cached on
 * the record, so streaming 200k events costs a buffer copy per event, not a protobuf encode.
 *
 * @since 0.1.0
 */
import { BinaryWriter } from "@bufbuild/protobuf/wire"
import {
  ReadResp,
  ReadResp_ReadEvent_RecordedEvent
} from "../generated/streams.ts"
import { type EventRecord, wireRevision } from "./Store.ts"
import { toStringForm, toStructured } from "./Uuid.ts"

/**
 * 0 = structured UUIDs, 1 = string UUIDs.
 *
 * @since 0.1.0
 * @category models
 */
export type UuidMode = 0 | 1

const JSON_CT = "application/json"
const BINARY_CT = "application/octet-stream"

/**
 * The `RecordedEvent` bytes of a record.
 *
 * @since 0.1.0
 * @category encoding
 */
export const recordedEventBytes = (record: EventRecord, mode: UuidMode): Uint8Array =>
  ReadResp_ReadEvent_RecordedEvent.encode({
    id: mode === 1 ? toStringForm(record.eventId) : toStructured(record.eventId),
    streamIdentifier: { streamName: record.streamBytes },
    streamRevision: wireRevision(record),
    preparePosition: BigInt(record.position),
    commitPosition: BigInt(record.position),
    metadata: [
      { key: "type", value: record.eventType },
      { key: "created", value: record.created },
      { key: "content-type", value: record.isJson ? JSON_CT : BINARY_CT }
    ],
    customMetadata: record.customMetadata,
    data: record.data
  }).finish()

const readEventResp = (event: Uint8Array | undefined, link: Uint8Array | undefined, position: number): Buffer => {
  const inner = new BinaryWriter()
  if (event !== undefined) inner.uint32(10).bytes(event)
  if (link !== undefined) inner.uint32(18).bytes(link)
  inner.uint32(24).uint64(position)
  const outer = new BinaryWriter()
  outer.uint32(10).bytes(inner.finish())
  const bytes = outer.finish()
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * `ReadResp{event{event=record, commit_position}}`, cached on the record.
 *
 * @since 0.1.0
 * @category encoding
 */
export const eventResp = (record: EventRecord, mode: UuidMode): Buffer => {
  const cached = record.cache[mode]
  if (cached !== undefined) return cached
  const bytes = readEventResp(recordedEventBytes(record, mode), undefined, record.position)
  record.cache[mode] = bytes
  return bytes
}

/**
 * `ReadResp{event{event=target?, link=link, commit_position=link's}}` for a resolved `$>`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const resolvedResp = (target: EventRecord | undefined, link: EventRecord, mode: UuidMode): Buffer =>
  readEventResp(
    target === undefined ? undefined : recordedEventBytes(target, mode),
    recordedEventBytes(link, mode),
    link.position
  )

const encode = (message: ReadResp): Buffer => {
  const bytes = ReadResp.encode(message).finish()
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
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
export const caughtUpResp = (options: { readonly streamRevision?: number | undefined; readonly position?: number | undefined }): Buffer =>
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
