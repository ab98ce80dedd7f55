/**
 * `Projections.delete`: one Delete call. The projection must be stopped or faulted; as asked, its
 * emitted streams (those tracked), its state/result streams and its checkpoint streams go with it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type DeleteProjectionError, toDeleteError } from "./errors.ts"
import { Delete } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * Options of deleting a projection (each default false).
 *
 * @since 0.1.0
 * @category models
 */
export interface DeleteOptions extends CallOptions {
  /** Delete the streams it emitted (those tracked with `trackEmittedStreams`). */
  readonly deleteEmittedStreams?: boolean | undefined
  /** Delete its state and result streams. */
  readonly deleteStateStream?: boolean | undefined
  /** Delete its checkpoint streams. */
  readonly deleteCheckpointStream?: boolean | undefined
}

/** @internal */
export const deleteProjection = (
  transport: TransportShape,
  name: string,
  options?: DeleteOptions
): Effect.Effect<void, DeleteProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    const request = {
      options: {
        name,
        deleteEmittedStreams: options?.deleteEmittedStreams === true,
        deleteStateStream: options?.deleteStateStream === true,
        deleteCheckpointStream: options?.deleteCheckpointStream === true
      }
    }
    return transport.call({
      name: "Projections.delete",
      kind: "write",
      options,
      attributes: { "db.projection.name": name },
      narrow: toDeleteError(name)
    }, (spec) => transport.unary(Delete, request, spec)).pipe(Effect.asVoid)
  })
