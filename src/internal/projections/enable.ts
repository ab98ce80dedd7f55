/**
 * `Projections.enable`: one Enable call; the projection starts again from its last checkpoint.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type ProjectionError, toProjectionError } from "./errors.ts"
import { Enable } from "./methods.ts"
import * as validate from "./validate.ts"

/** @internal */
export const enable = (
  transport: TransportShape,
  name: string,
  options?: CallOptions
): Effect.Effect<void, ProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    return transport.retry(transport.unary(Enable, { options: { name } }, { options, kind: "write" })).pipe(
      Effect.asVoid,
      Effect.mapError(toProjectionError(name))
    )
  }).pipe(transport.traceEffect("Projections.enable", { "db.projection.name": name }))
