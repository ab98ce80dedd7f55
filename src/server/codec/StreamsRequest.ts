/**
 * Decoding the parts of Streams requests that Append, BatchAppend and Delete/Tombstone share
 * (expected version, stream name, proposed events), their caller's principal, and the position
 * encoding of their answers.
 *
 * @since 0.1.0
 */
import { type StreamIdentifier, type UUID } from "../../generated/shared.ts"
import { type AppendReq_ProposedMessage } from "../../generated/streams.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import { missingRequiredMetadataProperty, type RpcFailure, unhandled } from "../errors.ts"
import type { ServerCall } from "../transport/ServerCall.ts"
import { type Expected, type ProposedEvent } from "../storage/Store.ts"
import { fromWire } from "./Uuid.ts"

type ExpectedOneof =
  | { $case: "revision" | "streamPosition"; value: bigint }
  | { $case: "noStream" | "any" | "streamExists"; value: unknown }
  | undefined

/** The expected-version oneof of a request as the store's {@link Expected}, undefined when it is not set. */
export const toExpected = (oneof: ExpectedOneof): Expected | undefined => {
  switch (oneof?.$case) {
    case "revision":
    case "streamPosition":
      return { _tag: "Revision", revision: oneof.value as bigint }
    case "noStream":
      return { _tag: "NoStream" }
    case "any":
      return { _tag: "Any" }
    case "streamExists":
      return { _tag: "StreamExists" }
    default:
      return undefined
  }
}

/** The stream name of a request, undefined when absent or empty. */
export const streamNameOf = (id: StreamIdentifier | undefined): string | undefined =>
  id === undefined || id.streamName.length === 0 ? undefined : id.streamName.toString("utf8")

/** protobuf's JSON rendering of a UUID message, as `proposedMessage.Id.ToString()` gives it. */
export const uuidToString = (uuid: UUID | undefined): string => {
  const v = uuid?.value
  if (v === undefined) return "{ }"
  if (v.$case === "string") return `{ "string": ${JSON.stringify(v.value)} }`
  return `{ "structured": { "mostSignificantBits": "${v.value.mostSignificantBits}", "leastSignificantBits": "${v.value.leastSignificantBits}" } }`
}

/**
 * Validates one proposed message's required metadata; returns the event, its size and, for a
 * missing or bad id, the failure to answer once the size checks have passed (a real node parses
 * the id last).
 */
export const toProposedEvent = (
  message: AppendReq_ProposedMessage
): { readonly event: ProposedEvent; readonly size: number; readonly idFailure: RpcFailure | undefined } | RpcFailure => {
  let eventType: string | undefined
  let contentType: string | undefined
  for (const entry of message.metadata) {
    if (entry.key === "type") eventType = entry.value
    else if (entry.key === "content-type") contentType = entry.value
  }
  if (eventType === undefined) return missingRequiredMetadataProperty("type")
  if (contentType === undefined) return missingRequiredMetadataProperty("content-type")
  const size = message.data.length + message.customMetadata.length + 2 * eventType.length
  // Uuid.FromDto(id).ToGuid() throws ArgumentNullException / FormatException: UNKNOWN
  const eventId = fromWire(message.id)
  return {
    idFailure: eventId === undefined ? unhandled() : undefined,
    event: {
      eventId: eventId ?? "",
      eventType,
      isJson: contentType === "application/json",
      data: message.data,
      customMetadata: message.customMetadata
    },
    size
  }
}

/** A log position as a commit/prepare pair (the embedded node's positions are one number). */
export const positionOf = (position: number) => ({ commitPosition: BigInt(position), preparePosition: BigInt(position) })

/** The principal of a call's credentials, or why they are refused. */
export const authenticate = (auth: Auth, metadata: ServerCall["metadata"]): Principal | RpcFailure => auth.authorize(metadata, Access.any)

