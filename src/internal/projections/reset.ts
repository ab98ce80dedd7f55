/**
 * `Projections.reset`: one Reset call; the projection starts a new epoch, drops its states and,
 * when enabled, processes `$all` again from the start.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type ProjectionError, toProjectionError } from "./errors.ts"
import { Reset } from "./methods.ts"
import * as validate from "./validate.ts"

/** @internal */
export const reset = (
  transport: TransportShape,
  name: string,
  options?: CallOptions
): Effect.Effect<void, ProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    return transport.call({
      name: "Projections.reset",
      kind: "write",
      options,
      attributes: { "db.projection.name": name },
      narrow: toProjectionError(name)
    }, (spec) => transport.unary(Reset, { options: { name, writeCheckpoint: false } }, spec)).pipe(Effect.asVoid)
  })
