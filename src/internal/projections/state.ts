/**
 * `Projections.getState` and `getResult`: one State / Result call for the projection's root
 * partition or a named one. The node answers a `google.protobuf.Value` (the state's JSON; `{}`
 * when there is none yet), returned as it is or decoded with the caller's Schema.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ProjectionStateInvalid } from "../../errors/ProjectionStateInvalid.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type ProjectionError, toProjectionError } from "./errors.ts"
import { Result, State } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * Options of reading a projection's state or result.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateOptions extends CallOptions {
  /** The partition (of a `partitionBy` / `foreachStream` query); absent: the root partition. */
  readonly partition?: string | undefined
}

/**
 * Options of reading a projection's state or result decoded with a Schema.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeStateOptions<A> extends StateOptions {
  /** Decodes the JSON value; a failure is a ProjectionStateInvalid. */
  readonly schema: Schema.ConstraintDecoder<A>
}

const read = (
  transport: TransportShape,
  which: "state" | "result",
  name: string,
  options: StateOptions | undefined
): Effect.Effect<unknown, ProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name)
    if (problem) return Effect.fail(problem)
    const request = { options: { name, partition: options?.partition ?? "" } }
    return transport.call({
      name: which === "state" ? "Projections.getState" : "Projections.getResult",
      kind: "read",
      options,
      attributes: { "db.projection.name": name },
      narrow: toProjectionError(name)
    }, (spec) =>
      which === "state"
        ? Effect.map(transport.unary(State, request, spec), (r): unknown => r.state)
        : Effect.map(transport.unary(Result, request, spec), (r): unknown => r.result)).pipe(
        Effect.map((value) => value === undefined ? {} : value)
      )
  })

/** The value read, decoded with `schema` when one is given. @internal */
export const decoded = <A>(
  name: string,
  partition: string | undefined,
  value: unknown,
  schema: Schema.ConstraintDecoder<A>
): Effect.Effect<A, ProjectionStateInvalid> =>
  Schema.decodeUnknownEffect(schema)(value).pipe(
    Effect.mapError((error) => new ProjectionStateInvalid({ name, partition: partition ?? "", reason: error.message }))
  )

/** @internal */
export const getState = (
  transport: TransportShape,
  name: string,
  options?: StateOptions
): Effect.Effect<unknown, ProjectionError> =>
  read(transport, "state", name, options)

/** @internal */
export const getResult = (
  transport: TransportShape,
  name: string,
  options?: StateOptions
): Effect.Effect<unknown, ProjectionError> =>
  read(transport, "result", name, options)
