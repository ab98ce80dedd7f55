/**
 * `Projections.create` (continuous), `createOneTime` and `createTransient`: one Create call. The
 * node creates the projection enabled and running.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { CreateReq } from "../../generated/projections.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type CreateProjectionError, toCreateError, toTransportError, type TransportError } from "./errors.ts"
import { Create } from "./methods.ts"
import * as validate from "./validate.ts"

/**
 * Options of creating a continuous projection.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateOptions extends CallOptions {
  /** Whether the query may write (`emit`, `linkTo`, ...). Default false. */
  readonly emitEnabled?: boolean | undefined
  /** Whether the streams it writes are recorded, to be deleted with it. Needs `emitEnabled`. Default false. */
  readonly trackEmittedStreams?: boolean | undefined
}

type Mode = NonNullable<NonNullable<CreateReq["options"]>["mode"]>

const send = <E>(
  transport: TransportShape,
  span: string,
  name: string | undefined,
  mode: Mode,
  query: string,
  options: CallOptions | undefined,
  toError: (error: Parameters<typeof toTransportError>[0]) => E
): Effect.Effect<void, E> =>
  transport.call({
    name: span,
    kind: "write",
    options,
    attributes: name === undefined ? undefined : { "db.projection.name": name },
    narrow: toError
  }, (spec) => transport.unary(Create, { options: { mode, query, engineVersion: 1, properties: [] } }, spec)).pipe(
    Effect.asVoid
  )

/** @internal */
export const create = (
  transport: TransportShape,
  name: string,
  query: string,
  options?: CreateOptions
): Effect.Effect<void, CreateProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name) ?? validate.query(query)
    if (problem) return Effect.fail(problem)
    const emitEnabled = options?.emitEnabled === true
    const trackEmittedStreams = options?.trackEmittedStreams === true
    if (trackEmittedStreams && !emitEnabled) {
      return Effect.fail(new InvalidArgument({ reason: "EmitEnabled must be set to true to track emitted streams." }))
    }
    return send(
      transport,
      "Projections.create",
      name,
      { $case: "continuous", value: { name, emitEnabled, trackEmittedStreams } },
      query,
      options,
      toCreateError(name)
    )
  })

/** @internal */
export const createOneTime = (
  transport: TransportShape,
  query: string,
  options?: CallOptions
): Effect.Effect<void, TransportError> =>
  Effect.suspend(() => {
    const problem = validate.query(query)
    if (problem) return Effect.fail(problem)
    return send(transport, "Projections.createOneTime", undefined, { $case: "oneTime", value: {} }, query, options, toTransportError)
  })

/** @internal */
export const createTransient = (
  transport: TransportShape,
  name: string,
  query: string,
  options?: CallOptions
): Effect.Effect<void, CreateProjectionError> =>
  Effect.suspend(() => {
    const problem = validate.name(name) ?? validate.query(query)
    if (problem) return Effect.fail(problem)
    return send(
      transport,
      "Projections.createTransient",
      name,
      { $case: "transient", value: { name } },
      query,
      options,
      toCreateError(name)
    )
  })
