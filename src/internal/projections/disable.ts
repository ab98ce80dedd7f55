/**
 * `Projections.disable` and `abort`: one Disable call, with `write_checkpoint` true (disable: the
 * projection checkpoints, then stops) or false (abort: it stops without checkpointing, so it
 * resumes from its previous checkpoint when enabled).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type ProjectionError, toProjectionError } from "./errors.ts"
import { Disable } from "./methods.ts"
import * as validate from "./validate.ts"

const disableWith = (writeCheckpoint: boolean, span: string) =>
(
  transport: TransportShape,
  name: string,
  options?: CallOptions
): Effect.Effect<void, ProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    return transport.call({
      name: span,
      kind: "write",
      options,
      attributes: { "db.projection.name": name },
      narrow: toProjectionError(name)
    }, (spec) => transport.unary(Disable, { options: { name, writeCheckpoint } }, spec)).pipe(Effect.asVoid)
  })

/** @internal */
export const disable = disableWith(true, "Projections.disable")

/** @internal */
export const abort = disableWith(false, "Projections.abort")
