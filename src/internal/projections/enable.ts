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
    return transport.call({
      name: "Projections.enable",
      kind: "write",
      options,
      attributes: { "db.projection.name": name },
      narrow: toProjectionError(name)
    }, (spec) => transport.unary(Enable, { options: { name } }, spec)).pipe(Effect.asVoid)
  })
