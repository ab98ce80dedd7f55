/**
 * `Projections.restartSubsystem`: one RestartSubsystem call; every running projection
 * checkpoints and restarts.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type RestartSubsystemError, toRestartError } from "./errors.ts"
import { RestartSubsystem } from "./methods.ts"

/** @internal */
export const restartSubsystem = (
  transport: TransportShape,
  options?: CallOptions
): Effect.Effect<void, RestartSubsystemError> =>
  transport.call(
    { name: "Projections.restartSubsystem", kind: "write", options, narrow: toRestartError },
    (spec) => transport.unary(RestartSubsystem, {}, spec)
  ).pipe(Effect.asVoid)
