/**
 * The error unions of the Streams operations, and how a transport failure is narrowed to the
 * union of the operation that met it: without casts, by a type guard on the tag.
 *
 * @internal
 */
import type { AccessDenied } from "../../errors/AccessDenied.ts"
import type { ConnectionClosed } from "../../errors/ConnectionClosed.ts"
import type { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import type { DiscoveryFailed } from "../../errors/DiscoveryFailed.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import type { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { MaximumAppendSizeExceeded } from "../../errors/MaximumAppendSizeExceeded.ts"
import type { NodeIsNotLeader } from "../../errors/NodeIsNotLeader.ts"
import type { NotFound } from "../../errors/NotFound.ts"
import type { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import type { StreamDeleted } from "../../errors/StreamDeleted.ts"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import type { Unauthenticated } from "../../errors/Unauthenticated.ts"
import type { WrongCurrentVersion } from "../../errors/WrongCurrentVersion.ts"
import { Code } from "../../generated/code.ts"
import type { CallError } from "../transport/CallError.ts"

/**
 * Failures any call can meet on its way to the node.
 *
 * @since 0.1.0
 * @category errors
 */
export type TransportError =
  | AccessDenied
  | Unauthenticated
  | DeadlineExceeded
  | ServiceUnavailable
  | NodeIsNotLeader
  | DiscoveryFailed
  | ConnectionClosed
  | TlsFailed
  | InvalidArgument
  | GrpcError

/**
 * Errors of appends and of setting stream metadata.
 *
 * @since 0.1.0
 * @category errors
 */
export type AppendError = WrongCurrentVersion | StreamDeleted | MaximumAppendSizeExceeded | TransportError

/**
 * Errors of reading one stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadStreamError = NotFound | StreamDeleted | TransportError

/**
 * Errors of subscribing to one stream (a missing stream is waited for, not an error).
 *
 * @since 0.1.0
 * @category errors
 */
export type SubscribeToStreamError = StreamDeleted | TransportError

/**
 * Errors of reading or subscribing to `$all`.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadAllError = TransportError

/**
 * Errors of deleting and tombstoning a stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type DeleteError = WrongCurrentVersion | NotFound | StreamDeleted | TransportError

type Tag = CallError["_tag"]

const transportTags = [
  "AccessDenied",
  "Unauthenticated",
  "DeadlineExceeded",
  "ServiceUnavailable",
  "NodeIsNotLeader",
  "DiscoveryFailed",
  "ConnectionClosed",
  "TlsFailed",
  "InvalidArgument",
  "GrpcError"
] as const satisfies ReadonlyArray<TransportError["_tag"]>

/**
 * Keeps the errors whose tag is listed; anything else becomes a GrpcError (UNKNOWN) with its
 * text, so an operation's error channel holds exactly its union.
 */
const narrow = <T extends Tag>(tags: ReadonlyArray<T>) => {
  const listed = (error: CallError): error is Extract<CallError, { readonly _tag: T }> =>
    tags.some((tag) => tag === error._tag)
  return (error: CallError): Extract<CallError, { readonly _tag: T }> | GrpcError =>
    listed(error) ? error : new GrpcError({ code: Code.UNKNOWN, details: error.message, metadata: {} })
}

/** @internal */
export const toAppendError: (error: CallError) => AppendError = narrow([
  ...transportTags,
  "WrongCurrentVersion",
  "StreamDeleted",
  "MaximumAppendSizeExceeded"
])
/** @internal */
export const toReadStreamError: (error: CallError) => ReadStreamError = narrow([...transportTags, "NotFound", "StreamDeleted"])
/** @internal */
export const toSubscribeToStreamError: (error: CallError) => SubscribeToStreamError = narrow([
  ...transportTags,
  "StreamDeleted"
])
/** @internal */
export const toReadAllError: (error: CallError) => ReadAllError = narrow(transportTags)
/** @internal */
export const toDeleteError: (error: CallError) => DeleteError = narrow([
  ...transportTags,
  "WrongCurrentVersion",
  "NotFound",
  "StreamDeleted"
])
