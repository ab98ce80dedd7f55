/**
 * `PersistentSubscriptions.truncateParked`: asks the node to drop a group's parked events without
 * delivering them, all of them or those before a parked-stream event number (`stopAt`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
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

const INT64_MAX = 9223372036854775807n

/** @internal */
export const truncateParked = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: TruncateParkedOptions
): Effect.Effect<void, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const stopAt = options?.stopAt
    const problem = validate.streamName(stream) ?? validate.groupName(group) ??
      (stopAt !== undefined &&
          !((typeof stopAt === "bigint" && stopAt >= 0n && stopAt <= INT64_MAX) ||
            (Number.isSafeInteger(stopAt) && Number(stopAt) >= 0))
        ? validate.invalidArgument(`stopAt must be an integer in 0..2^63-1, got ${String(stopAt)}`)
        : undefined)
    if (problem) return Effect.fail(problem)
    const request: TruncateParkedReq = {
      options: {
        groupName: group,
        streamOption: validate.source(stream),
        stopAtOption: stopAt === undefined ? { $case: "noLimit", value: {} } : { $case: "stopAt", value: BigInt(stopAt) }
      }
    }
    return transport.retry(transport.unary(TruncateParked, request, { options, kind: "write", context: { stream } })).pipe(
      Effect.asVoid,
      Effect.mapError(toGroupError(stream, group))
    )
  }).pipe(transport.traceEffect("PersistentSubscriptions.truncateParked", { "db.collection.name": stream, group }))
