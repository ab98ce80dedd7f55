/**
 * `PersistentSubscriptions.replayParked`: asks the node to deliver a group's parked events again,
 * all of them or the first `stopAt`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { ReplayParkedReq } from "../../generated/persistent.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type SubscriptionGroupError, toGroupError } from "./errors.ts"
import { ReplayParked } from "./methods.ts"
import * as validate from "./settings.ts"

/**
 * Options of `replayParked`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayParkedOptions extends CallOptions {
  /** Replay only the parked events before this event number of the group's parked stream; all of them by default. */
  readonly stopAt?: number | bigint | undefined
}

/** @internal */
export const replayParked = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: ReplayParkedOptions
): Effect.Effect<void, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const parked = validate.parkedOptions(stream, group, options?.stopAt)
    if (parked instanceof InvalidArgument) return Effect.fail(parked)
    const request: ReplayParkedReq = { options: parked }
    return transport.call({
      name: "PersistentSubscriptions.replayParked",
      kind: "write",
      options,
      context: { stream },
      attributes: { "db.collection.name": stream, group },
      narrow: toGroupError(stream, group)
    }, (spec) => transport.unary(ReplayParked, request, spec)).pipe(Effect.asVoid)
  })

/** For a group on a stream (not `$all`). @internal */
export const replayParkedToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: ReplayParkedOptions
): Effect.Effect<void, SubscriptionGroupError> => validate.onStream(stream, () => replayParked(transport, stream, group, options))

/** For a group on `$all`. @internal */
export const replayParkedToAll = (
  transport: TransportShape,
  group: string,
  options?: ReplayParkedOptions
): Effect.Effect<void, SubscriptionGroupError> => replayParked(transport, validate.ALL, group, options)
