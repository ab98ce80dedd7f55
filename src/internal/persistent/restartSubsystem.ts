/**
 * `PersistentSubscriptions.restartSubsystem`: the node stops every group and loads them again
 * from their configuration (consumers are dropped and reconnect).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type ListSubscriptionsError, toListError } from "./errors.ts"
import { RestartSubsystem } from "./methods.ts"

/** @internal */
export const restartSubsystem = (
  transport: TransportShape,
  options?: CallOptions
): Effect.Effect<void, ListSubscriptionsError> =>
  transport.call(
    { name: "PersistentSubscriptions.restartSubsystem", kind: "write", options, narrow: toListError },
    (spec) => transport.unary(RestartSubsystem, {}, spec)
  ).pipe(Effect.asVoid)
