/**
 * The node's administrative calls, each one call answering Empty: `shutdown`, `mergeIndexes`,
 * `resignNode`, `setNodePriority`, `restartPersistentSubscriptions`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { Empty } from "../../generated/shared.ts"
import type { CallOptions } from "../transport/Options.ts"
import { toTransportError } from "../transport/TransportError.ts"
import type { Method, TransportShape } from "../transport/Transport.ts"
import type { OperationsError } from "./errors.ts"
import { MergeIndexes, ResignNode, RestartPersistentSubscriptions, SetNodePriority, Shutdown } from "./methods.ts"

const empty = <I>(
  transport: TransportShape,
  name: string,
  method: Method<I, Empty>,
  request: I,
  options: CallOptions | undefined
): Effect.Effect<void, OperationsError> =>
  transport.call({ name, kind: "write", options, narrow: toTransportError }, (spec) => transport.unary(method, request, spec)).pipe(
    Effect.asVoid
  )

/** Stops the node (it answers first). @internal */
export const shutdown = (transport: TransportShape, options?: CallOptions) =>
  empty(transport, "Operations.shutdown", Shutdown, {}, options)

/** @internal */
export const mergeIndexes = (transport: TransportShape, options?: CallOptions) =>
  empty(transport, "Operations.mergeIndexes", MergeIndexes, {}, options)

/** @internal */
export const resignNode = (transport: TransportShape, options?: CallOptions) =>
  empty(transport, "Operations.resignNode", ResignNode, {}, options)

/** @internal */
export const restartPersistentSubscriptions = (transport: TransportShape, options?: CallOptions) =>
  empty(transport, "Operations.restartPersistentSubscriptions", RestartPersistentSubscriptions, {}, options)

/** @internal */
export const setNodePriority = (
  transport: TransportShape,
  priority: number,
  options?: CallOptions
): Effect.Effect<void, OperationsError> =>
  Number.isInteger(priority) && priority >= -2_147_483_648 && priority <= 2_147_483_647
    ? empty(transport, "Operations.setNodePriority", SetNodePriority, { priority }, options)
    : Effect.fail(new InvalidArgument({ reason: "A node priority must be a 32-bit integer" }))
