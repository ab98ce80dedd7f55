/**
 * Conversions between protocol messages and domain values.
 *
 * @internal
 */
import type { Empty, StreamIdentifier, UUID } from "../generated/shared.ts"
import type { ReadResp_ReadEvent, ReadResp_ReadEvent_RecordedEvent } from "../generated/streams.ts"
import { RecordedEvent } from "../domain/RecordedEvent.ts"
import type { StreamState } from "../domain/StreamState.ts"

/** @internal */
export const empty: Empty = {}

/** @internal */
export const streamIdentifier = (name: string): StreamIdentifier => ({ streamName: Buffer.from(name, "utf8") })

/** @internal */
export const uuidString = (id: string): UUID => ({ value: { $case: "string", value: id } })

const hex = (n: bigint): string => BigInt.asUintN(64, n).toString(16).padStart(16, "0")

/** Reads a UUID in either form; structured is msb/lsb of the RFC-4122 bytes. @internal */
export const uuidToString = (uuid: UUID | undefined): string => {
  const v = uuid?.value
  if (v === undefined) return ""
  if (v.$case === "string") return v.value
  const s = hex(v.value.mostSignificantBits) + hex(v.value.leastSignificantBits)
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
}

/** The `expected_stream_revision` oneof of Append, Delete and Tombstone options. @internal */
export type ExpectedRevision =
  | { $case: "revision"; value: bigint }
  | { $case: "noStream"; value: Empty }
  | { $case: "any"; value: Empty }
  | { $case: "streamExists"; value: Empty }

/** @internal */
export const expectedRevision = (state: StreamState): ExpectedRevision =>
  typeof state === "bigint"
    ? { $case: "revision", value: state }
    : state === "any"
    ? { $case: "any", value: empty }
    : state === "no_stream"
    ? { $case: "noStream", value: empty }
    : { $case: "streamExists", value: empty }

const UINT64_MAX = 18446744073709551615n

const toRecordedEvent = (
  m: ReadResp_ReadEvent_RecordedEvent,
  commitPosition: bigint | undefined,
  link: RecordedEvent | undefined,
  retryCount: number | undefined
): RecordedEvent => {
  let type = ""
  let contentType = "application/octet-stream"
  let created: bigint | undefined
  for (let i = 0; i < m.metadata.length; i++) {
    const entry = m.metadata[i]!
    if (entry.key === "type") type = entry.value
    else if (entry.key === "content-type") contentType = entry.value
    else if (entry.key === "created") {
      try {
        created = BigInt(entry.value)
      } catch {
        created = undefined
      }
    }
  }
  return new RecordedEvent({
    type,
    data: m.data,
    metadata: m.customMetadata,
    contentType,
    id: uuidToString(m.id),
    streamName: m.streamIdentifier === undefined ? "" : m.streamIdentifier.streamName.toString("utf8"),
    streamPosition: m.streamRevision,
    commitPosition,
    preparePosition: m.preparePosition === UINT64_MAX ? undefined : m.preparePosition,
    createdTicks: created,
    link,
    retryCount
  })
}

/**
 * Builds the domain event of a read response: with a resolved link, the target event carrying
 * the link; the commit position is the position of what was read from the log (the link's).
 *
 * @internal
 */
export const fromReadEvent = (read: ReadResp_ReadEvent, retryCount?: number | undefined): RecordedEvent | undefined => {
  const position = read.position?.$case === "commitPosition" ? read.position.value : undefined
  const commit = position === undefined || position === UINT64_MAX ? undefined : position
  const link = read.link === undefined ? undefined : toRecordedEvent(read.link, commit, undefined, retryCount)
  if (read.event === undefined) return link
  return toRecordedEvent(read.event, commit, link, retryCount)
}
