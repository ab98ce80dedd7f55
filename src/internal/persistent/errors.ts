/**
 * The error unions of the PersistentSubscriptions operations, and how a transport failure is
 * narrowed to the union of the operation that met it: classifyError.ts (the one classifier)
 * already made the typed errors (SubscriptionNotFound, SubscriptionAlreadyExists,
 * MaximumSubscribersReached, SubscriptionDropped; a refused setting or start position is an
 * InvalidArgument); here they are only narrowed, with the group's names filled in when the node
 * sent none.
 *
 * @internal
 */
import type { MaximumSubscribersReached } from "../../errors/MaximumSubscribersReached.ts"
import type { SubscriptionAlreadyExists } from "../../errors/SubscriptionAlreadyExists.ts"
import type { SubscriptionDropped } from "../../errors/SubscriptionDropped.ts"
import type { SubscriptionNotFound } from "../../errors/SubscriptionNotFound.ts"
import type { CallError } from "../transport/CallError.ts"
import { withContext } from "../transport/classifyError.ts"
import { narrow, toTransportError, type TransportError, transportTags } from "../transport/TransportError.ts"

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

/** @internal */
export const toCreateError = (stream: string, group: string) => {
  const keep = narrow([...transportTags, "SubscriptionAlreadyExists"])
  return (error: CallError): CreateSubscriptionError => keep(withContext(error, { stream, group }))
}

/** @internal */
export const toGroupError = (stream: string, group: string) => {
  const keep = narrow([...transportTags, "SubscriptionNotFound"])
  return (error: CallError): SubscriptionGroupError => keep(withContext(error, { stream, group }))
}

/** @internal */
export const isNotFound = (error: CallError): boolean => error._tag === "SubscriptionNotFound"

/** @internal */
export const toListError = toTransportError

/** @internal */
export const toReadError = (stream: string, group: string) => {
  const keep = narrow([...transportTags, "SubscriptionNotFound", "MaximumSubscribersReached", "SubscriptionDropped"])
  return (error: CallError): ReadSubscriptionError => keep(withContext(error, { stream, group }))
}
