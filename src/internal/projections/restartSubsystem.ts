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
  Effect.suspend(() =>
    transport.retry(transport.unary(RestartSubsystem, {}, { options, kind: "write" })).pipe(
      Effect.asVoid,
      Effect.mapError(toRestartError)
    )
  ).pipe(transport.traceEffect("Projections.restartSubsystem"))
