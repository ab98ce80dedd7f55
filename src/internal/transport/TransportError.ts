/**
 * The failures any call can meet on its way to the node, and how an operation narrows a
 * transport failure to its own error union: without casts, by a type guard on the tag. Every
 * service's `errors.ts` builds on these.
 *
 * @since 0.1.0
 */
import type { AccessDenied } from "../../errors/AccessDenied.ts"
import type { ConnectionClosed } from "../../errors/ConnectionClosed.ts"
import type { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import type { DiscoveryFailed } from "../../errors/DiscoveryFailed.ts"
import type { FollowerNotFound } from "../../errors/FollowerNotFound.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import type { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { LeaderNotFound } from "../../errors/LeaderNotFound.ts"
import type { NodeIsNotLeader } from "../../errors/NodeIsNotLeader.ts"
import type { ReadOnlyReplicaNotFound } from "../../errors/ReadOnlyReplicaNotFound.ts"
import type { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import type { TlsFailed } from "../../errors/TlsFailed.ts"
import type { Unauthenticated } from "../../errors/Unauthenticated.ts"
import { Code } from "../../generated/code.ts"
import type { CallError } from "./CallError.ts"

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
  | LeaderNotFound
  | FollowerNotFound
  | ReadOnlyReplicaNotFound
  | ConnectionClosed
  | TlsFailed
  | InvalidArgument
  | GrpcError

/**
 * The tags of {@link TransportError}.
 *
 * @since 0.1.0
 * @category constants
 */
export const transportTags = [
  "AccessDenied",
  "Unauthenticated",
  "DeadlineExceeded",
  "ServiceUnavailable",
  "NodeIsNotLeader",
  "DiscoveryFailed",
  "LeaderNotFound",
  "FollowerNotFound",
  "ReadOnlyReplicaNotFound",
  "ConnectionClosed",
  "TlsFailed",
  "InvalidArgument",
  "GrpcError"
] as const satisfies ReadonlyArray<TransportError["_tag"]>

type Tag = CallError["_tag"]

/**
 * Keeps the errors whose tag is listed; anything else becomes a GrpcError (UNKNOWN) with its
 * text, so an operation's error channel holds exactly its union.
 *
 * @since 0.1.0
 * @category constructors
 */
export const narrow = <T extends Tag>(tags: ReadonlyArray<T>) => {
  const listed = (error: CallError): error is Extract<CallError, { readonly _tag: T }> =>
    tags.some((tag) => tag === error._tag)
  return (error: CallError): Extract<CallError, { readonly _tag: T }> | GrpcError =>
    listed(error) ? error : new GrpcError({ code: Code.UNKNOWN, details: error.message, metadata: {} })
}

/**
 * Narrows a failure to the transport's own errors (for operations with no errors of their own).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toTransportError: (error: CallError) => TransportError = narrow(transportTags)
