/**
 * `Projections.update`: one Update call (a new query, and `emitEnabled` or unchanged). The node
 * checkpoints a running projection and restarts it with the new query from there.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { UpdateReq_Options } from "../../generated/projections.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type ProjectionError, toProjectionError } from "./errors.ts"
import { Update } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * Options of updating a projection.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpdateOptions extends CallOptions {
  /** The new `emitEnabled`; absent: unchanged. */
  readonly emitEnabled?: boolean | undefined
}

/** @internal */
export const update = (
  transport: TransportShape,
  name: string,
  query: string,
  options?: UpdateOptions
): Effect.Effect<void, ProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name) ?? validate.query(query)
    if (problem) return Effect.fail(problem)
    const emitOption: UpdateReq_Options["emitOption"] = options?.emitEnabled === undefined
      ? { $case: "noEmitOptions", value: {} }
      : { $case: "emitEnabled", value: options.emitEnabled }
    return transport.call({
      name: "Projections.update",
      kind: "write",
      options,
      attributes: { "db.projection.name": name },
      narrow: toProjectionError(name)
    }, (spec) => transport.unary(Update, { options: { name, query, emitOption, properties: [] } }, spec)).pipe(Effect.asVoid)
  })
