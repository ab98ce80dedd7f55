/**
 * Conversions between protocol messages and domain values.
 *
 * @internal
 */
import type { Empty, StreamIdentifier, UUID } from "../generated/shared.ts"
import type { StreamState } from "../domain/StreamState.ts"

/** @internal */
export const empty: Empty = {}

// Appends usually go to the same few streams in a row: the last name's bytes are kept (they are
// only ever read, never written)
let lastName = ""
let lastBytes = Buffer.alloc(0)

/** @internal */
export const streamIdentifier = (name: string): StreamIdentifier => {
  if (name !== lastName) {
    lastBytes = Buffer.from(name, "utf8")
    lastName = name
  }
  return { streamName: lastBytes }
}

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
