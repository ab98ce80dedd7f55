/**
 * `PersistentSubscriptions.truncateParked`: asks the node to drop a group's parked events without
 * delivering them, all of them or those before a parked-stream event number (`stopAt`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { TruncateParkedReq } from "../../generated/persistent.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type SubscriptionGroupError, toGroupError } from "./errors.ts"
import { TruncateParked } from "./methods.ts"
import * as validate from "./settings.ts"

/**
 * Options of `truncateParked`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TruncateParkedOptions extends CallOptions {
  /**
   * Drop only the parked events before this event number of the group's parked stream (the first
   * `stopAt` ever parked, less those already replayed or dropped); all of them by default.
   */
  readonly stopAt?: number | bigint | undefined
}

/** @internal */
export const truncateParked = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: TruncateParkedOptions
): Effect.Effect<void, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const parked = validate.parkedOptions(stream, group, options?.stopAt)
    if (parked instanceof InvalidArgument) return Effect.fail(parked)
    const request: TruncateParkedReq = { options: parked }
    return transport.call({
      name: "PersistentSubscriptions.truncateParked",
      kind: "write",
      options,
      context: { stream },
      attributes: { "db.collection.name": stream, group },
      narrow: toGroupError(stream, group)
    }, (spec) => transport.unary(TruncateParked, request, spec)).pipe(Effect.asVoid)
  })

/** For a group on a stream (not `$all`). @internal */
export const truncateParkedToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: TruncateParkedOptions
): Effect.Effect<void, SubscriptionGroupError> => validate.onStream(stream, () => truncateParked(transport, stream, group, options))

/** For a group on `$all`. @internal */
export const truncateParkedToAll = (
  transport: TransportShape,
  group: string,
  options?: TruncateParkedOptions
): Effect.Effect<void, SubscriptionGroupError> => truncateParked(transport, validate.ALL, group, options)
