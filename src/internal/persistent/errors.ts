/**
 * The error unions of the PersistentSubscriptions operations, and how a transport failure is
 * narrowed to the union of the operation that met it. The node names the group's failures in the
 * `exception` trailer (PROTOCOL.md §2): `persistent-subscription-exists`,
 * `persistent-subscription-does-not-exist`, `persistent-subscription-failed` (refused settings or
 * start position, reported as InvalidArgument with the node's reason).
 *
 * @internal
 */
import type { GrpcError } from "../../errors/GrpcError.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { MaximumSubscribersReached } from "../../errors/MaximumSubscribersReached.ts"
import { SubscriptionAlreadyExists } from "../../errors/SubscriptionAlreadyExists.ts"
import { SubscriptionDropped } from "../../errors/SubscriptionDropped.ts"
import { SubscriptionNotFound } from "../../errors/SubscriptionNotFound.ts"
import { toTransportError, type TransportError } from "../transport/TransportError.ts"
import type { CallError } from "../transport/CallError.ts"

/**
 * Errors of creating a group.
 *
 * @since 0.1.0
 * @category errors
 */
export type CreateSubscriptionError = SubscriptionAlreadyExists | TransportError

/**
 * Errors of the operations on an existing group (update, delete, get info, replay and truncate
 * parked).
 *
 * @since 0.1.0
 * @category errors
 */
export type SubscriptionGroupError = SubscriptionNotFound | TransportError

/**
 * Errors of listing groups and restarting the subsystem.
 *
 * @since 0.1.0
 * @category errors
 */
export type ListSubscriptionsError = TransportError

/**
 * Errors of reading a group as one of its consumers (`readToStream`, `readToAll`).
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadSubscriptionError = SubscriptionNotFound | MaximumSubscribersReached | SubscriptionDropped | TransportError

const trailer = (error: GrpcError, key: string): string | undefined => error.metadata[key]?.[0]

/** The group named by the failure's trailers, or the one the call was about. */
const named = (error: GrpcError, stream: string, group: string) => ({
  stream: trailer(error, "stream-name") ?? stream,
  group: trailer(error, "group-name") ?? group
})

/** @internal */
export const toCreateError = (stream: string, group: string) => (error: CallError): CreateSubscriptionError => {
  if (error._tag === "GrpcError") {
    const exception = trailer(error, "exception")
    if (exception === "persistent-subscription-exists") return new SubscriptionAlreadyExists(named(error, stream, group))
    if (exception === "persistent-subscription-failed") {
      return new InvalidArgument({ reason: trailer(error, "reason") ?? error.details })
    }
  }
  return toTransportError(error)
}

/** @internal */
export const toGroupError = (stream: string, group: string) => (error: CallError): SubscriptionGroupError => {
  if (error._tag === "GrpcError") {
    const exception = trailer(error, "exception")
    if (exception === "persistent-subscription-does-not-exist") return new SubscriptionNotFound(named(error, stream, group))
    if (exception === "persistent-subscription-failed") {
      return new InvalidArgument({ reason: trailer(error, "reason") ?? error.details })
    }
  }
  return toTransportError(error)
}

/** @internal */
export const isNotFound = (error: CallError): boolean =>
  error._tag === "GrpcError" && trailer(error, "exception") === "persistent-subscription-does-not-exist"

/** @internal */
export const toListError = toTransportError

/** @internal */
export const toReadError = (stream: string, group: string) => (error: CallError): ReadSubscriptionError => {
  if (error._tag === "GrpcError") {
    const exception = trailer(error, "exception")
    const which = named(error, stream, group)
    if (exception === "persistent-subscription-does-not-exist") return new SubscriptionNotFound(which)
    if (exception === "maximum-subscribers-reached") return new MaximumSubscribersReached(which)
    if (exception === "persistent-subscription-dropped") return new SubscriptionDropped({ ...which, reason: error.details })
    if (exception === "persistent-subscription-failed") {
      return new SubscriptionDropped({ ...which, reason: trailer(error, "reason") ?? error.details })
    }
  }
  return toTransportError(error)
}
